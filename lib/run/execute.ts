/**
 * The one runner behind every verb that changes the schema (latest, to, rollback):
 *
 *   validate → fast path (two reads, no lock, no write when nothing is pending) → lock → prepare
 *   bookkeeping → re-read state → checks (dirty, checksums, gate) → plan → apply (apply.ts) →
 *   commit → report.
 */
import type { Knex } from 'knex';
import {
  DEFAULT_DDL_LOCK_RETRIES,
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  adapterFor,
  type DialectAdapter,
  type LockedSession,
  type LockOptions,
  type TableLockOptions,
} from '../dialects';
import { MigrationError, MigrationFailedError, UnsupportedDialectError } from '../errors';
import { consoleLogger } from '../logger';
import { validateMigrations } from '../plan/plan';
import { assertChecksums, planTarget, readState, type Plan, type State, type Step, type Target } from '../plan/state';
import { prepareBookkeeping, settingsOptionsFor } from '../store/bookkeeping';
import { selectHistory, selectHistoryDirections } from '../store/history';
import { findKnexAdoption, type KnexTableOptions } from '../store/knex-adoption';
import { INITIAL_VERSION, type SettingsOptions } from '../store/settings';
import type { Logger, Migration, MigrationReport, StepWrapper } from '../types';
import { applySteps, maxVersion, ownWrite, type Applied } from './apply';
import { lockUnlessCurrent } from './lock-wait';
import { finished } from './report';

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
   * type or makes a column NOT NULL without a default (see lib/snapshot/additive.ts). Default: false.
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
  /**
   * PostgreSQL and MySQL/MariaDB: how long one statement of a migration may wait for a table lock. While a
   * DDL statement waits for its lock, every app query on that table queues behind it, so this bounds how
   * long the app can stall. Default: DEFAULT_DDL_LOCK_TIMEOUT_MS (5 s).
   */
  readonly ddlLockTimeoutMs?: number;
  /** Attempts after the first when a statement timed out waiting for a lock, with backoff. Default: 5. */
  readonly ddlLockRetries?: number;
  /** A statement timeout for migrations (PostgreSQL statement_timeout). Default: the server's. */
  readonly statementTimeoutMs?: number;
  /**
   * PostgreSQL: the migration lock is a lease in system_settings that the runner renews; a runner that dies
   * blocks others at most this long. Default: DEFAULT_LEASE_MS (10 s).
   */
  readonly leaseMs?: number;
  /**
   * Where knex's migrator kept its history (the knexfile's `migrations.tableName` / `schemaName`): a
   * database with knex_migrations and no version of ours is adopted from it. Default: knex_migrations.
   */
  readonly knexTable?: KnexTableOptions;
}

/** Thrown out of the locked work to roll it back (a dry run, or nothing to do); carries what it did. */
class RolledBack {
  constructor(readonly outcome: Outcome) {}
}

interface Outcome extends Applied {
  readonly missing: Migration[];
}

/** Where the runner gets the migrations: a list, or a loader it calls only when it needs them. */
export type MigrationInput = readonly Migration[] | (() => Promise<readonly Migration[]>);

/**
 * Runs `migrations` towards `target`. `versionHint` (the versions a folder's file names announce)
 * lets a start with nothing pending return without loading the files. Rejects with
 * InvalidMigrationError, SchemaTooNewError, CorruptVersionError, DirtyDatabaseError,
 * ChecksumMismatchError, DependencyError, RollbackError, LockTimeoutError or MigrationFailedError;
 * in each case nothing that failed is left behind. `around` wraps each migration body (the
 * additive-only guard and `lint` use it).
 */
export async function execute(
  db: Knex,
  migrations: MigrationInput,
  options: RunOptions,
  target: Target,
  around?: StepWrapper,
  versionHint?: readonly string[],
): Promise<MigrationReport> {
  const logger = options.logger ?? consoleLogger;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const adapter = adapterFor(db);
  const settings = settingsOptionsFor(adapter, options);
  if (options.dryRun && !adapter.transactionalDdl) {
    throw new UnsupportedDialectError(`a dry run needs DDL that rolls back; ${adapter.name} commits DDL as it goes`);
  }
  const allowOutOfOrder = options.allowOutOfOrder === true;
  const tableLocks: TableLockOptions = {
    timeoutMs: options.ddlLockTimeoutMs ?? DEFAULT_DDL_LOCK_TIMEOUT_MS,
    retries: options.ddlLockRetries ?? DEFAULT_DDL_LOCK_RETRIES,
    statementTimeoutMs: options.statementTimeoutMs,
  };

  // Fast path for every app start: two reads, no lock, no write when nothing is pending. The reads
  // start before the list is loaded and validated, so the driver's I/O overlaps that work.
  const fastPath = target.kind === 'latest' && !options.dryRun;
  // The short read (history version and direction only), here and between lock attempts.
  const readQuick = () => settle(readState(db, settings, selectHistoryDirections, false));
  const reading = fastPath ? readQuick() : undefined;
  if (reading && versionHint) {
    const read = await reading;
    if ('error' in read && read.error instanceof MigrationError) throw read.error;
    if ('value' in read && isExactly(read.value, versionHint)) {
      logger.info(`database is up to date at ${read.value.version}`);
      return { from: read.value.version, to: read.value.version, applied: [] };
    }
  }
  let sorted: Migration[];
  try {
    sorted = validateMigrations(typeof migrations === 'function' ? await migrations() : migrations);
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
    if (!isSettled(read.value)) return undefined;
    const { steps, missing } = planTarget(read.value, sorted, target, allowOutOfOrder);
    return steps.length === 0 ? finished(read.value.version, read.value.version, [], missing, sorted, logger) : undefined;
  };
  if (reading) {
    const report = await upToDate(await reading);
    if (report) return report;
  }

  // A knex-managed database whose history disagrees with the folder is refused before the lock is
  // taken: on PostgreSQL taking it creates system_settings, and a refusal must leave nothing behind.
  // Looked for only where a first run can be: one query when knex_migrations does not exist.
  const first = reading && (await reading);
  const knexTable = options.knexTable ?? {};
  const knexHistory = (!first || 'error' in first || isUnversioned(first.value)) && (await findKnexAdoption(db, settings, sorted, knexTable)) !== undefined;

  const work = async (session: LockedSession): Promise<Outcome> => {
    // Re-read under the lock: another process may have migrated (or failed) while we waited. The
    // bookkeeping is only created when the read finds it missing, so a late arrival writes nothing.
    let prepared = false;
    const state = await ownWrite(adapter, () =>
      session.transaction(async (trx) => {
        // In a savepoint of its own: on PostgreSQL a failed read (missing table) would abort the transaction.
        const read = await settle(trx.transaction((sp) => readState(sp, settings, selectHistory)));
        if ('value' in read && !(knexHistory && isUnversioned(read.value))) return read.value;
        if ('error' in read && read.error instanceof MigrationError) throw read.error;
        await prepareBookkeeping(trx, adapter, settings, sorted, knexHistory ? knexTable : undefined);
        prepared = true;
        return readState(trx, settings, selectHistory);
      }),
    );
    if (!options.ignoreChecksums) await assertChecksums(state, sorted);
    const { steps, missing }: Plan = planTarget(state, sorted, target, allowOutOfOrder);
    if (options.dryRun) assertRollbackable(steps, adapter);
    const run = {
      captureSql: options.dryRun === true,
      around: around ?? (await enforcement(sorted, settings, options)),
      savepointPerMigration: options.savepointPerMigration === true,
      tableLocks,
    };
    const outcome = { ...(await applySteps({ session, adapter, settings, state, steps, logger, run })), missing };
    // Nothing ran and nothing was created (another process got there first): roll back, so not even
    // the lock's write commits. A failure may have marked the database dirty: that must commit.
    if (options.dryRun || (outcome.applied.length === 0 && !outcome.failed && !prepared)) throw new RolledBack(outcome);
    return outcome;
  };

  // A dry run is one transaction, rolled back at the end (RolledBack), whatever the engine commits per step.
  const locked = options.dryRun ? (session: LockedSession) => session.transaction((trx) => work(insideOne(trx))) : work;
  const lockOptions: LockOptions = { lockTimeoutMs, schema: settings.schema, leaseMs: options.leaseMs, tableLocks };
  let outcome: Outcome;
  try {
    if (!fastPath) {
      outcome = await adapter.withMigrationLock(db, lockOptions, locked);
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

/**
 * True when the database applied exactly the hinted versions and stands at the newest: nothing can be
 * pending. Any difference (a new file, a renamed one, a late hotfix, a rollback) means: load and plan.
 */
function isExactly(state: State, versions: readonly string[]): boolean {
  if (state.applied.size !== versions.length || !versions.every((v) => state.applied.has(v))) return false;
  return isSettled(state);
}

/**
 * The unlocked reads of db_version and history are two statements, each seeing what was committed when
 * it ran: a runner committing in between (MySQL commits each migration) can make history show a step
 * that db_version does not yet. Every committed step leaves db_version at the newest applied version, so
 * a state where they differ is not trusted without the lock (where it is re-read consistently).
 */
function isSettled(state: State): boolean {
  return state.version === maxVersion(state.applied.keys());
}

/** At 0.0.0 with no history: never versioned by us, so possibly a knex-managed database to adopt. */
function isUnversioned(state: State): boolean {
  return state.version === INITIAL_VERSION && state.applied.size === 0;
}

/** A session whose every transaction is a savepoint of `trx`. */
function insideOne(trx: Knex.Transaction): LockedSession {
  return { transaction: (fn) => trx.transaction(fn), withoutTransaction: (fn) => trx.transaction(fn) };
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
  const { AdditiveViolationError, additiveGuard } = await import('../snapshot/additive'); // schema snapshots: loaded only when asked for
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
