/**
 * The knex migration history of test/fixtures/knex-history (24 files) and what the adoption tests do
 * with it: copies of part of the folder, data in parent and child tables, and full dumps (schema and
 * every row of every table, bookkeeping included) for before/after comparisons.
 */
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';
import { adapterFor } from '../../lib/dialects';
import { BOOKKEEPING_TABLES } from '../../lib/store/history';
import { tempDir } from './db';

export const KNEX_HISTORY = path.join(__dirname, '..', 'fixtures', 'knex-history');
/** The fixture's files in knex's order (by name). */
export const KNEX_FILES = fs.readdirSync(KNEX_HISTORY).sort();
/** The first half: what knex's migrator applied before the switch in the tests. */
export const FIRST_HALF = 12;

/** A temporary folder holding the fixture's files at the given 0-based positions (default: all). */
export function copyHistory(positions: readonly number[] = KNEX_FILES.map((_f, i) => i)): { dir: string; cleanup: () => void } {
  const tmp = tempDir('ksm-knex-history-');
  for (const i of positions) fs.copyFileSync(path.join(KNEX_HISTORY, KNEX_FILES[i]), path.join(tmp.dir, KNEX_FILES[i]));
  return tmp;
}

/** knex's own migrator over `directory`; returns the files it ran. */
export async function knexLatest(db: Knex, directory: string): Promise<string[]> {
  const [, log] = (await db.migrate.latest({ directory })) as [number, string[]];
  return log;
}

/** The first `count` fixture files, applied by knex's migrator. */
export async function knexFirst(db: Knex, count = FIRST_HALF): Promise<void> {
  const part = copyHistory([...Array(count).keys()]);
  try {
    await knexLatest(db, part.dir);
  } finally {
    part.cleanup();
  }
}

/**
 * Rows in parent and child tables as they stand after the first half: publishers → books (SET NULL),
 * authors → books → book_tags / reviews (CASCADE). Some titles are NULL (file 18 fills them in).
 */
export async function seedFirstHalf(db: Knex): Promise<void> {
  const created = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
  await db('publishers').insert([1, 2, 3].map((id) => ({ id, name: `Publisher ${id}`, meta: JSON.stringify({ founded: 1900 + id }) })));
  await db('authors').insert(Array.from({ length: 30 }, (_v, i) => ({ id: i + 1, name: `Author ${i + 1}`, email: `A${i + 1}@Example.org`, created_at: created, bio: i % 3 ? `bio ${i}` : null })));
  await db('books').insert(
    Array.from({ length: 120 }, (_v, i) => ({
      id: i + 1,
      author_id: (i % 30) + 1,
      title: i % 10 === 0 ? null : `Book ${i + 1}`,
      page_count: 50 + ((i * 37) % 600),
      isbn: `978-${String(i).padStart(6, '0')}`,
      publisher_id: i % 4 === 0 ? null : (i % 3) + 1,
    })),
  );
  await db('tags').insert(Array.from({ length: 8 }, (_v, i) => ({ id: i + 1, label: `Tag ${i + 1}` })));
  await db('book_tags').insert(Array.from({ length: 240 }, (_v, i) => ({ book_id: (i % 120) + 1, tag_id: Math.floor(i / 120) * 4 + (i % 4) + 1 })));
  await db('reviews').insert(Array.from({ length: 300 }, (_v, i) => ({ id: i + 1, book_id: (i % 120) + 1, rating: (i % 5) + 1, body: `review ${i}` })));
}

/** Every table's rows, sorted (JSON order) so that engines' different physical orders compare equal. */
export async function tableContents(db: Knex, exclude: readonly string[] = BOOKKEEPING_TABLES): Promise<Record<string, unknown[]>> {
  const tables = await adapterFor(db).describeTables(db, { exclude: new Set(exclude) });
  const contents: Record<string, unknown[]> = {};
  for (const { name } of tables.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rows = (await db(name).select()) as Record<string, unknown>[];
    contents[name] = rows.map((r) => JSON.parse(JSON.stringify(r)) as unknown).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return contents;
}

/** The whole database: every table's structure and rows, knex's and ours included. */
export async function dumpDatabase(db: Knex): Promise<{ tables: unknown; rows: Record<string, unknown[]> }> {
  const tables = await adapterFor(db).describeTables(db, { exclude: new Set() });
  return { tables: tables.sort((a, b) => (a.name < b.name ? -1 : 1)), rows: await tableContents(db, []) };
}

/** Row counts of the tables the cascade demo watches. */
export async function counts(db: Knex, tables: readonly string[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const t of tables) result[t] = Number(((await db(t).count({ n: '*' })) as { n: number | string }[])[0].n);
  return result;
}
