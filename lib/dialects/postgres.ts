/**
 * PostgreSQL: a session-level advisory lock on a pinned connection (released by the server if the
 * process dies), keyed by the current schema so separate schemas migrate independently; waiting is
 * bounded by lock_timeout. DDL is transactional, so all migrations run as savepoints inside one
 * transaction on that connection.
 */
import type { Knex } from 'knex';
import { LockTimeoutError } from '../errors';
import type { TableSnapshot } from '../snapshot/types';
import { discardConnection, withPinnedConnection, type RawConnection } from './connection';
import type { DescribeTablesOptions, DialectAdapter, LockedSession, LockOptions } from './types';

/** First half of the advisory lock key: "ksm" in ASCII. The second half hashes the settings schema. */
const LOCK_CLASS_ID = 0x6b736d;
const LOCK_NOT_AVAILABLE = '55P03';

export const postgresAdapter: DialectAdapter = {
  name: 'postgres',
  transactionalDdl: true,
  runsOutsideTransactions: true,

  withMigrationLock<T>(db: Knex, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
    return withPinnedConnection(db, async (conn) => {
      const sql = (text: string) => db.raw(text).connection(conn);
      // The lock belongs to the schema that holds system_settings: separate schemas migrate independently.
      const lockSchema = options.schema ?? null;
      await sql(`SET lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs))}`);
      try {
        await db.raw(`SELECT pg_advisory_lock(${LOCK_CLASS_ID}, hashtext(coalesce(?, current_schema())))`, [lockSchema]).connection(conn);
      } catch (err) {
        if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) {
          throw new LockTimeoutError(await describePostgres(db, conn), options.lockTimeoutMs, err);
        }
        throw err;
      } finally {
        await sql('SET lock_timeout = DEFAULT');
      }
      // One outer transaction on the pinned connection, begun on first use and committed before a
      // migration that must run outside transactions; the session lock spans all of it.
      let outer: Knex.Transaction | undefined;
      const begin = async () => (outer ??= await db.transaction({ connection: conn }));
      try {
        const result = await work({
          transaction: async (fn) => (await begin()).transaction(fn),
          async withoutTransaction(fn) {
            if (outer) await outer.commit();
            outer = undefined;
            return fn(db);
          },
        });
        if (outer) await outer.commit();
        return result;
      } catch (err) {
        if (outer && !outer.isCompleted()) await outer.rollback();
        throw err;
      } finally {
        await db
          .raw(`SELECT pg_advisory_unlock(${LOCK_CLASS_ID}, hashtext(coalesce(?, current_schema())))`, [lockSchema])
          .connection(conn)
          .catch((err: unknown) =>
          discardConnection(conn, err),
        );
      }
    });
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

async function describePostgres(db: Knex, conn: RawConnection): Promise<string> {
  const { rows } = (await db.raw('SELECT current_database() AS db, current_schema() AS schema').connection(conn)) as {
    rows: { db: string; schema: string }[];
  };
  return `PostgreSQL database ${rows[0].db} (schema ${rows[0].schema})`;
}
