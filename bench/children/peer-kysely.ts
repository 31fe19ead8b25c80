/**
 * Kysely as a peer: its Migrator with an in-memory provider, on Kysely's SQLite dialect over
 * better-sqlite3 (the SQLite driver Kysely supports), so its numbers include a different, synchronous
 * driver. Kysely's SQLite adapter declares no transactional DDL, so each migration commits on its own.
 */
import { Kysely, Migrator, SqliteDialect, type Migration as KyselyMigration, type SqliteDatabase } from 'kysely';
import { BetterSqlite } from './better-sqlite3';
import { nameOf, tableName } from './migrations';


export interface KyselySetup {
  readonly db: Kysely<unknown>;
  readonly migrator: Migrator;
  statements(): number;
}

export function kyselyFor(file: string, n: number): KyselySetup {
  let statements = 0;
  const database = new BetterSqlite(file);
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: database as unknown as SqliteDatabase }),
    log: (event) => {
      if (event.level === 'query') statements++;
    },
  });
  const migrations: Record<string, KyselyMigration> = {};
  for (let i = 1; i <= n; i++) {
    migrations[nameOf(i)] = {
      async up(k) {
        await k.schema
          .createTable(tableName(i))
          .addColumn('id', 'integer', (c) => c.notNull().primaryKey().autoIncrement())
          .addColumn('note', 'varchar(255)')
          .execute();
      },
    };
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  return { db, migrator, statements: () => statements };
}

