/**
 * The Migrator as an object: its options, its folder loading, and refusals before any database work.
 * The verbs themselves are covered per engine in test/dialects/.
 */
import fs from 'fs';
import path from 'path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { InvalidMigrationError, InvalidVersionError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { Migrator } from '../../lib/migrator';
import { getDatabaseVersion } from '../../lib/store/settings';
import { memoryDb, tempDir } from '../helpers/db';
import { tableMigrations } from '../helpers/migrations';

const migrationFile = (version: string) =>
  `module.exports = { version: '${version}', description: 'table ${version}', async up(trx) { await trx.schema.createTable('t_${version.replace(/\./g, '_')}', (t) => t.increments('id')); } };\n`;

describe('Migrator (SQLite, in memory)', () => {
  let db: Knex;
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    db = memoryDb();
    tmp = tempDir('ksm-migrator-');
  });
  afterEach(async () => {
    await db.destroy();
    tmp.cleanup();
  });

  it('refuses to be built without a knex instance or without migrations', () => {
    expect(() => new Migrator({ db: undefined as unknown as Knex, migrations: [] })).to.throw(InvalidMigrationError, /needs `db`/);
    expect(() => new Migrator({ db, migrations: undefined as unknown as string })).to.throw(InvalidMigrationError, /needs `migrations`/);
  });

  it('refuses a target that is not semver with InvalidVersionError, touching nothing', async () => {
    const migrator = new Migrator({ db, migrations: tableMigrations(['0.1.0']), logger: silentLogger });
    for (const call of [() => migrator.to('1.x'), () => migrator.rollback('v1'), () => migrator.to('')]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidVersionError);
      expect((err as InvalidVersionError).code).to.equal('INVALID_VERSION');
    }
    expect(await db.raw(`SELECT name FROM sqlite_master`)).to.deep.equal([]);
  });

  it('loads a folder once, sees a new file only in a new Migrator, and does not cache a failed load', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'a.js'), migrationFile('0.1.0'));
    const migrator = new Migrator({ db, migrations: tmp.dir, logger: silentLogger });
    expect((await migrator.latest()).to).to.equal('0.1.0');
    fs.writeFileSync(path.join(tmp.dir, 'b.js'), migrationFile('0.2.0'));
    expect((await migrator.migrations()).map((m) => m.version), 'loaded once').to.deep.equal(['0.1.0']);
    expect((await new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).latest()).to).to.equal('0.2.0');

    const broken = tempDir('ksm-migrator-broken-');
    try {
      fs.writeFileSync(path.join(broken.dir, 'x.js'), 'module.exports = { foo: 1 };\n');
      const failing = new Migrator({ db, migrations: broken.dir, logger: silentLogger });
      const err = await failing.latest().catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidMigrationError);
      expect((err as Error).message).to.include(path.join(broken.dir, 'x.js'));
      fs.writeFileSync(path.join(broken.dir, 'x.js'), migrationFile('0.3.0'));
      expect((await failing.migrations()).map((m) => m.version), 'read again after a failure').to.deep.equal(['0.3.0']);
    } finally {
      broken.cleanup();
    }
    expect(await getDatabaseVersion(db)).to.equal('0.2.0');
  });

  it('with files named v<x>_<y>_<z>_<slug>, a start with nothing pending loads no file; any difference loads them all', async () => {
    const counted = (version: string, objectVersion = version) =>
      `globalThis.__ksmLoads = (globalThis.__ksmLoads ?? 0) + 1;\n${migrationFile(objectVersion)}`;
    const loads = () => (globalThis as { __ksmLoads?: number }).__ksmLoads ?? 0;
    const latest = () => new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).latest();
    fs.writeFileSync(path.join(tmp.dir, 'v0_1_0_a.js'), counted('0.1.0'));
    fs.writeFileSync(path.join(tmp.dir, 'v0_2_0_b.js'), counted('0.2.0'));
    const start = loads();
    expect((await latest()).applied.map((a) => a.version)).to.deep.equal(['0.1.0', '0.2.0']);
    expect(loads() - start, 'first run loads both files').to.equal(2);

    expect(await latest()).to.deep.equal({ from: '0.2.0', to: '0.2.0', applied: [] });
    expect(loads() - start, 'nothing pending: no file loaded').to.equal(2);

    // A late hotfix below db_version: the names differ from history, so the files load and it is reported.
    fs.writeFileSync(path.join(tmp.dir, 'v0_1_5_hotfix.js'), counted('0.1.5'));
    expect((await latest()).missing).to.deep.equal(['0.1.5']);
    expect(loads() - start).to.equal(5);
    fs.rmSync(path.join(tmp.dir, 'v0_1_5_hotfix.js'));

    // A file whose name disagrees with its object: loaded and planned by the object's version.
    fs.writeFileSync(path.join(tmp.dir, 'v0_3_0_c.js'), counted('0.3.0', '0.4.0'));
    expect((await latest()).applied.map((a) => a.version)).to.deep.equal(['0.4.0']);
    expect(await latest()).to.deep.include({ from: '0.4.0', to: '0.4.0', applied: [] });
    expect(loads() - start, 'the mismatching name keeps loading the files').to.equal(11);
    expect(await getDatabaseVersion(db)).to.equal('0.4.0');
  });

  it('defaults the snapshots folder to <migrations>/snapshots, and has none for a list unless given', () => {
    expect(new Migrator({ db, migrations: tmp.dir }).snapshotsDirectory()).to.equal(path.join(tmp.dir, 'snapshots'));
    expect(new Migrator({ db, migrations: [] }).snapshotsDirectory()).to.equal(undefined);
    expect(new Migrator({ db, migrations: [], snapshotsDirectory: '/x' }).snapshotsDirectory()).to.equal('/x');
  });

  it('validate without a snapshot compares history only; snapshot() needs a folder when given a list', async () => {
    const migrator = new Migrator({ db, migrations: tableMigrations(['0.1.0']), logger: silentLogger });
    await migrator.latest();
    expect(await migrator.validate()).to.deep.equal({ ok: true, version: '0.1.0', problems: [] });
    const err = await migrator.snapshot().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidMigrationError);
    expect((err as Error).message).to.match(/snapshotsDirectory/);
  });
});
