/**
 * Turns a DATABASE_URL into a knex config. The URL is never echoed: errors name only its scheme.
 */
import type { Knex } from 'knex';
import { MigrationError, UnsupportedDialectError } from './errors';

const CLIENT_BY_SCHEME: Record<string, string> = {
  postgres: 'pg',
  postgresql: 'pg',
  mysql: 'mysql2',
  mariadb: 'mysql2',
  sqlite: 'sqlite3',
  file: 'sqlite3',
};

/**
 * Knex config for postgres://, postgresql://, mysql://, mariadb://, sqlite:///path or file:/path URLs.
 * SQLite URLs take `?driver=better-sqlite3` to use that driver instead of sqlite3.
 */
export function configFromUrl(url: string): Knex.Config {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const client = scheme ? CLIENT_BY_SCHEME[scheme] : undefined;
  if (!client) {
    throw new UnsupportedDialectError(
      `DATABASE_URL has ${scheme ? `the unsupported scheme "${scheme}:"` : 'no scheme'}; use postgres://, mysql://, mariadb://, sqlite:// or file:`,
    );
  }
  if (client === 'sqlite3') {
    const [location, query = ''] = url.replace(/^(sqlite|file):(\/\/)?/i, '').split('?');
    const driver = new URLSearchParams(query).get('driver') ?? client;
    if (driver !== 'sqlite3' && driver !== 'better-sqlite3') {
      throw new UnsupportedDialectError(`DATABASE_URL names the SQLite driver "${driver}"; use sqlite3 or better-sqlite3`);
    }
    return { client: driver, connection: { filename: decodeURIComponent(location) } };
  }
  // mysql2 does not know the mariadb: scheme; the wire protocol is the same.
  return { client, connection: client === 'mysql2' ? url.replace(/^mariadb:/i, 'mysql:') : url };
}

/** DATABASE_URL from the environment, or a clear error. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL;
  if (!url) throw new MissingDatabaseUrlError();
  return url;
}

export class MissingDatabaseUrlError extends MigrationError {
  constructor() {
    super('UNSUPPORTED_DIALECT', 'DATABASE_URL is not set: the production environment reads its connection from it');
  }
}
