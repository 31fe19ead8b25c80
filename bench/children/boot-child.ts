/**
 * One app start on an up-to-date database: load what the contender needs, open the database, run the
 * contender's "migrate to latest" (or, for the bare process, the one version query), close, exit.
 * Each contender loads only its own modules (dynamic imports), so the parent's whole-process time
 * compares like with like. Reports the SQL statement count (knex's `query` event; Kysely's log).
 * Payload: { contender, file, n, dir?, modules? }.
 */
import type { Knex } from 'knex';
import { emit, input, main, sinceStart } from './protocol';

export type BootContender = 'bare' | 'ours' | 'ours-modules' | 'knex' | 'umzug' | 'kysely';

export interface BootInput {
  readonly contender: BootContender;
  readonly file: string;
  readonly n: number;
  /** knex: directory of migration files. */
  readonly dir?: string;
  /** ours-modules: a CommonJS module exporting the migration list (it requires one file per migration). */
  readonly modules?: string;
}

export interface BootOutput {
  /** ms since process start when the contender's modules were loaded. */
  readonly loadedAt: number;
  /** ms spent in open + migrate (or the bare query). */
  readonly workMs: number;
  readonly statements: number;
  readonly sql: string[];
}

async function openKnex(file: string): Promise<{ db: Knex; sql: string[] }> {
  const [{ default: knexFactory }, { withSqliteDefaults }] = await Promise.all([import('knex'), import('../../lib/sqlite/connection')]);
  const db = knexFactory(withSqliteDefaults({ client: 'sqlite3', connection: { filename: file } }));
  const sql: string[] = [];
  db.on('query', (q: { sql: string }) => sql.push(q.sql));
  return { db, sql };
}

async function boot(p: BootInput): Promise<BootOutput> {
  switch (p.contender) {
    case 'bare': {
      const { db, sql } = await openKnex(p.file);
      const loadedAt = sinceStart();
      const rows = (await db.raw("SELECT value FROM system_settings WHERE key = 'db_version'")) as { value: string }[];
      const workMs = sinceStart() - loadedAt;
      if (rows.length !== 1) throw new Error('no db_version');
      await db.destroy();
      return { loadedAt, workMs, statements: sql.length, sql };
    }
    case 'ours':
    case 'ours-modules': {
      const { db, sql } = await openKnex(p.file);
      const [{ runMigrations }, { silentLogger }] = await Promise.all([import('../../lib/functions'), import('../../lib/logger')]);
      let migrations: import('../../lib/types').Migration[];
      if (p.contender === 'ours') {
        const { ourMigrations } = await import('./migrations');
        migrations = ourMigrations(p.n);
      } else {
        migrations = ((await import(p.modules ?? '')) as { default: import('../../lib/types').Migration[] }).default;
      }
      const loadedAt = sinceStart();
      const report = await runMigrations(db, migrations, { logger: silentLogger });
      const workMs = sinceStart() - loadedAt;
      if (report.applied.length !== 0) throw new Error('ours applied something on an up-to-date database');
      await db.destroy();
      return { loadedAt, workMs, statements: sql.length, sql };
    }
    case 'knex': {
      const { db, sql } = await openKnex(p.file);
      const { knexDirectoryConfig } = await import('./peer-knex');
      const loadedAt = sinceStart();
      const [, log] = (await db.migrate.latest(knexDirectoryConfig(p.dir ?? ''))) as [number, string[]];
      const workMs = sinceStart() - loadedAt;
      if (log.length !== 0) throw new Error('knex applied something on an up-to-date database');
      await db.destroy();
      return { loadedAt, workMs, statements: sql.length, sql };
    }
    case 'umzug': {
      const { db, sql } = await openKnex(p.file);
      const { umzugFor } = await import('./peer-umzug');
      const loadedAt = sinceStart();
      const applied = await umzugFor(db, p.n).up();
      const workMs = sinceStart() - loadedAt;
      if (applied.length !== 0) throw new Error('Umzug applied something on an up-to-date database');
      await db.destroy();
      return { loadedAt, workMs, statements: sql.length, sql };
    }
    case 'kysely': {
      const { kyselyFor } = await import('./peer-kysely');
      const loadedAt = sinceStart();
      const k = kyselyFor(p.file, p.n);
      const { error, results } = await k.migrator.migrateToLatest();
      if (error) throw error;
      const workMs = sinceStart() - loadedAt;
      if ((results ?? []).length !== 0) throw new Error('Kysely applied something on an up-to-date database');
      await k.db.destroy();
      return { loadedAt, workMs, statements: k.statements(), sql: [] };
    }
  }
}

main(module, async () => {
  emit(await boot(input<BootInput>()));
});
