import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';
import { engineOfConfig } from '../dialects/config';

/** Busy timeout for SQLite connections: how long a statement waits for another writer. */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Returns a copy of a SQLite knex config that turns foreign keys ON and sets a busy timeout on
 * every pooled connection (SQLite's foreign_keys is per connection and OFF by default, so setting
 * it once on one connection is not enough). Any `afterCreate` of the caller still runs, after ours.
 * Non-SQLite configs are returned unchanged.
 */
export function withSqliteDefaults(config: Knex.Config, busyTimeoutMs = DEFAULT_SQLITE_BUSY_TIMEOUT_MS): Knex.Config {
  if (engineOfConfig(config) !== 'sqlite') return config;
  const pool = config.pool ?? {};
  const userAfterCreate = pool.afterCreate as ((conn: unknown, done: (err: Error | null, conn: unknown) => void) => void) | undefined;
  const pragmas = ['PRAGMA foreign_keys = ON', `PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`];
  return {
    useNullAsDefault: true,
    ...config,
    pool: {
      ...pool,
      afterCreate(conn: SqliteRawConnection, done: (err: Error | null, conn: unknown) => void) {
        runPragmas(conn, pragmas).then(
          () => (userAfterCreate ? userAfterCreate(conn, done) : done(null, conn)),
          (err: Error) => done(err, conn),
        );
      },
    },
  };
}

/** The raw connection of either SQLite driver: node-sqlite3 (`run` with callback) or better-sqlite3 (`pragma`). */
type SqliteRawConnection =
  | { run(sql: string, cb: (err: Error | null) => void): unknown }
  | { pragma(sql: string): unknown };

async function runPragmas(conn: SqliteRawConnection, pragmas: string[]): Promise<void> {
  for (const sql of pragmas) {
    if ('pragma' in conn) {
      conn.pragma(sql.replace(/^PRAGMA\s+/i, ''));
    } else {
      await new Promise<void>((resolve, reject) => conn.run(sql, (err) => (err ? reject(err) : resolve())));
    }
  }
}

/** Creates the directory of a SQLite file database if it is missing (not for ':memory:'). */
export function ensureSqliteDirectory(config: Knex.Config): void {
  if (engineOfConfig(config) !== 'sqlite') return;
  const filename = (config.connection as { filename?: string } | undefined)?.filename;
  if (!filename || filename === ':memory:' || filename.startsWith('file:')) return;
  fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
}
