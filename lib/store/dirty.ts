/**
 * The "dirty" marker: where a migration cannot be rolled back (MySQL commits DDL as it goes;
 * `transaction: false` migrations), the runner records it as in progress before its first statement,
 * and as failed if it fails having (possibly) changed something; every later run refuses until
 * `repairDatabase` clears it. A runner killed mid-migration thus leaves a database that says so,
 * instead of one that the next start would half re-apply.
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
  /** Written before the migration's first statement: the runner never got to finish or fail it. */
  readonly inProgress?: boolean;
}

/** Records that a non-atomic migration is about to run (committed before its first statement). */
export async function markInProgress(db: Queryable, migration: Migration, lastGoodVersion: string, options: SettingsOptions = {}): Promise<void> {
  await writeSetting(db, ...inProgressSetting(migration, lastGoodVersion), options);
}

/** The in-progress marker as a setting (key, value), to write with others in one statement. */
export function inProgressSetting(migration: Migration, lastGoodVersion: string): [string, string] {
  const state: DirtyState = {
    version: migration.version,
    description: migration.description,
    failedAt: new Date().toISOString(),
    error: 'it never finished: its runner stopped in the middle (killed, crashed or lost its connection)',
    lastGoodVersion,
    inProgress: true,
  };
  return [DIRTY_KEY, JSON.stringify(state)];
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
  if (dirty) throw new DirtyDatabaseError(dirty.version, dirty.description, dirty.failedAt, dirty.error, dirty.lastGoodVersion, dirty.inProgress === true);
}

function parseDirty(value: string): DirtyState {
  try {
    return JSON.parse(value) as DirtyState;
  } catch {
    // A marker we cannot read is still a marker: refuse rather than guess.
    return { version: '?', description: 'unreadable marker', failedAt: '?', error: value.slice(0, 200), lastGoodVersion: '?' };
  }
}

/** Removes the marker (repair; a non-atomic migration that finished, or that provably changed nothing). */
export async function clearDirty(db: Queryable, options: SettingsOptions = {}): Promise<void> {
  await settingsTable(db, options).where({ key: DIRTY_KEY }).del();
}
