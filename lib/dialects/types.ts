import type { Knex } from 'knex';

/** Default for `lockTimeoutMs`: long enough for another instance to finish a big table rebuild. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface LockOptions {
  /** How long to wait for another runner's lock before LockTimeoutError. */
  readonly lockTimeoutMs: number;
  /** The schema holding system_settings, when not the search path's (adapters with `ensureSchema`). */
  readonly schema?: string;
}

/** What the runner can do while it holds the migration lock. */
export interface LockedSession {
  /**
   * Runs `fn` in a transaction. SQLite and PostgreSQL: a savepoint inside one outer transaction, so a
   * batch costs one commit; MySQL, where DDL commits implicitly: a top-level transaction each time.
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
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** Whether DDL rolls back with its transaction (SQLite, PostgreSQL: yes; MySQL: no). */
  readonly transactionalDdl: boolean;
  /** Whether `withoutTransaction` really leaves the transaction (so a failure there cannot be undone). */
  readonly runsOutsideTransactions: boolean;
  /**
   * Present where system_settings may live in a named schema (the `schema` option): creates the schema
   * if it is missing. Called under the lock, so concurrent creators cannot race.
   */
  ensureSchema?(trx: Knex.Transaction, schema: string): Promise<void>;
  /**
   * Takes the cross-process migration lock on one pinned connection, runs `work`, releases the lock.
   * A lock held by a process that dies is released by the engine with its connection.
   */
  withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T>;
  /**
   * A collation under which distinct strings stay distinct (case, accents, trailing spaces), for the
   * settings key; absent where the default already is (SQLite, PostgreSQL).
   */
  exactKeyCollation?(db: Knex | Knex.Transaction): Promise<string>;
  /** Called with the transaction a migration (or a batch of them) is about to receive. */
  beforeMigration?(trx: Knex.Transaction): void;
  /** Runs inside each migration's transaction, after `up`, before it commits. */
  verifyMigration(trx: Knex.Transaction, context: string): Promise<void>;
}
