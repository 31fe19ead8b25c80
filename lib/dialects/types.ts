import type { Knex } from 'knex';

export interface LockOptions {
  /** How long to wait for another runner's lock before LockTimeoutError. */
  readonly lockTimeoutMs: number;
}

/** Runs `fn` atomically (as far as the engine allows) under the migration lock. */
export type TransactionRunner = <R>(fn: (trx: Knex.Transaction) => Promise<R>) => Promise<R>;

/**
 * Everything the runner needs to know about a database engine. The core never tests a driver name;
 * it asks the adapter. One adapter per engine, each a leaf module.
 */
export interface DialectAdapter {
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** Whether DDL rolls back with its transaction (SQLite, PostgreSQL: yes; MySQL: no). */
  readonly transactionalDdl: boolean;
  /**
   * Takes the cross-process migration lock on one pinned connection, calls `work` with a way to run
   * transactions under it, and releases the lock. A lock held by a process that dies is released by
   * the engine with its connection. SQLite and PostgreSQL: `transaction` opens a savepoint inside one
   * outer transaction (one commit for the batch); MySQL, where DDL commits implicitly: a top-level
   * transaction per call.
   */
  withMigrationLock<T>(db: Knex, options: LockOptions, work: (transaction: TransactionRunner) => Promise<T>): Promise<T>;
  /** Runs inside each migration's transaction, after `up`, before it commits. */
  verifyMigration(trx: Knex.Transaction, context: string): Promise<void>;
}
