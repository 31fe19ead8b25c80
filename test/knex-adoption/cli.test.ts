/**
 * The CLI on a project that used `knex migrate`: the knexfile's migrations.directory holds the knex
 * files (and its tableName says where knex kept its history); adopt-knex --dry-run, status, latest
 * and make work on it with no extra configuration. Real child processes on a SQLite file.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { initializeDatabase } from '../../lib/bootstrap';
import { silentLogger } from '../../lib/logger';
import { readHistory } from '../../lib/store/history';
import { getDatabaseVersion } from '../../lib/store/settings';
import { fileDb, tempDir } from '../helpers/db';
import { FIRST_HALF, KNEX_FILES, KNEX_HISTORY, copyHistory, dumpDatabase, knexLatest } from '../helpers/knex-history';
import { runTs, type ProcessResult } from '../helpers/processes';

describe('CLI: a knex project switches with no extra configuration', () => {
  let tmp: ReturnType<typeof tempDir>;
  let migrationsDir: string;
  const dbFile = () => path.join(tmp.dir, 'dev.sqlite3');
  const cli = (...args: string[]): Promise<ProcessResult> => runTs('lib/cli/bin.ts', [...args, '--cwd', tmp.dir]);

  beforeEach(() => {
    tmp = tempDir('ksm-knex-cli-');
    migrationsDir = path.join(tmp.dir, 'db', 'migrations');
    fs.mkdirSync(migrationsDir, { recursive: true });
    for (const f of KNEX_FILES) fs.copyFileSync(path.join(KNEX_HISTORY, f), path.join(migrationsDir, f));
    fs.writeFileSync(
      path.join(tmp.dir, 'knexfile.js'),
      `module.exports = {\n  client: 'sqlite3',\n  connection: { filename: './dev.sqlite3' },\n  useNullAsDefault: true,\n` +
        `  migrations: { directory: './db/migrations', tableName: 'legacy_migrations' },\n};\n`,
    );
  });
  afterEach(() => tmp.cleanup());

  async function withDb<T>(fn: (db: ReturnType<typeof fileDb>) => Promise<T>): Promise<T> {
    const db = fileDb(dbFile());
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  /** The team's knex migrator ran the first half of the history, into the knexfile's tableName. */
  async function knexRanFirstHalf(): Promise<void> {
    const half = copyHistory([...Array(FIRST_HALF).keys()]);
    try {
      await withDb(async (db) => {
        db.client.config.migrations = { tableName: 'legacy_migrations' };
        await knexLatest(db, half.dir);
      });
    } finally {
      half.cleanup();
    }
  }

  it('adopt-knex --dry-run changes nothing; status shows the adopted files; latest adopts and applies the rest; make goes above', async () => {
    await knexRanFirstHalf();
    const before = await withDb(dumpDatabase);

    const preview = await cli('adopt-knex', '--dry-run', '--json');
    expect(preview.code, preview.stderr).to.equal(0);
    const doc = JSON.parse(preview.stdout) as { to: string; adopted: { name: string }[]; dryRun: boolean };
    expect(doc.dryRun).to.equal(true);
    expect(doc.to).to.equal(`0.0.${FIRST_HALF}`);
    expect(doc.adopted.map((a) => a.name)).to.deep.equal(KNEX_FILES.slice(0, FIRST_HALF));
    expect(await withDb(dumpDatabase)).to.deep.equal(before);

    const status = await cli('status');
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.include(`current version  0.0.${FIRST_HALF}`);
    expect(status.stdout).to.include(`  applied  0.0.1  ${KNEX_FILES[0]}`);
    expect(status.stdout).to.include(`  pending  0.0.${FIRST_HALF + 1}  ${KNEX_FILES[FIRST_HALF]}`);
    expect(await withDb(dumpDatabase)).to.deep.equal(before);

    const latest = await cli('latest');
    expect(latest.code, latest.stderr).to.equal(0);
    expect(latest.stdout).to.match(new RegExp(`^applied 0\\.0\\.${FIRST_HALF + 1} {2}${KNEX_FILES[FIRST_HALF]} {2}\\(`, 'm'));
    expect(latest.stdout.trim().split('\n').at(-1)).to.equal(`database is at 0.0.${KNEX_FILES.length}`);
    await withDb(async (db) => {
      expect((await readHistory(db)).filter((r) => r.direction === 'adopt')).to.have.length(FIRST_HALF);
      expect(((await db('legacy_migrations').select('name').orderBy('id')) as { name: string }[]).map((r) => r.name)).to.deep.equal(KNEX_FILES.slice(0, FIRST_HALF));
    });

    const made = await cli('make', 'loan notes');
    expect(made.code, made.stderr).to.equal(0);
    expect(made.stdout).to.match(/^created db\/migrations\/v0_1_0_loan_notes\.(js|ts) \(0\.1\.0\)$/m);
    const file = path.join(migrationsDir, made.stdout.trim().split(' ')[1].replace('db/migrations/', ''));
    fs.writeFileSync(
      file,
      "module.exports = { version: '0.1.0', description: 'loan notes', async up(trx) { await trx.schema.alterTable('loans', (t) => t.text('notes')); }, async down(trx) { await trx.schema.alterTable('loans', (t) => t.dropColumn('notes')); } };\n",
    );
    const next = await cli('latest');
    expect(next.code, next.stderr).to.equal(0);
    expect(next.stdout).to.match(/^applied 0\.1\.0 {2}loan notes/m);
    await withDb(async (db) => {
      expect(await getDatabaseVersion(db)).to.equal('0.1.0');
      expect(await db.schema.hasColumn('loans', 'notes')).to.equal(true);
    });
  });
  it('initializeDatabase reads the config’s migrations section as the CLI reads the knexfile’s (tableName)', async () => {
    const config = { client: 'sqlite3', connection: { filename: dbFile() }, useNullAsDefault: true, migrations: { tableName: 'legacy_migrations' } };
    await knexRanFirstHalf();
    const db = await initializeDatabase(config, { migrations: migrationsDir, logger: silentLogger });
    try {
      expect(await getDatabaseVersion(db)).to.equal(`0.0.${KNEX_FILES.length}`);
      const history = await readHistory(db);
      expect(history.map((r) => r.direction)).to.deep.equal([...Array(FIRST_HALF).fill('adopt'), ...Array(KNEX_FILES.length - FIRST_HALF).fill('up')]);
    } finally {
      await db.destroy();
    }
  });
});
