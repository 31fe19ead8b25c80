/**
 * initializeDatabase: the back end's start-up call. Connect, foreign keys on, run migrations,
 * then the app's optional create-tables fallback, return knex.
 */
import knexFactory, { type Knex } from 'knex';
import { isSqlite } from './dialects';
import { knexSettingsOf } from './load/knex-config';
import type { KnexMigrationsOptions } from './load/knex-migrations';
import { consoleLogger } from './logger';
import { Migrator, type MigrationSource } from './migrator';
import type { RunOptions } from './run/execute';
import { ensureSqliteDirectory, withSqliteDefaults } from './sqlite/connection';

export interface InitializeOptions extends RunOptions {
  /** The migrations: a list, or the path of a migrations folder. */
  readonly migrations: MigrationSource;
  /** An idempotent fallback run after the migrations (e.g. the app's CREATE TABLE IF NOT EXISTS). Default: none. */
  readonly createTables?: (db: Knex) => Promise<void>;
  /** Knex-style files in the folder: default, the config's `migrations.loadExtensions` and `disableTransactions`. */
  readonly knexMigrations?: KnexMigrationsOptions;
}

/**
 * Returns a ready knex instance. Given a config, it creates the instance (SQLite: foreign keys ON
 * and a busy timeout on every connection, data directory created) and destroys it again if start-up
 * fails. Given an instance, it uses it as is and leaves it open.
 */
export async function initializeDatabase(configOrKnex: Knex.Config | Knex, options: InitializeOptions): Promise<Knex> {
  const owned = !isKnexInstance(configOrKnex);
  const db = isKnexInstance(configOrKnex) ? configOrKnex : createKnex(configOrKnex);
  try {
    if (!owned && isSqlite(db)) await enableForeignKeys(db, options);
    const { createTables, dryRun, ...config } = options;
    // Given a config, its `migrations` section says how knex loaded its files and kept its history.
    const knex = owned ? knexSettingsOf(configOrKnex as Knex.Config) : undefined;
    await new Migrator({ ...knex, ...config, db }).latest({ dryRun });
    await createTables?.(db);
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
