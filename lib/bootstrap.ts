/**
 * initializeDatabase: the back end's start-up call. Connect, foreign keys on, run migrations,
 * then the create-tables fallback (the baseline's CREATE TABLE IF NOT EXISTS), return knex.
 */
import knexFactory, { type Knex } from 'knex';
import { isSqlite } from './dialects';
import { consoleLogger } from './logger';
import { runMigrations, type RunOptions } from './runner';
import { ensureSqliteDirectory, withSqliteDefaults } from './sqlite/connection';
import type { Migration } from './types';
import { createBaselineTables } from '../migrations/v0_1_0_baseline';

export interface InitializeOptions extends RunOptions {
  /** Migrations to apply. Default: the app's registered list. */
  readonly migrations?: readonly Migration[];
  /** Idempotent fallback run after migrations. Default: the baseline's create-tables. */
  readonly createTables?: (db: Knex) => Promise<void>;
}

/**
 * Returns a ready knex instance. Given a config, it creates the instance (SQLite: foreign keys ON
 * and a busy timeout on every connection, data directory created) and destroys it again if start-up
 * fails. Given an instance, it uses it as is and leaves it open.
 */
export async function initializeDatabase(configOrKnex: Knex.Config | Knex, options: InitializeOptions = {}): Promise<Knex> {
  const owned = !isKnexInstance(configOrKnex);
  const db = isKnexInstance(configOrKnex) ? configOrKnex : createKnex(configOrKnex);
  try {
    if (!owned && isSqlite(db)) await enableForeignKeys(db, options);
    await runMigrations(db, options.migrations, options);
    await (options.createTables ?? createBaselineTables)(db);
    return db;
  } catch (err) {
    if (owned) await db.destroy();
    throw err;
  }
}

/** A knex instance from a config, with the SQLite safety defaults applied. */
export function createKnex(config: Knex.Config): Knex {
  ensureSqliteDirectory(config);
  return knexFactory(withSqliteDefaults(config));
}

/**
 * For an instance the caller built: SQLite's foreign_keys is per connection, so we can only set it
 * on the connection we get. That covers knex's default one-connection SQLite pool; for larger pools
 * the caller should build the config with withSqliteDefaults.
 */
async function enableForeignKeys(db: Knex, options: InitializeOptions): Promise<void> {
  await db.raw('PRAGMA foreign_keys = ON');
  const max = (db.client as { pool?: { max?: number } }).pool?.max ?? 1;
  if (max > 1) {
    (options.logger ?? consoleLogger).warn(
      'SQLite pool has more than one connection: build its config with withSqliteDefaults() so every connection enforces foreign keys',
    );
  }
}

function isKnexInstance(value: Knex.Config | Knex): value is Knex {
  return typeof value === 'function' && 'client' in value;
}
