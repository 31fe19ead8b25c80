/**
 * Knex environments for this app. SQLite connections get foreign keys ON and a busy timeout on
 * every pooled connection (withSqliteDefaults). `migrations.directory` is where the CLI
 * (`scripts/migrate.ts`, or `knex-semver-migrate` in your project) finds the migrations.
 */
import path from 'path';
import type { Knex } from 'knex';
import { configFromUrl, databaseUrlFromEnv, withSqliteDefaults } from './lib';

const migrations = { directory: path.join(__dirname, 'migrations') };
const seeds = { directory: path.join(__dirname, 'seeds'), extension: 'ts', loadExtensions: ['.ts'] };

const config: Record<string, Knex.Config> = {
  /** A SQLite file under data/ (created on demand, git-ignored). */
  development: withSqliteDefaults({
    client: 'sqlite3',
    connection: { filename: path.join(__dirname, 'data', 'development.sqlite3') },
    migrations,
    seeds,
  }),
  /** In-memory SQLite: one connection, since each connection would be its own empty database. */
  test: withSqliteDefaults({
    client: 'sqlite3',
    connection: { filename: ':memory:' },
    pool: { min: 1, max: 1 },
    migrations,
    seeds,
  }),
  /** Read from DATABASE_URL when used (postgres://, mysql://, mariadb://, sqlite://). */
  get production(): Knex.Config {
    return withSqliteDefaults({ ...configFromUrl(databaseUrlFromEnv()), migrations, seeds });
  },
};

export default config;
