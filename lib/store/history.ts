/**
 * `system_migrations`: one row per applied, rolled-back or adopted migration, written in the same
 * transaction as the migration itself. `db_version` stays the single source of truth for the
 * current version; history says which versions ran, when, by whom, and with what source.
 */
import os from 'os';
import type { Knex } from 'knex';
import { SETTINGS_TABLE, bookkeepingTable, schemaBuilder, type SettingsOptions } from './settings';
import type { Migration, Queryable } from '../types';

export const HISTORY_TABLE = 'system_migrations';

/** Tables of the migration machinery (ours and knex's), left out of schema snapshots. */
export const BOOKKEEPING_TABLES: readonly string[] = [SETTINGS_TABLE, HISTORY_TABLE, 'knex_migrations', 'knex_migrations_lock'];

export type Direction = 'up' | 'down' | 'adopt';

export interface HistoryRow {
  readonly version: string;
  readonly description: string;
  readonly direction: Direction;
  readonly checksum: string;
  readonly started_at: string | Date;
  readonly finished_at: string | Date;
  readonly duration_ms: number;
  readonly run_by: string;
}

/** Who ran it: host and process id. */
export const RUN_BY = `${os.hostname()}/${process.pid}`.slice(0, 255);

function historyTable(db: Queryable, options: SettingsOptions): Knex.QueryBuilder {
  return bookkeepingTable(db, HISTORY_TABLE, options);
}

/** Creates the history table if it is missing. Returns true when it was created just now. */
export async function ensureHistoryTable(db: Queryable, options: SettingsOptions = {}): Promise<boolean> {
  if (await schemaBuilder(db, options).hasTable(HISTORY_TABLE)) return false;
  try {
    await createHistoryTable(db, options);
  } catch (err) {
    // Another process created it between our check and our CREATE (outside the lock: e.g. two first starts).
    if (await schemaBuilder(db, options).hasTable(HISTORY_TABLE)) return false;
    throw err;
  }
  return true;
}

async function createHistoryTable(db: Queryable, options: SettingsOptions): Promise<void> {
  await schemaBuilder(db, options).createTable(HISTORY_TABLE, (t) => {
    t.increments('id');
    t.string('version', 64).notNullable();
    t.text('description').notNullable();
    t.string('direction', 8).notNullable();
    t.string('checksum', 64).notNullable();
    t.timestamp('started_at').notNullable();
    t.timestamp('finished_at').notNullable();
    t.integer('duration_ms').notNullable();
    t.string('run_by', 255).notNullable();
    t.index(['version'], `${HISTORY_TABLE}_version_index`);
  });
}

export async function recordHistory(
  db: Queryable,
  migration: Migration,
  direction: Direction,
  startedAt: Date,
  options: SettingsOptions = {},
): Promise<void> {
  await recordHistoryRows(db, [{ migration, direction, startedAt, finishedAt: new Date() }], options);
}

/** One history row to write: what ran, which way, and when. */
export interface HistoryEntry {
  readonly migration: Migration;
  readonly direction: Direction;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** Rows per INSERT: well under SQLite's bound-parameter and compound-SELECT limits. */
const ROWS_PER_INSERT = 100;

/** Writes history rows in order, a few multi-row INSERTs instead of one statement per row. */
export async function recordHistoryRows(db: Queryable, entries: readonly HistoryEntry[], options: SettingsOptions = {}): Promise<void> {
  const rows = await historyRows(entries);
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await historyTable(db, options).insert(rows.slice(i, i + ROWS_PER_INSERT));
  }
}

/** The INSERT of history rows, as a builder (not run: to embed in a larger statement). */
export function historyInsert(db: Queryable, rows: readonly Record<string, unknown>[], options: SettingsOptions = {}): Knex.QueryBuilder {
  return historyTable(db, options).insert(rows);
}

/** The history table's rows for `entries`. */
export async function historyRows(entries: readonly HistoryEntry[]): Promise<Record<string, unknown>[]> {
  const { checksumOf } = await import('./checksum'); // crypto is not loaded on the up-to-date path
  return entries.map(({ migration, direction, startedAt, finishedAt }) => ({
    version: migration.version,
    description: migration.description,
    direction,
    checksum: checksumOf(migration),
    started_at: startedAt,
    finished_at: finishedAt,
    duration_ms: finishedAt.getTime() - startedAt.getTime(),
    run_by: RUN_BY,
  }));
}

/** Every history row, oldest first. An empty list when the table does not exist. */
export async function readHistory(db: Queryable, options: SettingsOptions = {}): Promise<HistoryRow[]> {
  if (!(await schemaBuilder(db, options).hasTable(HISTORY_TABLE))) return [];
  return selectHistory(db, options);
}

/** True when the history table is missing or has no row. */
export async function historyIsEmpty(db: Queryable, options: SettingsOptions = {}): Promise<boolean> {
  if (!(await schemaBuilder(db, options).hasTable(HISTORY_TABLE))) return true;
  return (await historyTable(db, options).first('id')) === undefined;
}

/** The same in one query, rejecting when the table is missing. */
export async function selectHistory(db: Queryable, options: SettingsOptions = {}): Promise<HistoryRow[]> {
  return (await historyTable(db, options).select().orderBy('id')) as HistoryRow[];
}

/** Just what decides which versions are applied: the runner's up-to-date check reads no more. */
export async function selectHistoryDirections(db: Queryable, options: SettingsOptions = {}): Promise<Pick<HistoryRow, 'version' | 'direction'>[]> {
  return (await historyTable(db, options).select('version', 'direction').orderBy('id')) as Pick<HistoryRow, 'version' | 'direction'>[];
}

/** The latest row of each version whose last word is "applied" (up or adopt): version → row. */
export function appliedFromHistory<Row extends Pick<HistoryRow, 'version' | 'direction'>>(rows: readonly Row[]): Map<string, Row> {
  const latest = new Map<string, Row>();
  for (const row of rows) latest.set(row.version, row);
  for (const [version, row] of latest) if (row.direction === 'down') latest.delete(version);
  return latest;
}
