/**
 * Applies N table-creating migrations to a fresh SQLite file with one contender, and reports the time
 * from opening the database to the end of the migration call (module loading excluded; loading
 * knex's migration files is part of knex's call), the number of SQL statements, and a check.
 * Payload: { contender, n, file, dir? }.
 */
import knexFactory, { type Knex } from 'knex';
import { createKnex } from '../../lib/bootstrap';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { withSqliteDefaults } from '../../lib/sqlite/connection';
import { ourMigrations, tableDdl, versionOf } from './migrations';
import { knexDirectoryConfig, knexMemoryConfig } from './peer-knex';
import { kyselyFor } from './peer-kysely';
import { umzugFor } from './peer-umzug';
import { openRawSqlite, rawSqliteDefaults } from './raw-sqlite';
import { BetterSqlite } from './better-sqlite3';
import { emit, input, main } from './protocol';

export type ApplyContender = 'ours' | 'ours-savepoints' | 'knex' | 'knex-source' | 'umzug' | 'kysely' | 'floor-a' | 'floor-b';

export interface ApplyInput {
  readonly contender: ApplyContender;
  readonly n: number;
  readonly file: string;
  /** knex: the directory of generated migration files. */
  readonly dir?: string;
}

export interface ApplyOutput {
  readonly ms: number;
  readonly statements: number;
  /** t_% tables found afterwards (must be n). */
  readonly tables: number;
}

const knexConfig = (file: string): Knex.Config => withSqliteDefaults({ client: 'sqlite3', connection: { filename: file } });

function counted(db: Knex): () => number {
  let n = 0;
  db.on('query', () => n++);
  return () => n;
}

async function viaKnex(file: string, work: (db: Knex) => Promise<unknown>, create: () => Knex = () => knexFactory(knexConfig(file))) {
  const started = performance.now();
  const db = create();
  const statements = counted(db);
  await work(db);
  const ms = performance.now() - started;
  const count = statements();
  await db.destroy();
  return { ms, statements: count };
}

async function floor(file: string, n: number, oneTransaction: boolean) {
  const started = performance.now();
  const db = await openRawSqlite(file);
  await rawSqliteDefaults(db);
  const before = db.count;
  await db.run('create table `system_settings` (`key` varchar(255) not null primary key, `value` text not null)');
  await db.run("insert into `system_settings` (`key`, `value`) values ('db_version', '0.0.0')");
  if (oneTransaction) await db.run('BEGIN');
  for (let i = 1; i <= n; i++) {
    if (!oneTransaction) await db.run('BEGIN');
    await db.run(tableDdl(i));
    await db.run("update `system_settings` set `value` = ? where `key` = 'db_version'", [versionOf(i)]);
    if (!oneTransaction) await db.run('COMMIT');
  }
  if (oneTransaction) await db.run('COMMIT');
  const ms = performance.now() - started;
  const statements = db.count - before;
  await db.close();
  return { ms, statements };
}

async function measure(p: ApplyInput): Promise<{ ms: number; statements: number }> {
  switch (p.contender) {
    case 'ours':
    case 'ours-savepoints': {
      const options = { logger: silentLogger, savepointPerMigration: p.contender === 'ours-savepoints' };
      return viaKnex(p.file, (db) => runMigrations(db, ourMigrations(p.n), options), () =>
        createKnex({ client: 'sqlite3', connection: { filename: p.file } }),
      );
    }
    case 'knex':
      if (!p.dir) throw new Error('knex needs dir');
      return viaKnex(p.file, (db) => db.migrate.latest(knexDirectoryConfig(p.dir ?? '')));
    case 'knex-source':
      return viaKnex(p.file, (db) => db.migrate.latest(knexMemoryConfig(p.n)));
    case 'umzug':
      return viaKnex(p.file, (db) => umzugFor(db, p.n).up());
    case 'kysely': {
      const started = performance.now();
      const k = kyselyFor(p.file, p.n);
      const { error } = await k.migrator.migrateToLatest();
      if (error) throw error;
      const ms = performance.now() - started;
      await k.db.destroy();
      return { ms, statements: k.statements() };
    }
    case 'floor-a':
      return floor(p.file, p.n, false);
    case 'floor-b':
      return floor(p.file, p.n, true);
  }
}

main(module, async () => {
  const p = input<ApplyInput>();
  const { ms, statements } = await measure(p);
  const check = new BetterSqlite(p.file, { readonly: true });
  const { n } = check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name GLOB 't_[0-9]*'").get() as { n: number };
  check.close();
  const out: ApplyOutput = { ms, statements, tables: n };
  emit(out);
});
