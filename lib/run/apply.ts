/**
 * Applying planned steps under the lock. Two paths with the same outcome:
 * - a batch: every step in ONE savepoint, then one check, one db_version write and multi-row history
 *   inserts (SQLite); any failure rolls it back whole and falls through to
 * - one by one: each step in its own savepoint or transaction with its db_version update and
 *   history row, so when step k fails, 1…k−1 stay applied and db_version ends at k−1.
 */
import type { Knex } from 'knex';
import type { DialectAdapter, LockedSession, TableLockOptions } from '../dialects';
import { TableBusyError, describeCause } from '../errors';
import type { State, Step } from '../plan/state';
import { clearDirty, inProgressSetting, markDirty, markInProgress } from '../store/dirty';
import { recordHistoryRows, type HistoryEntry } from '../store/history';
import { recordStep } from '../store/record-step';
import { INITIAL_VERSION, updateDatabaseVersion, type SettingsOptions } from '../store/settings';
import type { AppliedMigration, Logger, Migration, Queryable, StepWrapper } from '../types';
import { retryWhile } from '../retry';
import { compareVersions } from '../version';
import { captureQueries, logStatements, type StatementLog } from './capture-sql';
import { logApplied } from './report';

/** How the steps run. */
export interface StepRun {
  /** Return the SQL each migration ran (dry runs). */
  readonly captureSql: boolean;
  /** Wraps each migration body (the additive-only guard). */
  readonly around?: StepWrapper;
  readonly savepointPerMigration: boolean;
  /** A non-atomic step that timed out waiting for a table lock having changed nothing is retried this often. */
  readonly tableLocks: TableLockOptions;
}

/** What applying a list of steps needs, under the lock. */
export interface StepContext {
  readonly session: LockedSession;
  readonly adapter: DialectAdapter;
  readonly settings: SettingsOptions;
  readonly state: State;
  readonly steps: readonly Step[];
  readonly logger: Logger;
  readonly run: StepRun;
}

export interface Applied {
  readonly from: string;
  readonly to: string;
  readonly applied: AppliedMigration[];
  readonly failed?: { readonly migration: Migration; readonly cause: unknown; readonly dirty: boolean };
}

export async function applySteps(ctx: StepContext): Promise<Applied> {
  const { adapter, state, steps, logger, run } = ctx;
  if (canBatch(adapter, steps, run)) {
    const batch = await applyBatch(ctx);
    if (batch.ok) {
      for (const a of batch.applied) logApplied(logger, a);
      return { from: state.version, to: batch.to, applied: batch.applied };
    }
    logger.info(
      `${batch.failedAt ? `migration ${batch.failedAt.version}` : 'the batch'} failed (${describeCause(batch.cause)}); ` +
        'batch rolled back, running it again one savepoint per migration',
    );
  }
  return applyOneByOne(ctx);
}

/**
 * Batching needs DDL that rolls back (so a failed batch can be undone whole), an engine where one
 * commit for many migrations is safe (SQLite; not PostgreSQL: see commitsEachMigration) and plain steps: no
 * per-step hook, no SQL capture, nothing that must run outside a transaction. One step gains nothing.
 */
function canBatch(adapter: DialectAdapter, steps: readonly Step[], run: StepRun): boolean {
  return (
    adapter.transactionalDdl &&
    !adapter.commitsEachMigration &&
    steps.length > 1 &&
    !run.savepointPerMigration &&
    !run.captureSql &&
    run.around === undefined &&
    !steps.some((s) => s.migration.transaction === false && adapter.runsOutsideTransactions)
  );
}

type BatchResult =
  | { readonly ok: true; readonly to: string; readonly applied: AppliedMigration[] }
  | { readonly ok: false; readonly failedAt?: Migration; readonly cause: unknown };

/** Statements per migration drop from six to about one. Any failure leaves the database as before the batch. */
async function applyBatch({ session, adapter, settings, state, steps }: StepContext): Promise<BatchResult> {
  const entries: HistoryEntry[] = [];
  const durations: number[] = [];
  const appliedVersions = new Set(state.applied.keys());
  let version = state.version;
  let current: Migration | undefined;
  try {
    await session.transaction(async (trx) => {
      adapter.beforeMigration?.(trx);
      for (const { migration, direction } of steps) {
        current = migration;
        const [startedAt, started] = [new Date(), performance.now()];
        await bodyOf(migration, direction).call(migration, trx);
        durations.push(elapsed(started));
        entries.push({ migration, direction, startedAt, finishedAt: new Date() });
        version = nextVersion(version, appliedVersions, migration, direction);
        track(appliedVersions, migration, direction);
      }
      current = undefined;
      await adapter.verifyMigration(trx, `Migrations ${steps[0].migration.version}…${steps[steps.length - 1].migration.version}`);
      await updateDatabaseVersion(trx, version, settings);
      await recordHistoryRows(trx, entries, settings);
    });
  } catch (cause) {
    return { ok: false, failedAt: current, cause };
  }
  const applied = steps.map(({ migration, direction }, i): AppliedMigration => ({
    version: migration.version,
    description: migration.description,
    durationMs: durations[i],
    direction,
  }));
  return { ok: true, to: version, applied };
}

/**
 * Each step in its own savepoint (or transaction), with its db_version update and history row. A step
 * that cannot be rolled back (MySQL DDL, `transaction: false`) is marked in progress before its first
 * statement — in the same commit as the previous step's bookkeeping where there is one — so a runner
 * killed in the middle leaves a database that says so. If it fails, the marker becomes "failed"
 * (dirty) unless the migration provably changed nothing: no statement of it wrote anything, and the one
 * that failed was atomic. The real error is always the one reported, even if writing the marker fails.
 */
async function applyOneByOne({ session, adapter, settings, state, steps, logger, run }: StepContext): Promise<Applied> {
  const applied: AppliedMigration[] = [];
  const appliedVersions = new Set(state.applied.keys());
  let version = state.version;
  let marked = false; // the in-progress marker for the current step is already written
  for (const [i, step] of steps.entries()) {
    const { migration, direction } = step;
    const atomic = isAtomic(adapter, migration);
    const next = nextVersion(version, appliedVersions, migration, direction);
    const started = performance.now();
    let sql: string[] | undefined;
    for (let attempt = 1; ; attempt++) {
      const log: StatementLog = { writes: [] };
      try {
        if (!atomic && !marked) await ownWrite(adapter, () => session.transaction((trx) => markInProgress(trx, migration, version, settings)));
        marked = true;
        const following = steps[i + 1] && !isAtomic(adapter, steps[i + 1].migration) ? steps[i + 1].migration : undefined;
        // With this step's bookkeeping, in the same commit: the next step's marker, or clearing this one's.
        const marker = { following, clear: !following && !atomic };
        sql = await applyOne(session, adapter, settings, step, next, run, { atomic, log, marker });
        marked = following !== undefined;
        break;
      } catch (caught) {
        // A statement gave up waiting for a table lock before the step wrote anything: wait, then try again
        // (the app's queries queued behind it run meanwhile). Atomic steps are retried by their adapter.
        const lockWait = !atomic && adapter.isTableLockTimeout?.(caught) === true;
        if (lockWait && log.writes.length === 0 && attempt <= run.tableLocks.retries) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** (attempt - 1), 5000) * (0.5 + Math.random() / 2)));
          continue;
        }
        const cause = lockWait ? new TableBusyError(tableNamedIn(log.failed), run.tableLocks.timeoutMs, attempt, [], caught) : caught;
        const dirty = !atomic && (await settleMarker(session, adapter, settings, migration, cause, version, log));
        return { from: state.version, to: version, applied, failed: { migration, cause, dirty } };
      }
    }
    track(appliedVersions, migration, direction);
    version = next;
    const done: AppliedMigration = { version: migration.version, description: migration.description, durationMs: elapsed(started), direction, ...(sql ? { sql } : {}) };
    applied.push(done);
    logApplied(logger, done);
  }
  return { from: state.version, to: version, applied };
}

/** The table a DDL statement works on, as written (`ALTER TABLE x`, `CREATE INDEX … ON x`, `DROP TABLE x`…). */
function tableNamedIn(sql: string | undefined): string | undefined {
  const match = /\b(?:ALTER|DROP|TRUNCATE|RENAME|LOCK)\s+TABLES?\s+(?:IF\s+EXISTS\s+)?([`"]?)([^\s`"(,;]+)\1|\bINDEX\s+\S+\s+ON\s+([`"]?)([^\s`"(]+)\3/i.exec(sql ?? '');
  return match?.[2] ?? match?.[4];
}

/** Whether a failed step rolls back whole: DDL that rolls back, inside a transaction. */
function isAtomic(adapter: DialectAdapter, migration: Migration): boolean {
  return adapter.transactionalDdl && !(migration.transaction === false && adapter.runsOutsideTransactions);
}

/**
 * After a non-atomic step failed: clear its in-progress marker if it provably changed nothing, else
 * record the failure. Returns whether the database is left dirty (also when the marker could not be
 * written: the in-progress marker committed before the step then stays, and the database is refused).
 */
async function settleMarker(
  session: LockedSession,
  adapter: DialectAdapter,
  settings: SettingsOptions,
  migration: Migration,
  cause: unknown,
  lastGoodVersion: string,
  log: StatementLog,
): Promise<boolean> {
  try {
    return await ownWrite(adapter, () =>
      session.transaction(async (trx) => {
        const changedNothing = log.writes.length === 0 && (log.failed === undefined || (await adapter.failedStatementsLeaveNothing?.(trx)) === true);
        if (changedNothing) await clearDirty(trx, settings);
        else await markDirty(trx, migration, cause, lastGoodVersion, settings);
        return !changedNothing;
      }),
    );
  } catch {
    return true;
  }
}

interface StepBookkeeping {
  readonly atomic: boolean;
  /** Filled with the statements the migration ran (non-atomic steps). */
  readonly log: StatementLog;
  /** In the step's bookkeeping commit: the in-progress marker of the step that follows, or clearing this one's. */
  readonly marker: { readonly following?: Migration; readonly clear: boolean };
}

/**
 * Runs one step and moves db_version, with its history row, atomically where the engine allows: in the
 * step's own transaction if it is atomic, else in a transaction of their own right after it (on MySQL a
 * DDL statement ends the transaction it ran in, so anything after it would commit statement by statement).
 * With `captureSql`, returns the statements the migration itself ran.
 */
async function applyOne(
  session: LockedSession,
  adapter: DialectAdapter,
  settings: SettingsOptions,
  { migration, direction }: Step,
  nextVersion: string,
  { captureSql, around }: StepRun,
  { atomic, log, marker }: StepBookkeeping,
): Promise<string[] | undefined> {
  const startedAt = new Date();
  const finish = async (trx: Knex.Transaction) => {
    const entry = { migration, direction, startedAt, finishedAt: new Date() };
    const alsoSet = marker.following ? [inProgressSetting(marker.following, nextVersion)] : [];
    await recordStep(trx, { version: nextVersion, entry, alsoSet }, settings, adapter.dataModifyingCtes === true);
    if (marker.clear) await clearDirty(trx, settings);
    await adapter.verifyMigration(trx, `Migration ${migration.version}`);
  };
  const body = bodyOf(migration, direction);
  const run = async (q: Queryable) => {
    // Without a transaction the migration receives the knex instance; typed as a transaction for one signature.
    const call = () => body.call(migration, q as Knex.Transaction);
    const wrapped = around ? () => around(q, migration, call) : call;
    const logged = atomic ? wrapped : () => logStatements(q, wrapped, log);
    if (!captureSql) return void (await logged());
    return captureQueries(q, logged);
  };
  if (!atomic) {
    const sql = migration.transaction === false ? await session.withoutTransaction(run) : await session.transaction(run);
    await ownWrite(adapter, () => session.transaction(finish));
    return sql;
  }
  return session.transaction(async (trx) => {
    adapter.beforeMigration?.(trx);
    const sql = await run(trx);
    await finish(trx);
    return sql;
  });
}

/** The runner's own bookkeeping transaction, run again while it loses a write conflict (Galera's certification). */
export function ownWrite<R>(adapter: DialectAdapter, fn: () => Promise<R>): Promise<R> {
  const conflict = adapter.isWriteConflict;
  return conflict ? retryWhile((err) => conflict(err), fn) : fn();
}

function bodyOf(migration: Migration, direction: 'up' | 'down'): (trx: Knex.Transaction) => Promise<void> {
  return direction === 'up' ? migration.up : (migration.down as NonNullable<Migration['down']>);
}

/** db_version after a step: up never lowers it (an out-of-order hotfix sits below); down lands on the highest version left. */
function nextVersion(version: string, appliedVersions: ReadonlySet<string>, { version: stepVersion }: Migration, direction: 'up' | 'down'): string {
  if (direction === 'up') return maxVersion([version, stepVersion]);
  return maxVersion([...appliedVersions].filter((v) => v !== stepVersion));
}

function track(appliedVersions: Set<string>, { version }: Migration, direction: 'up' | 'down'): void {
  if (direction === 'up') appliedVersions.add(version);
  else appliedVersions.delete(version);
}

/** The highest of `versions`; 0.0.0 for none. */
export function maxVersion(versions: Iterable<string>): string {
  return [...versions].reduce((max, v) => (compareVersions(v, max) > 0 ? v : max), INITIAL_VERSION);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
