/**
 * Throwing at every step: a migration of k statements (create table, insert, a table rebuild or
 * ALTER, create index, update, delete, an insert that moves the id counter, add column, rename,
 * drop a table holding rows, settings, view, trigger, drop column) fails after 0, 1, …, k of them —
 * by throwing, or by a statement the database rejects — on a database at 1.0.0 holding data. Each
 * time the database must be exactly as before the migration: full schema and every row compared,
 * db_version unchanged. Also when the failing migration follows a successful one in the same run
 * (same outer transaction): that one stays, the failing one leaves nothing.
 *
 * Every engine with transactional DDL (SQLite through both drivers, PostgreSQL). MySQL commits DDL
 * as it goes; the dirty-marker tests cover it.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { isDeepStrictEqual } from 'util';
import { MigrationFailedError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { LOCK_KEY, getDatabaseVersion, getSystemSetting, setSystemSetting } from '../../lib/store/settings';
import { rebuildTable } from '../../lib/sqlite/rebuild';
import type { Migration } from '../../lib/types';
import { appMigrations } from '../helpers/app';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { engineOf, snapshot, withoutHistoryOf, withoutSetting, withoutTable, type DbSnapshot } from '../helpers/fuzz-snapshot';

const quiet = { logger: silentLogger };

interface Step {
  readonly name: string;
  run(trx: Knex.Transaction): Promise<unknown>;
}

/** The k statements of the migration under test, for one engine. */
function stepsFor(engine: 'sqlite' | 'postgres'): Step[] {
  const sqlite = engine === 'sqlite';
  return [
    {
      name: 'create table tags',
      run: (trx) =>
        trx.schema.createTable('tags', (t) => {
          t.increments('id');
          t.string('name', 64).notNullable().unique();
        }),
    },
    { name: 'insert into tags', run: (trx) => trx('tags').insert([{ name: 'a' }, { name: 'b' }, { name: "c'; --" }]) },
    sqlite
      ? {
          name: 'rebuildTable users: add nickname, filled by the copy',
          run: (trx) => rebuildTable(trx, 'users', { addColumns: { nickname: "TEXT NOT NULL DEFAULT ''" }, copy: { nickname: 'upper(username)' } }),
        }
      : {
          name: 'users: add nickname, fill it',
          run: async (trx) => {
            await trx.schema.alterTable('users', (t) => t.string('nickname').notNullable().defaultTo(''));
            await trx('users').update({ nickname: trx.raw('upper(username)') });
          },
        },
    sqlite
      ? { name: 'rebuildTable posts (a child table): body COLLATE NOCASE', run: (trx) => rebuildTable(trx, 'posts', { alterColumns: { body: 'TEXT NOT NULL COLLATE NOCASE' } }) }
      : { name: 'posts.body becomes varchar(2000)', run: (trx) => trx.raw('ALTER TABLE posts ALTER COLUMN body TYPE varchar(2000)') },
    { name: 'create index on posts.body', run: (trx) => trx.schema.alterTable('posts', (t) => t.index(['body'], 'posts_body_index')) },
    {
      name: 'update users',
      run: (trx) =>
        trx('users')
          .whereRaw('id % 2 = 0')
          .update({ password_hash: trx.raw("password_hash || '-rotated'") }),
    },
    { name: 'delete posts', run: (trx) => trx('posts').whereRaw('id % 3 = 0').del() },
    {
      name: 'insert a user and a post (moves the id counter)',
      run: async (trx) => {
        const [row] = (await trx('users').insert({ username: 'newcomer', email: 'new@x', password_hash: 'h' }, ['id'])) as ({ id: number } | number)[];
        await trx('posts').insert({ user_id: typeof row === 'object' ? row.id : row, body: 'first post' });
      },
    },
    { name: 'posts: add column edited', run: (trx) => trx.schema.alterTable('posts', (t) => t.boolean('edited').notNullable().defaultTo(false)) },
    { name: 'rename user_logins to logins', run: (trx) => trx.schema.renameTable('user_logins', 'logins') },
    { name: 'drop table feedback (it holds rows)', run: (trx) => trx.schema.dropTable('feedback') },
    {
      name: 'settings: add one, change one',
      run: async (trx) => {
        await setSystemSetting(trx, 'feature.tags', 'on');
        await setSystemSetting(trx, 'site_name', 'changed');
      },
    },
    {
      name: 'create view',
      run: (trx) => trx.raw(`CREATE VIEW active_users AS SELECT id, username FROM users WHERE is_admin = ${sqlite ? '0' : 'false'}`),
    },
    sqlite
      ? {
          name: 'create trigger',
          run: (trx) =>
            trx.raw(`CREATE TRIGGER posts_no_empty BEFORE INSERT ON posts WHEN NEW.body = '' BEGIN SELECT RAISE(ABORT, 'empty post'); END`),
        }
      : {
          name: 'create function and trigger',
          run: async (trx) => {
            await trx.raw(
              `CREATE FUNCTION posts_no_empty() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.body = '' THEN RAISE EXCEPTION 'empty post'; END IF; RETURN NEW; END $$`,
            );
            await trx.raw('CREATE TRIGGER posts_no_empty BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION posts_no_empty()');
          },
        },
    sqlite
      ? { name: 'rebuildTable users: drop nickname', run: (trx) => rebuildTable(trx, 'users', { dropColumns: ['nickname'] }) }
      : { name: 'users: drop nickname', run: (trx) => trx.schema.alterTable('users', (t) => t.dropColumn('nickname')) },
  ];
}

/** The app's schema at 1.0.0 with rows in every table and one setting. */
async function prepare(db: Knex): Promise<void> {
  await runMigrations(db, appMigrations, quiet);
  for (let i = 1; i <= 30; i++) {
    await db('users').insert({ username: `user${i}`, email: `user${i}@example.test`, password_hash: `h'${i}"`, is_admin: i === 1 });
  }
  const ids = (await db('users').orderBy('id').pluck('id')) as number[];
  await db('posts').insert(ids.flatMap((id) => [{ user_id: id, body: `post by ${id} — ünï` }, { user_id: id, body: `"quoted" ${id}` }]));
  await db('user_logins').insert(ids.slice(0, 10).map((id) => ({ user_id: id, ip_address: `10.0.0.${id}`, user_agent: 'test' })));
  await db('feedback').insert([
    { user_id: ids[0], kind: 'bug', message: 'broken' },
    { user_id: null, kind: 'feedback', message: 'anonymous' },
    { user_id: ids[1], kind: 'feedback', message: 'nice' },
  ]);
  await setSystemSetting(db, 'site_name', 'Reliability');
}

type Failure = 'throw' | 'rejected statement';

/**
 * The migration under test: runs the first `after` steps, notes whether they changed anything (compared
 * with `before`, both through `normalize`, which removes what an earlier migration of the run did), then fails.
 */
function failingMigration(
  steps: Step[],
  after: number,
  failure: Failure,
  before: DbSnapshot,
  seen: { changed?: boolean },
  normalize: (snap: DbSnapshot) => DbSnapshot = (snap) => snap,
): Migration {
  // While it runs, a runner whose lock is a lease (PostgreSQL) holds it in system_settings: its own state, not a change.
  const inside = (snap: DbSnapshot) => normalize(withoutSetting(snap, LOCK_KEY));
  return {
    version: '1.1.0',
    description: `fails after ${after} of ${steps.length} steps (${failure})`,
    async up(trx) {
      for (const step of steps.slice(0, after)) await step.run(trx);
      seen.changed = !isDeepStrictEqual(inside(await snapshot(trx)), inside(before));
      if (failure === 'throw') throw new Error(`injected failure after step ${after}`);
      // username is UNIQUE and user1 exists: the database itself rejects this statement.
      await trx('users').insert({ username: 'user1', email: 'duplicate@x', password_hash: 'h' });
    },
  };
}

function batchMigration(version: string, table: string): Migration {
  return {
    version,
    description: `succeeds before the failing one (${table})`,
    async up(trx) {
      await trx.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.string('note', 32);
      });
      await trx(table).insert({ id: 1, note: version });
    },
  };
}

for (const dialect of DIALECTS.filter((d) => d.engine !== 'mysql')) {
  describeDialect(dialect, 'a migration failing after each of its statements leaves the database exactly as before it', ({ database }) => {
    it('for i = 0…k, thrown or rejected by the database, alone or after a successful migration in the same run', async function () {
      this.timeout(300_000);
      const { db } = database();
      const engine = engineOf(db) as 'sqlite' | 'postgres';
      const steps = stepsFor(engine);
      await prepare(db);
      let version = '1.0.0';
      let before = await snapshot(db);
      let runs = 0;

      for (let after = 0; after <= steps.length; after++) {
        const where = after === 0 ? 'before its first statement' : `after step ${after} (${steps[after - 1].name})`;
        for (const failure of ['throw', 'rejected statement'] as const) {
          const seen: { changed?: boolean } = {};
          const err = await runMigrations(db, [...appMigrations, failingMigration(steps, after, failure, before, seen)], quiet).catch(
            (e: unknown) => e,
          );
          expect(err, `${failure} ${where}`).to.be.instanceOf(MigrationFailedError);
          expect(err).to.include({ version: '1.1.0', lastGoodVersion: version, dirty: false });
          expect(seen.changed, `the steps ran and changed the database inside the migration, ${where}`).to.equal(after > 0);
          expect(await snapshot(db), `${failure} ${where}: schema and rows as before`).to.deep.equal(before);
          expect(await getDatabaseVersion(db)).to.equal(version);
          if (engine === 'sqlite') expect(await db.raw('PRAGMA foreign_keys'), 'foreign keys enforced again').to.deep.equal([{ foreign_keys: 1 }]);
          runs++;
        }

        // The same failure after a successful migration in the same run: that one is kept, this one leaves nothing.
        const okVersion = `1.0.${after + 1}`;
        const okTable = `batch_${after + 1}`;
        const seen: { changed?: boolean } = {};
        // What the successful migration legitimately changed: its table, db_version, its history row.
        const ignoreOk = (snap: DbSnapshot) => withoutHistoryOf(withoutSetting(withoutTable(snap, okTable), 'db_version'), okVersion);
        const err = await runMigrations(
          db,
          [...appMigrations, batchMigration(okVersion, okTable), failingMigration(steps, after, 'throw', before, seen, ignoreOk)],
          quiet,
        ).catch((e: unknown) => e);
        expect(err, `after ${okVersion}, throw ${where}`).to.be.instanceOf(MigrationFailedError);
        expect(err).to.include({ version: '1.1.0', lastGoodVersion: okVersion, dirty: false });
        expect(seen.changed).to.equal(after > 0);
        const after_ = await snapshot(db);
        expect(ignoreOk(after_), `after ${okVersion}, throw ${where}`).to.deep.equal(ignoreOk(before));
        expect(after_.rows[okTable]).to.have.length(1);
        expect(await getDatabaseVersion(db)).to.equal(okVersion);
        version = okVersion;
        before = after_;
        runs++;
      }
      expect(runs).to.equal(3 * (steps.length + 1));

      // The steps themselves work: with no failure the migration applies and every effect is there.
      const report = await runMigrations(
        db,
        [...appMigrations, { version: '1.1.0', description: 'all steps', up: async (trx) => { for (const s of steps) await s.run(trx); } }],
        quiet,
      );
      expect(report.applied.map((a) => a.version)).to.deep.equal(['1.1.0']);
      expect(await db('tags').count({ n: '*' }).first()).to.satisfy((r: { n: unknown }) => Number(r.n) === 3);
      expect(await db.schema.hasTable('feedback')).to.equal(false);
      expect(await db.schema.hasTable('logins')).to.equal(true);
      expect(await db.schema.hasColumn('users', 'nickname')).to.equal(false);
      expect(await db.schema.hasColumn('posts', 'edited')).to.equal(true);
      expect(await getSystemSetting(db, 'feature.tags')).to.equal('on');
      expect(await db('active_users').where({ username: 'newcomer' }).first()).to.not.equal(undefined);
      expect(await db('posts').insert({ user_id: 1, body: '' }).catch((e: unknown) => e), 'the trigger works').to.be.instanceOf(Error);
    });
  });
}
