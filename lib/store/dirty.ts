/**
 * The "dirty" marker: where a failed migration could not be rolled back (MySQL commits DDL as it
 * goes; `transaction: false` migrations), the runner records it in system_settings and every later
 * run refuses until `repairDatabase` clears it.
 */
import { DirtyDatabaseError, describeCause } from '../errors';
import { DB_VERSION_KEY, DIRTY_KEY, settingsTable, writeSetting, type SettingsOptions } from './settings';
import type { Migration, Queryable } from '../types';

export { DIRTY_KEY };

export interface DirtyState {
  readonly version: string;
  readonly description: string;
  readonly failedAt: string;
  readonly error: string;
  readonly lastGoodVersion: string;
}

/** Records a failed, non-atomic migration. */
export async function markDirty(
  db: Queryable,
  migration: Migration,
  cause: unknown,
  lastGoodVersion: string,
  options: SettingsOptions = {},
): Promise<void> {
  const state: DirtyState = {
    version: migration.version,
    description: migration.description,
    failedAt: new Date().toISOString(),
    error: describeCause(cause).slice(0, 2000),
    lastGoodVersion,
  };
  await writeSetting(db, DIRTY_KEY, JSON.stringify(state), options);
}

/**
 * Reads db_version and the dirty marker in one query (the runner's fast path). Rejects when
 * system_settings is missing. The version is returned as stored, unvalidated.
 */
export async function readRunnerState(
  db: Queryable,
  options: SettingsOptions = {},
): Promise<{ version?: string; dirty?: DirtyState }> {
  const rows = (await settingsTable(db, options).select('key', 'value').whereIn('key', [DB_VERSION_KEY, DIRTY_KEY])) as {
    key: string;
    value: string;
  }[];
  const byKey = new Map(rows.map((r) => [r.key, r.value]));
  const dirty = byKey.get(DIRTY_KEY);
  return { version: byKey.get(DB_VERSION_KEY), dirty: dirty === undefined ? undefined : parseDirty(dirty) };
}

export function assertClean(dirty: DirtyState | undefined): void {
  if (dirty) throw new DirtyDatabaseError(dirty.version, dirty.description, dirty.failedAt, dirty.error, dirty.lastGoodVersion);
}

function parseDirty(value: string): DirtyState {
  try {
    return JSON.parse(value) as DirtyState;
  } catch {
    // A marker we cannot read is still a marker: refuse rather than guess.
    return { version: '?', description: 'unreadable marker', failedAt: '?', error: value.slice(0, 200), lastGoodVersion: '?' };
  }
}

/** Removes the marker (repair). */
export async function clearDirty(db: Queryable, options: SettingsOptions = {}): Promise<void> {
  await settingsTable(db, options).where({ key: DIRTY_KEY }).del();
}
