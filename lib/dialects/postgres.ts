/**
 * PostgreSQL: the migration lock is a lease (lib/store/lease.ts), not a session advisory lock, so it
 * survives transaction-pooling poolers (PgBouncer, RDS Proxy, Supavisor), which route every
 * transaction to whichever server connection is free: a session lock would be taken on one server
 * connection and released (or not) on another. Each migration commits on its own — its statements,
 * its db_version update and its history row in one transaction that also re-writes the lease — so
 * the table locks of migration k are released when k commits, and an enum value added by one
 * migration is usable by the next. Every transaction sets a local lock_timeout, so no app query
 * waits long behind a migration's lock request; a timed-out transaction is retried with backoff.
 */
import type { Knex } from 'knex';
import { LockLostError, LockTimeoutError, TableBusyError } from '../errors';
import type { TableSnapshot } from '../snapshot/types';
import { DEFAULT_LEASE_MS, LeaseClock, decodeLease, deleteLease, encodeLease, insertLease, lockLeaseRow, newLeaseOwner, swapLease } from '../store/lease';
import { LOCK_KEY, createSettingsTable, schemaBuilder, settingsTable, SETTINGS_TABLE, type SettingsOptions } from '../store/settings';
import { watchLockWaits, type LockWaitWatch } from './postgres-lock-waits';
import {
  DEFAULT_DDL_LOCK_RETRIES,
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  type DescribeTablesOptions,
  type DialectAdapter,
  type LockedSession,
  type LockOptions,
  type TableLockOptions,
} from './types';

/** First half of the advisory lock key: "ksm" in ASCII. The second half hashes the settings schema. */
const LOCK_CLASS_ID = 0x6b736d;
const LOCK_NOT_AVAILABLE = '55P03';
const UNDEFINED_TABLE = '42P01';
/** The database clock in epoch milliseconds (clock_timestamp: real time, not the transaction's start). */
const CLOCK_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export const postgresAdapter: DialectAdapter = {
  name: 'postgres',
  transactionalDdl: true,
  runsOutsideTransactions: true,
  commitsEachMigration: true,
  dataModifyingCtes: true,

  async withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
    const settings: SettingsOptions = { schema: options.schema };
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const owner = newLeaseOwner();
    const taken = await takeLease(db, options, settings, owner, leaseMs);
    const tableLocks = options.tableLocks ?? { timeoutMs: DEFAULT_DDL_LOCK_TIMEOUT_MS, retries: DEFAULT_DDL_LOCK_RETRIES };
    const lease = new HeldLease(db, settings, owner, leaseMs, taken.value, taken.clock, () => describePostgres(db));
    const transaction = <R>(fn: (trx: Knex.Transaction) => Promise<R>) => withTableLockRetries(db, tableLocks, leaseMs, (start) => lease.transaction(start, fn));
    let result: T;
    try {
      result = await work({
        transaction,
        withoutTransaction: (fn) => lease.whileRenewing(() => fn(db)),
      });
    } catch (err) {
      await lease.release().catch(() => undefined); // the work's error is the one to report; an unreleased lease runs out
      throw err;
    }
    await lease.release();
    return result;
  },

  async ensureSchema(trx: Knex.Transaction, schema: string): Promise<void> {
    await trx.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  },

  async describeTables(db: Knex | Knex.Transaction, options: DescribeTablesOptions): Promise<TableSnapshot[]> {
    // Imported on call: an app start must not load the snapshot code.
    const { postgresTables } = await import('../snapshot/postgres');
    return postgresTables(db, options.schema, options.exclude);
  },

  async verifyMigration(): Promise<void> {
    // Constraints are enforced as statements run; nothing is deferred to check here.
  },
};

/**
 * Takes the lease: in one transaction, lock its row (waiting at most the time left), and write
 * ourselves in if it is free or has run out. Polls until `lockTimeoutMs`, then LockTimeoutError.
 */
async function takeLease(
  db: Knex,
  options: LockOptions,
  settings: SettingsOptions,
  owner: string,
  leaseMs: number,
): Promise<{ value: string; clock: LeaseClock }> {
  const started = performance.now();
  for (let pause = 10; ; pause = Math.min(pause * 2, 100)) {
    const left = Math.max(1, Math.floor(options.lockTimeoutMs - (performance.now() - started)));
    let taken: { value: string; clock: LeaseClock } | undefined;
    try {
      taken = await db.transaction(async (trx) => {
        await setLocalLockTimeout(trx, left);
        const row = await lockLeaseRow(trx, settings, CLOCK_MS);
        const value = encodeLease({ owner, until: row.now + leaseMs });
        if (!row.exists) {
          // Free: insert ours. A concurrent inserter's row wins (we wait for its commit, then do nothing).
          await insertLease(trx, settings, value);
          const mine = (await lockLeaseRow(trx, settings, CLOCK_MS)).value === value;
          return mine ? { value, clock: new LeaseClock(row.now) } : undefined;
        }
        const holder = decodeLease(row.value);
        if (holder && holder.until > row.now) return undefined; // held, and not run out
        await swapLease(trx, settings, row.value ?? '', value); // run out: take it over
        return { value, clock: new LeaseClock(row.now) };
      });
    } catch (err) {
      if ((err as { code?: string }).code === UNDEFINED_TABLE) {
        // A new database: create system_settings, then try again at once — unless another creator holds
        // the creation lock past the time left, which is waiting like any other.
        const created = await createBookkeepingForLease(db, left, settings).then(
          () => true,
          (creating: unknown) => {
            if ((creating as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw creating;
            return false;
          },
        );
        if (created) continue;
      } else if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
    }
    if (taken) return taken;
    if (left <= pause) throw new LockTimeoutError(await describePostgres(db), options.lockTimeoutMs);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/**
 * A new database: system_settings (and its schema), created under a
 * transaction-scoped advisory lock so concurrent first starts do not collide on CREATE TABLE
 * (PostgreSQL's IF NOT EXISTS is not safe against a concurrent creator).
 */
async function createBookkeepingForLease(db: Knex, waitMs: number, settings: SettingsOptions): Promise<void> {
  await db.transaction(async (trx) => {
    await setLocalLockTimeout(trx, waitMs);
    await trx.raw(`SELECT pg_advisory_xact_lock(${LOCK_CLASS_ID}, hashtext(coalesce(?, current_schema())))`, [settings.schema ?? null]);
    if (settings.schema !== undefined) await trx.raw('CREATE SCHEMA IF NOT EXISTS ??', [settings.schema]);
    if (!(await schemaBuilder(trx, settings).hasTable(SETTINGS_TABLE))) await createSettingsTable(trx, settings);
  });
}

/** SQL select items setting a transaction's local settings, and a callback for its backend pid. */
interface TransactionStart {
  readonly settingsSql: string;
  readonly bindings: readonly string[];
  readonly started: (pid: number) => void;
}

/** The lease while we hold it: every transaction re-writes it, and non-transactional work renews it on a timer. */
class HeldLease {
  private renewedAt: number;

  constructor(
    private readonly db: Knex,
    private readonly settings: SettingsOptions,
    private readonly owner: string,
    private readonly leaseMs: number,
    private value: string,
    private readonly clock: LeaseClock,
    private readonly describe: () => Promise<string>,
  ) {
    this.renewedAt = clock.now();
  }

  /**
   * A top-level transaction that first re-writes the lease, so a taker waits on its row until we
   * commit and we learn at once if it was taken (the same statement applies `start`'s local
   * settings), and renews it again before committing if the work took a while. The new value counts
   * only once the transaction has committed.
   */
  async transaction<R>(start: TransactionStart, fn: (trx: Knex.Transaction) => Promise<R>): Promise<R> {
    let written = this.value;
    const result = await this.db.transaction(async (trx) => {
      written = await this.renew(trx, this.value, start);
      const out = await fn(trx);
      if (this.clock.now() - this.renewedAt > this.leaseMs / 3) written = await this.renew(trx, written);
      return out;
    });
    this.value = written;
    return result;
  }

  /** Runs `fn` (outside any transaction) while a timer keeps the lease alive. */
  async whileRenewing<R>(fn: () => Promise<R>): Promise<R> {
    let failure: unknown;
    let pending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      pending = pending.then(() =>
        this.db.transaction(async (trx) => (this.value = await this.renew(trx, this.value))).then(
          () => undefined,
          (err: unknown) => void (failure ??= err),
        ),
      );
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    try {
      const result = await fn();
      await pending;
      if (failure) throw failure;
      return result;
    } finally {
      clearInterval(timer);
      await pending;
    }
  }

  /** Frees the lease; LockLostError if it was no longer ours. */
  async release(): Promise<void> {
    if (!(await deleteLease(this.db, this.settings, this.value))) throw new LockLostError(await this.describe(), this.leaseMs);
  }

  private async renew(trx: Knex.Transaction, current: string, start?: TransactionStart): Promise<string> {
    const now = this.clock.now();
    const next = encodeLease({ owner: this.owner, until: now + this.leaseMs });
    let renewed: boolean;
    if (start) {
      // One round trip: the compare-and-set, the transaction's local settings and its backend pid.
      const rows = (await settingsTable(trx, this.settings)
        .where({ key: LOCK_KEY, value: current })
        .update({ value: next, updated_at: trx.fn.now() })
        .returning(trx.raw(`pg_backend_pid() AS pid, ${start.settingsSql}`, start.bindings) as never)) as { pid: number }[];
      renewed = rows.length === 1;
      if (renewed) start.started(rows[0].pid);
    } else {
      renewed = await swapLease(trx, this.settings, current, next);
    }
    if (!renewed) throw new LockLostError(await this.describe(), this.leaseMs);
    this.renewedAt = now;
    return next;
  }
}

/**
 * Runs a transaction with a local lock_timeout (and statement_timeout, if asked): a statement that
 * waits longer for a table lock is cancelled and the whole transaction retried after a pause (the
 * app's queries queued behind it run meanwhile), up to `retries` times; then TableBusyError naming
 * the table and its holders, which we look up while the statement waits.
 */
async function withTableLockRetries<R>(
  db: Knex,
  options: TableLockOptions,
  leaseMs: number,
  run: (start: TransactionStart) => Promise<R>,
): Promise<R> {
  // synchronous_commit off: a migration's commit does not wait for its WAL to reach the disk. Nothing can
  // be lost out of order (WAL is sequential): the release of the lease, a durable commit, flushes every
  // earlier one before runMigrations returns; a server crash before it loses whole migrations, each with
  // its own db_version and history row, so the database is left consistent at an earlier version.
  const settings = [`set_config('lock_timeout', ?, true)`, `set_config('synchronous_commit', 'off', true)`];
  const bindings = [`${Math.max(1, Math.floor(options.timeoutMs))}ms`];
  if (options.statementTimeoutMs !== undefined) {
    settings.push(`set_config('statement_timeout', ?, true)`);
    bindings.push(`${Math.max(1, Math.floor(options.statementTimeoutMs))}ms`);
  }
  for (let attempt = 1; ; attempt++) {
    let watch: LockWaitWatch | undefined;
    const started = (pid: number) => {
      watch = watchLockWaits(db, pid, Math.max(20, options.timeoutMs / 2), Math.max(20, options.timeoutMs / 4));
    };
    try {
      const result = await run({ settingsSql: settings.join(', '), bindings, started });
      await watch?.stop();
      return result;
    } catch (err) {
      const wait = await watch?.stop();
      if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
      if (attempt > options.retries) throw new TableBusyError(wait?.table, options.timeoutMs, attempt, wait?.blockers ?? [], err);
      // Backoff with jitter, short enough that the lease (renewed by each attempt) cannot run out meanwhile.
      const pause = Math.min(500 * 2 ** (attempt - 1), leaseMs / 3) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

async function setLocalLockTimeout(trx: Knex.Transaction, ms: number): Promise<void> {
  await trx.raw(`SELECT set_config('lock_timeout', ?, true)`, [`${ms}ms`]);
}

async function describePostgres(db: Knex): Promise<string> {
  const { rows } = (await db.raw('SELECT current_database() AS db, current_schema() AS schema')) as {
    rows: { db: string; schema: string }[];
  };
  return `PostgreSQL database ${rows[0].db} (schema ${rows[0].schema})`;
}
