import { expect } from 'chai';
import type { Knex } from 'knex';
import semver from 'semver';
import { initializeDatabase } from '../../lib/bootstrap';
import { MigrationFailedError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { APP_INIT, APP_MIGRATIONS_DIR, CURRENT_DB_VERSION, appMigrations as migrations } from '../helpers/app';
import { memoryDb } from '../helpers/db';
import { createLegacyDatabase, schemaOf } from '../helpers/legacy';

const quiet = { logger: silentLogger };

describe("the app's migrations (SQLite)", () => {
  let db: Knex;
  beforeEach(() => {
    db = memoryDb();
  });
  afterEach(() => db.destroy());

  it('CURRENT_DB_VERSION is the highest registered migration version', () => {
    const highest = migrations.map((m) => m.version).sort(semver.compare).at(-1);
    expect(CURRENT_DB_VERSION).to.equal(highest);
    expect(migrations.map((m) => m.version)).to.include.members(['0.1.0', '1.0.0']);
  });

  it('a fresh database reaches CURRENT_DB_VERSION with the full schema', async () => {
    const report = await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
    expect(report.from).to.equal('0.0.0');
    expect(report.to).to.equal(CURRENT_DB_VERSION);
    expect(await getDatabaseVersion(db)).to.equal(CURRENT_DB_VERSION);
    for (const table of ['users', 'posts', 'user_logins', 'feedback', 'system_settings']) {
      expect(await db.schema.hasTable(table), table).to.equal(true);
    }
    const userColumns = ((await db.raw('PRAGMA table_info(users)')) as { name: string; notnull: number; dflt_value: string }[]);
    expect(userColumns.map((c) => c.name)).to.deep.equal(['id', 'username', 'email', 'password_hash', 'created_at', 'is_admin']);
    expect(userColumns.find((c) => c.name === 'is_admin')).to.include({ notnull: 1, dflt_value: '0' });
    expect((await db.raw('PRAGMA index_list(user_logins)')) as { name: string }[]).to.satisfy((rows: { name: string }[]) =>
      rows.some((r) => r.name === 'user_logins_user_id_index'),
    );
  });

  it('1.0.0 enforces what it promises: feedback kind, FKs with CASCADE and SET NULL, is_admin default', async () => {
    await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
    await db('users').insert([{ id: 1, username: 'a', email: 'a@x', password_hash: 'h' }, { id: 2, username: 'b', email: 'b@x', password_hash: 'h' }]);
    expect(await db('users').pluck('is_admin')).to.deep.equal([0, 0]);
    await db('user_logins').insert({ user_id: 1, ip_address: '127.0.0.1' });
    await db('feedback').insert({ user_id: 1, kind: 'bug', message: 'broken' });
    await db('feedback').insert({ user_id: 2, message: 'nice' });
    expect(await db('feedback').pluck('kind')).to.deep.equal(['bug', 'feedback']);
    await expectReject(db('feedback').insert({ user_id: 1, kind: 'rant', message: 'x' }), /CHECK constraint failed/);
    await expectReject(db('user_logins').insert({ user_id: 99, ip_address: 'x' }), /FOREIGN KEY constraint failed/);
    await expectReject(db('user_logins').insert({ user_id: 1 }), /NOT NULL constraint failed: user_logins.ip_address/);
    await db('users').where({ id: 1 }).del();
    expect(await db('user_logins').count({ n: '*' })).to.deep.equal([{ n: 0 }]);
    expect(await db('feedback').orderBy('id').pluck('user_id')).to.deep.equal([null, 2]);
  });

  describe('a legacy database (made by the old createTables, with data)', () => {
    it('is upgraded keeping every user and every post, exactly', async () => {
      await createLegacyDatabase(db);
      const usersBefore = await db('users').orderBy('id').select();
      const postsBefore = await db('posts').orderBy('id').select();
      expect(usersBefore).to.have.length(39);
      // 40 users with 3 posts each; the deleted 40th user took its 3 posts with it (CASCADE).
      expect(postsBefore).to.have.length(117);

      const report = await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.1.0', '1.0.0']);

      const usersAfter = (await db('users').orderBy('id').select()) as Record<string, unknown>[];
      expect(usersAfter.map(({ is_admin: _admin, ...rest }) => rest)).to.deep.equal(usersBefore);
      expect(usersAfter.every((u) => u.is_admin === 0)).to.equal(true);
      expect(await db('posts').orderBy('id').select()).to.deep.equal(postsBefore);
      // The deleted user's id is never handed out again.
      const [id] = await db('users').insert({ username: 'new', email: 'new@x', password_hash: 'h' });
      expect(id).to.equal(41);
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
    });

    it('ends with exactly the schema of a fresh database', async () => {
      const fresh = memoryDb();
      try {
        await runMigrations(fresh, APP_MIGRATIONS_DIR, quiet);
        await createLegacyDatabase(db);
        await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
        expect(await schemaOf(db)).to.deep.equal(await schemaOf(fresh));
      } finally {
        await fresh.destroy();
      }
    });

    it('with an orphaned post (old app ran without foreign keys): refuses with the rows named, loses nothing', async () => {
      await createLegacyDatabase(db, 5, 2);
      await db.raw('PRAGMA foreign_keys = OFF');
      await db('posts').insert({ user_id: 404, body: 'orphan' });
      await db.raw('PRAGMA foreign_keys = ON');
      const postsBefore = await db('posts').orderBy('id').select();
      const schemaBefore = await schemaOf(db);
      const err = await runMigrations(db, APP_MIGRATIONS_DIR, quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as Error).message).to.match(/Migration 0\.1\.0 \(baseline: users and posts\) failed: .*1 foreign key violation\(s\) \(posts rowid 11 -> users\)/);
      expect(await db('posts').orderBy('id').select()).to.deep.equal(postsBefore);
      const bookkeeping = ['system_settings', 'system_migrations'];
      expect((await schemaOf(db)).filter((o) => !bookkeeping.includes(o.tbl_name))).to.deep.equal(schemaBefore);
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
    });
  });

  describe('initializeDatabase', () => {
    it('from a config: connects with foreign keys on, migrates, runs the fallback, returns knex', async () => {
      const ready = await initializeDatabase({ client: 'sqlite3', connection: { filename: ':memory:' } }, { ...quiet, ...APP_INIT });
      try {
        expect(await getDatabaseVersion(ready)).to.equal(CURRENT_DB_VERSION);
        expect(await ready.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
        expect(await ready.schema.hasTable('posts')).to.equal(true);
      } finally {
        await ready.destroy();
      }
    });

    it('from an instance: returns the same instance, turns foreign keys on, leaves it open', async () => {
      await db.raw('PRAGMA foreign_keys = OFF');
      const ready = await initializeDatabase(db, { ...quiet, ...APP_INIT });
      expect(ready).to.equal(db);
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
      expect(await getDatabaseVersion(db)).to.equal(CURRENT_DB_VERSION);
    });

    it('runs the create-tables fallback after migrations', async () => {
      const order: string[] = [];
      const list: Migration[] = [{ version: '0.1.0', description: 'x', up: async () => void order.push('migrate') }];
      await initializeDatabase(db, { ...quiet, migrations: list, createTables: async () => void order.push('fallback') });
      expect(order).to.deep.equal(['migrate', 'fallback']);
    });

    it('has no default fallback: with no migrations and no createTables it creates only the bookkeeping', async () => {
      await initializeDatabase(db, { ...quiet, migrations: [] });
      expect((await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r: { name: string }) => r.name)).to.deep.equal([
        'sqlite_sequence',
        'system_migrations',
        'system_settings',
      ]);
    });

    it("the sample app's fallback (the baseline's create-tables) creates users and posts if they are missing, and only those", async () => {
      await initializeDatabase(db, { ...quiet, migrations: [], createTables: APP_INIT.createTables });
      expect(await db.schema.hasTable('users')).to.equal(true);
      expect(await db.schema.hasTable('posts')).to.equal(true);
      expect(await db.schema.hasTable('feedback')).to.equal(false);
    });

    it('a failing start-up rejects with the migration error', async () => {
      const broken: Migration[] = [{ version: '0.1.0', description: 'boom', up: async () => { throw new Error('kaput'); } }];
      const err = await initializeDatabase({ client: 'sqlite3', connection: { filename: ':memory:' } }, { ...quiet, migrations: broken }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as Error).message).to.include('Migration 0.1.0 (boom) failed: kaput');
    });
  });
});

async function expectReject(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected a rejection').to.be.instanceOf(Error);
  expect((err as Error).message).to.match(pattern);
}
