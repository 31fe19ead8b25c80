/**
 * `seed`: runs the seed files of the environment's seeds folder in file-name order, each file's
 * `seed(knex)` (knex's seed file format), loaded like migrations (JavaScript or TypeScript).
 */
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';
import { importFile } from '../load/import-file';
import { isSourceFile } from '../load/load-migrations';
import { defaultExport } from './project';

export async function runSeeds(db: Knex, directory: string): Promise<string[]> {
  if (!fs.existsSync(directory)) return [];
  const files = fs.readdirSync(directory).filter(isSourceFile).sort().map((name) => path.join(directory, name));
  for (const file of files) {
    const exported = await importFile(file);
    const seed = (exported as { seed?: unknown }).seed ?? (defaultExport(exported) as { seed?: unknown }).seed;
    if (typeof seed !== 'function') throw new Error(`seed file ${path.relative(process.cwd(), file)} exports no seed(knex) function`);
    await (seed as (knex: Knex) => Promise<unknown>)(db);
  }
  return files;
}
