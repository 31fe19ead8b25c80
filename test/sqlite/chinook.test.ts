import { expect } from 'chai';
import fs from 'fs';
import type { Knex } from 'knex';
import path from 'path';
import { rebuildTable } from '../../lib/sqlite/rebuild';
import { fileDb, rowsOf, tempDir } from '../helpers/db';

// A real schema nobody on this project wrote (MIT, see test/fixtures/chinook/). Always used through a copy.
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'chinook', 'Chinook_Sqlite.sqlite');
const ALL_TABLES = ['Album', 'Artist', 'Customer', 'Employee', 'Genre', 'Invoice', 'InvoiceLine', 'MediaType', 'Playlist', 'PlaylistTrack', 'Track'];
const REBUILT = ['Artist', 'Album', 'Genre', 'MediaType', 'Track', 'Customer', 'Employee', 'Invoice'];
const ADDED = 'MigratedAt';

interface State {
  rows: Record<string, Record<string, unknown>[]>;
  indexLists: Record<string, unknown>;
  indexColumns: Record<string, unknown>;
  foreignKeys: Record<string, unknown>;
  indexSql: unknown;
}

async function stateOf(db: Knex): Promise<State> {
  const state: State = { rows: {}, indexLists: {}, indexColumns: {}, foreignKeys: {}, indexSql: [] };
  for (const table of ALL_TABLES) {
    const rows = await rowsOf(db, table);
    state.rows[table] = rows.map(({ [ADDED]: _added, ...rest }) => rest);
    state.indexLists[table] = await db.raw('SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name', [table]);
    state.foreignKeys[table] = await db.raw('SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq', [table]);
  }
  const indexes = (await db.raw(`SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`)) as { name: string }[];
  for (const { name } of indexes) state.indexColumns[name] = await db.raw('SELECT * FROM pragma_index_xinfo(?)', [name]);
  state.indexSql = indexes;
  return state;
}

/** What runMigrations does: foreign keys OFF on the transaction's connection before BEGIN, back ON after. */
async function inRunnerTransaction<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const client = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(conn: unknown): unknown };
  const conn = await client.acquireConnection();
  try {
    await db.raw('PRAGMA foreign_keys = OFF').connection(conn);
    try {
      return await db.transaction(fn, { connection: conn });
    } finally {
      await db.raw('PRAGMA foreign_keys = ON').connection(conn);
    }
  } finally {
    client.releaseConnection(conn);
  }
}

const spec = { addColumns: { [ADDED]: 'DATETIME' } };
const ENTRY_POINTS: Record<string, (db: Knex) => Promise<unknown>> = {
  'in one migration transaction, foreign keys suspended before BEGIN': (db) =>
    inRunnerTransaction(db, async (trx) => {
      for (const table of REBUILT) await rebuildTable(trx, table, spec);
    }),
  'table by table with the knex instance': async (db) => {
    for (const table of REBUILT) await rebuildTable(db, table, spec);
  },
};

describe('rebuildTable on the Chinook database (11 tables, 11 foreign keys, 3,503 tracks)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Knex;
  beforeEach(() => {
    tmp = tempDir('ksm-chinook-');
    const file = path.join(tmp.dir, 'chinook.sqlite');
    fs.copyFileSync(FIXTURE, file);
    fs.chmodSync(file, 0o600);
    db = fileDb(file);
  });
  afterEach(async () => {
    await db.destroy();
    tmp.cleanup();
  });

  for (const [entry, rebuildAll] of Object.entries(ENTRY_POINTS)) {
    it(`rebuilds ${REBUILT.join(', ')} ${entry}: every row, index and foreign key survives`, async () => {
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
      const before = await stateOf(db);
      expect(before.rows.Track).to.have.length(3503);
      expect(Object.values(before.foreignKeys).flat()).to.have.length(11);

      await rebuildAll(db);

      const after = await stateOf(db);
      for (const table of ALL_TABLES) {
        expect(after.rows[table].length, `${table} row count`).to.equal(before.rows[table].length);
        expect(after.rows[table], `${table} rows`).to.deep.equal(before.rows[table]);
      }
      expect(after.indexLists).to.deep.equal(before.indexLists);
      expect(after.indexColumns).to.deep.equal(before.indexColumns);
      expect(after.foreignKeys).to.deep.equal(before.foreignKeys);
      expect(after.indexSql).to.deep.equal(before.indexSql);
      for (const table of REBUILT) {
        expect(await db.raw(`SELECT count(*) AS n FROM pragma_table_info(?) WHERE name = ?`, [table, ADDED]), table).to.deep.equal([{ n: 1 }]);
      }
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
      expect(await db.raw('PRAGMA integrity_check')).to.deep.equal([{ integrity_check: 'ok' }]);
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);

      // The keys are live and point at the rebuilt tables.
      const err = await db.raw('DELETE FROM Artist WHERE ArtistId = 1').then(() => null, (e: Error) => e);
      expect(err?.message).to.match(/FOREIGN KEY constraint failed/);
      await db.raw(`INSERT INTO Album (Title, ArtistId) VALUES ('New', 1)`);
    });
  }
});
