import type { Knex } from 'knex';
import type { TableSnapshot } from '../snapshot/types';

/** Default for `lockTimeoutMs`: long enough for another instance to finish a big table rebuild. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface LockOptions {
  /** How long to wait for another runner's lock before LockTimeoutError. */
  readonly lockTimeoutMs: number;
  /** The schema holding system_settings, when not the search path's (adapters with `ensureSchema`). */
  readonly schema?: string;
  /** Where the lock is a lease (PostgreSQL): how long it lasts without renewal. Default DEFAULT_LEASE_MS. */
  readonly leaseMs?: number;
  /** Bounds on a migration's waits for table locks (PostgreSQL, MySQL). */
  readonly tableLocks?: TableLockOptions;
}

/** Default for `ddlLockTimeoutMs`: no app query waits longer than this behind a migration's lock request. */
export const DEFAULT_DDL_LOCK_TIMEOUT_MS = 5000;
/** Default for `ddlLockRetries`. */
export const DEFAULT_DDL_LOCK_RETRIES = 5;

export interface TableLockOptions {
  /** How long one statement may wait for a table lock before the attempt is abandoned. */
  readonly timeoutMs: number;
  /** Attempts after the first, with backoff, before the migration fails with TableBusyError. */
  readonly retries: number;
  /** A statement timeout for the migration's statements, if any. */
  readonly statementTimeoutMs?: number;
}

/** The engines an adapter exists for. */
export type EngineName = 'sqlite' | 'postgres' | 'mysql';

export interface DescribeTablesOptions {
  /** PostgreSQL: the schema to describe (default current_schema()). Ignored elsewhere. */
  readonly schema?: string;
  /** Tables to leave out. */
  readonly exclude: ReadonlySet<string>;
}

/** The settings key column's character set and collation, where the engine default would merge distinct keys. */
export interface KeyColumnOptions {
  readonly charset: string;
  readonly collation: string;
}

/** What the runner can do while it holds the migration lock. */
export interface LockedSession {
  /**
   * Runs `fn` in a transaction. SQLite: a savepoint inside the outer transaction that is its lock, so
   * a batch costs one commit. PostgreSQL: a top-level transaction that also re-writes the lease.
   * MySQL, where DDL commits implicitly: a top-level transaction on the locked connection.
   */
  transaction<R>(fn: (trx: Knex.Transaction) => Promise<R>): Promise<R>;
  /**
   * Runs `fn` outside any transaction (for statements such as CREATE INDEX CONCURRENTLY), after
   * committing what came before. SQLite cannot: its lock is its write transaction, so it uses a savepoint.
   */
  withoutTransaction<R>(fn: (db: Knex | Knex.Transaction) => Promise<R>): Promise<R>;
}

/**
 * Everything the runner needs to know about a database engine. The core never tests a driver name;
 * it asks the adapter. One adapter per engine, each a leaf module.
 */
export interface DialectAdapter {
  readonly name: EngineName;
  /** Whether DDL rolls back with its transaction (SQLite, PostgreSQL: yes; MySQL: no). */
  readonly transactionalDdl: boolean;
  /** Whether `withoutTransaction` really leaves the transaction (so a failure there cannot be undone). */
  readonly runsOutsideTransactions: boolean;
  /**
   * Whether each migration must commit on its own (PostgreSQL: a batch in one transaction would hold
   * every table lock until the last migration, and an enum value added in it is unusable until commit).
   */
  readonly commitsEachMigration?: boolean;
  /** Whether one statement may write two tables (`WITH x AS (INSERT …) INSERT …`): a step's bookkeeping in one round trip. */
  readonly dataModifyingCtes?: boolean;
  /**
   * Present where system_settings may live in a named schema (the `schema` option): creates the schema
   * if it is missing. Called under the lock, so concurrent creators cannot race.
   */
  ensureSchema?(trx: Knex.Transaction, schema: string): Promise<void>;
  /**
   * Takes the cross-process migration lock, runs `work`, releases the lock. A lock held by a process
   * that dies is released by the engine with its connection (SQLite, MySQL) or runs out (a lease).
   */
  withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T>;
  /**
   * Charset and collation under which distinct settings keys stay distinct (case, accents, trailing
   * spaces); absent where the default already keeps them apart (SQLite, PostgreSQL).
   */
  settingsKeyOptions?(db: Knex | Knex.Transaction): Promise<KeyColumnOptions>;
  /**
   * The tables of the database (schema snapshots). Implementations import their introspection module
   * on call, so loading an adapter never loads the snapshot code.
   */
  describeTables(db: Knex | Knex.Transaction, options: DescribeTablesOptions): Promise<TableSnapshot[]>;
  /**
   * Whether a statement that fails outside a transaction leaves nothing behind (atomic DDL: MySQL 8.0+,
   * MariaDB 10.6+). Absent: assume it may (PostgreSQL's CREATE INDEX CONCURRENTLY leaves an invalid index).
   */
  failedStatementsLeaveNothing?(db: Knex | Knex.Transaction): Promise<boolean>;
  /** Whether `err` is a statement giving up waiting for a table lock (then retried where nothing changed). */
  isTableLockTimeout?(err: unknown): boolean;
  /**
   * Whether a write failed only because a concurrent one won (Galera's certification conflict): the
   * runner's own bookkeeping transactions are then simply run again.
   */
  isWriteConflict?(err: unknown): boolean;
  /** Called with the transaction a migration (or a batch of them) is about to receive. */
  beforeMigration?(trx: Knex.Transaction): void;
  /** Runs inside each migration's transaction, after `up`, before it commits. */
  verifyMigration(trx: Knex.Transaction, context: string): Promise<void>;
}
