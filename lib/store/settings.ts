/**
 * `system_settings`: a general key-value store. The key `db_version` holds the schema version.
 * This module knows nothing of migrations; it only stores and validates values.
 */
import type { Knex } from 'knex';
import { CorruptVersionError, InvalidSettingError, InvalidVersionError, showValue } from '../errors';
import { isCanonicalSemver } from '../version';
import type { Queryable } from '../types';

export const SETTINGS_TABLE = 'system_settings';
export const DB_VERSION_KEY = 'db_version';
/** The version of a database that has never been migrated. */
export const INITIAL_VERSION = '0.0.0';
/** Longest settings key, in characters (the key column is VARCHAR(255) everywhere). */
export const MAX_KEY_LENGTH = 255;
/** Keys the module writes itself; setSystemSetting refuses them. */
export const DIRTY_KEY = 'migration_dirty';
/** The migration lock's lease (see lease.ts), where the engine's lock is a row. */
export const LOCK_KEY = 'migration_lock';
export const RESERVED_KEYS: ReadonlySet<string> = new Set([DB_VERSION_KEY, DIRTY_KEY, LOCK_KEY]);

export interface SettingsOptions {
  /**
   * The schema that holds system_settings (PostgreSQL; on MySQL another database). Default: none,
   * so the name resolves through the connection's search path (knex's `searchPath`).
   */
  readonly schema?: string;
}

/** A bookkeeping table, qualified by the settings schema when one is given. */
export function bookkeepingTable(db: Queryable, table: string, options: SettingsOptions = {}): Knex.QueryBuilder {
  return options.schema ? db(table).withSchema(options.schema) : db(table);
}

/** The schema builder for the settings schema (or the search path's). */
export function schemaBuilder(db: Queryable, options: SettingsOptions = {}): Knex.SchemaBuilder {
  return options.schema ? db.schema.withSchema(options.schema) : db.schema;
}

/** The settings table, qualified by the schema when one is given. */
export function settingsTable(db: Queryable, options: SettingsOptions = {}): Knex.QueryBuilder {
  return bookkeepingTable(db, SETTINGS_TABLE, options);
}

/**
 * Creates `system_settings` if it is missing and sets `db_version` to 0.0.0 if it has none.
 * Idempotent, and safe when several processes call it at once.
 */
export async function initializeVersionTracking(db: Queryable, options: SettingsOptions = {}): Promise<void> {
  if (!(await schemaBuilder(db, options).hasTable(SETTINGS_TABLE))) {
    try {
      await createSettingsTable(db, options);
    } catch (err) {
      // Another process may have created it between our check and our CREATE.
      if (!(await schemaBuilder(db, options).hasTable(SETTINGS_TABLE))) throw err;
    }
  }
  await settingsTable(db, options).insert({ key: DB_VERSION_KEY, value: INITIAL_VERSION }).onConflict('key').ignore();
}

/** CREATE TABLE system_settings, unconditionally (fails if it exists). */
export async function createSettingsTable(db: Queryable, options: SettingsOptions = {}): Promise<void> {
  // Loaded on use: the dialect adapters themselves use this module.
  const { adapterFor } = await import('../dialects');
  const keyOptions = await adapterFor(db).settingsKeyOptions?.(db);
  await schemaBuilder(db, options).createTable(SETTINGS_TABLE, (t) => {
    if (keyOptions) t.charset(keyOptions.charset);
    // A bounded string, not TEXT: MySQL cannot index TEXT without a prefix length.
    const key = t.string('key', MAX_KEY_LENGTH).notNullable().primary();
    if (keyOptions) key.collate(keyOptions.collation);
    t.text('value', 'longtext').notNullable();
    t.timestamp('created_at').defaultTo(db.fn.now());
    t.timestamp('updated_at').defaultTo(db.fn.now());
  });
}

/**
 * The schema version stored in `db_version`; 0.0.0 when version tracking was never initialised.
 * Throws CorruptVersionError when the stored value is not semver.
 */
export async function getDatabaseVersion(db: Queryable, options: SettingsOptions = {}): Promise<string> {
  if (!(await schemaBuilder(db, options).hasTable(SETTINGS_TABLE))) return INITIAL_VERSION;
  return parseStoredVersion(await readSetting(db, DB_VERSION_KEY, options));
}

/** Sets `db_version`. Rejects anything that is not a canonical semver string. */
export async function updateDatabaseVersion(db: Queryable, version: string, options: SettingsOptions = {}): Promise<void> {
  await upsertSettings(db, [versionSetting(version)], options);
}

/** The value stored under `key`, or `undefined`. */
export async function getSystemSetting(db: Queryable, key: string, options: SettingsOptions = {}): Promise<string | undefined> {
  assertKey(key);
  return readSetting(db, key, options);
}

/**
 * Stores `value` under `key` (insert or update; `created_at` is kept, `updated_at` bumped).
 * `db_version` is reserved: use updateDatabaseVersion, which validates it.
 */
export async function setSystemSetting(db: Queryable, key: string, value: string, options: SettingsOptions = {}): Promise<void> {
  assertKey(key);
  if (key === DB_VERSION_KEY) {
    throw new InvalidSettingError(`"${DB_VERSION_KEY}" is reserved: use updateDatabaseVersion() to change it`);
  }
  if (RESERVED_KEYS.has(key)) throw new InvalidSettingError(`"${key}" is reserved for the migration runner (see repairDatabase)`);
  if (typeof value !== 'string') {
    throw new InvalidSettingError(`setting "${key}": value must be a string, got ${typeof value}`);
  }
  await writeSetting(db, key, value, options);
}

/** Upsert without the reserved-key rule: for the runner's own keys. */
export async function writeSetting(db: Queryable, key: string, value: string, options: SettingsOptions = {}): Promise<void> {
  await upsert(db, key, value, options);
}

/** A stored db_version value, validated: 0.0.0 when absent, CorruptVersionError when not semver. */
export function parseStoredVersion(stored: string | undefined): string {
  if (stored === undefined) return INITIAL_VERSION;
  if (!isCanonicalSemver(stored)) throw new CorruptVersionError(stored);
  return stored;
}

async function readSetting(db: Queryable, key: string, options: SettingsOptions): Promise<string | undefined> {
  const row = (await settingsTable(db, options).select('value').where({ key }).first()) as { value: string } | undefined;
  return row?.value;
}

async function upsert(db: Queryable, key: string, value: string, options: SettingsOptions): Promise<void> {
  await upsertSettings(db, [[key, value]], options);
}

/**
 * Inserts or updates several settings in one statement (`created_at` kept, `updated_at` bumped), unchecked:
 * for the runner's own keys. Not awaited, it is a builder (to embed in a larger statement).
 */
export function upsertSettings(db: Queryable, entries: readonly (readonly [string, string])[], options: SettingsOptions = {}): Knex.QueryBuilder {
  const now = db.fn.now();
  return settingsTable(db, options)
    .insert(entries.map(([key, value]) => ({ key, value, created_at: now, updated_at: now })))
    .onConflict('key')
    .merge(['value', 'updated_at']);
}

/** db_version, validated, as an entry for upsertSettings. */
export function versionSetting(version: string): [string, string] {
  if (!isCanonicalSemver(version)) throw new InvalidVersionError(version);
  return [DB_VERSION_KEY, version];
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidSettingError(`setting key must be a non-empty string, got ${showValue(key)}`);
  }
  // Counted in code points, as the engines count characters.
  if ([...key].length > MAX_KEY_LENGTH) {
    throw new InvalidSettingError(`setting key ${showValue(key, 40)} is longer than ${MAX_KEY_LENGTH} characters`);
  }
}
