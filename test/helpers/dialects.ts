/**
 * The database engines the suite runs on. SQLite always; PostgreSQL and MariaDB/MySQL when their
 * servers answer on 127.0.0.1 (or are required: KSM_REQUIRE_POSTGRES=1 / KSM_REQUIRE_MARIADB=1, set
 * by .ci/run). Each test database is private: its own SQLite file, PostgreSQL schema or MySQL database.
 * KSM_DIALECTS=sqlite,postgres limits the run.
 */
import knexFactory, { type Knex } from 'knex';
import path from 'path';
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl } from '../../lib/database-url';
import { tempDir } from './db';

export interface TestDatabase {
  readonly db: Knex;
  /** A DATABASE_URL for child processes that reaches the same private database. */
  readonly url: string;
  /** Opens another knex instance on the same database (another "app instance"). */
  open(): Knex;
  cleanup(): Promise<void>;
}

export interface TestDialect {
  /** The label in test titles and in KSM_DIALECTS. */
  readonly name: 'sqlite' | 'better-sqlite3' | 'postgres' | 'mysql';
  /** The engine, for engine-specific expectations. */
  readonly engine: 'sqlite' | 'postgres' | 'mysql';
  /** Why this dialect cannot run here, or undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** Whether .ci/run made this dialect mandatory. */
  readonly required: boolean;
  create(): Promise<TestDatabase>;
}

const PG_ADMIN_URL = process.env.KSM_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL_ADMIN_URL = process.env.KSM_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
let counter = 0;
const uniqueName = () => `ksm_${process.pid}_${Date.now().toString(36)}_${counter++}`;

async function probe(url: string): Promise<string | undefined> {
  const db = knexFactory({ ...configFromUrl(url), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 3000 });
  try {
    await db.raw('SELECT 1');
    return undefined;
  } catch (err) {
    return `no server at ${url.replace(/\/\/[^@]*@/, '//')} (${(err as Error).message.split('\n')[0]})`;
  } finally {
    await db.destroy();
  }
}

function sqliteFile(driver: 'sqlite3' | 'better-sqlite3'): () => Promise<TestDatabase> {
  return async () => {
    const tmp = tempDir('ksm-dialect-');
    const url = `sqlite://${path.join(tmp.dir, 'test.sqlite')}?driver=${driver}`;
    const open = () => createKnex(configFromUrl(url));
    const db = open();
    return { db, url, open, cleanup: async () => { await db.destroy(); tmp.cleanup(); } };
  };
}

export const sqlite: TestDialect = {
  name: 'sqlite',
  engine: 'sqlite',
  required: true,
  unavailable: async () => undefined,
  create: sqliteFile('sqlite3'),
};

/** The same engine through the other driver knex supports (a devDependency here). */
export const betterSqlite: TestDialect = {
  name: 'better-sqlite3',
  engine: 'sqlite',
  required: true,
  unavailable: async () => undefined,
  create: sqliteFile('better-sqlite3'),
};

export const postgres: TestDialect = {
  name: 'postgres',
  engine: 'postgres',
  required: process.env.KSM_REQUIRE_POSTGRES === '1',
  unavailable: () => probe(PG_ADMIN_URL),
  async create() {
    const schema = uniqueName();
    const admin = knexFactory(configFromUrl(PG_ADMIN_URL));
    await admin.raw(`CREATE SCHEMA "${schema}"`);
    const url = `${PG_ADMIN_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const open = () => createKnex(configFromUrl(url));
    const db = open();
    return {
      db, url, open,
      async cleanup() {
        await db.destroy();
        await admin.raw(`DROP SCHEMA "${schema}" CASCADE`);
        await admin.destroy();
      },
    };
  },
};

export const mysql: TestDialect = {
  name: 'mysql',
  engine: 'mysql',
  required: process.env.KSM_REQUIRE_MARIADB === '1',
  unavailable: () => probe(MYSQL_ADMIN_URL),
  async create() {
    const database = uniqueName();
    const admin = knexFactory(configFromUrl(MYSQL_ADMIN_URL));
    await admin.raw(`CREATE DATABASE \`${database}\``);
    const url = MYSQL_ADMIN_URL.replace(/\/[^/]*$/, `/${database}`);
    const open = () => createKnex(configFromUrl(url));
    const db = open();
    return {
      db, url, open,
      async cleanup() {
        await db.destroy();
        await admin.raw(`DROP DATABASE \`${database}\``);
        await admin.destroy();
      },
    };
  },
};

const selected = (process.env.KSM_DIALECTS ?? 'sqlite,better-sqlite3,postgres,mysql').split(',').map((s) => s.trim());
export const DIALECTS: TestDialect[] = [sqlite, betterSqlite, postgres, mysql].filter((d) => selected.includes(d.name));

const reported = new Set<string>();
const probes = new Map<string, Promise<string | undefined>>();

/**
 * Declares a suite for one dialect: skipped, with the reason printed once, where the server is not
 * there; failing where .ci/run requires it.
 */
export function describeDialect(dialect: TestDialect, title: string, body: (ctx: { database: () => TestDatabase }) => void): void {
  describe(`${title} [${dialect.name}]`, function () {
    let database: TestDatabase | undefined;
    before(async function () {
      if (!probes.has(dialect.name)) probes.set(dialect.name, dialect.unavailable());
      const reason = await probes.get(dialect.name);
      if (reason === undefined) return;
      if (dialect.required) throw new Error(`${dialect.name} is required here (.ci/run) but ${reason}`);
      if (!reported.has(dialect.name)) {
        reported.add(dialect.name);
        console.log(`\n  SKIPPED: ${dialect.name} suites — ${reason}\n`);
      }
      this.skip();
    });
    beforeEach(async () => {
      database = await dialect.create();
    });
    afterEach(async () => {
      await database?.cleanup();
      database = undefined;
    });
    body({
      database: () => {
        if (!database) throw new Error('no test database');
        return database;
      },
    });
  });
}
