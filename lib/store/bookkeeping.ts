/**
 * Creating the bookkeeping under the migration lock: the settings schema and table, db_version, and
 * the history table — adopting a database versioned before history existed.
 */
import type { Knex } from 'knex';
import type { DialectAdapter } from '../dialects';
import { UnsupportedDialectError } from '../errors';
import { isAheadOfCode, newestVersion } from '../plan/plan';
import type { Migration } from '../types';
import { isNewer } from '../version';
import { assertClean, readRunnerState } from './dirty';
import { ensureHistoryTable, recordHistory } from './history';
import { findKnexAdoption, recordKnexAdoption, type KnexAdoption, type KnexTableOptions } from './knex-adoption';
import { getDatabaseVersion, initializeVersionTracking, type SettingsOptions } from './settings';

/** The settings location, refused up front where the engine has no schemas to put it in. */
export function settingsOptionsFor(adapter: DialectAdapter, options: SettingsOptions): SettingsOptions {
  if (options.schema !== undefined && !adapter.ensureSchema) {
    throw new UnsupportedDialectError(`the schema option is for PostgreSQL; ${adapter.name} keeps system_settings in the database it connects to`);
  }
  return { schema: options.schema };
}

/** Under the lock: the settings schema (if any) and table exist, and db_version has a value. */
export async function prepareSettings(trx: Knex.Transaction, adapter: DialectAdapter, settings: SettingsOptions): Promise<void> {
  if (settings.schema !== undefined) await adapter.ensureSchema?.(trx, settings.schema);
  await initializeVersionTracking(trx, settings);
}

/**
 * Under the lock: settings and history exist — and a database versioned before history existed is
 * adopted: its registered versions up to db_version are recorded as `adopt`, so it is not mistaken
 * for one that never ran them. A database managed by knex's migrator (knex_migrations, no version or
 * history of ours) is adopted from knex_migrations instead; that adoption is returned.
 */
export async function prepareBookkeeping(
  trx: Knex.Transaction,
  adapter: DialectAdapter,
  settings: SettingsOptions,
  sorted: readonly Migration[],
  /** Where knex kept its history; undefined: the caller found none, so no knex adoption. */
  knex?: KnexTableOptions,
): Promise<KnexAdoption | undefined> {
  // Read before creating anything: a refused adoption leaves the database as it was (MySQL commits DDL).
  const adoption = knex && (await findKnexAdoption(trx, settings, sorted, knex));
  await prepareSettings(trx, adapter, settings);
  // Refuse a dirty, corrupt or too-new database before creating anything (MySQL would commit it).
  assertClean((await readRunnerState(trx, settings)).dirty);
  const version = await getDatabaseVersion(trx, settings);
  isAheadOfCode(version, newestVersion(sorted));
  const created = await ensureHistoryTable(trx, settings);
  // After the last CREATE: on MySQL the adopt rows and db_version then commit together.
  if (adoption) {
    await recordKnexAdoption(trx, adoption, settings);
    return adoption;
  }
  if (!created) return undefined;
  const now = new Date();
  for (const m of sorted) {
    if (!isNewer(m.version, version)) await recordHistory(trx, m, 'adopt', now, settings);
  }
  return undefined;
}
