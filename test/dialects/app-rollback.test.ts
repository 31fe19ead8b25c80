/**
 * The app's own migrations in both directions, and validateDatabase, on every engine.
 */
import { expect } from 'chai';
import { MigrationFailedError } from '../../lib/errors';
import { checksumOf } from '../../lib/store/checksum';
import { silentLogger } from '../../lib/logger';
import { migrateTo, rollback, runMigrations } from '../../lib/functions';
import { getDatabaseVersion } from '../../lib/store/settings';
import { schemaSnapshot } from '../../lib/snapshot/snapshot';
import type { Migration } from '../../lib/types';
import { validateDatabase } from '../../lib/functions';
import { APP_MIGRATIONS_DIR, CURRENT_DB_VERSION } from '../helpers/app';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { tableMigrations } from '../helpers/migrations';

const quiet = { logger: silentLogger };

for (const dialect of DIALECTS) {
  describeDialect(dialect, "the app's migrations down and up", ({ database }) => {
    it('1.0.0 down keeps every user and post; up again gives the same schema snapshot', async () => {
      const { db } = database();
      await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      await db('users').insert([
        { username: 'ada', email: 'ada@x', password_hash: 'h1' },
        { username: 'bob', email: 'bob@x', password_hash: 'h2' },
      ]);
      const ids = (await db('users').orderBy('id').pluck('id')) as number[];
      await db('posts').insert(ids.map((id, i) => ({ user_id: id, body: `post ${i} – ünïcode` })));
      const users = await db('users').orderBy('id').select('id', 'username', 'email', 'password_hash');
      const posts = await db('posts').orderBy('id').select('id', 'user_id', 'body');
      const schemaAtLatest = await schemaSnapshot(db);

      const down = await rollback(db, { to: '0.1.0', migrations: APP_MIGRATIONS_DIR, ...quiet });
      expect(down.applied.map((a) => a.version)).to.deep.equal(['1.0.0']);
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      expect(await db.schema.hasTable('user_logins')).to.equal(false);
      expect(await db.schema.hasTable('feedback')).to.equal(false);
      expect(await db.schema.hasColumn('users', 'is_admin')).to.equal(false);
      expect(await db('users').orderBy('id').select('id', 'username', 'email', 'password_hash')).to.deep.equal(users);
      expect(await db('posts').orderBy('id').select('id', 'user_id', 'body')).to.deep.equal(posts);

      await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      expect(await getDatabaseVersion(db)).to.equal(CURRENT_DB_VERSION);
      expect(await schemaSnapshot(db)).to.deep.equal(schemaAtLatest);
      expect(await db('posts').orderBy('id').select('id', 'user_id', 'body')).to.deep.equal(posts);
      expect((await db('users').pluck('is_admin')).map(Boolean)).to.deep.equal([false, false]);
    });

    it('the baseline is undone only on an empty database', async () => {
      const { db } = database();
      await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      await db('users').insert({ username: 'ada', email: 'ada@x', password_hash: 'h' });
      const err = await migrateTo(db, '0.0.0', { ...quiet, migrations: APP_MIGRATIONS_DIR }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as Error).message).to.include('refusing to drop users: it holds 1 row(s)');
      expect(await db('users').count({ n: '*' }).first()).to.satisfy((r: { n: unknown }) => Number(r.n) === 1);
      expect(await db.schema.hasTable('users')).to.equal(true);
      // On an empty database the whole way down works.
      await db('users').del();
      await migrateTo(db, '0.0.0', { ...quiet, migrations: APP_MIGRATIONS_DIR }).catch(() => undefined); // MySQL may already be dirty from the attempt above
      if (dialect.engine !== 'mysql') {
        expect(await getDatabaseVersion(db)).to.equal('0.0.0');
        expect(await db.schema.hasTable('users')).to.equal(false);
      }
    });
  });

  describeDialect(dialect, 'validateDatabase', ({ database }) => {
    it('is clean after a normal run, and reports changed, never-applied and unknown migrations', async () => {
      const { db } = database();
      const list = tableMigrations(['0.1.0', '0.2.0', '0.3.0']);
      await runMigrations(db, list, quiet);
      expect(await validateDatabase(db, list)).to.deep.equal({ ok: true, version: '0.3.0', problems: [] });

      const edited: Migration = { ...list[0], up: async () => undefined };
      const hotfix = tableMigrations(['0.2.5'])[0];
      const report = await validateDatabase(db, [edited, list[1], hotfix]);
      expect(report.ok).to.equal(false);
      expect(report.problems.map((p) => [p.kind, p.version])).to.deep.equal([
        ['changed', '0.1.0'],
        ['not_applied', '0.2.5'],
        ['unknown', '0.3.0'],
      ]);
      expect(report.problems[2].message).to.equal('0.3.0 (create t_0_3_0) is applied but no longer in the code');
      expect(checksumOf(edited)).to.not.equal(checksumOf(list[0]));
    });
  });
}
