import type { Knex } from 'knex';
import { UnsupportedDialectError } from '../errors';
import { engineOfDialect } from './config';
import { mysqlAdapter } from './mysql';
import { postgresAdapter } from './postgres';
import { sqliteAdapter } from './sqlite';
import type { DialectAdapter, EngineName } from './types';

export {
  DEFAULT_DDL_LOCK_RETRIES,
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  type DialectAdapter,
  type EngineName,
  type LockedSession,
  type LockOptions,
  type TableLockOptions,
} from './types';

const ADAPTERS: Readonly<Record<EngineName, DialectAdapter>> = { sqlite: sqliteAdapter, postgres: postgresAdapter, mysql: mysqlAdapter };

/** knex's dialect of a knex instance's client (sqlite3, postgresql, mysql); undefined without a client. */
function dialectOf(db: Knex | Knex.Transaction): unknown {
  return (db.client as { dialect?: unknown } | undefined)?.dialect;
}

/** The adapter for a knex instance's engine. */
export function adapterFor(db: Knex | Knex.Transaction): DialectAdapter {
  const dialect = dialectOf(db);
  const engine = engineOfDialect(dialect);
  if (!engine) throw new UnsupportedDialectError(`knex-semver-migrate does not support the "${String(dialect)}" dialect yet`);
  return ADAPTERS[engine];
}

/** True when `db` talks to SQLite (for app migrations that choose between rebuildTable and ALTER). */
export function isSqlite(db: Knex | Knex.Transaction): boolean {
  return engineOfDialect(dialectOf(db)) === 'sqlite';
}
