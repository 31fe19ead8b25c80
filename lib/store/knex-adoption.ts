/**
 * Adopting a database managed by knex's migrator: every file `knex_migrations` lists is recorded in
 * our history as `adopt` and db_version set to the version of the last of them, so the first run
 * applies only what knex never ran. `knex_migrations` and its lock table are only read, never
 * written, so going back to knex stays possible.
 */
import type { Knex } from 'knex';
import { KnexHistoryError } from '../errors';
import type { Migration, Queryable } from '../types';
import { isNewer } from '../version';
import { historyIsEmpty, recordHistoryRows } from './history';
import { INITIAL_VERSION, bookkeepingTable, getDatabaseVersion, schemaBuilder, updateDatabaseVersion, type SettingsOptions } from './settings';

/** knex's default table name (its `migrations.tableName`). */
export const KNEX_MIGRATIONS_TABLE = 'knex_migrations';

/** Where knex keeps its history: the knexfile's `migrations.tableName` and `migrations.schemaName`. */
export interface KnexTableOptions {
  readonly tableName?: string;
  readonly schemaName?: string;
}

export interface KnexAdoption {
  /** The migrations knex ran, in the order it ran them (which is the folder's). */
  readonly migrations: readonly Migration[];
  /** db_version after adoption: the version of the last of them. */
  readonly version: string;
}

/**
 * What adopting this database would record, or undefined when there is nothing to adopt: the
 * database already has a version or history of its own, or knex never ran a migration here.
 * Read-only. Rejects with KnexHistoryError when knex_migrations and the folder disagree.
 */
export async function findKnexAdoption(
  db: Queryable,
  settings: SettingsOptions,
  sorted: readonly Migration[],
  knex: KnexTableOptions = {},
): Promise<KnexAdoption | undefined> {
  // knex's table first: on the common database without it, this costs one query.
  const names = await readKnexMigrationNames(db, knex);
  if (!names || names.length === 0) return undefined;
  if ((await getDatabaseVersion(db, settings)) !== INITIAL_VERSION || !(await historyIsEmpty(db, settings))) return undefined;
  return planKnexAdoption(names, sorted, knex.tableName ?? KNEX_MIGRATIONS_TABLE);
}

/** The names knex_migrations lists, in the order knex ran them; undefined when the table does not exist. */
export async function readKnexMigrationNames(db: Queryable, knex: KnexTableOptions = {}): Promise<string[] | undefined> {
  const table = knex.tableName ?? KNEX_MIGRATIONS_TABLE;
  const where = { schema: knex.schemaName };
  if (!(await schemaBuilder(db, where).hasTable(table))) return undefined;
  const rows = (await bookkeepingTable(db, table, where).select('name').orderBy('id')) as { name: string }[];
  return rows.map((r) => r.name);
}

/**
 * Matches knex's history with the loaded knex migrations (by file name). Each listed file must be in
 * the folder, and they must have run in the folder's order: a file that ran after one placed later
 * would get a version below an applied one. A file of the folder knex skipped (it sorts before the
 * last one that ran) becomes a missing version, reported as a late hotfix is.
 */
export function planKnexAdoption(names: readonly string[], sorted: readonly Migration[], table: string): KnexAdoption {
  const byName = new Map(sorted.filter((m) => m.knexName !== undefined).map((m) => [m.knexName as string, m]));
  const missing = names.filter((n) => !byName.has(n));
  const outOfOrder: string[] = [];
  let newest: Migration | undefined;
  for (const name of names) {
    const m = byName.get(name);
    if (!m) continue;
    if (newest && !isNewer(m.version, newest.version)) outOfOrder.push(name);
    else newest = m;
  }
  if (missing.length > 0 || outOfOrder.length > 0 || !newest) throw new KnexHistoryError(table, missing, outOfOrder);
  return { migrations: names.map((n) => byName.get(n) as Migration), version: newest.version };
}

/** Under the migration lock, in the transaction that holds it: the adopt rows and db_version together. */
export async function recordKnexAdoption(trx: Knex.Transaction, adoption: KnexAdoption, settings: SettingsOptions): Promise<void> {
  const now = new Date();
  await recordHistoryRows(trx, adoption.migrations.map((migration) => ({ migration, direction: 'adopt', startedAt: now, finishedAt: now })), settings);
  await updateDatabaseVersion(trx, adoption.version, settings);
}
