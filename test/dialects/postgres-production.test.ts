/**
 * PostgreSQL in production: each migration commits on its own (its locks released, an enum value it
 * adds usable by the next), and a migration waiting for a table lock never stalls the app for longer
 * than the lock timeout. The pooler races are in pgbouncer.test.ts.
 */
import { expect } from 'chai';
import { LockTimeoutError, MigrationFailedError, TableBusyError } from '../../lib/errors';
import { runMigrations } from '../../lib/functions';
import { silentLogger } from '../../lib/logger';
import { LOCK_KEY, getDatabaseVersion, getSystemSetting } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { statementsDuring } from '../helpers/db';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { alterOrders, appTraffic, withReader } from '../helpers/long-reader';

const quiet = { logger: silentLogger };

/** A gate a migration waits at until the test opens it. */
function gate(): { reached: Promise<void>; wait: () => Promise<void>; open: () => void } {
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { reached, open, wait: () => (reach(), opened) };
}

for (const dialect of DIALECTS.filter((d) => d.engine === 'postgres')) {
  describeDialect(dialect, 'PostgreSQL in production', ({ database }) => {
    it('an enum value added by one migration is usable by the next, on the first start of a fresh database', async () => {
      const { db } = database();
      const migrations: Migration[] = [
        { version: '1.0.0', description: 'mood type', up: async (trx) => void (await trx.raw(`CREATE TYPE mood AS ENUM ('ok')`)) },
        { version: '1.1.0', description: 'a new mood', up: async (trx) => void (await trx.raw(`ALTER TYPE mood ADD VALUE 'happy'`)) },
        {
          version: '1.2.0',
          description: 'uses it',
          async up(trx) {
            await trx.raw('CREATE TABLE moods (m mood NOT NULL)');
            await trx.raw(`INSERT INTO moods VALUES ('happy'), ('ok')`);
          },
        },
      ];
      const report = await runMigrations(db, migrations, quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['1.0.0', '1.1.0', '1.2.0']);
      expect(await db('moods').orderBy('m').pluck('m')).to.deep.equal(['ok', 'happy']);
      expect(await getDatabaseVersion(db)).to.equal('1.2.0');
    });

    it('each migration: its commit does not wait for the disk, db_version and history in one statement; the run ends durable', async () => {
      const { db } = database();
      await runMigrations(db, [{ version: '0.1.0', description: 'base', up: async () => undefined }], quiet);
      const seen: string[] = [];
      const probe = (version: string): Migration => ({
        version,
        description: `probe ${version}`,
        up: async (trx) => void seen.push(((await trx.raw('SHOW synchronous_commit')) as { rows: { synchronous_commit: string }[] }).rows[0].synchronous_commit),
      });
      const { statements } = await statementsDuring(db, () => runMigrations(db, [probe('0.2.0'), probe('0.3.0')], quiet));
      expect(seen, 'inside each migration transaction').to.deep.equal(['off', 'off']);
      const flat = statements.map((s) => s.replace(/\s+/g, ' ').toLowerCase());
      const bookkeeping = flat.filter((s) => s.includes('"system_migrations"') && s.startsWith('with'));
      expect(bookkeeping, flat.join('\n')).to.have.length(2);
      for (const s of bookkeeping) expect(s).to.match(/^with "settings_written" as \(insert into "system_settings" .* on conflict \("key"\) do update .*\) insert into "system_migrations"/);
      const separate = flat.filter((s) => (s.startsWith('insert into "system_settings"') && s.includes('do update')) || s.startsWith('insert into "system_migrations"'));
      expect(separate, 'no separate version or history writes').to.deep.equal([]);
      // The release of the lease (a durable commit, flushing the earlier ones) comes last.
      expect(flat[flat.length - 1]).to.match(/^delete from "system_settings" where "key" = \$1 and "value" = \$2/);
      expect(((await db.raw('SHOW synchronous_commit')) as { rows: { synchronous_commit: string }[] }).rows[0].synchronous_commit, 'the session default untouched').to.equal('on');
      expect(await getDatabaseVersion(db)).to.equal('0.3.0');
      expect((await db('system_migrations').orderBy('id').pluck('version')).slice(-2)).to.deep.equal(['0.2.0', '0.3.0']);
    });

    it('the table migration 1 altered is free for the app while migration 2 still runs, and the lock is gone afterwards', async () => {
      const { db, open } = database();
      await db.schema.createTable('orders', (t) => {
        t.increments('id');
        t.string('sku');
      });
      const app = open();
      const slow = gate();
      const run = runMigrations(
        db,
        [
          { version: '1.0.0', description: 'alter orders', up: async (trx) => void (await trx.schema.alterTable('orders', (t) => t.integer('qty'))) },
          { version: '1.1.0', description: 'a slow data migration elsewhere', up: () => slow.wait() },
        ],
        quiet,
      );
      try {
        await slow.reached;
        // Migration 1 committed: its ACCESS EXCLUSIVE lock on orders is gone while migration 2 runs.
        const written = await app.transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = '2s'`);
          return trx('orders').insert({ sku: 'a', qty: 2 }).returning('id');
        });
        expect(written).to.have.length(1);
        expect(await getDatabaseVersion(app)).to.equal('1.0.0');
        // The migration lock (a lease row) is held meanwhile: another runner waits, then gives up.
        expect(await getSystemSetting(app, LOCK_KEY)).to.be.a('string');
        const other = await runMigrations(app, [{ version: '1.2.0', description: 'x', up: async () => undefined }], { ...quiet, lockTimeoutMs: 300 }).catch((e: unknown) => e);
        expect(other).to.be.instanceOf(LockTimeoutError);
      } finally {
        slow.open();
        await run;
        await app.destroy();
      }
      expect(await getDatabaseVersion(db)).to.equal('1.1.0');
      expect(await getSystemSetting(db, LOCK_KEY), 'released: no lease row left').to.equal(undefined);
      const locks = (await db.raw(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)) as { rows: { n: number }[] };
      expect(locks.rows[0].n).to.equal(0);
    });

    describe('a long reader holds the table a migration alters', () => {
      it('app queries on it wait at most about the lock timeout, and the migration completes once the reader is gone', async function () {
        this.timeout(60_000);
        const { db, open } = database();
        await withReader(db, open, 2500, async (app) => {
          const traffic = appTraffic(app, (q) => q('orders').count());
          const started = performance.now();
          const report = await runMigrations(db, [alterOrders], { ...quiet, ddlLockTimeoutMs: 400, ddlLockRetries: 20 });
          const tookMs = performance.now() - started;
          const { slowestMs, queries } = await traffic.stop();
          console.log(`      lock timeout 400 ms, reader holding 2.5 s: migration done after ${Math.round(tookMs)} ms; slowest of ${queries} app queries ${slowestMs} ms`);
          expect(report.applied.map((a) => a.version)).to.deep.equal(['1.0.0']);
          expect(tookMs, 'it waited for the reader, retrying').to.be.above(2000);
          expect(slowestMs, 'no app query waited much longer than the lock timeout').to.be.below(400 + 600);
          expect(queries).to.be.above(10);
        });
        expect(await db('orders').orderBy('id').select('sku', 'qty')).to.deep.equal([
          { sku: 'a', qty: null },
          { sku: 'b', qty: null },
        ]);
      });

      it('a reader that never lets go: TableBusyError naming the table and the reader, the database as it was', async function () {
        this.timeout(60_000);
        const { db, open } = database();
        await withReader(db, open, undefined, async (app) => {
          const traffic = appTraffic(app, (q) => q('orders').count());
          const err = await runMigrations(db, [alterOrders], { ...quiet, ddlLockTimeoutMs: 300, ddlLockRetries: 2 }).catch((e: unknown) => e);
          const { slowestMs } = await traffic.stop();
          expect(err).to.be.instanceOf(MigrationFailedError);
          expect(err).to.include({ version: '1.0.0', dirty: false });
          const cause = (err as MigrationFailedError).cause as TableBusyError;
          expect(cause).to.be.instanceOf(TableBusyError);
          expect(cause).to.include({ code: 'TABLE_BUSY', table: 'orders', timeoutMs: 300, attempts: 3 });
          expect(cause.blockers.join(' ')).to.match(/idle in transaction: select \* from "orders"/);
          expect((err as Error).message).to.match(/table orders stayed busy: 3 attempt\(s\) each waited 300 ms/);
          expect(slowestMs).to.be.below(300 + 600);
        });
        expect(await db.schema.hasColumn('orders', 'qty')).to.equal(false);
        expect(await getDatabaseVersion(db)).to.equal('0.0.0');
        expect(await getSystemSetting(db, LOCK_KEY)).to.equal(undefined);
      });
    });

    it('a transaction: false migration longer than the lease keeps the lock: renewed meanwhile, never taken over', async function () {
      this.timeout(30_000);
      const { db, open } = database();
      await db.schema.createTable('events', (t) => {
        t.increments('id');
        t.string('kind');
      });
      const other = open();
      const slow = gate();
      const concurrently: Migration = {
        version: '1.0.0',
        description: 'index built concurrently',
        transaction: false,
        async up(knex) {
          await knex.raw('CREATE INDEX CONCURRENTLY events_kind ON events (kind)');
          await slow.wait();
        },
      };
      const run = runMigrations(db, [concurrently], { ...quiet, leaseMs: 300 });
      try {
        await slow.reached;
        // Three leases' worth of waiting, while the migration runs outside any transaction …
        const waiting = await runMigrations(other, [concurrently], { ...quiet, leaseMs: 300, lockTimeoutMs: 1000 }).catch((e: unknown) => e);
        // … and nobody took the lock over: the holder renewed it.
        expect(waiting).to.be.instanceOf(LockTimeoutError);
      } finally {
        slow.open();
        await other.destroy();
      }
      expect((await run).applied.map((a) => a.version)).to.deep.equal(['1.0.0']);
      expect(await getSystemSetting(db, LOCK_KEY)).to.equal(undefined);
      expect(await getSystemSetting(db, 'migration_dirty')).to.equal(undefined);
    });

    it('a first start waiting on another one creating system_settings times out as a lock wait, never a raw lock_timeout error', async () => {
      const { db, open } = database();
      const creator = open();
      const trx = await creator.transaction();
      try {
        // What a concurrent first start holds while it creates the bookkeeping ("ksm" and the schema's hash).
        await trx.raw(`SELECT pg_advisory_xact_lock(${0x6b736d}, hashtext(current_schema()))`);
        const err = await runMigrations(db, [{ version: '1.0.0', description: 'x', up: async () => undefined }], { ...quiet, lockTimeoutMs: 500 }).catch((e: unknown) => e);
        expect(err, String(err)).to.be.instanceOf(LockTimeoutError);
      } finally {
        await trx.rollback();
        await creator.destroy();
      }
      expect((await runMigrations(db, [{ version: '1.0.0', description: 'x', up: async () => undefined }], quiet)).to).to.equal('1.0.0');
    });

    it('a statement timeout, when asked for, stops a runaway migration and rolls it back', async () => {
      const { db } = database();
      const err = await runMigrations(
        db,
        [{ version: '1.0.0', description: 'runaway', up: async (trx) => void (await trx.raw('CREATE TABLE t (id int); SELECT pg_sleep(5)')) }],
        { ...quiet, statementTimeoutMs: 200 },
      ).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as Error).message).to.match(/statement timeout/);
      expect(await db.schema.hasTable('t')).to.equal(false);
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
    });
  });
}
