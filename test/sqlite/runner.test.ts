import { expect } from 'chai';
import type { Knex } from 'knex';
import path from 'path';
import {
  CorruptVersionError,
  InvalidMigrationError,
  LockTimeoutError,
  MigrationFailedError,
  SchemaTooNewError,
} from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { rebuildTable } from '../../lib/sqlite/rebuild';
import { getDatabaseVersion, initializeVersionTracking, updateDatabaseVersion } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { fileDb, memoryDb, statementsDuring, tempDir } from '../helpers/db';
import { recordingLogger, sqliteSchema, tableFor, tableMigrations } from '../helpers/migrations';

const quiet = { logger: silentLogger };

describe('runMigrations (SQLite, in memory)', () => {
  let db: Knex;
  beforeEach(() => {
    db = memoryDb();
  });
  afterEach(() => db.destroy());

  it('applies every migration in semver order, each once, and reports it', async () => {
    const ran: string[] = [];
    const list = tableMigrations(['1.10.0', '0.1.0', '1.9.0', '1.0.0-rc.1', '1.0.0'], ran);
    const report = await runMigrations(db, list, quiet);
    expect(ran).to.deep.equal(['0.1.0', '1.0.0-rc.1', '1.0.0', '1.9.0', '1.10.0']);
    expect(report.from).to.equal('0.0.0');
    expect(report.to).to.equal('1.10.0');
    expect(report.applied.map((a) => a.version)).to.deep.equal(ran);
    expect(report.applied[0].description).to.equal('create t_0_1_0');
    for (const a of report.applied) expect(a.durationMs).to.be.a('number').and.at.least(0);
    expect(await getDatabaseVersion(db)).to.equal('1.10.0');
    for (const v of ran) expect(await db(tableFor(v)).pluck('note')).to.deep.equal([v]);
  });

  it('a second run applies nothing and changes nothing', async () => {
    const ran: string[] = [];
    const list = tableMigrations(['0.1.0', '0.2.0'], ran);
    await runMigrations(db, list, quiet);
    const before = await sqliteSchema(db);
    const report = await runMigrations(db, list, quiet);
    expect(report).to.deep.equal({ from: '0.2.0', to: '0.2.0', applied: [] });
    expect(ran).to.deep.equal(['0.1.0', '0.2.0']);
    expect(await sqliteSchema(db)).to.deep.equal(before);
  });

  it('applies only versions above db_version, including ones added later', async () => {
    const ran: string[] = [];
    await runMigrations(db, tableMigrations(['0.1.0', '0.2.0'], ran), quiet);
    const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0', '0.3.0', '1.0.0'], ran), quiet);
    expect(ran).to.deep.equal(['0.1.0', '0.2.0', '0.3.0', '1.0.0']);
    expect(report.from).to.equal('0.2.0');
    expect(report.applied.map((a) => a.version)).to.deep.equal(['0.3.0', '1.0.0']);
  });

  it('validates the whole list before touching the database', async () => {
    const ran: string[] = [];
    const list = [...tableMigrations(['0.1.0'], ran), { version: '0.2', description: 'bad', up: async () => undefined }];
    const err = await runMigrations(db, list, quiet).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidMigrationError);
    expect((err as Error).message).to.include('"0.2"');
    expect(ran).to.deep.equal([]);
    expect(await db.schema.hasTable('system_settings')).to.equal(false);
  });

  describe('a migration that throws', () => {
    function failingAt(version: string, ran: string[]): Migration {
      return {
        version,
        description: 'half-done change',
        async up(trx) {
          ran.push(version);
          await trx.schema.createTable('half_done', (t) => t.increments('id'));
          await trx('t_0_1_0').insert({ note: 'written by the failing migration' });
          await trx.raw('SELECT * FROM no_such_table');
        },
      };
    }

    for (const { mode, options, calls } of [
      // The batch runs 0.1.0…0.3.0 in one savepoint, fails, rolls back, and replays one savepoint each.
      { mode: 'batched (default)', options: quiet, calls: ['0.1.0', '0.2.0', '0.3.0', '0.1.0', '0.2.0', '0.3.0'] },
      { mode: 'savepointPerMigration', options: { ...quiet, savepointPerMigration: true }, calls: ['0.1.0', '0.2.0', '0.3.0'] },
    ]) {
      it(`${mode}: rolls back its own schema and data, keeps earlier ones, skips later ones, and names itself`, async () => {
        const ran: string[] = [];
        const list = [...tableMigrations(['0.1.0', '0.2.0', '0.4.0'], ran), failingAt('0.3.0', ran)];
        const err = await runMigrations(db, list, options).catch((e: unknown) => e);

        expect(err).to.be.instanceOf(MigrationFailedError);
        const failure = err as MigrationFailedError;
        expect(failure.code).to.equal('MIGRATION_FAILED');
        expect(failure.version).to.equal('0.3.0');
        expect(failure.lastGoodVersion).to.equal('0.2.0');
        expect(failure.message).to.match(/^Migration 0\.3\.0 \(half-done change\) failed: .*no such table: no_such_table/);
        expect(failure.message).to.include('db_version stays at 0.2.0');
        expect((failure.cause as Error).message).to.include('no_such_table');

        expect(ran).to.deep.equal(calls);
        expect(await getDatabaseVersion(db)).to.equal('0.2.0');
        expect(await db.schema.hasTable('half_done')).to.equal(false);
        expect(await db('t_0_1_0').pluck('note')).to.deep.equal(['0.1.0']);
        expect(await db.schema.hasTable('t_0_2_0')).to.equal(true);
        expect(await db.schema.hasTable('t_0_4_0')).to.equal(false);
        expect(await db('system_migrations').orderBy('id').pluck('version')).to.deep.equal(['0.1.0', '0.2.0']);
      });
    }

    it('leaves the database exactly as before when the first pending migration fails', async () => {
      await runMigrations(db, tableMigrations(['0.1.0']), quiet);
      const before = await sqliteSchema(db);
      const rowsBefore = await db('t_0_1_0').select();
      const err = await runMigrations(db, [...tableMigrations(['0.1.0']), failingAt('0.2.0', [])], quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect(await sqliteSchema(db)).to.deep.equal(before);
      expect(await db('t_0_1_0').select()).to.deep.equal(rowsBefore);
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
    });

    it('a fixed migration runs on the next start', async () => {
      const ran: string[] = [];
      await runMigrations(db, [...tableMigrations(['0.1.0'], ran), failingAt('0.2.0', ran)], quiet).catch(() => undefined);
      const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0'], ran), quiet);
      expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
      expect(await getDatabaseVersion(db)).to.equal('0.2.0');
    });
  });

  describe('the start gate', () => {
    it('a newer database in the same major: runs nothing and warns', async () => {
      await initializeVersionTracking(db);
      await updateDatabaseVersion(db, '1.4.0');
      const ran: string[] = [];
      const logger = recordingLogger();
      const report = await runMigrations(db, tableMigrations(['0.1.0', '1.0.0', '1.2.0'], ran), { logger });
      expect(report).to.deep.equal({ from: '1.4.0', to: '1.4.0', applied: [] });
      expect(ran).to.deep.equal([]);
      expect(logger.warnings.join('\n')).to.include('database is at 1.4.0, newer than this code\'s 1.2.0');
      expect(await getDatabaseVersion(db)).to.equal('1.4.0');
    });

    it('a newer database in another major: SchemaTooNewError before doing anything', async () => {
      await initializeVersionTracking(db);
      await updateDatabaseVersion(db, '2.0.0');
      const before = await sqliteSchema(db);
      const ran: string[] = [];
      const err = await runMigrations(db, tableMigrations(['0.1.0', '1.2.0'], ran), quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SchemaTooNewError);
      expect((err as SchemaTooNewError).code).to.equal('SCHEMA_TOO_NEW');
      expect(ran).to.deep.equal([]);
      expect(await sqliteSchema(db)).to.deep.equal(before);
      expect(await getDatabaseVersion(db)).to.equal('2.0.0');
    });

    it('a corrupted db_version: CorruptVersionError, nothing runs, value untouched', async () => {
      await initializeVersionTracking(db);
      await db('system_settings').where({ key: 'db_version' }).update({ value: '1.0' });
      const ran: string[] = [];
      const err = await runMigrations(db, tableMigrations(['0.1.0'], ran), quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVersionError);
      expect((err as Error).message).to.include('"1.0"');
      expect(ran).to.deep.equal([]);
      expect(await db('system_settings').where({ key: 'db_version' }).first()).to.include({ value: '1.0' });
    });
  });

  describe('foreign keys on SQLite', () => {
    const parentChild: Migration = {
      version: '0.1.0',
      description: 'parent and child',
      async up(trx) {
        await trx.schema.createTable('parent', (t) => t.increments('id'));
        await trx.schema.createTable('child', (t) => {
          t.increments('id');
          t.integer('parent_id').notNullable().references('id').inTable('parent').onDelete('CASCADE');
        });
        await trx('parent').insert([{ id: 1 }, { id: 2 }]);
        await trx('child').insert([{ parent_id: 1 }, { parent_id: 2 }, { parent_id: 2 }]);
      },
    };

    it('suspends enforcement during a migration (a DROP does not cascade) and restores it afterwards', async () => {
      const recreateParent: Migration = {
        version: '0.2.0',
        description: 'recreate parent by hand',
        async up(trx) {
          await trx.raw('CREATE TABLE parent_new (id INTEGER PRIMARY KEY, label TEXT)');
          await trx.raw('INSERT INTO parent_new (id) SELECT id FROM parent');
          await trx.raw('DROP TABLE parent');
          await trx.raw('ALTER TABLE parent_new RENAME TO parent');
        },
      };
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
      await runMigrations(db, [parentChild, recreateParent], quiet);
      expect(await db('child').count({ n: '*' })).to.deep.equal([{ n: 3 }]);
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
      // Enforcement is really back: deleting a parent cascades again.
      await db('parent').where({ id: 2 }).del();
      expect(await db('child').count({ n: '*' })).to.deep.equal([{ n: 1 }]);
    });

    it('a migration that leaves a dangling reference is rolled back with a clear error', async () => {
      const orphan: Migration = {
        version: '0.2.0',
        description: 'orphans a child',
        async up(trx) {
          await trx('parent').where({ id: 2 }).del();
        },
      };
      const err = await runMigrations(db, [parentChild, orphan], quiet).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as Error).message).to.match(/Migration 0\.2\.0 \(orphans a child\) failed: Migration 0\.2\.0: 2 foreign key violation\(s\) \(child rowid \d -> parent/);
      expect(await db('parent').pluck('id')).to.deep.equal([1, 2]);
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      expect(await db.raw('PRAGMA foreign_keys')).to.deep.equal([{ foreign_keys: 1 }]);
    });

    for (const [mode, options] of [
      ['alone', quiet],
      ['in a batch', quiet],
      ['one savepoint each', { ...quiet, savepointPerMigration: true }],
    ] as const) {
      it(`rebuildTable in a migration (${mode}) leaves the foreign-key check to the runner, which still catches what it breaks`, async () => {
        const earlier = mode === 'alone' ? [] : tableMigrations(['0.1.5']);
        const widen: Migration = {
          version: '0.2.0',
          description: 'widen parent',
          up: async (trx) => void (await rebuildTable(trx, 'parent', { addColumns: { label: 'TEXT' } })),
        };
        const shift: Migration = {
          version: '0.3.0',
          description: 'shift parent ids',
          up: async (trx) => void (await rebuildTable(trx, 'parent', { copy: { id: 'id + 100' } })),
        };
        await runMigrations(db, [parentChild], quiet);
        const { statements } = await statementsDuring(db, () => runMigrations(db, [parentChild, ...earlier, widen], options));
        // The runner's whole-database check: once per batch, or once per migration; never rebuildTable's own.
        const checks = mode === 'one savepoint each' ? 2 : 1;
        expect(statements.filter((sql) => /foreign_key_check/.test(sql))).to.deep.equal(Array(checks).fill('PRAGMA foreign_key_check'));
        expect(await db('parent').pluck('id')).to.deep.equal([1, 2]);

        const err = await runMigrations(db, [parentChild, ...earlier, widen, shift], options).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(MigrationFailedError);
        expect((err as Error).message).to.match(/^Migration 0\.3\.0 \(shift parent ids\) failed: .*3 foreign key violation\(s\) \(child rowid \d -> parent/);
        expect(await db('parent').pluck('id')).to.deep.equal([1, 2]);
        expect(await db('child').count({ n: '*' })).to.deep.equal([{ n: 3 }]);
        expect(await getDatabaseVersion(db)).to.equal('0.2.0');
      });
    }
  });

  it('says so in the log when a batch fails and is replayed one savepoint per migration', async () => {
    const logger = recordingLogger();
    const broken: Migration = { version: '0.3.0', description: 'broken', up: async (trx) => void (await trx.raw('SELECT * FROM nowhere')) };
    await runMigrations(db, [...tableMigrations(['0.1.0', '0.2.0']), broken], { logger }).catch(() => undefined);
    expect(logger.lines[0]).to.match(/^migration 0\.3\.0 failed \(.*no such table: nowhere\); batch rolled back, running it again one savepoint per migration$/);
    expect(logger.lines.slice(1).map((l) => l.split(' (')[0])).to.deep.equal(['applied 0.1.0 create t_0_1_0', 'applied 0.2.0 create t_0_2_0']);
    expect(await getDatabaseVersion(db)).to.equal('0.2.0');
  });

  it('logs each applied migration with its time through the injected logger', async () => {
    const logger = recordingLogger();
    await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { logger });
    expect(logger.lines[0]).to.match(/^applied 0\.1\.0 create t_0_1_0 \(\d+(\.\d)? ms\)$/);
    expect(logger.lines[1]).to.match(/^applied 0\.2\.0 create t_0_2_0 \(\d+(\.\d)? ms\)$/);
    expect(logger.lines[2]).to.equal('database is at 0.2.0');
    await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { logger });
    expect(logger.lines[3]).to.equal('database is up to date at 0.2.0');
  });
});

describe('runMigrations (SQLite file): the lock', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Knex;
  let other: Knex;
  beforeEach(() => {
    tmp = tempDir();
    const file = path.join(tmp.dir, 'lock.sqlite');
    db = fileDb(file);
    other = fileDb(file);
  });
  afterEach(async () => {
    await db.destroy();
    await other.destroy();
    tmp.cleanup();
  });

  it('while another connection holds the write lock: LockTimeoutError after lockTimeoutMs, nothing applied', async () => {
    await runMigrations(db, tableMigrations(['0.1.0']), quiet);
    const holder = await other.transaction();
    await holder('system_settings').where({ key: 'db_version' }).update({ value: holder.ref('value') });
    const ran: string[] = [];
    const err = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0'], ran), { ...quiet, lockTimeoutMs: 300 }).catch((e: unknown) => e);
    await holder.rollback();
    expect(err).to.be.instanceOf(LockTimeoutError);
    expect((err as LockTimeoutError).code).to.equal('LOCK_TIMEOUT');
    expect((err as Error).message).to.include('lock.sqlite');
    expect((err as Error).message).to.include('300 ms');
    expect(ran).to.deep.equal([]);
    expect(await getDatabaseVersion(db)).to.equal('0.1.0');
  });

  it('when nothing is pending it neither waits for nor takes the lock', async () => {
    await runMigrations(db, tableMigrations(['0.1.0']), quiet);
    const holder = await other.transaction();
    await holder('system_settings').where({ key: 'db_version' }).update({ value: holder.ref('value') });
    try {
      const report = await runMigrations(db, tableMigrations(['0.1.0']), { ...quiet, lockTimeoutMs: 50 });
      expect(report.applied).to.deep.equal([]);
    } finally {
      await holder.rollback();
    }
  });

  it('waits for a lock that is released in time, then applies', async () => {
    await runMigrations(db, tableMigrations(['0.1.0']), quiet);
    const holder = await other.transaction();
    await holder('system_settings').where({ key: 'db_version' }).update({ value: holder.ref('value') });
    setTimeout(() => void holder.commit(), 200);
    const report = await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), { ...quiet, lockTimeoutMs: 10_000 });
    expect(report.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
  });
});
