/**
 * One runner, thin verbs: runMigrations (to the newest version), migrateTo (up or down to a version)
 * and rollback (down to a version) all go through `execute`:
 *
 *   validate → fast path (two reads, no lock, no write when nothing is pending) → lock → prepare
 *   bookkeeping → re-read state → checks (dirty, checksums, gate) → plan → apply each step in its own
 *   nested transaction (a savepoint) with the db_version update and the history row inside it →
 *   commit → report.
 *
 * All steps share one outer transaction that holds the lock, so a batch costs one commit, while each
 * migration stays atomic on its own: when migration k fails, its savepoint is rolled back, 1…k−1 are
 * committed, and db_version ends at k−1.
 */
import type { Knex } from 'knex';
import { adapterFor, type DialectAdapter, type LockedSession, type LockOptions } from './dialects';
import { assertClean, markDirty, readRunnerState } from './dirty';
import { ChecksumMismatchError, LockTimeoutError, MigrationError, describeCause, MigrationFailedError, RollbackError, UnsupportedDialectError } from './errors';
import {
  appliedFromHistory,
  ensureHistoryTable,
  recordHistory,
  recordHistoryRows,
  selectHistory,
  selectHistoryDirections,
  type HistoryEntry,
  type HistoryRow,
} from './history';
import { consoleLogger } from './logger';
import { isAheadOfCode, newestVersion, planDown, planUp, validateMigrations } from './plan';
import {
  INITIAL_VERSION,
  getDatabaseVersion,
  initializeVersionTracking,
  parseStoredVersion,
  updateDatabaseVersion,
  type SettingsOptions,
} from './settings';
import type { AppliedMigration, Logger, Migration, MigrationReport, StepWrapper } from './types';
import { compareVersions, isNewer } from './version';

/** Default for `lockTimeoutMs`: long enough for another instance to finish a big table rebuild. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface RunOptions extends SettingsOptions {
  /** Where progress goes. Default: `consoleLogger`. */
  readonly logger?: Logger;
  /** How long to wait for another runner's lock before LockTimeoutError. Default: DEFAULT_LOCK_TIMEOUT_MS. */
  readonly lockTimeoutMs?: number;
  /**
   * Apply registered versions below db_version that never ran (a hotfix branch merged after a higher
   * version was applied), recording them in history. Default: false — they are reported as `missing`.
   */
  readonly allowOutOfOrder?: boolean;
  /** Run even when an applied migration's source changed since it ran. Default: false (ChecksumMismatchError). */
  readonly ignoreChecksums?: boolean;
  /**
   * Refuse (roll back) a minor or patch migration that drops or renames a table or column, narrows a
   * type or makes a column NOT NULL without a default (see lib/additive.ts). Default: false.
   */
  readonly enforceAdditive?: boolean;
  /**
   * Run every step inside a transaction that is then rolled back, and report the SQL each ran.
   * The database is left exactly as it was. Needs transactional DDL (SQLite, PostgreSQL).
   */
  readonly dryRun?: boolean;
  /**
   * Give each migration its own savepoint from the start. By default (SQLite, PostgreSQL) a batch first
   * runs in ONE savepoint with the bookkeeping written once at its end; only if a migration fails is
   * that savepoint rolled back and the batch replayed one savepoint per migration, so the outcome is
   * the same either way — but the `up` of migrations before the failing one then runs twice. Set this
   * when `up` has effects outside the database that must not repeat. Default: false.
   */
  readonly savepointPerMigration?: boolean;
}

/** Options the library's own verbs pass to the runner, beyond RunOptions. */
export interface InternalRunOptions extends RunOptions {
  readonly around?: StepWrapper;
}

export interface TargetOptions extends RunOptions {
  /** Migrations to use. Default: the app's registered list. */
  readonly migrations?: readonly Migration[];
}

type Target = { readonly kind: 'latest' } | { readonly kind: 'to'; readonly version: string; readonly downOnly: boolean };

/**
 * Brings the database to the newest version in `migrations` (default: the app's registered list).
 * Rejects with InvalidMigrationError, SchemaTooNewError, CorruptVersionError, DirtyDatabaseError,
 * ChecksumMismatchError, DependencyError, LockTimeoutError or MigrationFailedError; in each case
 * nothing that failed is left behind.
 */
export function runMigrations(db: Knex, migrations?: readonly Migration[], options: InternalRunOptions = {}): Promise<MigrationReport> {
  return execute(db, migrations, options, { kind: 'latest' });
}

/** Moves the database up or down to `version` (a registered version, or 0.0.0 to undo everything). */
export function migrateTo(db: Knex, version: string, options: TargetOptions = {}): Promise<MigrationReport> {
  return execute(db, options.migrations, options, { kind: 'to', version, downOnly: false });
}

/**
 * Runs `down` of each applied migration above `to`, newest first, each in its own transaction,
 * moving db_version back. If any of them has no `down`, nothing runs (RollbackError lists them).
 */
export function rollback(db: Knex, options: TargetOptions & { readonly to: string }): Promise<MigrationReport> {
  return execute(db, options.migrations, options, { kind: 'to', version: options.to, downOnly: true });
}

interface State<Row extends AppliedRow = AppliedRow> {
  readonly version: string;
  readonly applied: ReadonlyMap<string, Row>;
}

type AppliedRow = Pick<HistoryRow, 'version' | 'direction'>;

interface Step {
  readonly migration: Migration;
  readonly direction: 'up' | 'down';
}

/** Thrown out of the locked work to roll it back (a dry run, or nothing to do); carries what it did. */
class RolledBack {
  constructor(readonly outcome: Outcome) {}
}

/** The first wait for the lock, in ms; each later one doubles, up to LOCK_POLL_MAX_MS. */
const LOCK_POLL_FIRST_MS = 10;
const LOCK_POLL_MAX_MS = 100;

/**
 * Waits for the migration lock in short slices, and between them asks `upToDate` whether the
 * process holding it has already done the work — so when many instances start at once, those
 * that arrive second leave as soon as the first commits, without ever taking the lock. Gives up
 * with LockTimeoutError after `lockTimeoutMs` in all.
 */
async function lockUnlessCurrent<T>(
  db: Knex,
  adapter: DialectAdapter,
  options: LockOptions,
  work: (session: LockedSession) => Promise<T>,
  upToDate: () => Promise<MigrationReport | undefined>,
): Promise<{ outcome: T } | { report: MigrationReport }> {
  const deadline = performance.now() + options.lockTimeoutMs;
  for (let slice = LOCK_POLL_FIRST_MS; ; slice = Math.min(slice * 2, LOCK_POLL_MAX_MS)) {
    const left = deadline - performance.now();
    try {
      return { outcome: await adapter.withMigrationLock(db, { ...options, lockTimeoutMs: Math.max(1, Math.min(slice, left)) }, work) };
    } catch (err) {
      if (!(err instanceof LockTimeoutError)) throw err;
      if (left <= slice) throw new LockTimeoutError(err.database, options.lockTimeoutMs, err.cause);
    }
    const report = await upToDate();
    if (report) return { report };
    // Let timers and I/O run: with a synchronous driver (better-sqlite3) this loop would otherwise
    // starve the event loop, and with it a lock holder in the same process.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function execute(
  db: Knex,
  migrations: readonly Migration[] | undefined,
  options: InternalRunOptions,
  target: Target,
): Promise<MigrationReport> {
  // The app's list is loaded only when asked for, so the runner itself does not depend on it.
  migrations ??= (await import('../migrations')).migrations;
  const logger = options.logger ?? consoleLogger;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const adapter = adapterFor(db);
  const settings = settingsOptionsFor(adapter, options);
  if (options.dryRun && !adapter.transactionalDdl) {
    throw new UnsupportedDialectError(`a dry run needs DDL that rolls back; ${adapter.name} commits DDL as it goes`);
  }

  // Fast path for every app start: two reads, no lock, no write when nothing is pending. The reads
  // start before the list is validated, so the driver's I/O overlaps that CPU work; they write nothing.
  const fastPath = target.kind === 'latest' && !options.dryRun;
  // The short read (history version and direction only), here and between lock attempts.
  const readQuick = () => settle(readState(db, settings, selectHistoryDirections));
  const reading = fastPath ? readQuick() : undefined;
  let sorted: Migration[];
  try {
    sorted = validateMigrations(migrations);
  } finally {
    await reading; // no query left in flight when we return, even with an invalid list
  }
  // Up to date (the common case): report it without a lock or a write. Undefined: work to do, or
  // not initialised yet (a missing table); our own errors (dirty, corrupt, too new) are final.
  const upToDate = async (read: { value: State } | { error: unknown }): Promise<MigrationReport | undefined> => {
    if ('error' in read) {
      if (read.error instanceof MigrationError) throw read.error;
      return undefined;
    }
    const { steps, missing } = plan(read.value, sorted, target, options);
    return steps.length === 0 ? finished(read.value.version, read.value.version, [], missing, sorted, logger) : undefined;
  };
  if (reading) {
    const report = await upToDate(await reading);
    if (report) return report;
  }

  const lockOptions = { lockTimeoutMs, schema: settings.schema };
  const work = async (session: LockedSession): Promise<Outcome> => {
    // Re-read under the lock: another process may have migrated (or failed) while we waited. The
    // bookkeeping is only created when the read finds it missing, so a late arrival writes nothing.
    let prepared = false;
    const state = await session.transaction(async (trx) => {
      // In a savepoint of its own: on PostgreSQL a failed read (missing table) would abort the transaction.
      const read = await settle(trx.transaction((sp) => readState(sp, settings, selectHistory)));
      if ('value' in read) return read.value;
      if (read.error instanceof MigrationError) throw read.error;
      await prepareBookkeeping(trx, adapter, settings, sorted);
      prepared = true;
      return readState(trx, settings, selectHistory);
    });
    if (!options.ignoreChecksums) await assertChecksums(state, sorted);
    const { steps, missing } = plan(state, sorted, target, options);
    if (options.dryRun) assertRollbackable(steps, adapter);
    const run = {
      captureSql: options.dryRun === true,
      around: options.around ?? (await enforcement(sorted, settings, options)),
      savepointPerMigration: options.savepointPerMigration === true,
    };
    const outcome = { ...(await applySteps({ session, adapter, settings, state, steps, logger, run })), missing };
    // Nothing ran and nothing was created (another process got there first): roll back, so not even
    // the lock's write commits. A failure may have marked the database dirty: that must commit.
    if (options.dryRun || (outcome.applied.length === 0 && !outcome.failed && !prepared)) throw new RolledBack(outcome);
    return outcome;
  };

  let outcome: Outcome;
  try {
    if (!fastPath) {
      outcome = await adapter.withMigrationLock(db, lockOptions, work);
    } else {
      const result = await lockUnlessCurrent(db, adapter, lockOptions, work, async () => upToDate(await readQuick()));
      if (!('outcome' in result)) return result.report;
      outcome = result.outcome;
    }
  } catch (err) {
    if (!(err instanceof RolledBack)) throw err;
    outcome = err.outcome;
    if (options.dryRun) {
      logger.info(`dry run: ${outcome.applied.length} step(s) ran and were rolled back; the database is unchanged at ${outcome.from}`);
    }
  }

  if (outcome.failed) {
    const { migration, cause, dirty } = outcome.failed;
    throw new MigrationFailedError(migration.version, migration.description, outcome.to, cause, dirty);
  }
  if (options.dryRun) {
    const missing = outcome.missing.map((m) => m.version);
    return { from: outcome.from, to: outcome.from, planned: outcome.to, applied: outcome.applied, dryRun: true, ...(missing.length ? { missing } : {}) };
  }
  return finished(outcome.from, outcome.to, outcome.applied, outcome.missing, sorted, logger);
}

/** A promise that never rejects: its outcome, to inspect later. */
function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** With `enforceAdditive`: a guard that rolls back a migration breaking the additive-only rule. */
async function enforcement(sorted: readonly Migration[], settings: SettingsOptions, options: RunOptions): Promise<StepWrapper | undefined> {
  if (!options.enforceAdditive) return undefined;
  const { AdditiveViolationError, additiveGuard } = await import('./additive'); // schema snapshots: loaded only when asked for
  return additiveGuard(sorted, settings, (violations) => {
    if (violations.length > 0) throw new AdditiveViolationError(violations);
  });
}

/** A dry run rolls everything back, so it cannot include a step that runs outside a transaction. */
function assertRollbackable(steps: readonly Step[], adapter: DialectAdapter): void {
  const outside = steps.filter((s) => s.migration.transaction === false && adapter.runsOutsideTransactions);
  if (outside.length > 0) {
    throw new UnsupportedDialectError(
      `a dry run cannot include ${outside.map((s) => s.migration.version).join(', ')}: transaction: false migrations cannot be rolled back`,
    );
  }
}

/** db_version, the dirty marker and the applied set, in two reads. Rejects when a table is missing. */
async function readState<Row extends AppliedRow>(
  db: Knex | Knex.Transaction,
  settings: SettingsOptions,
  selectRows: (db: Knex | Knex.Transaction, settings: SettingsOptions) => Promise<Row[]>,
): Promise<State<Row>> {
  const { version, dirty } = await readRunnerState(db, settings);
  assertClean(dirty);
  if (version === undefined) throw new Error('db_version is not set yet');
  const parsed = parseStoredVersion(version);
  return { version: parsed, applied: appliedFromHistory(await selectRows(db, settings)) };
}

function plan(state: State, sorted: readonly Migration[], target: Target, options: RunOptions): { steps: Step[]; missing: Migration[] } {
  const ahead = isAheadOfCode(state.version, newestVersion(sorted)); // refuses a database a major version ahead
  const applied = new Set(state.applied.keys());
  const allowOutOfOrder = options.allowOutOfOrder === true;
  if (target.kind === 'latest') {
    if (ahead) return { steps: [], missing: [] };
    const up = planUp(state.version, applied, sorted, newestVersion(sorted), allowOutOfOrder);
    return { steps: up.steps.map((migration) => ({ migration, direction: 'up' })), missing: up.missing };
  }
  if (isNewer(target.version, state.version)) {
    if (target.downOnly) {
      throw new RollbackError(`Cannot roll back to ${target.version}: the database is at ${state.version}, below it`);
    }
    if (!sorted.some((m) => m.version === target.version)) {
      throw new RollbackError(`Cannot migrate to ${target.version}: it is not a registered version`);
    }
    const up = planUp(state.version, applied, sorted, target.version, allowOutOfOrder);
    return { steps: up.steps.map((migration) => ({ migration, direction: 'up' })), missing: up.missing };
  }
  return { steps: planDown(applied, sorted, target.version).map((migration) => ({ migration, direction: 'down' })), missing: [] };
}

interface Outcome {
  readonly from: string;
  readonly to: string;
  readonly applied: AppliedMigration[];
  readonly missing: Migration[];
  readonly failed?: { readonly migration: Migration; readonly cause: unknown; readonly dirty: boolean };
}

/** What applying a list of steps needs, under the lock. */
interface StepContext {
  readonly session: LockedSession;
  readonly adapter: DialectAdapter;
  readonly settings: SettingsOptions;
  readonly state: State;
  readonly steps: readonly Step[];
  readonly logger: Logger;
  readonly run: StepRun;
}

async function applySteps(ctx: StepContext): Promise<Omit<Outcome, 'missing'>> {
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
 * Batching needs DDL that rolls back (so a failed batch can be undone whole) and plain steps: no
 * per-step hook, no SQL capture, nothing that must run outside a transaction. One step gains nothing.
 */
function canBatch(adapter: DialectAdapter, steps: readonly Step[], run: StepRun): boolean {
  return (
    adapter.transactionalDdl &&
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

/**
 * The fast way through a batch: every step in ONE savepoint, then one foreign-key check, one
 * db_version write and the history rows in a few multi-row INSERTs. Statements per migration drop
 * from six to about one. Any failure rolls the savepoint back, leaving the database as before the batch.
 */
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
        const body = direction === 'up' ? migration.up : (migration.down as NonNullable<Migration['down']>);
        await body.call(migration, trx);
        durations.push(Math.round((performance.now() - started) * 10) / 10);
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

function logApplied(logger: Logger, a: AppliedMigration): void {
  logger.info(`${a.direction === 'up' ? 'applied' : 'rolled back'} ${a.version} ${a.description} (${a.durationMs} ms)`);
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

/** Each step in its own savepoint (or transaction), with its db_version update and history row. */
async function applyOneByOne({ session, adapter, settings, state, steps, logger, run }: StepContext): Promise<Omit<Outcome, 'missing'>> {
  const applied: AppliedMigration[] = [];
  const appliedVersions = new Set(state.applied.keys());
  let version = state.version;
  for (const step of steps) {
    const { migration, direction } = step;
    const next = nextVersion(version, appliedVersions, migration, direction);
    const started = performance.now();
    let sql: string[] | undefined;
    try {
      sql = await applyOne(session, adapter, settings, step, next, run);
    } catch (cause) {
      const dirty = !adapter.transactionalDdl || (migration.transaction === false && adapter.runsOutsideTransactions);
      if (dirty) await session.transaction((trx) => markDirty(trx, migration, cause, version, settings));
      return { from: state.version, to: version, applied, failed: { migration, cause, dirty } };
    }
    track(appliedVersions, migration, direction);
    version = next;
    const durationMs = Math.round((performance.now() - started) * 10) / 10;
    const done: AppliedMigration = { version: migration.version, description: migration.description, durationMs, direction, ...(sql ? { sql } : {}) };
    applied.push(done);
    logApplied(logger, done);
  }
  return { from: state.version, to: version, applied };
}

interface StepRun {
  /** Return the SQL each migration ran (dry runs). */
  readonly captureSql: boolean;
  readonly around?: StepWrapper;
  readonly savepointPerMigration: boolean;
}

/**
 * Runs one step and moves db_version, with its history row, atomically where the engine allows.
 * With `captureSql`, returns the statements the migration itself ran.
 */
async function applyOne(
  session: LockedSession,
  adapter: DialectAdapter,
  settings: SettingsOptions,
  { migration, direction }: Step,
  nextVersion: string,
  { captureSql, around }: StepRun,
): Promise<string[] | undefined> {
  const startedAt = new Date();
  const finish = async (trx: Knex.Transaction) => {
    await updateDatabaseVersion(trx, nextVersion, settings);
    await recordHistory(trx, migration, direction, startedAt, settings);
    await adapter.verifyMigration(trx, `Migration ${migration.version}`);
  };
  const body = direction === 'up' ? migration.up : (migration.down as NonNullable<Migration['down']>);
  const run = async (q: Knex | Knex.Transaction) => {
    // Without a transaction the migration receives the knex instance; typed as a transaction for one signature.
    const call = () => body.call(migration, q as Knex.Transaction);
    const wrapped = around ? () => around(q, migration, call) : call;
    if (!captureSql) return void (await wrapped());
    return captureQueries(q, wrapped);
  };
  if (migration.transaction === false) {
    const sql = await session.withoutTransaction(run);
    await session.transaction(finish);
    return sql;
  }
  return session.transaction(async (trx) => {
    adapter.beforeMigration?.(trx);
    const sql = await run(trx);
    await finish(trx);
    return sql;
  });
}

/** Statements a dry run does not list: savepoints, and reads (SELECTs, PRAGMAs that only ask). */
const NOT_A_CHANGE = /^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|SELECT|WITH|PRAGMA\s+[\w.]+\s*(\(.*\))?\s*;?\s*$)/i;

/** The statements that change something, as `fn` sends them through `q`'s knex instance. */
async function captureQueries(q: Knex | Knex.Transaction, fn: () => Promise<void>): Promise<string[]> {
  const sql: string[] = [];
  const listener = (query: { sql: string }) => {
    if (!NOT_A_CHANGE.test(query.sql)) sql.push(query.sql);
  };
  const emitter = q.client as unknown as { on(e: string, l: typeof listener): void; off(e: string, l: typeof listener): void };
  emitter.on('query', listener);
  try {
    await fn();
  } finally {
    emitter.off('query', listener);
  }
  return sql;
}

/**
 * Under the lock: the settings schema and table exist, db_version has a value, the history table
 * exists — and a database versioned before history existed is adopted: its registered versions up
 * to db_version are recorded as `adopt`, so it is not mistaken for one that never ran them.
 */
async function prepareBookkeeping(
  trx: Knex.Transaction,
  adapter: DialectAdapter,
  settings: SettingsOptions,
  sorted: readonly Migration[],
): Promise<void> {
  await prepareSettings(trx, adapter, settings);
  // Refuse a dirty, corrupt or too-new database before creating anything (MySQL would commit it).
  assertClean((await readRunnerState(trx, settings)).dirty);
  const version = await getDatabaseVersion(trx, settings);
  isAheadOfCode(version, newestVersion(sorted));
  if (!(await ensureHistoryTable(trx, settings))) return;
  const now = new Date();
  for (const m of sorted) {
    if (!isNewer(m.version, version)) await recordHistory(trx, m, 'adopt', now, settings);
  }
}

/** Applied migrations whose code changed since they ran (adopted ones carry today's checksum). */
async function assertChecksums(state: State<HistoryRow>, sorted: readonly Migration[]): Promise<void> {
  const { checksumOf } = await import('./checksum');
  const changed = sorted.filter((m) => {
    const row = state.applied.get(m.version);
    return row !== undefined && row.checksum !== checksumOf(m);
  });
  if (changed.length > 0) throw new ChecksumMismatchError(changed.map((m) => m.version));
}

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

function finished(
  from: string,
  to: string,
  applied: AppliedMigration[],
  missing: readonly Migration[],
  sorted: readonly Migration[],
  logger: Logger,
): MigrationReport {
  if (missing.length > 0) {
    logger.warn(
      `registered but never applied, below db_version ${to}: ${missing.map((m) => m.version).join(', ')} ` +
        `(a late hotfix?); run with allowOutOfOrder to apply them`,
    );
  }
  if (applied.length > 0) {
    logger.info(`database is at ${to}`);
  } else {
    const codeVersion = newestVersion(sorted);
    if (isAheadOfCode(to, codeVersion)) {
      logger.warn(`database is at ${to}, newer than this code's ${codeVersion} (same major, so additive): running nothing`);
    } else {
      logger.info(`database is up to date at ${to}`);
    }
  }
  return { from, to, applied, ...(missing.length > 0 ? { missing: missing.map((m) => m.version) } : {}) };
}

function maxVersion(versions: readonly string[]): string {
  return versions.reduce((max, v) => (compareVersions(v, max) > 0 ? v : max), INITIAL_VERSION);
}

