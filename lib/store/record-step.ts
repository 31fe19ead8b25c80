/**
 * A step's bookkeeping, in the step's commit: db_version, its history row and, where the next step
 * cannot be rolled back, that step's in-progress marker. Two statements (the settings in one multi-row
 * upsert, then the history row), or one where the engine lets a statement write two tables (PostgreSQL:
 * `WITH settings AS (INSERT … ON CONFLICT …) INSERT INTO history …`) — a round trip per migration less.
 */
import { historyInsert, historyRows, type HistoryEntry } from './history';
import { upsertSettings, versionSetting, type SettingsOptions } from './settings';
import type { Queryable } from '../types';

export interface StepRecord {
  /** db_version after the step. */
  readonly version: string;
  readonly entry: HistoryEntry;
  /** Other runner settings to write in the same statement (the next step's in-progress marker). */
  readonly alsoSet?: readonly (readonly [string, string])[];
}

export async function recordStep(db: Queryable, record: StepRecord, settings: SettingsOptions, oneStatement: boolean): Promise<void> {
  const rows = await historyRows([record.entry]);
  // Builders run when awaited: neither has run yet.
  const settingsWrite = upsertSettings(db, [versionSetting(record.version), ...(record.alsoSet ?? [])], settings);
  const history = historyInsert(db, rows, settings);
  if (oneStatement) {
    await history.with('settings_written', settingsWrite);
    return;
  }
  await settingsWrite;
  await history;
}
