/**
 * The database servers the race and apply-server scenarios use, when they answer: PostgreSQL
 * (KSM_POSTGRES_URL) and MariaDB/MySQL (KSM_MYSQL_URL), defaults as in test/helpers/dialects.ts.
 * Every run gets a fresh namespace from the parent, dropped after it: a new schema on PostgreSQL
 * (reached through `search_path` in the URL), a new database on MariaDB/MySQL.
 */
import knexFactory, { type Knex } from 'knex';
import { configFromUrl } from '../../lib/database-url';
import type { BenchContext } from './context';

export const PG_ADMIN_URL = process.env.KSM_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_ADMIN_URL = process.env.KSM_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export type ServerKind = 'postgres' | 'mysql';

export interface FreshDatabase {
  /** URL of the fresh schema (PostgreSQL) or database (MariaDB/MySQL). */
  readonly url: string;
  /** Its name (schema or database). */
  readonly name: string;
  drop(): Promise<void>;
}

export interface ServerEngine {
  readonly kind: ServerKind;
  readonly name: string;
  /** undefined when it can be used, else why not. */
  unavailable(): Promise<string | undefined>;
  /** A fresh schema / database; returns its URL and how to drop it. */
  fresh(): Promise<FreshDatabase>;
  /** The server's version and the settings that decide what a commit costs (for the notes). */
  describe(): Promise<string>;
  close(): Promise<void>;
}

/** The URL without its credentials, for messages. */
export const redacted = (url: string): string => url.replace(/\/\/[^@]*@/, '//');

/** undefined when `url` answers `SELECT 1` within 3 s, else the reason. */
export async function probe(url: string): Promise<string | undefined> {
  const db = knexFactory({ ...configFromUrl(url), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 });
  try {
    await db.raw('SELECT 1');
    return undefined;
  } catch (err) {
    return `no server at ${redacted(url)} (${(err as Error).message.split('\n')[0]})`;
  } finally {
    await db.destroy();
  }
}

let counter = 0;
/** A name no other run (or benchmark process) uses. */
export const uniqueName = (): string => `ksm_bench_${process.pid}_${Date.now().toString(36)}_${counter++}`;

/** Tables dropped per statement before the schema itself: DROP SCHEMA … CASCADE over 1000 tables needs a lock on each in one transaction. */
const DROP_CHUNK = 100;

function postgres(): ServerEngine {
  let admin: Knex | undefined;
  return {
    kind: 'postgres',
    name: 'PostgreSQL',
    unavailable: () => probe(PG_ADMIN_URL),
    async fresh() {
      admin ??= knexFactory(configFromUrl(PG_ADMIN_URL));
      const db = admin;
      const schema = uniqueName();
      await db.raw('CREATE SCHEMA ??', [schema]);
      return {
        url: `${PG_ADMIN_URL}${PG_ADMIN_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        name: schema,
        async drop() {
          // The tables first, a chunk per statement, then the schema.
          const tables = (await db('pg_tables').where('schemaname', schema).pluck('tablename')) as string[];
          for (let k = 0; k < tables.length; k += DROP_CHUNK) {
            const chunk = tables.slice(k, k + DROP_CHUNK);
            await db.raw(`DROP TABLE IF EXISTS ${chunk.map(() => '??.??').join(', ')} CASCADE`, chunk.flatMap((t) => [schema, t]));
          }
          await db.raw('DROP SCHEMA ?? CASCADE', [schema]);
        },
      };
    },
    async describe() {
      admin ??= knexFactory(configFromUrl(PG_ADMIN_URL));
      const show = async (name: string) => ((await admin?.raw(`SHOW ${name}`)) as { rows: Record<string, string>[] }).rows[0][name];
      return `PostgreSQL ${await show('server_version')} at ${redacted(PG_ADMIN_URL)}; fsync=${await show('fsync')}, synchronous_commit=${await show('synchronous_commit')}, max_locks_per_transaction=${await show('max_locks_per_transaction')}`;
    },
    close: async () => admin?.destroy(),
  };
}

function mysql(): ServerEngine {
  let admin: Knex | undefined;
  return {
    kind: 'mysql',
    name: 'MariaDB/MySQL',
    unavailable: () => probe(MYSQL_ADMIN_URL),
    async fresh() {
      admin ??= knexFactory(configFromUrl(MYSQL_ADMIN_URL));
      const db = admin;
      const database = uniqueName();
      await db.raw('CREATE DATABASE ??', [database]);
      const url = new URL(MYSQL_ADMIN_URL);
      url.pathname = `/${database}`;
      return {
        url: url.toString(),
        name: database,
        drop: async () => void (await db.raw('DROP DATABASE ??', [database])),
      };
    },
    async describe() {
      admin ??= knexFactory(configFromUrl(MYSQL_ADMIN_URL));
      const [[v]] = (await admin.raw(
        'SELECT VERSION() AS version, @@innodb_flush_log_at_trx_commit AS flush, @@innodb_file_per_table AS perTable, @@log_bin AS binlog',
      )) as [{ version: string; flush: number; perTable: number; binlog: number }[]];
      return `${v.version} at ${redacted(MYSQL_ADMIN_URL)}; innodb_flush_log_at_trx_commit=${v.flush}, innodb_file_per_table=${v.perTable}, log_bin=${v.binlog}`;
    },
    close: async () => admin?.destroy(),
  };
}

/** The server engines `--dialects` selects (postgres, mysql), in that order. */
export function serverEngines(ctx: BenchContext): ServerEngine[] {
  const list: ServerEngine[] = [];
  if (ctx.dialects.includes('postgres')) list.push(postgres());
  if (ctx.dialects.includes('mysql')) list.push(mysql());
  return list;
}
