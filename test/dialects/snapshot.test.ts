/**
 * Schema snapshots on every engine: stable, equal to the committed migrations/snapshots/<engine>.json after
 * the app's migrations (fresh or, on SQLite, upgraded from the legacy schema), and precise about drift.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import {
  BOOKKEEPING_TABLES,
  diffSnapshots,
  formatDiff,
  readExpectedSnapshot,
  schemaSnapshot,
  serializeSnapshot,
  snapshotPath,
  validateSchema,
  writeExpectedSnapshot,
  type SchemaSnapshot,
  type TableSnapshot,
} from '../../lib/snapshot/snapshot';
import { rebuildTable } from '../../lib/sqlite/rebuild';
import { tempDir } from '../helpers/db';
import { APP_MIGRATIONS_DIR, APP_SNAPSHOTS_DIR } from '../helpers/app';
import { DIALECTS, describeDialect, type TestDialect } from '../helpers/dialects';
import { createLegacyDatabase } from '../helpers/legacy';

const quiet = { logger: silentLogger };

function table(snapshot: SchemaSnapshot, name: string): TableSnapshot {
  const found = snapshot.tables.find((t) => t.name === name);
  if (!found) throw new Error(`no table ${name} in the snapshot`);
  return found;
}

/** Fails with the readable diff, so a migration changed without regenerating the snapshot says what moved. */
function expectSameSchema(expected: SchemaSnapshot, actual: SchemaSnapshot, what: string): void {
  const diffs = diffSnapshots(expected, actual);
  expect(diffs, `${what} (if the migrations changed on purpose, regenerate it from a freshly migrated database: writeExpectedSnapshot, or the CLI's snapshot command):\n${formatDiff(diffs)}\n`).to.deep.equal([]);
  expect(actual).to.deep.equal(expected);
}

/** The change under test, made by hand the way an operator would (SQLite: through rebuildTable). */
async function makeNullable(db: Knex, engine: TestDialect['engine']): Promise<void> {
  if (engine === 'sqlite') await rebuildTable(db, 'users', { alterColumns: { is_admin: 'BOOLEAN DEFAULT 0' } });
  else if (engine === 'postgres') await db.raw('ALTER TABLE users ALTER COLUMN is_admin DROP NOT NULL');
  else await db.raw('ALTER TABLE users MODIFY is_admin TINYINT(1) NULL DEFAULT 0');
}

async function feedbackOnDeleteCascade(db: Knex, engine: TestDialect['engine']): Promise<void> {
  if (engine === 'sqlite') {
    await rebuildTable(db, 'feedback', {
      transformSql: (sql) => {
        if (!sql.includes('on delete SET NULL')) throw new Error(`unexpected feedback DDL: ${sql}`);
        return sql.replace('on delete SET NULL', 'on delete CASCADE');
      },
    });
    return;
  }
  await db.schema.alterTable('feedback', (t) => t.dropForeign(['user_id']));
  await db.schema.alterTable('feedback', (t) => t.foreign('user_id').references('id').inTable('users').onDelete('CASCADE'));
}

describe('diffSnapshots and formatDiff', () => {
  const column = { name: 'email', type: 'text', nullable: false, default: null, autoIncrement: false, generated: null };
  const users: TableSnapshot = { name: 'users', columns: [column], primaryKey: ['id'], indexes: [], uniques: [], foreignKeys: [], checks: [] };
  const base: SchemaSnapshot = { dialect: 'sqlite', tables: [users] };

  it('identical snapshots: no differences and an empty report', () => {
    expect(diffSnapshots(base, JSON.parse(serializeSnapshot(base)) as SchemaSnapshot)).to.deep.equal([]);
    expect(formatDiff([])).to.equal('');
  });

  it('reports removed tables and changed fields and lists by path, one line each', () => {
    const changed: SchemaSnapshot = {
      dialect: 'sqlite',
      tables: [{ ...users, name: 'accounts', columns: [{ ...column, type: 'varchar(255)' }], primaryKey: ['id', 'email'] }],
    };
    const renamed = { ...changed, tables: [...changed.tables, { ...users, columns: [{ ...column, type: 'varchar(255)' }], primaryKey: ['id', 'email'] }] };
    const diffs = diffSnapshots(base, renamed);
    expect(diffs).to.deep.equal([
      { kind: 'added', path: 'accounts', actual: renamed.tables[0] },
      { kind: 'changed', path: 'users.columns.email.type', expected: 'text', actual: 'varchar(255)' },
      { kind: 'changed', path: 'users.primaryKey', expected: ['id'], actual: ['id', 'email'] },
    ]);
    expect(formatDiff(diffs)).to.equal(
      ['+ table accounts', '~ users.columns.email.type: text -> varchar(255)', '~ users.primaryKey: (id) -> (id, email)'].join('\n'),
    );
    expect(formatDiff(diffSnapshots(base, { dialect: 'postgres', tables: [] }))).to.equal('~ dialect: sqlite -> postgres\n- table users');
  });

  it('two constraints on the same columns are told apart ("key#2") instead of hiding one another', () => {
    const fk = { name: 'a', columns: ['user_id'], referencedTable: 'users', referencedColumns: ['id'], onUpdate: 'NO ACTION', onDelete: 'CASCADE' } as const;
    const one: SchemaSnapshot = { dialect: 'postgres', tables: [{ ...users, foreignKeys: [fk] }] };
    const two: SchemaSnapshot = { dialect: 'postgres', tables: [{ ...users, foreignKeys: [fk, { ...fk, name: 'b' }] }] };
    expect(formatDiff(diffSnapshots(one, two))).to.equal('+ users.foreignKeys.user_id#2');
  });
});

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'schema snapshots', ({ database }) => {
    const migrated = async (): Promise<Knex> => {
      const { db } = database();
      await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      return db;
    };

    it('is stable: taken twice it is deep-equal, and it survives its own JSON file format', async () => {
      const db = await migrated();
      const first = await schemaSnapshot(db);
      const second = await schemaSnapshot(db);
      expect(second).to.deep.equal(first);
      expect(await db.transaction((trx) => schemaSnapshot(trx)), 'inside a transaction').to.deep.equal(first);
      expect(JSON.parse(serializeSnapshot(first))).to.deep.equal(first);
      expect(first.dialect).to.equal(dialect.engine);
      expect(first.tables.map((t) => t.name)).to.deep.equal(['feedback', 'posts', 'user_logins', 'users']);
    });

    it(`a fresh database migrated by the app's migrations equals migrations/snapshots/${dialect.engine}.json`, async () => {
      const db = await migrated();
      expectSameSchema(readExpectedSnapshot(dialect.engine, APP_SNAPSHOTS_DIR), await schemaSnapshot(db), `the migrated schema differs from ${snapshotPath(dialect.engine, APP_SNAPSHOTS_DIR)}`);
      expect(await validateSchema(db, { dir: APP_SNAPSHOTS_DIR })).to.deep.equal({ path: snapshotPath(dialect.engine, APP_SNAPSHOTS_DIR), differences: [] });
    });

    if (dialect.engine === 'sqlite') {
      it('a legacy database upgraded by runMigrations equals a fresh one and the committed snapshot', async () => {
        const { db } = database();
        await createLegacyDatabase(db);
        await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
        const upgraded = await schemaSnapshot(db);
        const other = await dialect.create();
        try {
          await runMigrations(other.db, APP_MIGRATIONS_DIR, quiet);
          expectSameSchema(await schemaSnapshot(other.db), upgraded, 'upgraded legacy database vs fresh database');
        } finally {
          await other.cleanup();
        }
        expectSameSchema(readExpectedSnapshot('sqlite', APP_SNAPSHOTS_DIR), upgraded, 'upgraded legacy database vs the committed snapshot');
      });
    }

    it('bookkeeping tables never appear; exclude: [] shows them, a custom list hides others', async () => {
      const db = await migrated();
      await db.schema.createTable('knex_migrations', (t) => {
        t.increments('id');
        t.string('name');
      });
      const tables = (s: SchemaSnapshot) => s.tables.map((t) => t.name);
      expect(tables(await schemaSnapshot(db))).to.deep.equal(['feedback', 'posts', 'user_logins', 'users']);
      expect(BOOKKEEPING_TABLES).to.deep.equal(['system_settings', 'system_migrations', 'knex_migrations', 'knex_migrations_lock']);
      expect(tables(await schemaSnapshot(db, { exclude: [] }))).to.deep.equal([
        'feedback', 'knex_migrations', 'posts', 'system_migrations', 'system_settings', 'user_logins', 'users',
      ]);
      expect(tables(await schemaSnapshot(db, { exclude: [...BOOKKEEPING_TABLES, 'posts', 'feedback'] }))).to.deep.equal(['user_logins', 'users']);
    });

    it('captures CHECKs, UNIQUE constraints, FK actions, defaults and auto-increment ids', async () => {
      const snap = await schemaSnapshot(await migrated());
      const engine = dialect.engine;
      const kindCheck = {
        sqlite: "kind in ('feedback', 'bug')",
        postgres: "kind::text = any (array['feedback'::character varying, 'bug'::character varying]::text[])",
        mysql: "kind in ('feedback', 'bug')",
      }[engine];
      expect(table(snap, 'feedback').checks).to.deep.equal([{ name: 'feedback_kind_check', expression: kindCheck }]);
      expect(table(snap, 'users').uniques).to.deep.equal([
        { name: engine === 'sqlite' ? null : 'users_email_unique', columns: ['email'] },
        { name: engine === 'sqlite' ? null : 'users_username_unique', columns: ['username'] },
      ]);
      const fk = (t: string) => table(snap, t).foreignKeys.map((f) => [f.columns, f.referencedTable, f.referencedColumns, f.onDelete]);
      expect(fk('user_logins')).to.deep.equal([[['user_id'], 'users', ['id'], 'CASCADE']]);
      expect(fk('feedback')).to.deep.equal([[['user_id'], 'users', ['id'], 'SET NULL']]);
      expect(fk('posts')).to.deep.equal([[['user_id'], 'users', ['id'], 'CASCADE']]);
      const col = (t: string, c: string) => table(snap, t).columns.find((x) => x.name === c);
      expect(col('users', 'is_admin')).to.deep.include({
        nullable: false,
        default: engine === 'postgres' ? 'false' : '0',
        type: { sqlite: 'boolean', postgres: 'boolean', mysql: 'tinyint(1)' }[engine],
      });
      expect(col('feedback', 'kind')).to.deep.include({ type: 'varchar(16)', nullable: false, default: "'feedback'" });
      expect(col('feedback', 'user_id')).to.deep.include({ nullable: true, default: null });
      expect(col('user_logins', 'created_at')).to.deep.include({ nullable: true, default: 'current_timestamp' });
      // The legacy `id INTEGER PRIMARY KEY AUTOINCREMENT` (no NOT NULL) and knex's ids read the same.
      for (const t of ['users', 'posts', 'feedback', 'user_logins']) {
        expect(col(t, 'id'), t).to.deep.include({ nullable: false, default: null, autoIncrement: true });
        expect(table(snap, t).primaryKey, t).to.deep.equal(['id']);
      }
      expect(table(snap, 'user_logins').indexes).to.deep.include({ name: 'user_logins_user_id_index', columns: ['user_id'], unique: false, where: null });
    });

    describe('drift: a hand change is reported exactly, and readably', () => {
      const drift = async (db: Knex) => {
        const diffs = diffSnapshots(readExpectedSnapshot(dialect.engine, APP_SNAPSHOTS_DIR), await schemaSnapshot(db));
        return { diffs, text: formatDiff(diffs) };
      };

      it('an added column', async () => {
        const db = await migrated();
        await db.schema.alterTable('users', (t) => t.string('nickname', 64));
        const { diffs, text } = await drift(db);
        expect(diffs).to.deep.equal([
          {
            kind: 'added',
            path: 'users.columns.nickname',
            actual: { name: 'nickname', type: 'varchar(64)', nullable: true, default: null, autoIncrement: false, generated: null },
          },
        ]);
        expect(text).to.equal('+ users.columns.nickname');
      });

      it('a dropped index (and the same index, before, as an added one)', async () => {
        const db = await migrated();
        // Not user_logins_user_id_index: MySQL refuses to drop the index a foreign key uses.
        await db.schema.alterTable('posts', (t) => t.index(['created_at'], 'posts_created_at_index'));
        const before = await drift(db);
        expect(before.text).to.equal('+ posts.indexes.posts_created_at_index');
        expect(before.diffs[0].actual).to.deep.equal({ name: 'posts_created_at_index', columns: ['created_at'], unique: false, where: null });
        const withIndex = await schemaSnapshot(db);
        await db.schema.alterTable('posts', (t) => t.dropIndex(['created_at'], 'posts_created_at_index'));
        const diffs = diffSnapshots(withIndex, await schemaSnapshot(db));
        expect(diffs).to.deep.equal([{ kind: 'removed', path: 'posts.indexes.posts_created_at_index', expected: before.diffs[0].actual }]);
        expect(formatDiff(diffs)).to.equal('- posts.indexes.posts_created_at_index');
        expect((await drift(db)).diffs).to.deep.equal([]);
      });

      it("a column's nullability", async () => {
        const db = await migrated();
        await makeNullable(db, dialect.engine);
        const { diffs, text } = await drift(db);
        expect(diffs).to.deep.equal([{ kind: 'changed', path: 'users.columns.is_admin.nullable', expected: false, actual: true }]);
        expect(text).to.equal('~ users.columns.is_admin.nullable: false -> true');
      });

      it('an added table', async () => {
        const db = await migrated();
        await db.schema.createTable('audit_log', (t) => {
          t.increments('id');
          t.text('message').notNullable();
        });
        const { diffs, text } = await drift(db);
        expect(diffs.map((d) => [d.kind, d.path])).to.deep.equal([['added', 'audit_log']]);
        expect((diffs[0].actual as TableSnapshot).columns.map((c) => c.name)).to.deep.equal(['id', 'message']);
        expect(text).to.equal('+ table audit_log');
      });

      it("a foreign key's ON DELETE", async () => {
        const db = await migrated();
        await feedbackOnDeleteCascade(db, dialect.engine);
        const { diffs, text } = await drift(db);
        expect(diffs).to.deep.equal([{ kind: 'changed', path: 'feedback.foreignKeys.user_id.onDelete', expected: 'SET NULL', actual: 'CASCADE' }]);
        expect(text).to.equal('~ feedback.foreignKeys.user_id.onDelete: SET NULL -> CASCADE');
      });

      it('several changes at once: one line each, tables in name order', async () => {
        const db = await migrated();
        await db.schema.dropTable('user_logins');
        await db.schema.alterTable('users', (t) => t.string('nickname', 64));
        await makeNullable(db, dialect.engine);
        await feedbackOnDeleteCascade(db, dialect.engine);
        const { text } = await drift(db);
        expect(text).to.equal(
          [
            '~ feedback.foreignKeys.user_id.onDelete: SET NULL -> CASCADE',
            '- table user_logins',
            '~ users.columns.is_admin.nullable: false -> true',
            '+ users.columns.nickname',
          ].join('\n'),
        );
      });
    });

    it('writeExpectedSnapshot writes the file readExpectedSnapshot reads back, in the committed format', async () => {
      const db = await migrated();
      const tmp = tempDir('ksm-snapshot-');
      try {
        const written = await writeExpectedSnapshot(db, { dir: tmp.dir });
        expect(written.path).to.equal(snapshotPath(dialect.engine, tmp.dir));
        expect(readExpectedSnapshot(dialect.engine, tmp.dir)).to.deep.equal(written.snapshot);
        expect(serializeSnapshot(written.snapshot)).to.equal(serializeSnapshot(readExpectedSnapshot(dialect.engine, APP_SNAPSHOTS_DIR)));
        expect(() => readExpectedSnapshot('oracle', tmp.dir)).to.throw(/no expected schema snapshot for oracle/);
        expect(() => snapshotPath('../etc/passwd', APP_SNAPSHOTS_DIR)).to.throw(/invalid snapshot engine name/);
      } finally {
        tmp.cleanup();
      }
    });

    if (dialect.engine !== 'mysql') {
      it('indexes: expressions, DESC and partial WHERE; generated columns', async () => {
        const db = await migrated();
        await db.raw(`CREATE UNIQUE INDEX users_lower_email ON users (lower(email))`);
        await db.raw(`CREATE INDEX posts_recent ON posts (user_id, created_at DESC) WHERE body <> ''`);
        await db.raw(`ALTER TABLE posts ADD COLUMN body_length INTEGER GENERATED ALWAYS AS (length(body)) ${dialect.engine === 'sqlite' ? 'VIRTUAL' : 'STORED'}`);
        const snap = await schemaSnapshot(db);
        // PostgreSQL prints the expressions with the casts it inferred.
        const pg = dialect.engine === 'postgres';
        expect(table(snap, 'users').indexes).to.deep.equal([
          { name: 'users_lower_email', columns: [pg ? 'lower(email::text)' : 'lower(email)'], unique: true, where: null },
        ]);
        expect(table(snap, 'posts').indexes).to.deep.equal([
          { name: 'posts_recent', columns: ['user_id', 'created_at desc'], unique: false, where: pg ? "body <> ''::text" : "body <> ''" },
        ]);
        expect(table(snap, 'posts').columns.find((c) => c.name === 'body_length')).to.deep.equal({
          name: 'body_length',
          type: 'integer',
          nullable: true,
          default: null,
          autoIncrement: false,
          generated: dialect.engine === 'sqlite' ? 'virtual (length(body))' : 'stored (length(body))',
        });
        expect(await schemaSnapshot(db)).to.deep.equal(snap);
      });
    }

    if (dialect.engine === 'postgres') {
      it('the schema option describes another schema, with its own name stripped from references', async () => {
        const db = await migrated();
        const [{ current }] = ((await db.raw('SELECT current_schema() AS current')) as { rows: { current: string }[] }).rows;
        const other = `${current}_other`;
        try {
          await db.raw('CREATE SCHEMA ??', [other]);
          await db.raw(`CREATE TABLE ??.notes (id serial PRIMARY KEY, user_id integer REFERENCES users(id) ON DELETE CASCADE,
                          parent_id integer REFERENCES ??.notes(id), body varchar(10) DEFAULT 'x' CHECK (body <> ''))`, [other, other]);
          expect(await schemaSnapshot(db, { schema: current })).to.deep.equal(await schemaSnapshot(db));
          const notes = table(await schemaSnapshot(db, { schema: other }), 'notes');
          expect(notes.foreignKeys.map((f) => [f.columns[0], f.referencedTable])).to.deep.equal([['parent_id', 'notes'], ['user_id', `${current}.users`]]);
          expect(notes.columns.find((c) => c.name === 'body')).to.deep.include({ type: 'varchar(10)', default: "'x'" });
          expect(notes.checks).to.deep.equal([{ name: 'notes_body_check', expression: "body::text <> ''::text" }]);
        } finally {
          await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [other]);
        }
      });
    }
  });
}
