/**
 * The ONE reader of a database's migration state and the ONE planner over it. The runner
 * (latest / to / rollback) and the read-only verbs (status, validate) all come through here, so
 * they always agree on what is applied, pending and missing.
 */
import { ChecksumMismatchError, RollbackError } from '../errors';
import { assertClean, readRunnerState } from '../store/dirty';
import { appliedFromHistory, type HistoryRow } from '../store/history';
import type { KnexAdoption } from '../store/knex-adoption';
import { parseStoredVersion, type SettingsOptions } from '../store/settings';
import type { Migration, Queryable } from '../types';
import { isNewer } from '../version';
import { isAheadOfCode, newestVersion, planDown, planUp } from './plan';

/** A history row with just what decides which versions are applied. */
export type AppliedRow = Pick<HistoryRow, 'version' | 'direction'>;

/** db_version and the applied versions (latest history row of each). */
export interface State<Row extends AppliedRow = AppliedRow> {
  readonly version: string;
  readonly applied: ReadonlyMap<string, Row>;
}

/** Where a run goes: the newest version, or a given one (down only, for rollback). */
export type Target = { readonly kind: 'latest' } | { readonly kind: 'to'; readonly version: string; readonly downOnly: boolean };

export interface Step {
  readonly migration: Migration;
  readonly direction: 'up' | 'down';
}

export interface Plan {
  readonly steps: Step[];
  /** Registered, never applied, below db_version (a late hotfix): left alone without allowOutOfOrder. */
  readonly missing: Migration[];
}

/**
 * db_version, the dirty marker and the applied set, in two reads. Rejects when a bookkeeping table
 * is missing (the caller decides what that means), DirtyDatabaseError or CorruptVersionError.
 * Read without the lock (`locked` false), a migration marked in progress may well be running: that
 * rejects with a plain Error (take the lock and look again), not DirtyDatabaseError.
 */
export async function readState<Row extends AppliedRow>(
  db: Queryable,
  settings: SettingsOptions,
  selectRows: (db: Queryable, settings: SettingsOptions) => Promise<Row[]>,
  locked = true,
): Promise<State<Row>> {
  const { version, dirty } = await readRunnerState(db, settings);
  if (dirty?.inProgress && !locked) throw new Error(`migration ${dirty.version} is in progress, or its runner died: see under the lock`);
  assertClean(dirty);
  if (version === undefined) throw new Error('db_version is not set yet');
  const parsed = parseStoredVersion(version);
  return { version: parsed, applied: appliedFromHistory(await selectRows(db, settings)) };
}

/**
 * The state of a database versioned before history existed (or never versioned): every registered
 * version up to db_version counts as applied, as the runner's adoption will record them.
 */
export function adoptedState(version: string, sorted: readonly Migration[]): State {
  const applied = new Map<string, AppliedRow>();
  for (const m of sorted) if (!isNewer(m.version, version)) applied.set(m.version, { version: m.version, direction: 'adopt' });
  return { version, applied };
}

/** The state a knex-managed database will have once adopted: db_version at the last file knex ran. */
export function knexAdoptedState(adoption: KnexAdoption): State {
  return { version: adoption.version, applied: new Map(adoption.migrations.map((m) => [m.version, { version: m.version, direction: 'adopt' }])) };
}

/** The steps that take `state` to `target`, and the versions left missing below db_version. */
export function planTarget(state: State, sorted: readonly Migration[], target: Target, allowOutOfOrder: boolean): Plan {
  const ahead = isAheadOfCode(state.version, newestVersion(sorted)); // refuses a database a major version ahead
  const applied = new Set(state.applied.keys());
  if (target.kind === 'latest') {
    // Ahead within the major: nothing runs, but versions the database never ran are still missing.
    if (ahead) return { steps: [], missing: sorted.filter((m) => !applied.has(m.version)) };
    return upSteps(planUp(state.version, applied, sorted, newestVersion(sorted), allowOutOfOrder));
  }
  if (isNewer(target.version, state.version)) {
    if (target.downOnly) {
      throw new RollbackError(`Cannot roll back to ${target.version}: the database is at ${state.version}, below it`);
    }
    if (!sorted.some((m) => m.version === target.version)) {
      throw new RollbackError(`Cannot migrate to ${target.version}: it is not a registered version`);
    }
    return upSteps(planUp(state.version, applied, sorted, target.version, allowOutOfOrder));
  }
  return { steps: planDown(applied, sorted, target.version).map((migration) => ({ migration, direction: 'down' })), missing: [] };
}

function upSteps(up: { steps: Migration[]; missing: Migration[] }): Plan {
  return { steps: up.steps.map((migration) => ({ migration, direction: 'up' })), missing: up.missing };
}

/** Applied migrations whose source changed since they ran (adopted ones carry today's checksum). */
export async function assertChecksums(state: State<HistoryRow>, sorted: readonly Migration[]): Promise<void> {
  const { checksumOf } = await import('../store/checksum'); // crypto: not loaded by a start with nothing to do
  const changed = sorted.filter((m) => {
    const row = state.applied.get(m.version);
    return row !== undefined && row.checksum !== checksumOf(m);
  });
  if (changed.length > 0) throw new ChecksumMismatchError(changed.map((m) => m.version));
}
