/**
 * MySQL/MariaDB: GET_LOCK on a pinned connection (a session lock: the server drops it when the
 * connection dies), named after the current database; on a Galera cluster a lease row instead
 * (cluster-lease.ts). DDL commits implicitly, so each migration
 * runs in its own top-level transaction on that connection; a failure half-way cannot be undone
 * and the runner marks the database dirty instead.
 */
import type { Knex } from 'knex';
import { LockTimeoutError } from '../errors';
import type { TableSnapshot } from '../snapshot/types';
import { isCertificationConflict, isGaleraNode, withClusterLease } from './cluster-lease';
import { discardConnection, withPinnedConnection, type RawConnection } from './connection';
import type { DescribeTablesOptions, DialectAdapter, KeyColumnOptions, LockedSession, LockOptions } from './types';

export const mysqlAdapter: DialectAdapter = {
  name: 'mysql',
  transactionalDdl: false,
  runsOutsideTransactions: true,

  withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
    return withPinnedConnection(db, async (conn) => {
      // On a Galera cluster GET_LOCK is node-local: the lock is a lease row there (cluster-lease.ts).
      if (await isGaleraNode(db, conn)) return withBoundedLockWaits(db, conn, options, () => withClusterLease(db, conn, options, work));
      return withSessionLock(db, conn, options, work);
    });
  },

  isTableLockTimeout(err: unknown): boolean {
    return (err as { errno?: number }).errno === ER_LOCK_WAIT_TIMEOUT;
  },

  isWriteConflict: isCertificationConflict,

  async failedStatementsLeaveNothing(db: Knex | Knex.Transaction): Promise<boolean> {
    const { mariadb, major, minor } = await serverVersion(db);
    return mariadb ? major > 10 || (major === 10 && minor >= 6) : major >= 8;
  },

  // The server default (e.g. utf8mb4_general_ci) makes 'a', 'A', 'ä' and 'a ' one key.
  async settingsKeyOptions(db: Knex | Knex.Transaction): Promise<KeyColumnOptions> {
    return { charset: 'utf8mb4', collation: (await serverVersion(db)).mariadb ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin' };
  },

  async describeTables(db: Knex | Knex.Transaction, options: DescribeTablesOptions): Promise<TableSnapshot[]> {
    // Imported on call: an app start must not load the snapshot code.
    const { mysqlTables } = await import('../snapshot/mysql');
    return mysqlTables(db, options.exclude);
  },

  async verifyMigration(): Promise<void> {
    // Constraints are enforced as statements run; nothing is deferred to check here.
  },
};

/** GET_LOCK, a session lock named after the database: the server drops it when the connection dies. */
async function withSessionLock<T>(db: Knex, conn: RawConnection, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
  const name = await lockName(db, conn);
  // GET_LOCK takes seconds; fractions are allowed.
  const seconds = Math.max(0.001, options.lockTimeoutMs / 1000);
  const [[{ acquired }]] = (await db.raw('SELECT GET_LOCK(?, ?) AS acquired', [name, seconds]).connection(conn)) as [{ acquired: number | null }[]];
  if (acquired !== 1) throw new LockTimeoutError(`MySQL database ${name.slice(LOCK_PREFIX.length)}`, options.lockTimeoutMs);
  try {
    return await withBoundedLockWaits(db, conn, options, () =>
      work({
        transaction: (fn) => db.transaction(fn, { connection: conn }),
        withoutTransaction: (fn) => fn(db),
      }),
    );
  } finally {
    await db
      .raw('SELECT RELEASE_LOCK(?)', [name])
      .connection(conn)
      .catch((err: unknown) => discardConnection(conn, err));
  }
}

/** Runs `fn` with the pinned connection's lock waits bounded (boundLockWaits), restoring them after. */
async function withBoundedLockWaits<T>(db: Knex, conn: RawConnection, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const restore = await boundLockWaits(db, conn, options);
  try {
    return await fn();
  } finally {
    await restore().catch(() => undefined); // the connection may be gone: then so are its settings
  }
}

const LOCK_PREFIX = 'ksm:';
const ER_LOCK_WAIT_TIMEOUT = 1205;

/**
 * On the locked connection, bounds how long a migration's statement waits for a table's metadata lock
 * (lock_wait_timeout, whole seconds: app queries queue behind a DDL statement that waits) and, on MariaDB
 * when asked, how long a statement runs (max_statement_time). Returns the restore.
 */
async function boundLockWaits(db: Knex, conn: RawConnection, options: LockOptions): Promise<() => Promise<void>> {
  const limits = options.tableLocks;
  if (!limits) return async () => undefined;
  const [[previous]] = (await db.raw('SELECT @@SESSION.lock_wait_timeout AS lockWait, @@SESSION.max_statement_time AS statementTime').connection(conn).catch(() =>
    db.raw('SELECT @@SESSION.lock_wait_timeout AS lockWait, NULL AS statementTime').connection(conn),
  )) as [{ lockWait: number; statementTime: number | null }[]];
  const set = async (lockWait: number, statementTime: number | null) => {
    await db.raw('SET SESSION lock_wait_timeout = ?', [lockWait]).connection(conn);
    if (statementTime !== null && previous.statementTime !== null) await db.raw('SET SESSION max_statement_time = ?', [statementTime]).connection(conn);
  };
  await set(Math.max(1, Math.round(limits.timeoutMs / 1000)), limits.statementTimeoutMs === undefined ? null : limits.statementTimeoutMs / 1000);
  return () => set(previous.lockWait, limits.statementTimeoutMs === undefined ? null : previous.statementTime);
}

/** Lock names are limited to 64 characters; database names are too, so cut the prefix + name. */
async function lockName(db: Knex, conn: RawConnection): Promise<string> {
  const [[{ name }]] = (await db.raw('SELECT DATABASE() AS name').connection(conn)) as [{ name: string | null }[]];
  return `${LOCK_PREFIX}${name ?? ''}`.slice(0, 64);
}

/** The server's version (MariaDB reports e.g. "10.11.6-MariaDB-0+deb12u1"). */
async function serverVersion(db: Knex | Knex.Transaction): Promise<{ mariadb: boolean; major: number; minor: number }> {
  const [[{ version }]] = (await db.raw('SELECT VERSION() AS version')) as [{ version: string }[]];
  const [major, minor] = version.split('.').map((part) => parseInt(part, 10));
  return { mariadb: /mariadb/i.test(version), major, minor };
}
