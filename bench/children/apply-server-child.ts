/**
 * Applies N migrations (each: CREATE TABLE t_<i> + one INSERT into it) to a fresh PostgreSQL schema
 * or MariaDB/MySQL database (the parent creates it and drops it afterwards) with one contender, and
 * reports the time from creating the connection (knex connects on first use: connecting is included)
 * to the end of the migration call, the statements sent by kind, the time spent awaiting the server,
 * and a check: N tables t_<i>, one row in each. Module loading is excluded; loading knex's migration
 * files happens inside migrate.latest() and is included.
 * Payload: { contender, engine, url, n, dir? }.
 */
import knexFactory, { type Knex } from 'knex';
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl } from '../../lib/database-url';
import { runMigrations } from '../../lib/functions';
import { silentLogger } from '../../lib/logger';
import { versionOf } from './migrations';
import { knexDirectoryConfig } from './peer-knex';
import { emit, input, main } from './protocol';
import { openRawServer } from './raw-server';
import { floorSettings, floorStatements, noteOf, ourServerMigrations, type ServerEngineKind } from './server-migrations';
import { StatementTally, tallyKnex } from './statement-tally';

export type ApplyServerContender = 'ours' | 'knex' | 'floor';

export interface ApplyServerInput {
  readonly contender: ApplyServerContender;
  readonly engine: ServerEngineKind;
  /** URL of the fresh schema (search_path) or database. */
  readonly url: string;
  readonly n: number;
  /** knex: the directory of generated migration files. */
  readonly dir?: string;
}

export interface ApplyServerOutput {
  readonly ms: number;
  /** Time spent awaiting the server's answers to statements, ms. */
  readonly dbMs: number;
  readonly statements: number;
  /** Statements by first keyword, and the time spent awaiting each kind, ms. */
  readonly kinds: Record<string, number>;
  readonly kindMs: Record<string, number>;
  /** t_<i> tables found afterwards (must be n), and rows in them (must be n). */
  readonly tables: number;
  readonly rows: number;
}

interface Measured {
  readonly ms: number;
  readonly tally: StatementTally;
}

async function viaKnex(create: () => Knex, work: (db: Knex) => Promise<unknown>): Promise<Measured> {
  const tally = new StatementTally();
  const started = performance.now();
  const db = create();
  const untally = tallyKnex(db, tally);
  try {
    await work(db);
    return { ms: performance.now() - started, tally };
  } finally {
    untally();
    await db.destroy();
  }
}

/**
 * The floor: per migration, its statements and a one-row version update in one transaction, on one
 * raw connection. PostgreSQL: BEGIN; CREATE; INSERT; UPDATE; COMMIT. MariaDB/MySQL commit DDL
 * implicitly (a BEGIN before it would end at the CREATE), so: CREATE; BEGIN; INSERT; UPDATE; COMMIT.
 */
async function floor(engine: ServerEngineKind, url: string, n: number): Promise<Measured> {
  const started = performance.now();
  const db = await openRawServer(engine, url);
  try {
    const settings = floorSettings(engine);
    await db.query(settings.create);
    await db.query(settings.seed);
    for (let i = 1; i <= n; i++) {
      const { ddl, insert } = floorStatements(engine, i);
      if (engine === 'postgres') {
        await db.query('BEGIN');
        await db.query(ddl);
      } else {
        await db.query(ddl);
        await db.query('BEGIN');
      }
      await db.query(insert, [noteOf(i)]);
      await db.query(settings.update, [versionOf(i)]);
      await db.query('COMMIT');
    }
    return { ms: performance.now() - started, tally: db.tally };
  } finally {
    await db.close();
  }
}

function measure(p: ApplyServerInput): Promise<Measured> {
  const config = configFromUrl(p.url);
  switch (p.contender) {
    case 'ours':
      return viaKnex(() => createKnex(config), (db) => runMigrations(db, ourServerMigrations(p.n), { logger: silentLogger }));
    case 'knex': {
      const dir = p.dir;
      if (!dir) throw new Error('knex needs dir');
      return viaKnex(() => knexFactory(config), (db) => db.migrate.latest(knexDirectoryConfig(dir)));
    }
    case 'floor':
      return floor(p.engine, p.url, p.n);
  }
}

/** N tables t_<i> with one row each? Untimed, on a connection of its own. */
async function check(p: ApplyServerInput): Promise<{ tables: number; rows: number }> {
  const db = knexFactory({ ...configFromUrl(p.url), pool: { min: 0, max: 1 } });
  try {
    const names = (
      p.engine === 'postgres'
        ? await db('information_schema.tables').whereRaw('table_schema = current_schema()').whereRaw("table_name ~ '^t_[0-9]+$'").pluck('table_name')
        : await db('information_schema.tables').whereRaw('table_schema = database()').whereRaw("table_name regexp '^t_[0-9]+$'").pluck('table_name')
    ) as string[];
    let rows = 0;
    for (let k = 0; k < names.length; k += 200) {
      const chunk = names.slice(k, k + 200);
      const sum = chunk.map(() => '(select count(*) from ??)').join(' + ');
      const result = (await db.raw(`select ${sum} as n`, chunk)) as { rows?: { n: string | number }[] } | [{ n: string | number }[]];
      const row = Array.isArray(result) ? result[0][0] : result.rows?.[0];
      rows += Number(row?.n ?? 0);
    }
    return { tables: names.length, rows };
  } finally {
    await db.destroy();
  }
}

main(module, async () => {
  const p = input<ApplyServerInput>();
  const { ms, tally } = await measure(p);
  const out: ApplyServerOutput = { ms, dbMs: tally.ms, statements: tally.count, kinds: tally.kinds, kindMs: tally.kindMs, ...(await check(p)) };
  emit(out);
});
