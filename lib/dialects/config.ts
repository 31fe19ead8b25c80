/**
 * Which engine a knex client or config is for: the one place that reads knex's dialect and client names.
 * A leaf (type imports only), so recognising a SQLite config before a knex instance exists does not load
 * the adapters.
 */
import type { Knex } from 'knex';
import type { EngineName } from './types';

/** knex's dialect names (a Client's `dialect`) -> engine. */
const ENGINE_OF_DIALECT: ReadonlyMap<string, EngineName> = new Map([
  ['sqlite3', 'sqlite'],
  ['postgresql', 'postgres'],
  ['mysql', 'mysql'],
]);

/**
 * knex's client names and aliases (knex/lib/constants.js) -> the `dialect` of the Client class knex loads
 * for each; test/unit/engine-of-config.test.ts checks this against knex itself.
 */
const DIALECT_OF_CLIENT: ReadonlyMap<string, string> = new Map([
  ['sqlite3', 'sqlite3'],
  ['sqlite', 'sqlite3'],
  ['better-sqlite3', 'sqlite3'],
  ['pg', 'postgresql'],
  ['postgres', 'postgresql'],
  ['postgresql', 'postgresql'],
  ['pgnative', 'postgresql'],
  ['cockroachdb', 'postgresql'],
  ['mysql', 'mysql'],
  ['mysql2', 'mysql'],
  ['mariadb', 'mysql'],
]);

/** The engine of a knex dialect name, or undefined when no adapter serves it. */
export function engineOfDialect(dialect: unknown): EngineName | undefined {
  return typeof dialect === 'string' ? ENGINE_OF_DIALECT.get(dialect) : undefined;
}

/**
 * The engine whose adapter a knex instance built from `config` gets (as adapterFor would pick), or undefined.
 * Reads `client` as knex does: a client name or alias, or a Client class (its `prototype.dialect`); without
 * a `client`, the `dialect` name.
 */
export function engineOfConfig(config: Knex.Config): EngineName | undefined {
  const client: unknown = config.client || config.dialect;
  if (typeof client === 'function') return engineOfDialect((client.prototype as { dialect?: unknown } | undefined)?.dialect);
  return typeof client === 'string' ? engineOfDialect(DIALECT_OF_CLIENT.get(client)) : undefined;
}
