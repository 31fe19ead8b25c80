/**
 * engineOfConfig recognises a knex config in every form knex accepts for `client` (names, aliases, a Client
 * class), agreeing with knex's own resolution and with adapterFor on the instance the config builds.
 */
import fs from 'fs';
import path from 'path';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { adapterFor } from '../../lib/dialects';
import { engineOfConfig } from '../../lib/dialects/config';
import { ensureSqliteDirectory, withSqliteDefaults } from '../../lib/sqlite/connection';
import { tempDir } from '../helpers/db';

type ClientClass = NonNullable<Exclude<Knex.Config['client'], string>>;

/** knex's internals (untyped): its client-name list, its name -> Client class loader, and the classes. */
const knexInternal = <T>(file: string): T => require(`knex/lib/${file}`) as T; // eslint-disable-line @typescript-eslint/no-require-imports
const { SUPPORTED_CLIENTS } = knexInternal<{ SUPPORTED_CLIENTS: readonly string[] }>('constants');
const { getDialectByNameOrAlias } = knexInternal<{ getDialectByNameOrAlias(name: string): ClientClass }>('dialects');
const dialectClass = (name: string): ClientClass => knexInternal<ClientClass>(`dialects/${name}`);

const ENGINE_BY_NAME = {
  sqlite3: 'sqlite',
  sqlite: 'sqlite',
  'better-sqlite3': 'sqlite',
  pg: 'postgres',
  postgres: 'postgres',
  postgresql: 'postgres',
  pgnative: 'postgres',
  cockroachdb: 'postgres',
  mysql: 'mysql',
  mysql2: 'mysql',
  mariadb: 'mysql',
} as const;

describe('engineOfConfig', () => {
  it('knows every knex client name and alias that has an adapter', () => {
    for (const [client, engine] of Object.entries(ENGINE_BY_NAME)) {
      expect(engineOfConfig({ client }), client).to.equal(engine);
    }
  });

  it('agrees with the Client class knex loads for each name it accepts', () => {
    for (const client of SUPPORTED_CLIENTS) {
      expect(engineOfConfig({ client }), client).to.equal(engineOfConfig({ client: getDialectByNameOrAlias(client) }));
    }
    // Nothing in our table that knex does not accept.
    expect(Object.keys(ENGINE_BY_NAME).filter((name) => !SUPPORTED_CLIENTS.includes(name))).to.deep.equal([]);
  });

  it('recognises a Client class passed as `client`, and a subclass of one', () => {
    expect(engineOfConfig({ client: dialectClass('sqlite3') })).to.equal('sqlite');
    expect(engineOfConfig({ client: dialectClass('better-sqlite3') })).to.equal('sqlite');
    expect(engineOfConfig({ client: dialectClass('postgres') })).to.equal('postgres');
    expect(engineOfConfig({ client: dialectClass('mysql2') })).to.equal('mysql');
    const Base = dialectClass('sqlite3') as unknown as new (...args: unknown[]) => object;
    class MySqlite extends Base {}
    expect(engineOfConfig({ client: MySqlite as unknown as ClientClass })).to.equal('sqlite');
  });

  it('reads `dialect` when there is no `client`, as knex does', () => {
    expect(engineOfConfig({ dialect: 'postgresql' })).to.equal('postgres');
    expect(engineOfConfig({ dialect: 'sqlite3' })).to.equal('sqlite');
    expect(engineOfConfig({ client: 'mysql2', dialect: 'sqlite3' })).to.equal('mysql');
  });

  it('is undefined for engines without an adapter, unknown names and classes without a dialect', () => {
    for (const client of ['mssql', 'oracledb', 'redshift', 'nope', 'SQLite3', 'constructor', '']) {
      expect(engineOfConfig({ client }), client).to.equal(undefined);
    }
    expect(engineOfConfig({})).to.equal(undefined);
    expect(engineOfConfig({ client: dialectClass('mssql') })).to.equal(undefined);
    expect(engineOfConfig({ client: knexInternal<ClientClass>('client') })).to.equal(undefined);
  });

  it('matches adapterFor on the instance the config builds', async () => {
    const configs: Knex.Config[] = [
      { client: 'sqlite', connection: { filename: ':memory:' }, useNullAsDefault: true },
      { client: dialectClass('better-sqlite3'), connection: { filename: ':memory:' }, useNullAsDefault: true },
      { client: 'postgresql', connection: { host: '127.0.0.1', port: 1 } },
      { client: 'mysql2', connection: { host: '127.0.0.1', port: 1 } },
    ];
    for (const config of configs) {
      const db = knexFactory(config); // no query: nothing connects
      try {
        expect(adapterFor(db).name).to.equal(engineOfConfig(config));
      } finally {
        await db.destroy();
      }
    }
  });
});

describe('withSqliteDefaults and ensureSqliteDirectory with a Client class as `client`', () => {
  for (const driver of ['sqlite3', 'better-sqlite3']) {
    it(`${driver}: every connection has foreign_keys ON and the busy timeout`, async () => {
      const config = withSqliteDefaults({ client: dialectClass(driver), connection: { filename: ':memory:' }, pool: { min: 1, max: 1 } }, 1234);
      const db = knexFactory(config);
      try {
        const [{ foreign_keys: foreignKeys }] = (await db.raw('PRAGMA foreign_keys')) as { foreign_keys: number }[];
        const [{ timeout }] = (await db.raw('PRAGMA busy_timeout')) as { timeout: number }[];
        expect(foreignKeys).to.equal(1);
        expect(timeout).to.equal(1234);
      } finally {
        await db.destroy();
      }
    });
  }

  it('creates the database file folder', () => {
    const { dir, cleanup } = tempDir();
    try {
      const filename = path.join(dir, 'nested', 'app.sqlite');
      ensureSqliteDirectory({ client: dialectClass('sqlite3'), connection: { filename } });
      expect(fs.statSync(path.dirname(filename)).isDirectory()).to.equal(true);
    } finally {
      cleanup();
    }
  });

  it('leaves a non-SQLite config as it is', () => {
    const config: Knex.Config = { client: dialectClass('postgres'), connection: { host: '127.0.0.1' } };
    expect(withSqliteDefaults(config)).to.equal(config);
  });
});
