/**
 * migrationStatus: where a database stands against a migration list. Read-only: it never creates
 * `system_settings` or writes anything, so it is safe on any database, including production.
 * It plans exactly as the runner does (lib/plan/state.ts), so `status` and `latest` always agree.
 */
import type { Knex } from 'knex';
import type { DirtyState } from '../store/dirty';
import { readRunnerState } from '../store/dirty';
import { HISTORY_TABLE, appliedFromHistory, selectHistory, type HistoryRow } from '../store/history';
import { INITIAL_VERSION, SETTINGS_TABLE, parseStoredVersion, schemaBuilder, type SettingsOptions } from '../store/settings';
import type { Migration, Queryable } from '../types';
import { newestVersion } from './plan';
import { findKnexAdoption, type KnexTableOptions } from '../store/knex-adoption';
import { adoptedState, knexAdoptedState, planTarget, type AppliedRow, type State } from './state';

export interface MigrationStatusEntry {
  readonly version: string;
  readonly description: string;
  /**
   * `applied`; `pending` (the next `latest` runs it); `missing`: below db_version and never run (a
   * late hotfix), which `latest` leaves alone unless out-of-order runs are allowed.
   */
  readonly state: 'applied' | 'pending' | 'missing';
}

export interface MigrationStatus {
  /** `db_version` of the database (0.0.0 when version tracking was never initialised). */
  readonly current: string;
  /** The newest version in the migration list: what `latest` would bring the database to. */
  readonly target: string;
  /** Every migration, sorted by semver. */
  readonly migrations: MigrationStatusEntry[];
  /** Applied versions that the code no longer has. */
  readonly unknown: string[];
  /** Present when a failed migration left the database marked dirty (every run refuses until repair). */
  readonly dirty?: DirtyState;
}

/**
 * The database's state as the runner will see it, without writing: a database without
 * system_settings is at 0.0.0 with nothing applied; one without history (versioned before history
 * existed) counts its registered versions up to db_version as applied, as the runner will adopt them.
 * Rejects with CorruptVersionError; reports (does not throw) a dirty marker.
 */
export async function readMigrationState(
  db: Queryable,
  sorted: readonly Migration[],
  settings: SettingsOptions,
  knex?: KnexTableOptions,
): Promise<{ state: State<HistoryRow | AppliedRow>; dirty?: DirtyState }> {
  // A knex-managed database: what the runner's adoption will record (KnexHistoryError if it would refuse).
  const adoption = await findKnexAdoption(db, settings, sorted, knex);
  const hasSettings = await schemaBuilder(db, settings).hasTable(SETTINGS_TABLE);
  if (adoption) return { state: knexAdoptedState(adoption), ...(hasSettings ? { dirty: (await readRunnerState(db, settings)).dirty } : {}) };
  const hasHistory = hasSettings && (await schemaBuilder(db, settings).hasTable(HISTORY_TABLE));
  if (!hasSettings) return { state: adoptedState(INITIAL_VERSION, sorted) };
  const { version: stored, dirty } = await readRunnerState(db, settings);
  const version = parseStoredVersion(stored);
  if (!hasHistory) return { state: adoptedState(version, sorted), dirty };
  return { state: { version, applied: appliedFromHistory(await selectHistory(db, settings)) }, dirty };
}

/**
 * The database's version, the code's version and each migration as applied, pending or missing.
 * `sorted` is a validated list. Rejects with CorruptVersionError, or SchemaTooNewError when the
 * database is a major version ahead of the code.
 */
export async function statusOf(
  db: Knex | Knex.Transaction,
  sorted: readonly Migration[],
  settings: SettingsOptions,
  allowOutOfOrder = false,
  knex?: KnexTableOptions,
): Promise<MigrationStatus> {
  const { state, dirty } = await readMigrationState(db, sorted, settings, knex);
  return statusFromState(state, sorted, allowOutOfOrder, dirty);
}

/** The status of a state already read (pure). */
export function statusFromState(state: State, sorted: readonly Migration[], allowOutOfOrder: boolean, dirty?: DirtyState): MigrationStatus {
  const plan = planTarget(state, sorted, { kind: 'latest' }, allowOutOfOrder);
  const pending = new Set(plan.steps.map((s) => s.migration.version));
  const missing = new Set(plan.missing.map((m) => m.version));
  const known = new Set(sorted.map((m) => m.version));
  return {
    current: state.version,
    target: newestVersion(sorted),
    migrations: sorted.map((m) => ({
      version: m.version,
      description: m.description,
      state: pending.has(m.version) ? 'pending' : missing.has(m.version) ? 'missing' : state.applied.has(m.version) ? 'applied' : 'pending',
    })),
    unknown: [...state.applied.keys()].filter((v) => !known.has(v)),
    ...(dirty ? { dirty } : {}),
  };
}
