/**
 * History with checksums, rollback / migrateTo, requires, out-of-order hotfixes and dry runs, on
 * every engine (dry runs: engines with transactional DDL).
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import os from 'os';
import { ChecksumMismatchError, DependencyError, InvalidMigrationError, RollbackError, UnsupportedDialectError } from '../../lib/errors';
import { checksumOf } from '../../lib/store/checksum';
import { readHistory } from '../../lib/store/history';
import { silentLogger } from '../../lib/logger';
import { migrateTo, rollback, runMigrations } from '../../lib/functions';
import { getDatabaseVersion, initializeVersionTracking, updateDatabaseVersion } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { recordingLogger, tableFor } from '../helpers/migrations';

const quiet = { logger: silentLogger };

/** Creates t_<version> on up and drops it on down, so both directions are visible in the schema. */
function reversible(version: string, extra: Partial<Migration> = {}): Migration {
  return {
    version,
    description: `table ${tableFor(version)}`,
    async up(trx) {
      await trx.schema.createTable(tableFor(version), (t) => {
        t.increments('id');
        t.string('note', 64);
      });
      await trx(tableFor(version)).insert({ note: version });
    },
    async down(trx) {
      await trx.schema.dropTable(tableFor(version));
    },
    ...extra,
  };
}

async function tables(db: Knex, versions: string[]): Promise<string[]> {
  const present: string[] = [];
  for (const v of versions) if (await db.schema.hasTable(tableFor(v))) present.push(v);
  return present;
}

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'history, rollback, requires, out-of-order, dry run', ({ database }) => {
    const versions = ['0.1.0', '0.2.0', '1.0.0'];

    it('records one history row per applied migration, in the same transaction: version, direction, checksum, timing, host/pid', async () => {
      const { db } = database();
      const list = versions.map((v) => reversible(v));
      await runMigrations(db, list, quiet);
      const rows = await readHistory(db);
      expect(rows.map((r) => [r.version, r.direction])).to.deep.equal(versions.map((v) => [v, 'up']));
      expect(rows[0].checksum).to.equal(checksumOf(list[0]));
      expect(rows[0].checksum).to.match(/^[0-9a-f]{64}$/);
      expect(rows[0].run_by).to.equal(`${os.hostname()}/${process.pid}`);
      expect(Number(rows[0].duration_ms)).to.be.at.least(0);
      expect(new Date(rows[0].finished_at).getTime()).to.be.at.least(new Date(rows[0].started_at).getTime() - 1000);
    });

    it('a failed migration leaves no history row (transactional engines) and the next run records it once', async () => {
      const { db } = database();
      if (dialect.engine === 'mysql') {
        // MySQL marks the database dirty instead; covered in dirty.test.ts.
        expect(dialect.engine).to.equal('mysql');
        return;
      }
      const failing = reversible('0.2.0', { async up() { throw new Error('nope'); } });
      await runMigrations(db, [reversible('0.1.0'), failing], quiet).catch(() => undefined);
      expect((await readHistory(db)).map((r) => r.version)).to.deep.equal(['0.1.0']);
      await runMigrations(db, [reversible('0.1.0'), reversible('0.2.0')], quiet);
      expect((await readHistory(db)).map((r) => r.version)).to.deep.equal(['0.1.0', '0.2.0']);
    });

    it('up → down → up gives the same schema; db_version moves back and forth; history says so', async () => {
      const { db } = database();
      const list = versions.map((v) => reversible(v));
      await runMigrations(db, list, quiet);
      const down = await rollback(db, { to: '0.1.0', migrations: list, ...quiet });
      expect(down.applied.map((a) => [a.version, a.direction])).to.deep.equal([['1.0.0', 'down'], ['0.2.0', 'down']]);
      expect(down.to).to.equal('0.1.0');
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      expect(await tables(db, versions)).to.deep.equal(['0.1.0']);
      const up = await runMigrations(db, list, quiet);
      expect(up.applied.map((a) => a.version)).to.deep.equal(['0.2.0', '1.0.0']);
      expect(await tables(db, versions)).to.deep.equal(versions);
      expect((await readHistory(db)).map((r) => `${r.version}:${r.direction}`)).to.deep.equal([
        '0.1.0:up', '0.2.0:up', '1.0.0:up', '1.0.0:down', '0.2.0:down', '0.2.0:up', '1.0.0:up',
      ]);
    });

    it('migrateTo goes up or down to a registered version, and to 0.0.0', async () => {
      const { db } = database();
      const list = versions.map((v) => reversible(v));
      expect((await migrateTo(db, '0.2.0', { migrations: list, ...quiet })).to).to.equal('0.2.0');
      expect(await tables(db, versions)).to.deep.equal(['0.1.0', '0.2.0']);
      expect((await migrateTo(db, '1.0.0', { migrations: list, ...quiet })).applied.map((a) => a.version)).to.deep.equal(['1.0.0']);
      expect((await migrateTo(db, '0.0.0', { migrations: list, ...quiet })).to).to.equal('0.0.0');
      expect(await tables(db, versions)).to.deep.equal([]);
      const err = await migrateTo(db, '0.5.0', { migrations: list, ...quiet }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RollbackError);
      expect((err as Error).message).to.include('0.5.0: it is not a registered version');
    });

    it('a rollback over a migration without down runs nothing and lists every such migration', async () => {
      const { db } = database();
      const list = [reversible('0.1.0'), reversible('0.2.0', { down: undefined }), reversible('0.3.0'), reversible('0.4.0', { down: undefined })];
      await runMigrations(db, list, quiet);
      const err = await rollback(db, { to: '0.1.0', migrations: list, ...quiet }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RollbackError);
      expect((err as RollbackError).code).to.equal('ROLLBACK_NOT_POSSIBLE');
      expect((err as Error).message).to.equal(
        'Cannot roll back to 0.1.0: no down for 0.4.0 (table t_0_4_0), 0.2.0 (table t_0_2_0); nothing was run',
      );
      expect(await getDatabaseVersion(db)).to.equal('0.4.0');
      expect(await tables(db, ['0.1.0', '0.2.0', '0.3.0', '0.4.0'])).to.deep.equal(['0.1.0', '0.2.0', '0.3.0', '0.4.0']);
    });

    it('rollback refuses a target above the current version', async () => {
      const { db } = database();
      const list = versions.map((v) => reversible(v));
      await migrateTo(db, '0.1.0', { migrations: list, ...quiet });
      const err = await rollback(db, { to: '1.0.0', migrations: list, ...quiet }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RollbackError);
      expect((err as Error).message).to.include('the database is at 0.1.0, below it');
    });

    it('checksums: a changed applied migration is refused (nothing runs) unless ignoreChecksums', async () => {
      const { db } = database();
      await runMigrations(db, [reversible('0.1.0'), reversible('0.2.0')], quiet);
      const edited = reversible('0.1.0', {
        async up(trx) {
          await trx.schema.createTable('t_0_1_0', (t) => t.increments('id')); // someone edited a shipped migration
        },
      });
      const list = [edited, reversible('0.2.0'), reversible('0.3.0')];
      const err = await runMigrations(db, list, quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ChecksumMismatchError);
      expect((err as ChecksumMismatchError).code).to.equal('CHECKSUM_MISMATCH');
      expect((err as Error).message).to.match(/^Applied migration\(s\) 0\.1\.0 changed since they ran/);
      expect(await tables(db, ['0.3.0'])).to.deep.equal([]);
      const report = await runMigrations(db, list, { ...quiet, ignoreChecksums: true });
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.3.0']);
    });

    it('adopts a database versioned before history existed (only db_version), without errors', async () => {
      const { db } = database();
      // What an older release of this module left behind: system_settings and the tables, no history.
      await initializeVersionTracking(db);
      for (const v of ['0.1.0', '0.2.0']) await reversible(v).up(db as unknown as Knex.Transaction);
      await updateDatabaseVersion(db, '0.2.0');
      const report = await runMigrations(db, [reversible('0.1.0'), reversible('0.2.0'), reversible('0.3.0')], quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.3.0']);
      expect((await readHistory(db)).map((r) => `${r.version}:${r.direction}`)).to.deep.equal(['0.1.0:adopt', '0.2.0:adopt', '0.3.0:up']);
      // Adopted migrations can be rolled back like any other.
      await rollback(db, { to: '0.1.0', migrations: [reversible('0.1.0'), reversible('0.2.0'), reversible('0.3.0')], ...quiet });
      expect(await tables(db, ['0.1.0', '0.2.0', '0.3.0'])).to.deep.equal(['0.1.0']);
    });

    it('requires: load-time validation, a plan that breaks it is refused, and so is rolling back a requirement', async () => {
      const { db } = database();
      const unknown = await runMigrations(db, [reversible('0.1.0', { requires: ['0.9.0'] })], quiet).catch((e: unknown) => e);
      expect(unknown).to.be.instanceOf(InvalidMigrationError);
      expect((unknown as Error).message).to.include('migration 0.1.0: requires "0.9.0", which is not registered');

      const backwards = [reversible('0.1.0', { requires: ['0.2.0'] }), reversible('0.2.0')];
      const err = await runMigrations(db, backwards, quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(DependencyError);
      expect((err as Error).message).to.equal('Migration 0.1.0 requires 0.2.0, which would not be applied before it (a requirement with a higher version runs later)');
      expect(await tables(db, ['0.1.0', '0.2.0'])).to.deep.equal([]);

      // A late hotfix 0.1.5 that requires 0.2.0 (applied out of order, after it): 0.2.0 cannot be rolled back under it.
      const list = [reversible('0.1.0'), reversible('0.2.0'), reversible('0.3.0')];
      await runMigrations(db, list, quiet);
      const hotfix = reversible('0.1.5', { requires: ['0.2.0'] });
      await runMigrations(db, [...list, hotfix], { ...quiet, allowOutOfOrder: true });
      // Rolling back to 0.1.5 would remove 0.2.0 and 0.3.0 while 0.1.5, which requires 0.2.0, stays.
      const refused = await rollback(db, { to: '0.1.5', migrations: [...list, hotfix], ...quiet }).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(DependencyError);
      expect((refused as Error).message).to.equal('Cannot roll back 0.2.0: migration 0.1.5 stays applied and requires it');
      expect(await getDatabaseVersion(db)).to.equal('0.3.0');
      // Rolling back below the hotfix takes it along, so that is allowed.
      const all = await rollback(db, { to: '0.1.0', migrations: [...list, hotfix], ...quiet });
      expect(all.applied.map((a) => a.version)).to.deep.equal(['0.3.0', '0.2.0', '0.1.5']);
    });

    it('out-of-order: a late hotfix is reported missing by default, applied and recorded with allowOutOfOrder', async () => {
      const { db } = database();
      const list = [reversible('0.1.0'), reversible('0.2.0')];
      await runMigrations(db, list, quiet);
      const hotfix = reversible('0.1.5');
      const logger = recordingLogger();
      const skipped = await runMigrations(db, [...list, hotfix], { logger });
      expect(skipped.applied).to.deep.equal([]);
      expect(skipped.missing).to.deep.equal(['0.1.5']);
      expect(logger.warnings.join('\n')).to.include('registered but never applied, below db_version 0.2.0: 0.1.5');
      expect(await tables(db, ['0.1.5'])).to.deep.equal([]);

      const applied = await runMigrations(db, [...list, hotfix], { ...quiet, allowOutOfOrder: true });
      expect(applied.applied.map((a) => a.version)).to.deep.equal(['0.1.5']);
      expect(applied.to, 'a hotfix below db_version does not lower it').to.equal('0.2.0');
      expect(await tables(db, ['0.1.5'])).to.deep.equal(['0.1.5']);
      expect((await readHistory(db)).map((r) => r.version)).to.deep.equal(['0.1.0', '0.2.0', '0.1.5']);
      expect((await runMigrations(db, [...list, hotfix], quiet)).missing).to.equal(undefined);
    });

    if (dialect.engine !== 'mysql') {
      it('dry run: reports the SQL of each step and leaves the database exactly as it was', async () => {
        const { db } = database();
        const list = versions.map((v) => reversible(v));
        await migrateTo(db, '0.1.0', { migrations: list, ...quiet });
        const before = await snapshotRows(db);
        const report = await runMigrations(db, list, { ...quiet, dryRun: true });
        expect(report.dryRun).to.equal(true);
        expect(report).to.include({ from: '0.1.0', to: '0.1.0', planned: '1.0.0' });
        expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0', '1.0.0']);
        expect(report.applied[0].sql?.join('\n')).to.match(/create table .t_0_2_0./i);
        expect(report.applied[0].sql?.join('\n')).to.match(/insert into .t_0_2_0./i);
        expect(await snapshotRows(db)).to.deep.equal(before);
        const down = await rollback(db, { to: '0.0.0', migrations: list, ...quiet, dryRun: true });
        expect(down.applied[0].sql?.join('\n')).to.match(/drop table .t_0_1_0./i);
        expect(await snapshotRows(db)).to.deep.equal(before);
      });
    } else {
      it('dry run is refused on MySQL, whose DDL cannot be rolled back', async () => {
        const { db } = database();
        const err = await runMigrations(db, [reversible('0.1.0')], { ...quiet, dryRun: true }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(UnsupportedDialectError);
        expect(await db.schema.hasTable('system_settings')).to.equal(false);
      });
    }
  });
}

/** Tables (with their rows) and db_version: enough to see that a dry run changed nothing. */
async function snapshotRows(db: Knex): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { version: await getDatabaseVersion(db) };
  for (const v of ['0.1.0', '0.2.0', '1.0.0']) {
    out[v] = (await db.schema.hasTable(tableFor(v))) ? await db(tableFor(v)).select().orderBy('id') : null;
  }
  out.history = (await readHistory(db)).length;
  return out;
}
