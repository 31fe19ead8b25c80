/**
 * SQLite: the migration lock is SQLite's own write lock, taken by the first statement of the
 * runner's transaction (a write before any read waits on busy_timeout; a read first would make
 * SQLite answer SQLITE_BUSY at once to avoid deadlock). Foreign-key enforcement is switched off
 * on the pinned connection BEFORE BEGIN (inside a transaction the pragma is a silent no-op), so
 * a table rebuild cannot cascade; each migration ends with PRAGMA foreign_key_check instead.
 */
import type { Knex } from 'knex';
import { LockTimeoutError } from '../errors';
import type { TableSnapshot } from '../snapshot/types';
import { assertNoForeignKeyViolations, markForeignKeysCheckedByRunner } from '../sqlite/foreign-key-check';
import { createSettingsTable, DB_VERSION_KEY, SETTINGS_TABLE } from '../store/settings';
import { withPinnedConnection, type RawConnection } from './connection';
import type { DescribeTablesOptions, DialectAdapter, LockedSession, LockOptions } from './types';

export const sqliteAdapter: DialectAdapter = {
  name: 'sqlite',
  transactionalDdl: true,
  runsOutsideTransactions: false,

  withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
    return withPinnedConnection(db, async (conn) => {
      const pragma = (sql: string) => db.raw(sql).connection(conn) as unknown as Promise<Record<string, number>[]>;
      const [{ foreign_keys: foreignKeys }] = await pragma('PRAGMA foreign_keys');
      const [{ timeout: busyTimeout }] = await pragma('PRAGMA busy_timeout');
      await pragma('PRAGMA foreign_keys = OFF');
      await pragma(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.lockTimeoutMs))}`);
      try {
        for (;;) {
          const tableExisted = await busyAsLockTimeout(db, options, () => settingsTableExists(db, conn));
          try {
            return await db.transaction(
              async (trx) => {
                await takeWriteLock(trx, db, options, tableExisted);
                await trx.raw(`PRAGMA busy_timeout = ${busyTimeout}`);
                return work({
                  transaction: (fn) => trx.transaction(fn),
                  withoutTransaction: (fn) => trx.transaction(fn),
                });
              },
              { connection: conn },
            );
          } catch (err) {
            // Another process created system_settings between our check and our CREATE: lock its row instead.
            // That check can itself meet the other writer's commit: then the original error (a lock wait) stands.
            if (!tableExisted && (await settingsTableExists(db, conn).catch(() => false))) continue;
            throw err;
          }
        }
      } finally {
        await pragma(`PRAGMA busy_timeout = ${busyTimeout}`);
        await pragma(`PRAGMA foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
      }
    });
  },

  beforeMigration(trx: Knex.Transaction): void {
    markForeignKeysCheckedByRunner(trx);
  },

  async verifyMigration(trx: Knex.Transaction, context: string): Promise<void> {
    await assertNoForeignKeyViolations(trx, context);
  },

  async describeTables(db: Knex | Knex.Transaction, options: DescribeTablesOptions): Promise<TableSnapshot[]> {
    // Imported on call: an app start must not load the snapshot code.
    const { sqliteTables } = await import('../snapshot/sqlite');
    return sqliteTables(db, options.exclude);
  },
};

/**
 * The first statement of the transaction must be a write, so that it waits for (then holds) the
 * write lock: a no-op UPDATE of db_version, or creating system_settings on a new database.
 */
async function takeWriteLock(trx: Knex.Transaction, db: Knex, options: LockOptions, tableExists: boolean): Promise<void> {
  await busyAsLockTimeout(db, options, async () => {
    if (tableExists) await trx(SETTINGS_TABLE).where({ key: DB_VERSION_KEY }).update({ value: trx.ref('value') });
    else await createSettingsTable(trx);
  });
}

/**
 * SQLITE_BUSY means another connection holds the lock past our busy timeout — also for a plain read,
 * which a writer's commit blocks for a moment: a lock wait, not a failure (the runner waits in slices).
 */
async function busyAsLockTimeout<T>(db: Knex, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new LockTimeoutError(describeSqlite(db), options.lockTimeoutMs, err);
    throw err;
  }
}

async function settingsTableExists(db: Knex, conn: RawConnection): Promise<boolean> {
  const rows = (await db
    .raw(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [SETTINGS_TABLE])
    .connection(conn)) as unknown[];
  return rows.length > 0;
}

function describeSqlite(db: Knex): string {
  const connection = db.client.config.connection as { filename?: string } | undefined;
  return `SQLite database ${connection?.filename ?? '(unknown file)'}`;
}
