import type { Knex } from 'knex';
import { UnsupportedDialectError } from '../errors';
import { mysqlAdapter } from './mysql';
import { postgresAdapter } from './postgres';
import { sqliteAdapter } from './sqlite';
import type { DialectAdapter } from './types';

export { DEFAULT_LOCK_TIMEOUT_MS, type DialectAdapter, type LockedSession, type LockOptions } from './types';

/** The adapter for a knex instance's engine (knex's `client.dialect`: sqlite3, postgresql, mysql). */
export function adapterFor(db: Knex | Knex.Transaction): DialectAdapter {
  const dialect = (db.client as { dialect?: string }).dialect;
  switch (dialect) {
    case 'sqlite3':
      return sqliteAdapter;
    case 'postgresql':
      return postgresAdapter;
    case 'mysql':
      return mysqlAdapter;
    default:
      throw new UnsupportedDialectError(`knex-semver-migrate does not support the "${dialect}" dialect yet`);
  }
}

/** True when `db` talks to SQLite (for app migrations that choose between rebuildTable and ALTER). */
export function isSqlite(db: Knex | Knex.Transaction): boolean {
  return (db.client as { dialect?: string }).dialect === 'sqlite3';
}
