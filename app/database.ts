/**
 * The sample app's database start-up: what a back end puts in its bootstrap. It uses the package's
 * public API only (`../lib` is the package's entry; in your project: 'knex-semver-migrate').
 */
import path from 'path';
import type { Knex } from 'knex';
import { initializeDatabase, loadMigrations, newestVersion, validateMigrations, type Migration } from '../lib';
import knexConfig from '../knexfile';
import { createBaselineTables } from '../migrations/v0_1_0_baseline';

/** One migration per file; `make` adds new ones here. */
export const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

/** The app's migrations, sorted by semver. */
export async function appMigrations(): Promise<Migration[]> {
  return validateMigrations(await loadMigrations(MIGRATIONS_DIR));
}

/** The schema version this code expects: the newest migration. */
export async function currentDbVersion(): Promise<string> {
  return newestVersion(await appMigrations());
}

/**
 * Connects to the environment's database, brings it to the current schema and returns knex.
 * The baseline's create-tables runs after as the seed's fallback (it only creates what is missing).
 */
export function openDatabase(env: string = process.env.NODE_ENV ?? 'development'): Promise<Knex> {
  const config = knexConfig[env];
  if (!config) throw new Error(`knexfile has no environment "${env}"`);
  return initializeDatabase(config, { migrations: MIGRATIONS_DIR, createTables: createBaselineTables });
}
