import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import path from 'path';
import { ForeignKeyViolationError, RebuildError, UnsupportedDialectError } from '../../lib/errors';
import { REBUILD_STEPS, rebuildTable, setRebuildStepHook, type RebuildResult, type RebuildSpec } from '../../lib/sqlite/rebuild';
import { fileDb, memoryDb, rowsOf, tempDir } from '../helpers/db';

type Row = Record<string, unknown>;
type Db = Knex | Knex.Transaction;
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

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

const ENTRY_POINTS: Record<string, (db: Knex, table: string, spec: RebuildSpec) => Promise<RebuildResult>> = {
  'inside the runner transaction (foreign keys suspended before BEGIN)': (db, table, spec) =>
    inRunnerTransaction(db, (trx) => rebuildTable(trx, table, spec)),
  'with the knex instance': (db, table, spec) => rebuildTable(db, table, spec),
};

const SHOP = [
  `CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name TEXT, -- display name, (optional)
    age INTEGER CHECK (age >= 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'banned, (really)')),
    note TEXT DEFAULT 'what?',
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`,
  `CREATE UNIQUE INDEX users_lower_name ON users (lower(name))`,
  `CREATE INDEX users_active_age ON users (age) WHERE status = 'active'`,
  `CREATE INDEX users_name_nocase ON users (name COLLATE NOCASE DESC)`,
  `CREATE INDEX users_status_age ON users (status, age)`,
  `CREATE TABLE user_logins (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, ip TEXT)`,
  `CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE SET NULL, token TEXT)`,
  `CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT, FOREIGN KEY (user_id) REFERENCES users (id))`,
  `CREATE TABLE audit (id INTEGER PRIMARY KEY, msg TEXT)`,
  `CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit (msg) VALUES ('new user ' || NEW.email); END`,
  `CREATE VIEW active_users AS SELECT id, email, name FROM users WHERE status = 'active'`,
  `CREATE VIEW login_counts AS SELECT u.email, count(l.id) AS n FROM users u LEFT JOIN user_logins l ON l.user_id = u.id GROUP BY u.id`,
];

/** users 1-4 (5 was the newest and got deleted), 3 logins, 2 sessions and 2 posts each, with foreign keys ON. */
async function createShop(db: Knex): Promise<void> {
  for (const sql of SHOP) await db.raw(sql);
  await db.raw(`INSERT INTO users (email, name, age, status, created_at) VALUES
    ('alice@x', 'Alice', 30, 'active', '2020-01-01 10:00:00'),
    ('bob@x', NULL, NULL, 'banned, (really)', '2020-01-02 10:00:00'),
    ('carol@x', 'Carol', 41, 'active', '2020-01-03 10:00:00'),
    ('dave@x', 'Dave', 0, 'active', '2020-01-04 10:00:00'),
    ('erin@x', 'Erin', 22, 'active', '2020-01-05 10:00:00')`);
  await db.raw(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2)
    INSERT INTO user_logins (user_id, ip) SELECT users.id, '10.0.' || users.id || '.' || n.i FROM users, n`);
  await db.raw(`INSERT INTO sessions (user_id, token) SELECT id, 'tok-' || id || '-' || k FROM users, (SELECT 1 AS k UNION ALL SELECT 2)`);
  await db.raw(`INSERT INTO posts (user_id, body) SELECT id, 'post by ' || email || k FROM users, (SELECT 'a' AS k UNION ALL SELECT 'b') WHERE id < 5`);
  await db.raw('DELETE FROM sessions WHERE user_id = 5');
  await db.raw('DELETE FROM users WHERE id = 5'); // cascades its logins; AUTOINCREMENT must never reuse 5
}

interface Snapshot {
  schema: Row[];
  rows: Record<string, Row[]>;
}

/** Every sqlite_master entry (root pages included) and every row of every table, rowids included. */
async function snapshot(db: Db): Promise<Snapshot> {
  const schema = (await db.raw('SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY type, name')) as Row[];
  const rows: Record<string, Row[]> = {};
  const tables = (await db.raw(
    `SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name <> 'sqlite_schema' ORDER BY name`,
  )) as { name: string; wr: number }[];
  for (const { name, wr } of tables) rows[name] = await tableRows(db, name, wr === 1);
  return { schema, rows };
}

async function tableRows(db: Db, table: string, withoutRowid = false): Promise<Row[]> {
  if (withoutRowid) return rowsOf(db, table, '1, 2');
  if (table === 'sqlite_sequence') return rowsOf(db, table, 'name'); // its rowids are SQLite's business
  return (await db.raw(`SELECT _rowid_ AS "(rowid)", * FROM ${q(table)} ORDER BY _rowid_`)) as Row[];
}

const dataOf = (s: Snapshot) => s.rows;
const without = (rows: Row[], ...cols: string[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !cols.includes(k))));
const sqlOf = async (db: Db, name: string) =>
  ((await db.raw('SELECT sql FROM sqlite_master WHERE name = ?', [name])) as { sql: string }[])[0]?.sql;
const pragma = async (db: Db, sql: string) => Object.values(((await db.raw(`PRAGMA ${sql}`)) as Row[])[0] ?? {})[0];
const tempTables = async (db: Db) => (await db.raw(`SELECT name FROM sqlite_master WHERE name LIKE '%ksm_rebuild%'`)) as Row[];

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** The rebuild fails with `type` and leaves schema, data and pragmas exactly as they were, with no temp table. */
async function expectUnchangedFailure(db: Knex, run: () => Promise<unknown>, type: new (...args: never[]) => Error, message: RegExp) {
  const before = await snapshot(db);
  const pragmas = [await pragma(db, 'foreign_keys'), await pragma(db, 'legacy_alter_table')];
  const err = await rejection(run());
  expect(err, err.stack).to.be.instanceOf(type);
  expect(err.message).to.match(message);
  expect(await snapshot(db)).to.deep.equal(before);
  expect(await tempTables(db)).to.deep.equal([]);
  expect([await pragma(db, 'foreign_keys'), await pragma(db, 'legacy_alter_table')]).to.deep.equal(pragmas);
  return err;
}

describe('rebuildTable (SQLite)', () => {
  let db: Knex;
  beforeEach(async () => {
    db = memoryDb();
    await createShop(db);
  });
  afterEach(async () => {
    setRebuildStepHook(undefined);
    await db.destroy();
  });

  describe('why it exists', () => {
    /** users 1-3 with 5 CASCADE logins and 2 SET NULL sessions, foreign keys ON. */
    async function smallShop(): Promise<Knex> {
      const small = memoryDb();
      await small.raw('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, note TEXT)');
      await small.raw('CREATE TABLE logins (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) ON DELETE CASCADE)');
      await small.raw('CREATE TABLE sessions (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) ON DELETE SET NULL)');
      await small.raw(`INSERT INTO users (name) VALUES ('a'), ('b'), ('c')`);
      await small.raw('INSERT INTO logins (user_id) VALUES (1), (1), (2), (3), (3)');
      await small.raw('INSERT INTO sessions (user_id) VALUES (1), (2)');
      return small;
    }

    it("knex's own alterTable rebuild inside a transaction with foreign keys ON wipes CASCADE children and nulls SET NULL ones", async () => {
      const small = await smallShop();
      try {
        await small.transaction(async (trx) => {
          expect(await pragma(trx, 'foreign_keys')).to.equal(1);
          await trx.raw('PRAGMA foreign_keys = OFF'); // pitfall 2: a silent no-op inside a transaction
          expect(await pragma(trx, 'foreign_keys')).to.equal(1);
          await trx.schema.alterTable('users', (t) => {
            t.dropColumn('note');
          });
        });
        expect(await small('users').count({ n: '*' })).to.deep.equal([{ n: 3 }]);
        expect(await small('logins').count({ n: '*' })).to.deep.equal([{ n: 0 }]); // all 5 gone, no error
        expect(await small('sessions').pluck('user_id')).to.deep.equal([null, null]);
        expect(await small.raw('PRAGMA foreign_key_check')).to.deep.equal([]); // and nothing reports it
      } finally {
        await small.destroy();
      }
    });

    it('rebuildTable doing the same inside the runner transaction keeps them all', async () => {
      const small = await smallShop();
      try {
        const before = await snapshot(small);
        await inRunnerTransaction(small, (trx) => rebuildTable(trx, 'users', { dropColumns: ['note'] }));
        const after = await snapshot(small);
        expect(after.rows.users).to.deep.equal(without(before.rows.users, 'note'));
        expect(after.rows.logins).to.deep.equal(before.rows.logins).and.to.have.length(5);
        expect(after.rows.sessions).to.deep.equal(before.rows.sessions);
        expect(await pragma(small, 'foreign_keys')).to.equal(1);
      } finally {
        await small.destroy();
      }
    });
  });

  for (const [entry, rebuild] of Object.entries(ENTRY_POINTS)) {
    describe(entry, () => {
      it('keeps CASCADE, SET NULL and NO ACTION children intact, with foreign keys ON before and after', async () => {
        expect(await pragma(db, 'foreign_keys')).to.equal(1);
        const before = await snapshot(db);
        const result = await rebuild(db, 'users', { addColumns: { is_admin: 'BOOLEAN NOT NULL DEFAULT 0' } });
        expect(result).to.deep.equal({ table: 'users', rowsCopied: 4, indexesRestored: 4, triggersRestored: 1 });

        const after = dataOf(await snapshot(db));
        expect(Object.keys(after)).to.deep.equal(Object.keys(before.rows));
        for (const table of Object.keys(before.rows)) {
          const rows = table === 'users' ? without(after[table], 'is_admin') : after[table];
          expect(rows, table).to.deep.equal(before.rows[table]);
        }
        expect(after.user_logins).to.have.length(12);
        expect(after.sessions).to.have.length(8);
        expect(after.posts).to.have.length(8);
        expect(after.users.map((u) => u.is_admin)).to.deep.equal([0, 0, 0, 0]);
        expect(await pragma(db, 'foreign_keys')).to.equal(1);
        expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);

        // The children's keys still point at the live table.
        await db.raw('DELETE FROM posts WHERE user_id = 1');
        await db.raw('DELETE FROM users WHERE id = 1');
        expect(await db('user_logins').where({ user_id: 1 }).count({ n: '*' })).to.deep.equal([{ n: 0 }]);
        expect(await db('sessions').whereNull('user_id').count({ n: '*' })).to.deep.equal([{ n: 2 }]);
        expect(await rejection(db.raw('DELETE FROM users WHERE id = 2'))).to.match(/FOREIGN KEY constraint failed/);
      });

      it('leaves the children saying REFERENCES users, so later child inserts work', async () => {
        const children = ['user_logins', 'sessions', 'posts'];
        const ddl = await Promise.all(children.map((c) => sqlOf(db, c)));
        await rebuild(db, 'users', { dropColumns: ['note'] });
        expect(await Promise.all(children.map((c) => sqlOf(db, c)))).to.deep.equal(ddl);
        for (const c of children) expect(await db.raw(`PRAGMA foreign_key_list(${c})`), c).to.have.nested.property('[0].table', 'users');
        await db('user_logins').insert({ user_id: 2, ip: 'x' });
        expect(await rejection(db('user_logins').insert({ user_id: 99, ip: 'x' }))).to.match(/FOREIGN KEY constraint failed/);
      });

      it('keeps views returning the same rows, and triggers existing and firing', async () => {
        const views = [await db('active_users').orderBy('id'), await db('login_counts').orderBy('email')];
        const trigger = await sqlOf(db, 'users_audit');
        await rebuild(db, 'users', { addColumns: { bio: 'TEXT' } });
        expect([await db('active_users').orderBy('id'), await db('login_counts').orderBy('email')]).to.deep.equal(views);
        expect(await sqlOf(db, 'users_audit')).to.equal(trigger);
        await db('users').insert({ email: 'frank@x' });
        expect(await db('audit').orderBy('id', 'desc').first()).to.include({ msg: 'new user frank@x' });
      });

      it('restores every index kind and still enforces uniqueness, including COLLATE NOCASE and expressions', async () => {
        const indexSql = await db.raw(`SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`);
        const indexList = await db.raw('SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name', ['users']);
        const columns = await db.raw('SELECT * FROM pragma_index_xinfo(?)', ['users_name_nocase']);
        await rebuild(db, 'users', { addColumns: { bio: 'TEXT' } });
        expect(await db.raw(`SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`)).to.deep.equal(indexSql);
        expect(await db.raw('SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name', ['users'])).to.deep.equal(indexList);
        expect(await db.raw('SELECT * FROM pragma_index_xinfo(?)', ['users_name_nocase'])).to.deep.equal(columns);
        expect(await rejection(db('users').insert({ email: 'ALICE@X' }))).to.match(/UNIQUE constraint failed: users.email/);
        expect(await rejection(db('users').insert({ email: 'new@x', name: 'CAROL' }))).to.match(/UNIQUE constraint failed: index 'users_lower_name'/);
        const plan = (await db.raw(`EXPLAIN QUERY PLAN SELECT id FROM users WHERE status = 'active' AND age > 10`)) as { detail: string }[];
        expect(plan.map((p) => p.detail).join(' ')).to.match(/users_active_age|users_status_age/);
      });

      it('hands out an AUTOINCREMENT id above any id ever used, even a deleted one', async () => {
        expect(await db('users').max({ m: 'id' })).to.deep.equal([{ m: 4 }]);
        await rebuild(db, 'users', { addColumns: { bio: 'TEXT' } });
        expect(await db.raw(`SELECT seq FROM sqlite_sequence WHERE name = 'users'`)).to.deep.equal([{ seq: 5 }]);
        expect(await db('users').insert({ email: 'new@x' })).to.deep.equal([6]);
      });

      it('still enforces CHECK and applies DEFAULTs, including CURRENT_TIMESTAMP', async () => {
        await rebuild(db, 'users', { addColumns: { bio: 'TEXT' } });
        expect(await rejection(db('users').insert({ email: 'neg@x', age: -1 }))).to.match(/CHECK constraint failed/);
        expect(await rejection(db('users').insert({ email: 'st@x', status: 'other' }))).to.match(/CHECK constraint failed/);
        await db('users').insert({ email: 'def@x' });
        const row = (await db('users').where({ email: 'def@x' }).first()) as Row;
        expect(row).to.include({ status: 'active', note: 'what?' });
        expect(String(row.created_at)).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      });

      it('reports a child row that already points at a missing parent, and changes nothing', async () => {
        await db.raw('PRAGMA foreign_keys = OFF');
        const [orphan] = await db('user_logins').insert({ user_id: 404, ip: 'orphan' });
        await db.raw('PRAGMA foreign_keys = ON');
        const err = await expectUnchangedFailure(
          db,
          () => rebuild(db, 'users', { addColumns: { bio: 'TEXT' } }),
          ForeignKeyViolationError,
          new RegExp(`after the rebuild: 1 foreign key violation\\(s\\) \\(user_logins rowid ${orphan} -> users\\)`),
        );
        expect(err).to.include({ code: 'FOREIGN_KEY_VIOLATION' });
      });

      describe('a failure at any step leaves schema and data exactly as before, with no temporary table', () => {
        for (const step of REBUILD_STEPS) {
          it(`after ${step}`, async () => {
            setRebuildStepHook((s) => {
              if (s === step) throw new Error(`injected at ${s}`);
            });
            await db.raw('PRAGMA legacy_alter_table = ON'); // must come back as it was, too
            await expectUnchangedFailure(
              db,
              () => rebuild(db, 'users', { renameColumns: { name: 'full_name' }, addColumns: { bio: 'TEXT' }, dropColumns: ['note'] }),
              RebuildError,
              new RegExp(`injected at ${step}.*rolled back`),
            );
          });
        }
      });
    });
  }

  describe('column changes', () => {
    const rebuild = ENTRY_POINTS['inside the runner transaction (foreign keys suspended before BEGIN)'];

    it('drops a plain column and keeps everything else', async () => {
      const before = await snapshot(db);
      await rebuild(db, 'users', { dropColumns: ['note'] });
      const after = await snapshot(db);
      expect(after.rows.users).to.deep.equal(without(before.rows.users, 'note'));
      const otherObjects = (s: Snapshot) => without(s.schema, 'rootpage').filter((o) => o.name !== 'users');
      expect(otherObjects(after)).to.deep.equal(otherObjects(before));
      expect(await sqlOf(db, 'users')).to.not.match(/note/);
      expect(await sqlOf(db, 'users')).to.match(/-- display name, \(optional\)/);
    });

    it('refuses to drop a column an index uses, naming it, unless dropDependentIndexes', async () => {
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { dropColumns: ['age'] }), RebuildError, /"age".*index "users_active_age".*index "users_status_age".*dropDependentIndexes/);
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { dropColumns: ['name'] }), RebuildError, /index "users_lower_name".*index "users_name_nocase".*view "active_users"/);
      // Past the indexes, the view that reads users.name (as SQLite resolves it) still stops it.
      await expectUnchangedFailure(
        db,
        () => rebuild(db, 'users', { dropColumns: ['name'], dropDependentIndexes: true }),
        RebuildError,
        /cannot drop "name": still used by view "active_users".*nothing was changed/,
      );

      await db.raw('DROP VIEW active_users');
      const result = await rebuild(db, 'users', { dropColumns: ['name'], dropDependentIndexes: true });
      expect(result.indexesRestored).to.equal(2);
      expect(await db.raw(`SELECT name FROM pragma_index_list('users') WHERE origin = 'c' ORDER BY name`)).to.deep.equal([
        { name: 'users_active_age' },
        { name: 'users_status_age' },
      ]);
    });

    it('refuses to drop a column a CHECK, a foreign key, a trigger or a view uses, naming it', async () => {
      await db.raw('CREATE TABLE pairs (a INT, b INT, c INT REFERENCES audit(id), CHECK (a < b))');
      await expectUnchangedFailure(db, () => rebuild(db, 'pairs', { dropColumns: ['b'] }), RebuildError, /table constraint CHECK \(a < b\)/);
      await expectUnchangedFailure(db, () => rebuild(db, 'posts', { dropColumns: ['user_id'] }), RebuildError, /FOREIGN KEY \(user_id\) REFERENCES users/);
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { dropColumns: ['email'] }), RebuildError, /trigger "users_audit"/);
      await expectUnchangedFailure(db, () => rebuild(db, 'audit', { dropColumns: ['id'] }), RebuildError, /foreign key "pairs"\("c"\)/);
      await db.raw('CREATE TABLE invites (id INTEGER PRIMARY KEY, email TEXT REFERENCES users(email))');
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { dropColumns: ['email'] }), RebuildError, /foreign key "invites"\("email"\)/);
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { dropColumns: ['status'], dropDependentIndexes: true }), RebuildError, /view "active_users"/);
    });

    it("resolves a view's columns exactly: a same-named column of another table in a join does not block a drop, and every broken object is named at once", async () => {
      await db.raw('CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, label TEXT)');
      await db.raw('CREATE TABLE prices (sku TEXT, label TEXT, cents INT)');
      await db.raw(`INSERT INTO items (sku, label) VALUES ('a', 'apple'), ('b', NULL)`);
      await db.raw(`INSERT INTO prices VALUES ('a', 'promo', 100)`);
      // label here is prices.label: the words "items" and "label" both appear, yet items.label is not used.
      await db.raw('CREATE VIEW priced AS SELECT i.id, p.label, p.cents FROM items i JOIN prices p ON p.sku = i.sku');
      await db.raw(`CREATE TRIGGER prices_touch AFTER UPDATE ON prices BEGIN UPDATE prices SET label = NEW.label WHERE sku IN (SELECT items.sku FROM items); END`);
      const before = await snapshot(db);
      await rebuild(db, 'items', { dropColumns: ['label'] });
      const after = await snapshot(db);
      expect(after.rows.items).to.deep.equal(without(before.rows.items, 'label'));
      expect(await db.raw('SELECT * FROM priced')).to.deep.equal([{ id: 1, label: 'promo', cents: 100 }]);

      // Three objects that really use items.sku: all named in one refusal.
      await db.raw('CREATE VIEW skus AS SELECT sku FROM items');
      const err = await expectUnchangedFailure(db, () => rebuild(db, 'items', { dropColumns: ['sku'] }), RebuildError, /nothing was changed/);
      expect(err.message).to.match(/cannot drop "sku": still used by /);
      for (const object of ['view "priced"', 'view "skus"', 'trigger "prices_touch"']) expect(err.message).to.include(object);

      // A subquery's column that resolves to this table now would resolve to an outer one after the drop:
      // SQLite (which resolves the innermost scope first) says the view uses items.label — refused.
      await db.raw('DROP VIEW skus');
      await db.raw('CREATE TABLE tags (id INTEGER PRIMARY KEY, sku TEXT)');
      await db.raw('CREATE VIEW tagged AS SELECT t.id FROM tags AS t WHERE t.id IN (SELECT id FROM items WHERE sku IS NOT NULL)');
      await db.raw('DROP VIEW priced');
      await db.raw('DROP TRIGGER prices_touch');
      await expectUnchangedFailure(db, () => rebuild(db, 'items', { dropColumns: ['sku'] }), RebuildError, /cannot drop "sku": still used by view "tagged"/);
    });

    it('refuses a drop that would break an FTS5 index whose content is the table, even when the table is empty', async () => {
      await db.raw('CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT, extra TEXT)');
      await db.raw(`CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, content='docs', content_rowid='id')`);
      for (const rows of [0, 2]) {
        if (rows > 0) {
          await db.raw(`INSERT INTO docs (title, body, extra) VALUES ('hello', 'world', 'x'), ('foo', 'bar', 'y')`);
          await db.raw(`INSERT INTO docs_fts (docs_fts) VALUES ('rebuild')`);
        }
        await expectUnchangedFailure(
          db,
          () => rebuild(db, 'docs', { dropColumns: ['body'] }),
          RebuildError,
          /virtual table "docs_fts" would no longer work \(.*no such column: T\.body.*nothing was changed/,
        );
      }
      // A column the index does not read may go; the index still finds the same rows.
      await rebuild(db, 'docs', { dropColumns: ['extra'] });
      expect(await db.raw(`SELECT rowid, title, body FROM docs_fts WHERE docs_fts MATCH 'world'`)).to.deep.equal([{ rowid: 1, title: 'hello', body: 'world' }]);
    });

    it('verifies renames the same way: a view over a view and an FTS5 index reading the old name refuse the rename', async () => {
      await db.raw('CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT)');
      await db.raw(`INSERT INTO docs (title, body) VALUES ('hello', 'world')`);
      await db.raw('CREATE VIEW docs_all AS SELECT * FROM docs');
      await db.raw('CREATE VIEW docs_titles AS SELECT title FROM docs_all');
      const viaView = await expectUnchangedFailure(db, () => rebuild(db, 'docs', { renameColumns: { title: 'heading' } }), RebuildError, /nothing was changed/);
      expect(viaView.message).to.match(/docs_titles/);

      await db.raw('DROP VIEW docs_titles');
      await db.raw(`CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, content='docs', content_rowid='id')`);
      await db.raw(`INSERT INTO docs_fts (docs_fts) VALUES ('rebuild')`);
      await expectUnchangedFailure(
        db,
        () => rebuild(db, 'docs', { renameColumns: { body: 'text' } }),
        RebuildError,
        /virtual table "docs_fts" would no longer work \(no such column: T\.body\); nothing was changed/,
      );
    });

    it('an object that was already broken before the rebuild does not block it, and stays as it was', async () => {
      await db.raw('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, tag TEXT)');
      await db.raw(`INSERT INTO notes (body, tag) VALUES ('a', 't')`);
      // SQLite accepts a view over a table that does not exist yet; it fails whenever used.
      await db.raw('CREATE VIEW orphan AS SELECT * FROM not_yet_created');
      await rebuild(db, 'notes', { dropColumns: ['tag'] });
      expect(await db.raw('SELECT * FROM notes')).to.deep.equal([{ id: 1, body: 'a' }]);
      expect(await sqlOf(db, 'orphan')).to.equal('CREATE VIEW orphan AS SELECT * FROM not_yet_created');
    });

    it('refuses to make a column NOT NULL over existing NULLs, unless copy fills them', async () => {
      await expectUnchangedFailure(
        db,
        () => rebuild(db, 'users', { alterColumns: { age: 'INTEGER NOT NULL CHECK (age >= 0)' } }),
        RebuildError,
        /"age" would become NOT NULL but 1 row\(s\) hold NULL.*coalesce/,
      );
      await expectUnchangedFailure(db, () => rebuild(db, 'users', { addColumns: { tier: 'INT NOT NULL' } }), RebuildError, /"tier" is NOT NULL without a DEFAULT/);
      const before = await tableRows(db, 'users');
      await rebuild(db, 'users', { alterColumns: { age: 'INTEGER NOT NULL DEFAULT 18 CHECK (age >= 0)' }, copy: { age: 'coalesce(age, 18)' } });
      expect(await tableRows(db, 'users')).to.deep.equal(before.map((u) => ({ ...u, age: u.age ?? 18 })));
      expect((await db.raw(`SELECT "notnull", dflt_value FROM pragma_table_info('users') WHERE name = 'age'`)) as Row[]).to.deep.equal([
        { notnull: 1, dflt_value: '18' },
      ]);
    });

    it('reads NOT NULL as a constraint only outside parentheses: IS NOT NULL inside a CHECK is not one', async () => {
      await db.raw('CREATE TABLE memos (id INTEGER PRIMARY KEY, note TEXT)');
      await db.raw(`INSERT INTO memos (note) VALUES ('a'), (NULL), ('b')`);
      const before = await db.raw('SELECT id, note FROM memos ORDER BY id');
      await rebuild(db, 'memos', {
        alterColumns: { note: 'TEXT CHECK (note IS NULL OR (note IS NOT NULL AND length(note) > 0))' },
        addColumns: { tag: "TEXT CHECK (tag IS NULL OR tag IS NOT NULL)" },
      });
      expect(await db.raw('SELECT id, note FROM memos ORDER BY id')).to.deep.equal(before);
      expect(await rejection(db.raw(`INSERT INTO memos (note) VALUES ('')`))).to.match(/CHECK constraint failed/);
      // A real NOT NULL is still refused over the NULL row.
      const refused = await rejection(rebuild(db, 'memos', { alterColumns: { note: 'TEXT NOT NULL CHECK (note IS NOT NULL)' } }));
      expect(refused).to.match(/would become NOT NULL but 1 row\(s\) hold NULL/);
    });

    it('verifies the whole schema: a view over a view of the table, and a trigger elsewhere reading it, block a drop that breaks them', async () => {
      await db.raw('CREATE TABLE stock (id INTEGER PRIMARY KEY, sku TEXT, qty INT)');
      await db.raw('CREATE VIEW stock_v AS SELECT * FROM stock');
      await db.raw('CREATE VIEW low_stock AS SELECT sku FROM stock_v WHERE qty < 5');
      await db.raw(`INSERT INTO stock (sku, qty) VALUES ('a', 1), ('b', 9)`);
      const before = await snapshot(db);
      // low_stock never names "stock": only a check of every view finds that it needs stock.qty.
      const viaView = await rejection(rebuild(db, 'stock', { dropColumns: ['qty'] }));
      expect(viaView).to.be.instanceOf(RebuildError);
      expect(viaView.message).to.match(/view "low_stock" would no longer work \(.*no such column: qty/);
      expect(await snapshot(db)).to.deep.equal(before);

      await db.raw('DROP VIEW low_stock');
      await db.raw('CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT)');
      await db.raw(`CREATE TRIGGER orders_check BEFORE INSERT ON orders BEGIN
        SELECT RAISE(ABORT, 'out of stock') WHERE (SELECT qty FROM stock_v WHERE sku = NEW.sku) = 0; END`);
      const before2 = await snapshot(db);
      const viaTrigger = await rejection(rebuild(db, 'stock', { dropColumns: ['qty'], transformSql: (sql) => sql }));
      // stock_v (SELECT *) still runs without qty; the trigger on orders does not compile any more.
      expect(viaTrigger.message).to.match(/trigger "orders_check" would no longer work \(.*no such column: qty/);
      expect(await snapshot(db)).to.deep.equal(before2);
      await db.raw(`INSERT INTO orders (sku) VALUES ('a')`);
    });

    it('fills a new column from an expression over the old columns', async () => {
      await rebuild(db, 'users', {
        addColumns: { label: `TEXT NOT NULL DEFAULT ''`, is_adult: 'INT' },
        copy: { label: `coalesce(name, '?') || ' <' || email || '>'`, is_adult: 'age >= 18' },
      });
      expect(await db('users').orderBy('id').select('label', 'is_adult')).to.deep.equal([
        { label: 'Alice <alice@x>', is_adult: 1 },
        { label: '? <bob@x>', is_adult: null },
        { label: 'Carol <carol@x>', is_adult: 1 },
        { label: 'Dave <dave@x>', is_adult: 0 },
      ]);
    });

    it('renames columns and rewrites the indexes, triggers, views and child keys that use them', async () => {
      await db.raw('CREATE TABLE invites (id INTEGER PRIMARY KEY, email TEXT REFERENCES users(email))');
      await db.raw(`INSERT INTO invites (email) VALUES ('bob@x')`);
      const before = await tableRows(db, 'users');
      const view = await db('active_users').orderBy('id');
      await rebuild(db, 'users', { renameColumns: { name: 'full_name', email: 'mail' }, alterColumns: { full_name: 'TEXT COLLATE NOCASE' } });
      expect(await tableRows(db, 'users')).to.deep.equal(before.map(({ name, email, ...u }) => ({ ...u, mail: email, full_name: name })));
      expect(await sqlOf(db, 'users_lower_name')).to.equal('CREATE UNIQUE INDEX users_lower_name ON users (lower("full_name"))');
      expect(await sqlOf(db, 'invites')).to.match(/REFERENCES users\("mail"\)/);
      expect((await db('active_users').orderBy('id')).map((r: Row) => Object.values(r))).to.deep.equal(view.map((r: Row) => Object.values(r)));
      await db('users').insert({ mail: 'zed@x', full_name: 'Zed' });
      expect(await db('audit').orderBy('id', 'desc').first()).to.include({ msg: 'new user zed@x' });
      expect(await rejection(db('users').insert({ mail: 'zed2@x', full_name: 'ZED' }))).to.match(/UNIQUE/);
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
    });

    it('appends table constraints and lets transformSql edit the statement under the real name', async () => {
      let seen = '';
      await rebuild(db, 'users', {
        addConstraints: [`CHECK (email LIKE '%@%')`],
        transformSql: (sql) => {
          seen = sql;
          return sql.replace(/note TEXT DEFAULT 'what\?'/, `note TEXT DEFAULT 'hello'`);
        },
      });
      expect(seen).to.match(/^CREATE TABLE "users" \(/);
      expect(await rejection(db('users').insert({ email: 'nope' }))).to.match(/CHECK constraint failed/);
      await db('users').insert({ email: 'ok@x' });
      expect(await db('users').where({ email: 'ok@x' }).first()).to.include({ note: 'hello' });
    });

    describe('fails cleanly on bad input, changing nothing', () => {
      const cases: [string, RebuildSpec, RegExp][] = [
        ['invalid SQL from transformSql', { transformSql: (sql) => sql.replace('CHECK (age >= 0)', 'CHECK (age >=)') }, /syntax error/],
        ['transformSql returning two statements', { transformSql: (sql) => `${sql}; DROP TABLE posts` }, /unexpected/],
        ['a copy expression that fails at run time', { addColumns: { meta: 'TEXT' }, copy: { meta: `json('not json')` } }, /malformed JSON/],
        ['a copy expression that breaks a CHECK', { copy: { age: '-1' } }, /CHECK constraint failed/],
        ['a copy target that is not a column', { copy: { nope: '1' } }, /copy: "nope" is not a writable column/],
        ['a new UNIQUE that would silently drop duplicates', { alterColumns: { status: `TEXT UNIQUE ON CONFLICT IGNORE` } }, /kept 2 of 4 rows/],
        ['an unknown column to drop', { dropColumns: ['nope'] }, /no column "nope"/],
        ['an unknown column to rename', { renameColumns: { nope: 'x' } }, /renameColumns: no column "nope"/],
        ['a rename onto an existing name', { renameColumns: { name: 'email' } }, /duplicate column name/],
        ['an existing column to add', { addColumns: { Email: 'TEXT' } }, /already exists/],
      ];
      for (const [what, spec, message] of cases) {
        it(what, async () => {
          const err = await expectUnchangedFailure(db, () => rebuild(db, 'users', spec), RebuildError, message);
          expect(err.message).to.not.match(/_ksm_rebuild_/);
        });
      }

      it('a missing table', async () => {
        await expectUnchangedFailure(db, () => rebuild(db, 'nope', {}), RebuildError, /rebuildTable\(nope\): no such table/);
      });
    });
  });

  describe('unusual tables', () => {
    const rebuild = ENTRY_POINTS['with the knex instance'];

    it('quoted, mixed-case and odd names, written with "", ``, [] and found case-insensitively', async () => {
      await db.raw(`CREATE TABLE "Odd ""Table"" Name" (
        [Row Id] INTEGER PRIMARY KEY, \`Mixed Case\` TEXT NOT NULL, "it's" TEXT DEFAULT 'a, b', "select" INT CHECK ("select" > 0))`);
      await db.raw(`CREATE INDEX "Odd idx" ON "Odd ""Table"" Name" (\`Mixed Case\`, "select")`);
      await db.raw(`CREATE TABLE kids (id INTEGER PRIMARY KEY, odd_id INT REFERENCES "Odd ""Table"" Name"([Row Id]) ON DELETE CASCADE)`);
      await db.raw(`INSERT INTO "Odd ""Table"" Name" VALUES (7, 'A', 'x', 1), (9, 'B', NULL, 2)`);
      await db.raw('INSERT INTO kids (odd_id) VALUES (7), (9), (9)');
      const before = await snapshot(db);
      const result = await rebuild(db, 'odd "TABLE" name', { addColumns: { 'New "Col"': 'TEXT' }, renameColumns: { 'Mixed Case': 'Mixed "Case"' } });
      expect(result.table).to.equal('Odd "Table" Name');
      const after = await snapshot(db);
      expect(after.rows.kids).to.deep.equal(before.rows.kids);
      expect(after.rows['Odd "Table" Name'].map((r) => Object.values(r))).to.deep.equal(
        before.rows['Odd "Table" Name'].map((r) => [...Object.values(r), null]),
      );
      expect(await sqlOf(db, 'Odd idx')).to.equal(`CREATE INDEX "Odd idx" ON "Odd ""Table"" Name" ("Mixed ""Case""", "select")`);
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
    });

    it('WITHOUT ROWID and STRICT tables keep their kind, rows and rules', async () => {
      await db.raw(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID, STRICT`);
      await db.raw(`CREATE TABLE st (id INTEGER PRIMARY KEY, n INTEGER, t TEXT) STRICT`);
      await db.raw(`INSERT INTO kv VALUES ('b', 2), ('a', 1)`);
      await db.raw(`INSERT INTO st (n, t) VALUES (1, 'x'), (2, 'y')`);
      const before = await snapshot(db);
      await rebuild(db, 'kv', { addColumns: { note: 'TEXT' } });
      await rebuild(db, 'st', { dropColumns: ['t'] });
      const after = await snapshot(db);
      expect(without(after.rows.kv, 'note')).to.deep.equal(before.rows.kv);
      expect(after.rows.st).to.deep.equal(without(before.rows.st, 't'));
      expect(await db.raw(`SELECT name, wr, strict FROM pragma_table_list WHERE name IN ('kv', 'st') ORDER BY name`)).to.deep.equal([
        { name: 'kv', wr: 1, strict: 1 },
        { name: 'st', wr: 0, strict: 1 },
      ]);
      expect(await rejection(db.raw(`INSERT INTO kv (k, v) VALUES ('a', 3)`))).to.match(/UNIQUE constraint failed/);
      expect(await rejection(db.raw(`INSERT INTO st (n) VALUES ('abc')`))).to.match(/cannot store TEXT value in INTEGER column/);
    });

    it('keeps rowids of tables without an INTEGER PRIMARY KEY, and INTEGER PRIMARY KEY values, gaps included', async () => {
      await db.raw('CREATE TABLE plain (name TEXT)');
      await db.raw(`INSERT INTO plain (rowid, name) VALUES (3, 'c'), (10, 'j'), (42, 'x')`);
      await db.raw(`DELETE FROM user_logins WHERE id % 3 = 0`);
      const before = await snapshot(db);
      await rebuild(db, 'plain', { addColumns: { extra: 'TEXT' } });
      await rebuild(db, 'user_logins', { addColumns: { extra: 'TEXT' } });
      const after = await snapshot(db);
      expect(without(after.rows.plain, 'extra')).to.deep.equal([{ '(rowid)': 3, name: 'c' }, { '(rowid)': 10, name: 'j' }, { '(rowid)': 42, name: 'x' }]);
      expect(without(after.rows.user_logins, 'extra')).to.deep.equal(before.rows.user_logins);
    });

    it("keeps the query planner's statistics (sqlite_stat1) of the table and of every index that survives", async () => {
      await db.raw('CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, city TEXT, age INT, note TEXT)');
      await db.raw('CREATE INDEX people_city ON people (city)');
      await db.raw('CREATE INDEX people_note ON people (note)');
      await db.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
        INSERT INTO people (email, city, age, note) SELECT 'p' || i || '@x', 'city' || (i % 7), i % 90, 'n' || (i % 3) FROM n`);
      await db.raw('ANALYZE');
      const statsOf = () => db.raw(`SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx`) as Promise<{ tbl: string; idx: string | null; stat: string }[]>;
      const before = await statsOf();
      expect(before.filter((r) => r.tbl === 'people').map((r) => r.idx)).to.have.members(['people_city', 'people_note', 'sqlite_autoindex_people_1']);

      await rebuild(db, 'people', { addColumns: { nickname: 'TEXT' } });
      expect(await statsOf(), 'every row kept, the other tables untouched').to.deep.equal(before);

      await rebuild(db, 'people', { dropColumns: ['note'], dropDependentIndexes: true });
      expect(await statsOf(), "the dropped index's row goes with it").to.deep.equal(before.filter((r) => r.idx !== 'people_note'));
      // The planner uses them at once: the plan for a city lookup goes through the index.
      const plan = (await db.raw(`EXPLAIN QUERY PLAN SELECT * FROM people WHERE city = 'city3'`)) as { detail: string }[];
      expect(plan.map((r) => r.detail).join(' ')).to.match(/USING INDEX people_city/);
    });

    it('a table without statistics stays without, and no sqlite_stat1 is created', async () => {
      await rebuild(db, 'user_logins', { addColumns: { extra: 'TEXT' } });
      expect(await db.raw(`SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'`)).to.deep.equal([]);
    });

    it('keeps the rowids of a table whose INTEGER PRIMARY KEY DESC column is not a rowid alias', async () => {
      await db.raw('CREATE TABLE desc_keys (id INTEGER PRIMARY KEY DESC, v TEXT)');
      await db.raw(`INSERT INTO desc_keys (rowid, id, v) VALUES (5, 1, 'a'), (9, 2, 'b'), (40, 3, 'c')`);
      const rowids = () => db.raw('SELECT rowid AS r, id, v FROM desc_keys ORDER BY rowid') as Promise<{ r: number; id: number; v: string }[]>;
      const before = await rowids();
      expect(before.map((x) => x.r), 'SQLite keeps rowid and id apart here').to.deep.equal([5, 9, 40]);
      await rebuild(db, 'desc_keys', { addColumns: { extra: 'TEXT' } });
      expect(await rowids()).to.deep.equal(before);
    });

    it('an INTEGER PRIMARY KEY added to a rowid-only table takes the old rowids', async () => {
      await db.raw('CREATE TABLE notes (body TEXT)');
      await db.raw(`INSERT INTO notes (rowid, body) VALUES (3, 'c'), (10, 'j'), (42, 'x')`);
      await rebuild(db, 'notes', { addColumns: { id: 'INTEGER PRIMARY KEY' } });
      expect(await db.raw('SELECT rowid AS r, id, body FROM notes ORDER BY rowid')).to.deep.equal([
        { r: 3, id: 3, body: 'c' },
        { r: 10, id: 10, body: 'j' },
        { r: 42, id: 42, body: 'x' },
      ]);
    });

    it('a self-referencing table keeps every row and reference', async () => {
      await db.raw('CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp(id) ON DELETE CASCADE, name TEXT)');
      await db.raw(`INSERT INTO emp VALUES (1, 3, 'a'), (2, 1, 'b'), (3, NULL, 'c')`);
      for (const [i, run] of Object.values(ENTRY_POINTS).entries()) {
        const before = await tableRows(db, 'emp');
        await run(db, 'emp', { addColumns: { [`extra${i}`]: 'TEXT' } });
        expect((await tableRows(db, 'emp')).map((r) => [r.id, r.boss, r.name])).to.deep.equal(before.map((r) => [r.id, r.boss, r.name]));
      }
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
    });
  });

  describe('inside a caller transaction with foreign keys ON', () => {
    it('refuses when other tables reference the table, naming them, and changes nothing', async () => {
      const err = await expectUnchangedFailure(
        db,
        () => db.transaction((trx) => rebuildTable(trx, 'users', { addColumns: { bio: 'TEXT' } })),
        RebuildError,
        /foreign keys are ON.*"user_logins", "sessions", "posts".*cascade-delete.*runMigrations.*knex instance/,
      );
      expect(err).to.include({ code: 'REBUILD_FAILED' });
    });

    it('refuses for a self-referencing table, whose own rows would hit the copy', async () => {
      await db.raw('CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp(id) ON DELETE CASCADE)');
      await db.raw('INSERT INTO emp VALUES (1, NULL), (2, 1)');
      await expectUnchangedFailure(db, () => db.transaction((trx) => rebuildTable(trx, 'emp', {})), RebuildError, /"emp" reference/);
    });

    it('proceeds when nothing references the table, and reports its own dangling keys', async () => {
      const before = await snapshot(db);
      await db.transaction((trx) => rebuildTable(trx, 'user_logins', { addColumns: { extra: 'TEXT' } }));
      expect(without((await snapshot(db)).rows.user_logins, 'extra')).to.deep.equal(before.rows.user_logins);
      expect(await pragma(db, 'foreign_keys')).to.equal(1);

      await db.raw('PRAGMA foreign_keys = OFF');
      const [orphan] = await db('user_logins').insert({ user_id: 404, ip: 'orphan' });
      await db.raw('PRAGMA foreign_keys = ON');
      await expectUnchangedFailure(
        db,
        () => db.transaction((trx) => rebuildTable(trx, 'user_logins', {})),
        ForeignKeyViolationError,
        new RegExp(`existing rows already violate foreign keys: .*user_logins rowid ${orphan} -> users`),
      );
    });

    it('a failed rebuild rolls back only its savepoint; the caller may carry on', async () => {
      await inRunnerTransaction(db, async (trx) => {
        await trx('audit').insert({ msg: 'before' });
        const err = await rejection(rebuildTable(trx, 'users', { copy: { age: '-1' } }));
        expect(err).to.be.instanceOf(RebuildError);
        await trx('audit').insert({ msg: 'after' });
      });
      expect((await db('audit').pluck('msg')).slice(-2)).to.deep.equal(['before', 'after']);
      expect(await tempTables(db)).to.deep.equal([]);
    });
  });

  describe('other databases', () => {
    it('throws UnsupportedDialectError for a non-SQLite knex, before connecting', async () => {
      const pg = knexFactory({ client: 'pg', connection: { host: '127.0.0.1', port: 1, user: 'x', password: 'secret' } });
      try {
        const err = await rejection(rebuildTable(pg, 'users', { addColumns: { x: 'TEXT' } }));
        expect(err).to.be.instanceOf(UnsupportedDialectError);
        expect(err.message).to.match(/SQLite-only.*postgresql/).and.not.match(/secret/);
      } finally {
        await pg.destroy();
      }
    });
  });

  describe('on files and at size', () => {
    let tmp: ReturnType<typeof tempDir>;
    let file: Knex;
    beforeEach(() => {
      tmp = tempDir();
      file = fileDb(path.join(tmp.dir, 'shop.sqlite'));
    });
    afterEach(async () => {
      await file.destroy();
      tmp.cleanup();
    });

    it('rebuilds a file database through both entry points and the result survives reopening', async () => {
      await createShop(file);
      const before = await snapshot(file);
      for (const [i, run] of Object.values(ENTRY_POINTS).entries()) await run(file, 'users', { addColumns: { [`c${i}`]: 'TEXT' } });
      await file.destroy();
      file = fileDb(path.join(tmp.dir, 'shop.sqlite'));
      const after = await snapshot(file);
      for (const table of Object.keys(before.rows)) {
        expect(table === 'users' ? without(after.rows.users, 'c0', 'c1') : after.rows[table], table).to.deep.equal(before.rows[table]);
      }
      expect(await file.raw('PRAGMA integrity_check')).to.deep.equal([{ integrity_check: 'ok' }]);
      expect(await file.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
    });

    it('rebuilds a 200,000-row table with 200,000 CASCADE children, losing nothing', async () => {
      await file.raw('CREATE TABLE big (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL, n INTEGER)');
      await file.raw('CREATE INDEX big_n ON big (n)');
      await file.raw('CREATE TABLE big_child (id INTEGER PRIMARY KEY, big_id INTEGER NOT NULL REFERENCES big(id) ON DELETE CASCADE)');
      await file.raw(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200000)
        INSERT INTO big (id, v, n) SELECT i, 'value ' || i, i % 97 FROM s`);
      await file.raw('INSERT INTO big_child (big_id) SELECT id FROM big');
      const digest = async () =>
        file.raw(`SELECT count(*) AS n, sum(id) AS ids, sum(length(v)) AS len, sum(n * id % 1000003) AS mix,
          (SELECT count(*) FROM big_child) AS kids, (SELECT sum(big_id) FROM big_child) AS kid_ids FROM big`);
      const before = await digest();
      const result = await inRunnerTransaction(file, (trx) => rebuildTable(trx, 'big', { addColumns: { flag: 'INT NOT NULL DEFAULT 1' } }));
      expect(result.rowsCopied).to.equal(200000);
      expect(await digest()).to.deep.equal(before);
      expect(await file.raw('SELECT count(*) AS n FROM big WHERE flag = 1')).to.deep.equal([{ n: 200000 }]);
      expect(await file.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
    });
  });
});
