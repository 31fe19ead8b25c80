/**
 * MySQL/MariaDB in production: DDL commits as it goes, so the bookkeeping must be crash-honest — a
 * migration is marked in progress before its first statement, a runner killed mid-migration leaves a
 * database the next start refuses (naming it), a failure that provably changed nothing leaves no mark,
 * and the real error always wins over a marker that could not be written.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import { DirtyDatabaseError, MigrationFailedError, TableBusyError } from '../../lib/errors';
import { runMigrations } from '../../lib/functions';
import { silentLogger } from '../../lib/logger';
import { repairDatabase } from '../../lib/store/repair';
import { DIRTY_KEY, getDatabaseVersion, getSystemSetting } from '../../lib/store/settings';
import { ensureHistoryTable } from '../../lib/store/history';
import type { Migration } from '../../lib/types';
import { statementsDuring } from '../helpers/db';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { alterOrders, appTraffic, withReader } from '../helpers/long-reader';
import { tableMigrations } from '../helpers/migrations';
import { REPO_ROOT } from '../helpers/processes';

const quiet = { logger: silentLogger };

for (const dialect of DIALECTS.filter((d) => d.engine === 'mysql')) {
  describeDialect(dialect, 'MySQL/MariaDB in production', ({ database }) => {
    it('a migration that fails on its first statement changed nothing: a plain MigrationFailedError, no mark, the next start runs it', async () => {
      const { db } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      await db.schema.createTable('clash', (t) => t.integer('id'));
      const clashing: Migration = {
        version: '0.2.0',
        description: 'creates clash',
        async up(trx) {
          await trx.schema.createTable('clash', (t) => t.integer('id'));
          await trx.schema.createTable('after_clash', (t) => t.integer('id'));
        },
      };
      const err = await runMigrations(db, [...tableMigrations(['0.1.0']), clashing], quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect(err).to.include({ version: '0.2.0', dirty: false, lastGoodVersion: '0.1.0' });
      expect((err as Error).message).to.match(/already exists/);
      expect(await getSystemSetting(db, DIRTY_KEY), 'no marker left').to.equal(undefined);
      expect(await db.schema.hasTable('after_clash')).to.equal(false);
      // The operator removes the clash; the next start simply runs the migration.
      await db.schema.dropTable('clash');
      const report = await runMigrations(db, [...tableMigrations(['0.1.0']), clashing], quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
      expect(await getDatabaseVersion(db)).to.equal('0.2.0');
    });

    it('a migration that fails after committing DDL marks the database dirty, naming it and its error', async () => {
      const { db } = database();
      const half: Migration = {
        version: '0.2.0',
        description: 'half done',
        async up(trx) {
          await trx.schema.createTable('half_a', (t) => t.integer('id'));
          await trx.raw('SELECT * FROM no_such_table');
        },
      };
      const err = await runMigrations(db, [...tableMigrations(['0.1.0']), half], quiet).catch((e: unknown) => e);
      expect(err).to.include({ version: '0.2.0', dirty: true });
      const next = await runMigrations(db, [...tableMigrations(['0.1.0']), half], quiet).catch((e: unknown) => e);
      expect(next).to.be.instanceOf(DirtyDatabaseError);
      expect(next).to.include({ version: '0.2.0', inProgress: false, lastGoodVersion: '0.1.0' });
      expect((next as Error).message).to.match(/no_such_table/);
    });

    it('db_version, the history row and the next marker commit together, in one transaction after the DDL', async () => {
      const { db } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const { statements, bindings } = await statementsDuring(db, () => runMigrations(db, tableMigrations(['0.1.0', '0.2.0', '0.3.0']), quiet));
      const flat = statements.map((s) => s.replace(/\s+/g, ' ').toLowerCase());
      const versionWrite = flat.findIndex((s, i) => s.startsWith('insert into `system_settings`') && bindings[i].includes('db_version'));
      const historyWrite = flat.findIndex((s, i) => i > versionWrite && s.startsWith('insert into `system_migrations`'));
      expect(versionWrite, flat.join('\n')).to.be.above(0);
      expect(historyWrite).to.be.above(versionWrite);
      const begin = flat.lastIndexOf('begin;', versionWrite);
      const commit = flat.findIndex((s, i) => i > historyWrite && s === 'commit;');
      expect(begin, 'a transaction opened after the DDL').to.be.above(flat.findIndex((s) => s.startsWith('create table `t_0_2_0`')));
      expect(flat.slice(begin, commit).filter((s) => s === 'commit;' || s.startsWith('create')), 'nothing commits in between').to.deep.equal([]);
      // The same statement writes 0.3.0's in-progress marker: no moment where neither marker nor version says where it stands.
      expect(bindings[versionWrite], 'db_version and the next marker in one upsert').to.include(DIRTY_KEY);
      expect(String(bindings[versionWrite].find((b) => String(b).includes('"inProgress":true')))).to.include('"version":"0.3.0"');
      expect(flat.slice(begin, commit).filter((s) => s.startsWith('insert into `system_settings`'))).to.have.length(1);
      expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);
    });

    it('SIGKILL in the middle of a migration that committed DDL: the next start refuses, naming it; repair, then it runs', async function () {
      this.timeout(60_000);
      const { db, url } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'test/helpers/lock-holder.ts'], {
        cwd: REPO_ROOT,
        env: { ...process.env, DATABASE_URL: url, HOLDER_DDL: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('LOCKED') && resolve());
        child.on('close', () => reject(new Error('lock holder exited early')));
      });
      child.kill('SIGKILL');
      await exited;
      expect(await db.schema.hasTable('holder_made'), 'its DDL committed').to.equal(true);
      const refused = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 15_000 }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(DirtyDatabaseError);
      expect(refused).to.include({ version: '9.0.0', inProgress: true, lastGoodVersion: '0.1.0' });
      expect(await db.schema.hasTable('t_0_2_0'), 'nothing ran after it').to.equal(false);
      await db.schema.dropTable('holder_made');
      await repairDatabase(db);
      const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
    });

    it('a migration whose connection dies: the real error is reported, not the failed marker write, and the next start refuses', async () => {
      const { db } = database();
      const dies: Migration = {
        version: '0.2.0',
        description: 'loses its connection',
        async up(trx) {
          await trx.schema.createTable('before_death', (t) => t.integer('id'));
          await trx.raw('KILL CONNECTION_ID()');
        },
      };
      const err = await runMigrations(db, [...tableMigrations(['0.1.0']), dies], quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect(err).to.include({ version: '0.2.0', dirty: true });
      const cause = String((err as { cause?: unknown }).cause);
      expect(cause).to.match(/killed|interrupted|closed the connection|lost|ECONNRESET/i);
      expect(cause).to.not.match(/Can't add new command/);
      const next = await runMigrations(db, [...tableMigrations(['0.1.0']), dies], quiet).catch((e: unknown) => e);
      expect(next).to.be.instanceOf(DirtyDatabaseError);
      expect(next).to.include({ version: '0.2.0' });
    });

    describe('a long reader holds the table a migration alters', () => {
      it('app queries wait at most about lock_wait_timeout; the migration, having changed nothing, is retried and completes', async function () {
        this.timeout(60_000);
        const { db, open } = database();
        await withReader(db, open, 3500, async (app) => {
          const traffic = appTraffic(app, (q) => q('orders').count());
          const result = await runMigrations(db, [alterOrders], { ...quiet, ddlLockTimeoutMs: 1000, ddlLockRetries: 20 }).catch((e: unknown) => e);
          const { slowestMs } = await traffic.stop();
          console.log(`      lock_wait_timeout 1 s, reader holding 3.5 s: slowest app query ${slowestMs} ms`);
          expect(result, String(result)).to.deep.include({ to: '1.0.0' });
          expect(slowestMs).to.be.below(1000 + 800);
        });
        expect(await db.schema.hasColumn('orders', 'qty')).to.equal(true);
        expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);
      });

      it('a reader that never lets go: TableBusyError naming the table, not dirty, the database as it was', async function () {
        this.timeout(60_000);
        const { db, open } = database();
        await withReader(db, open, undefined, async (app) => {
          const traffic = appTraffic(app, (q) => q('orders').count());
          const err = await runMigrations(db, [alterOrders], { ...quiet, ddlLockTimeoutMs: 1000, ddlLockRetries: 1 }).catch((e: unknown) => e);
          await traffic.stop();
          expect(err).to.be.instanceOf(MigrationFailedError);
          expect(err).to.include({ version: '1.0.0', dirty: false });
          const cause = (err as MigrationFailedError).cause as TableBusyError;
          expect(cause).to.be.instanceOf(TableBusyError);
          expect(cause).to.include({ table: 'orders', attempts: 2, timeoutMs: 1000 });
        });
        expect(await db.schema.hasColumn('orders', 'qty')).to.equal(false);
        expect(await getDatabaseVersion(db)).to.equal('0.0.0');
        expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);
      });
    });

    it('8 connections creating the history table at once: all succeed', async () => {
      const { db, open } = database();
      const others = Array.from({ length: 8 }, () => open());
      try {
        const created = await Promise.all(others.map((o) => ensureHistoryTable(o)));
        expect(created.filter(Boolean).length).to.be.at.most(8);
        expect(await db.schema.hasTable('system_migrations')).to.equal(true);
      } finally {
        await Promise.all(others.map((o) => o.destroy()));
      }
    });
  });
}
