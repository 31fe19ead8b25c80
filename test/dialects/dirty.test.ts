/**
 * Failures that cannot be rolled back: MySQL's implicitly committed DDL and `transaction: false`
 * migrations. The database is marked dirty and refuses to migrate until repaired.
 */
import { expect } from 'chai';
import { DIRTY_KEY } from '../../lib/store/dirty';
import { DirtyDatabaseError, InvalidVersionError, MigrationFailedError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { repairDatabase } from '../../lib/store/repair';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion, getSystemSetting } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { tableMigrations } from '../helpers/migrations';
import { runTs } from '../helpers/processes';

const quiet = { logger: silentLogger };

/** Its first statement succeeds (and commits on MySQL), its second fails. */
const halfDone = (overrides: Partial<Migration> = {}): Migration => ({
  version: '0.2.0',
  description: 'second statement fails',
  async up(trx) {
    await trx.schema.createTable('half_made', (t) => t.increments('id'));
    await trx.raw('INSERT INTO no_such_table VALUES (1)');
  },
  ...overrides,
});

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'failures that cannot be rolled back', ({ database }) => {
    if (dialect.engine === 'mysql') {
      it('MySQL: a half-applied migration marks the database dirty; later runs refuse until repair', async () => {
        const { db, url } = database();
        const err = await runMigrations(db, [...tableMigrations(['0.1.0']), halfDone()], quiet).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(MigrationFailedError);
        expect((err as MigrationFailedError).dirty).to.equal(true);
        expect((err as Error).message).to.include('could not be rolled back (part of it may be applied), so the database is marked dirty; db_version stays at 0.1.0');
        expect(await getDatabaseVersion(db)).to.equal('0.1.0');
        expect(await db.schema.hasTable('half_made'), 'MySQL committed the DDL').to.equal(true);
        const marker = JSON.parse((await getSystemSetting(db, DIRTY_KEY)) ?? '{}') as Record<string, string>;
        expect(marker).to.include({ version: '0.2.0', description: 'second statement fails', lastGoodVersion: '0.1.0' });
        expect(marker.error).to.include('no_such_table');
        expect(new Date(marker.failedAt).getTime()).to.be.closeTo(Date.now(), 60_000);

        // Every later run refuses, even one with nothing new to do, and says what to check.
        for (const list of [tableMigrations(['0.1.0']), [...tableMigrations(['0.1.0']), halfDone()]]) {
          const refused = await runMigrations(db, list, quiet).catch((e: unknown) => e);
          expect(refused).to.be.instanceOf(DirtyDatabaseError);
          expect((refused as DirtyDatabaseError).code).to.equal('DIRTY_DATABASE');
          expect((refused as Error).message).to.match(/^Database is dirty: migration 0\.2\.0 \(second statement fails\) failed at .* db_version is still 0\.1\.0\. Compare the schema with migration 0\.2\.0 .*"knex-semver-migrate repair"/);
        }

        // The operator undoes the half-made change by hand, then repairs through the CLI.
        await db.schema.dropTable('half_made');
        const cli = await runTs('scripts/migrate.ts', ['repair', '--env', 'production'], { DATABASE_URL: url, NODE_ENV: '' });
        expect(cli.code, cli.stderr).to.equal(0);
        expect(cli.stdout).to.include('cleared the dirty marker of 0.2.0 (second statement fails');
        expect(cli.stdout).to.include('db_version stays at 0.1.0');
        expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);

        const fixed = halfDone({ async up(trx) { await trx.schema.createTable('half_made', (t) => t.increments('id')); } });
        const report = await runMigrations(db, [...tableMigrations(['0.1.0']), fixed], quiet);
        expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
      });

      it('MySQL: repair --to VERSION records a migration completed by hand', async () => {
        const { db } = database();
        await runMigrations(db, [...tableMigrations(['0.1.0']), halfDone()], quiet).catch(() => undefined);
        await db.schema.createTable('no_such_table', (t) => t.integer('x')); // "completed by hand"
        const report = await repairDatabase(db, { to: '0.2.0' });
        expect(report).to.deep.include({ from: '0.1.0', to: '0.2.0' });
        expect(report.cleared?.version).to.equal('0.2.0');
        expect(await getDatabaseVersion(db)).to.equal('0.2.0');
        const next = await runMigrations(db, [...tableMigrations(['0.1.0', '0.3.0']), halfDone()], quiet);
        expect(next.applied.map((a) => a.version)).to.deep.equal(['0.3.0']);
      });
    } else {
      it('transactional DDL: the same failure leaves no trace and no dirty marker', async () => {
        const { db } = database();
        const err = await runMigrations(db, [...tableMigrations(['0.1.0']), halfDone()], quiet).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(MigrationFailedError);
        expect((err as MigrationFailedError).dirty).to.equal(false);
        expect(await db.schema.hasTable('half_made')).to.equal(false);
        expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);
        const report = await runMigrations(db, tableMigrations(['0.1.0', '0.3.0']), quiet);
        expect(report.applied.map((a) => a.version)).to.deep.equal(['0.3.0']);
      });
    }

    it('repair: rejects a bad --to, and on a clean database changes nothing', async () => {
      const { db } = database();
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      expect(await repairDatabase(db, { to: 'one' }).catch((e: unknown) => e)).to.be.instanceOf(InvalidVersionError);
      expect(await repairDatabase(db)).to.deep.equal({ from: '0.1.0', to: '0.1.0', cleared: undefined });
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
    });

    if (dialect.engine === 'postgres') {
      it('PostgreSQL: transaction:false runs outside a transaction (CREATE INDEX CONCURRENTLY) and moves the version', async () => {
        const { db } = database();
        const concurrently: Migration = {
          version: '0.2.0',
          description: 'index concurrently',
          transaction: false,
          async up(knex) {
            await knex.raw('CREATE INDEX CONCURRENTLY t_0_1_0_note_idx ON t_0_1_0 (note)');
          },
        };
        const report = await runMigrations(db, [...tableMigrations(['0.1.0', '0.3.0']), concurrently], quiet);
        expect(report.applied.map((a) => a.version)).to.deep.equal(['0.1.0', '0.2.0', '0.3.0']);
        const { rows } = (await db.raw(`SELECT indexname FROM pg_indexes WHERE tablename = 't_0_1_0'`)) as { rows: { indexname: string }[] };
        expect(rows.map((r) => r.indexname)).to.include('t_0_1_0_note_idx');
        expect(await getDatabaseVersion(db)).to.equal('0.3.0');
      });

      it('PostgreSQL: a failing transaction:false migration keeps earlier ones and marks the database dirty', async () => {
        const { db } = database();
        const err = await runMigrations(db, [...tableMigrations(['0.1.0']), halfDone({ transaction: false })], quiet).catch((e: unknown) => e);
        expect((err as MigrationFailedError).dirty).to.equal(true);
        expect(await getDatabaseVersion(db)).to.equal('0.1.0');
        expect(await db.schema.hasTable('t_0_1_0')).to.equal(true);
        expect(await runMigrations(db, tableMigrations(['0.1.0']), quiet).catch((e: unknown) => e)).to.be.instanceOf(DirtyDatabaseError);
      });
    }

    if (dialect.engine === 'sqlite') {
      it('SQLite: transaction:false still runs in a savepoint, so a failure leaves no trace', async () => {
        const { db } = database();
        const err = await runMigrations(db, [...tableMigrations(['0.1.0']), halfDone({ transaction: false })], quiet).catch((e: unknown) => e);
        expect((err as MigrationFailedError).dirty).to.equal(false);
        expect(await db.schema.hasTable('half_made')).to.equal(false);
        expect(await getSystemSetting(db, DIRTY_KEY)).to.equal(undefined);
      });
    }
  });
}
