import fs from 'fs';
import os from 'os';
import path from 'path';
import knexFactory, { type Knex } from 'knex';
import { withSqliteDefaults } from '../../lib/sqlite/connection';

/** A fresh in-memory SQLite database (one pooled connection: each connection would be its own database). */
export function memoryDb(): Knex {
  return knexFactory(withSqliteDefaults({ client: 'sqlite3', connection: { filename: ':memory:' }, pool: { min: 1, max: 1 } }));
}

/** A knex instance on a SQLite file. */
export function fileDb(filename: string): Knex {
  return knexFactory(withSqliteDefaults({ client: 'sqlite3', connection: { filename } }));
}

/** A new empty temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = 'ksm-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** All rows of a table ordered by rowid (or the given columns), for before/after comparisons. */
export async function rowsOf(db: Knex | Knex.Transaction, table: string, orderBy = 'rowid'): Promise<Record<string, unknown>[]> {
  return db.raw(`SELECT * FROM "${table.replace(/"/g, '""')}" ORDER BY ${orderBy}`) as Promise<Record<string, unknown>[]>;
}

/** Runs `fn` and returns the SQL `db` sent meanwhile (knex's `query` event), in order. */
export async function statementsDuring<T>(
  db: Knex,
  fn: () => Promise<T>,
): Promise<{ result: T; statements: string[]; bindings: unknown[][] }> {
  const statements: string[] = [];
  const bindings: unknown[][] = [];
  const listen = (q: { sql: string; bindings?: unknown[] }) => {
    statements.push(q.sql);
    bindings.push(q.bindings ?? []);
  };
  db.on('query', listen);
  try {
    return { result: await fn(), statements, bindings };
  } finally {
    db.off('query', listen);
  }
}
