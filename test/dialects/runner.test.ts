/**
 * The same behaviour on every engine: SQLite (file), PostgreSQL and MariaDB/MySQL when present.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import type { Knex } from 'knex';
import { initializeDatabase } from '../../lib/bootstrap';
import { adapterFor } from '../../lib/dialects';
import { migrationStatus } from '../../lib/functions';
import { repairDatabase } from '../../lib/store/repair';
import { CorruptVersionError, DirtyDatabaseError, LockTimeoutError, MigrationFailedError, SchemaTooNewError, UnsupportedDialectError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import {
  LOCK_KEY,
  getDatabaseVersion,
  getSystemSetting,
  initializeVersionTracking,
  setSystemSetting,
  updateDatabaseVersion,
} from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { APP_INIT, APP_MIGRATIONS_DIR, CURRENT_DB_VERSION } from '../helpers/app';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { tableMigrations } from '../helpers/migrations';
import { REPO_ROOT, runTs } from '../helpers/processes';
import { statementsDuring } from '../helpers/db';

const quiet = { logger: silentLogger };

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'runner on every engine', ({ database }) => {
    it('applies in semver order, once; a second run applies nothing', async () => {
      const { db } = database();
      const ran: string[] = [];
      const list = tableMigrations(['1.10.0', '0.1.0', '1.9.0'], ran);
      const first = await runMigrations(db, list, quiet);
      expect(first.applied.map((a) => a.version)).to.deep.equal(['0.1.0', '1.9.0', '1.10.0']);
      const second = await runMigrations(db, list, quiet);
      expect(second).to.deep.equal({ from: '1.10.0', to: '1.10.0', applied: [] });
      expect(ran).to.deep.equal(['0.1.0', '1.9.0', '1.10.0']);
      expect(await getDatabaseVersion(db)).to.equal('1.10.0');
      expect(await db('t_1_9_0').pluck('note')).to.deep.equal(['1.9.0']);
    });

    it('a batch costs about one statement per migration statement where DDL is transactional (bookkeeping written once)', async () => {
      const { db } = database();
      const n = 30;
      const versions = Array.from({ length: n }, (_, i) => `0.${i + 1}.0`);
      const { statements } = await statementsDuring(db, () => runMigrations(db, tableMigrations(versions), quiet));
      expect(await getDatabaseVersion(db)).to.equal(`0.${n}.0`);
      expect(await db('system_migrations').orderBy('id').pluck('version')).to.deep.equal(versions);
      // Each migration runs 2 statements (CREATE TABLE, INSERT). Around them: a fixed number for the lock
      // and creating the bookkeeping tables (about 30), not four more per migration as one savepoint each costs.
      const perMigration = statements.length / n;
      const adapter = adapterFor(db);
      if (adapter.transactionalDdl && !adapter.commitsEachMigration) {
        expect(statements.length, statements.join('\n')).to.be.below(2 * n + 35);
      } else {
        // PostgreSQL commits each migration, MySQL commits DDL as it goes: each migration has its own
        // transaction and bookkeeping (PostgreSQL: also the lease's re-write), but no more than that.
        console.log(`      statements per migration [${adapter.name}]: ${perMigration.toFixed(2)}`);
        expect(perMigration).to.be.at.least(4);
        // PostgreSQL: BEGIN, the lease's re-write, the 2 statements, db_version, history, COMMIT.
        if (adapter.name === 'postgres') expect(statements.length, statements.slice(-20).join('\n')).to.be.below(7 * n + 40);
      }
    });

    it("the app's migrations reach CURRENT_DB_VERSION and keep users and posts", async () => {
      const { db } = database();
      await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
      expect(await getDatabaseVersion(db)).to.equal(CURRENT_DB_VERSION);
      await db('users').insert({ username: 'ada', email: 'ada@x', password_hash: 'h', is_admin: true });
      const [user] = await db('users').select('id', 'is_admin');
      await db('posts').insert({ user_id: user.id, body: 'hello' });
      await db('feedback').insert({ user_id: user.id, kind: 'bug', message: 'm' });
      await db('user_logins').insert({ user_id: user.id, ip_address: '::1' });
      expect(Boolean(user.is_admin)).to.equal(true);
      const err = await db('feedback').insert({ kind: 'rant', message: 'x' }).catch((e: unknown) => e);
      expect(err, 'feedback.kind CHECK').to.be.instanceOf(Error);
      await db('users').where({ id: user.id }).del();
      expect(await db('user_logins').count({ n: '*' }).first()).to.satisfy((r: { n: unknown }) => Number(r.n) === 0);
      expect(await db('feedback').pluck('user_id')).to.deep.equal([null]);
    });

    it('initializeDatabase and migrationStatus work the same: pending before, applied after', async () => {
      const { db } = database();
      const before = await migrationStatus(db, APP_MIGRATIONS_DIR);
      expect(before.current).to.equal('0.0.0');
      expect(before.migrations.every((m) => m.state === 'pending')).to.equal(true);
      expect(await db.schema.hasTable('system_settings'), 'status is read-only').to.equal(false);
      expect(await initializeDatabase(db, { ...quiet, ...APP_INIT })).to.equal(db);
      const after = await migrationStatus(db, APP_MIGRATIONS_DIR);
      expect(after.current).to.equal(CURRENT_DB_VERSION);
      expect(after.migrations.every((m) => m.state === 'applied')).to.equal(true);
    });

    it('settings with SQL metacharacters, unicode and 1 MB values round-trip exactly', async () => {
      const { db } = database();
      await initializeVersionTracking(db);
      const cases: [string, string][] = [
        ["k'; DROP TABLE system_settings; --", "v'); DELETE FROM system_settings; --"],
        ['back\\slash `tick` "dq"', '%_ LIKE wildcards \\% \\_'],
        ['ünïcødé 日本語 🚀', '✓ \u00e9\u0301 \t\n\r'],
        ['big', 'x€'.repeat(512 * 1024)],
      ];
      for (const [key, value] of cases) await setSystemSetting(db, key, value);
      for (const [key, value] of cases) expect(await getSystemSetting(db, key), key).to.equal(value);
      await setSystemSetting(db, cases[0][0], 'second');
      expect(await getSystemSetting(db, cases[0][0])).to.equal('second');
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
    });

    it('start gate: SchemaTooNewError for a newer major, CorruptVersionError for junk; nothing runs', async () => {
      const { db } = database();
      await initializeVersionTracking(db);
      await updateDatabaseVersion(db, '3.0.0');
      const ran: string[] = [];
      expect(await runMigrations(db, tableMigrations(['1.0.0'], ran), quiet).catch((e: unknown) => e)).to.be.instanceOf(SchemaTooNewError);
      await db('system_settings').where({ key: 'db_version' }).update({ value: 'garbage' });
      expect(await runMigrations(db, tableMigrations(['1.0.0'], ran), quiet).catch((e: unknown) => e)).to.be.instanceOf(CorruptVersionError);
      expect(ran).to.deep.equal([]);
      expect(await db.schema.hasTable('t_1_0_0')).to.equal(false);
    });

    if (dialect.engine !== 'mysql') {
      it('a failed migration leaves no trace: its CREATE TABLE and rows are gone, earlier ones kept', async () => {
        const { db } = database();
        const failing: Migration = {
          version: '0.2.0',
          description: 'creates then fails',
          async up(trx) {
            await trx.schema.createTable('created_then_failed', (t) => t.increments('id'));
            await trx('t_0_1_0').insert({ note: 'should vanish' });
            throw new Error('second step failed');
          },
        };
        const err = await runMigrations(db, [...tableMigrations(['0.1.0', '0.3.0']), failing], quiet).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(MigrationFailedError);
        expect((err as Error).message).to.equal(
          'Migration 0.2.0 (creates then fails) failed: second step failed; it was rolled back and db_version stays at 0.1.0',
        );
        expect(await db.schema.hasTable('created_then_failed')).to.equal(false);
        expect(await db('t_0_1_0').pluck('note')).to.deep.equal(['0.1.0']);
        expect(await db.schema.hasTable('t_0_3_0')).to.equal(false);
        expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      });
    }

    it('a held lock: LockTimeoutError after lockTimeoutMs, nothing applied; released lock: proceeds', async () => {
      const { db, open } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const other = open();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = adapterFor(other).withMigrationLock(other, { lockTimeoutMs: 5000 }, async () => {
        locked();
        await released;
      });
      try {
        await isLocked;
        const ran: string[] = [];
        const err = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0'], ran), { ...quiet, lockTimeoutMs: 1000 }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(LockTimeoutError);
        expect((err as Error).message).to.match(/Timed out after 1000 ms waiting for the migration lock on (SQLite|PostgreSQL|MySQL) database/);
        expect(ran).to.deep.equal([]);
        expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      } finally {
        release();
        await holder;
        await other.destroy();
      }
      const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 1000 });
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
    });

    it('a runner waiting for the lock leaves once the holder has applied the work, applying and writing nothing', async () => {
      const { db, open } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const other = open();
      let started!: () => void;
      const slowStarted = new Promise<void>((resolve) => (started = resolve));
      const slow: Migration = {
        version: '0.2.0',
        description: 'slow',
        async up(trx) {
          started();
          await new Promise((resolve) => setTimeout(resolve, 400));
          await trx.schema.createTable('t_slow', (t) => t.increments('id'));
        },
      };
      try {
        const holder = runMigrations(other, [...tableMigrations(['0.1.0']), slow], quiet);
        await slowStarted;
        const ran: string[] = [];
        const { result: waiting, statements, bindings } = await statementsDuring(db, () =>
          runMigrations(db, [...tableMigrations(['0.1.0'], ran), slow], { ...quiet, lockTimeoutMs: 10_000 }),
        );
        expect((await holder).applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
        expect(waiting).to.deep.equal({ from: '0.2.0', to: '0.2.0', applied: [] });
        expect(ran).to.deep.equal([]);
        // Between lock attempts it re-read the state (the short read: db_version and the marker first;
        // on MySQL the holder's migration is marked in progress, so it reads no further) …
        const shortReads = statements.filter((sql) => /select .key., .value. from .system_settings. where .key. in/i.test(sql));
        expect(shortReads.length, statements.join('\n')).to.be.at.least(2);
        // … and whether it left on such a read or got the lock just after the holder let go, it wrote nothing
        // (but the lock itself, where the lock is a lease row: taken, then deleted on release).
        const writes = statements.filter((sql, i) => /^\s*(insert|create|delete|alter|drop)\b/i.test(sql) && !bindings[i].includes(LOCK_KEY));
        expect(writes, statements.join('\n')).to.deep.equal([]);
        expect(await db('system_migrations').count({ n: '*' })).to.satisfy((rows: { n: unknown }[]) => Number(rows[0].n) === 2);
      } finally {
        await other.destroy();
      }
    });

    it('8 processes start at once: every migration applied exactly once, all exit 0 at the final version', async function () {
      this.timeout(120_000);
      const { db, url } = database();
      const count = 5;
      const env = { DATABASE_URL: url, RACE_START_AT: String(Date.now() + 5000), RACE_MIGRATIONS: String(count) };
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: 8 }, () => runTs('test/helpers/race-child.ts', [], env)));
      const elapsed = Date.now() - started - 5000;
      for (const r of results) expect(r.code, r.stderr).to.equal(0);
      // The last line is the report (knex may print warnings before it on MySQL).
      const reports = results.map((r) => JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { to: string; applied: { version: string }[]; ms: number });
      const versions = Array.from({ length: count }, (_, i) => `1.${i}.0`);
      for (const report of reports) expect(report.to).to.equal(versions[count - 1]);
      expect(reports.flatMap((r) => r.applied.map((a) => a.version)).sort()).to.deep.equal([...versions].sort());
      expect(await db('migration_log').orderBy('id').pluck('version')).to.deep.equal(versions);
      console.log(`      race [${dialect.name}]: 8 processes, ${count} migrations, slowest runner ${Math.max(...reports.map((r) => r.ms))} ms (wall ≈ ${elapsed} ms after the start signal)`);
    });

    it('a runner killed with SIGKILL while holding the lock: the next runner proceeds on its own', async function () {
      this.timeout(60_000);
      const { db, url } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'test/helpers/lock-holder.ts'], {
        cwd: REPO_ROOT,
        env: { ...process.env, DATABASE_URL: url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('LOCKED') && resolve());
        child.on('close', () => reject(new Error('lock holder exited early')));
      });
      // While it lives, the lock is really held.
      const blocked = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 500 }).catch((e: unknown) => e);
      expect(blocked).to.be.instanceOf(LockTimeoutError);
      child.kill('SIGKILL');
      expect(await exited).to.equal('SIGKILL');
      if (!adapterFor(db).transactionalDdl) {
        // MySQL: its migration was marked in progress before its first statement; a migration cut off
        // there may have committed DDL, so the next runner refuses, naming it, until repair.
        const refused = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 15_000 }).catch((e: unknown) => e);
        expect(refused).to.be.instanceOf(DirtyDatabaseError);
        expect(refused).to.include({ version: '9.0.0', inProgress: true, lastGoodVersion: '0.1.0' });
        expect((refused as Error).message).to.match(/migration 9\.0\.0 \(hangs while holding the lock\) started at .* and it never finished/);
        await repairDatabase(db);
      }
      const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 15_000 });
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
      expect(await getDatabaseVersion(db)).to.equal('0.2.0');
    });
  });
}

export type { Knex };

describe('the schema option (system_settings in a named schema)', () => {
  for (const dialect of DIALECTS) {
    if (dialect.engine === 'postgres') {
      describeDialect(dialect, 'schema option', ({ database }) => {
        it('keeps system_settings in the named schema, creating it, while migrations follow the search path', async () => {
          const { db } = database();
          const schema = `ops_${process.pid}_${Date.now().toString(36)}`;
          try {
            const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, schema });
            expect(report.to).to.equal('0.2.0');
            expect(await getDatabaseVersion(db, { schema })).to.equal('0.2.0');
            expect(await db.schema.withSchema(schema).hasTable('system_settings')).to.equal(true);
            // Not in the search path's schema, where the migrations' own tables went.
            expect(await db.schema.hasTable('system_settings')).to.equal(false);
            expect(await db.schema.hasTable('t_0_2_0')).to.equal(true);
            await setSystemSetting(db, 'feature', 'on', { schema });
            expect(await getSystemSetting(db, 'feature', { schema })).to.equal('on');
            expect((await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, schema })).applied).to.deep.equal([]);
          } finally {
            await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
          }
        });
      });
    } else {
      describeDialect(dialect, 'schema option', ({ database }) => {
        it('is refused up front with UnsupportedDialectError, touching nothing', async () => {
          const { db } = database();
          const err = await runMigrations(db, tableMigrations(['0.1.0']), { ...quiet, schema: 'ops' }).catch((e: unknown) => e);
          expect(err).to.be.instanceOf(UnsupportedDialectError);
          expect((err as Error).message).to.include('the schema option is for PostgreSQL');
          expect(await db.schema.hasTable('system_settings')).to.equal(false);
        });
      });
    }
  }
});
