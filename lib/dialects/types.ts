import type { Knex } from 'knex';

export interface LockOptions {
  /** How long to wait for another runner's lock before LockTimeoutError. */
  readonly lockTimeoutMs: number;
}

/**
 * Everything the runner needs to know about a database engine. The core never tests a driver name;
 * it asks the adapter. One adapter per engine, each a leaf module.
 */
export interface DialectAdapter {
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** Whether DDL rolls back with its transaction (SQLite, PostgreSQL: yes; MySQL: no). */
  readonly transactionalDdl: boolean;
  /**
   * Runs `work` in one transaction on one pinned connection while holding the cross-process
   * migration lock; the lock is released when the transaction ends or the connection dies.
   */
  withMigrationLock<T>(db: Knex, options: LockOptions, work: (trx: Knex.Transaction) => Promise<T>): Promise<T>;
  /** Runs inside each migration's transaction, after `up`, before it commits. */
  verifyMigration(trx: Knex.Transaction, context: string): Promise<void>;
}
