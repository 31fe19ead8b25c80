/**
 * The sample app (migrations/, knexfile.ts) as the tests see it. The list is loaded synchronously
 * (tests run under ts-node) and carries the same file checksums as loadMigrations, so a database
 * migrated by either agrees.
 */
import fs from 'fs';
import path from 'path';
import { newestVersion, validateMigrations } from '../../lib/plan/plan';
import { checksumOfSource } from '../../lib/store/checksum';
import type { Migration } from '../../lib/types';
import { createBaselineTables } from '../../migrations/v0_1_0_baseline';

export const APP_ROOT = path.resolve(__dirname, '..', '..');
export const APP_MIGRATIONS_DIR = path.join(APP_ROOT, 'migrations');
export const APP_SNAPSHOTS_DIR = path.join(APP_MIGRATIONS_DIR, 'snapshots');

export const appMigrations: readonly Migration[] = fs
  .readdirSync(APP_MIGRATIONS_DIR)
  .filter((name) => name.endsWith('.ts'))
  .sort()
  .map((name) => {
    const file = path.join(APP_MIGRATIONS_DIR, name);
    const exported = (require(file) as { default: Migration }).default; // eslint-disable-line @typescript-eslint/no-require-imports
    return { ...exported, checksum: checksumOfSource(fs.readFileSync(file, 'utf8')) };
  });

/** The schema version the sample app's code expects. */
export const CURRENT_DB_VERSION: string = newestVersion(validateMigrations(appMigrations));

/** What the sample app passes to initializeDatabase (app/database.ts). */
export const APP_INIT = { migrations: APP_MIGRATIONS_DIR, createTables: createBaselineTables } as const;
