import { execFile } from 'child_process';
import path from 'path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { CorruptVersionError } from '../lib/errors';
import { silentLogger } from '../lib/logger';
import { runMigrations } from '../lib/functions';
import { getDatabaseVersion, initializeVersionTracking } from '../lib/store/settings';
import { migrationStatus } from '../lib/functions';
import { APP_MIGRATIONS_DIR, CURRENT_DB_VERSION } from './helpers/app';
import { fileDb, memoryDb, tempDir } from './helpers/db';
import { sqliteSchema, tableMigrations } from './helpers/migrations';

const REPO_ROOT = path.resolve(__dirname, '..');
const quiet = { logger: silentLogger };

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs scripts/migrate.ts in a child node process from the repo root. NODE_ENV is not inherited,
 * so only `env` and the arguments choose the environment.
 */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const inherited = { ...process.env };
  delete inherited.NODE_ENV;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'scripts/migrate.ts', ...args],
      { cwd: REPO_ROOT, env: { ...inherited, ...env }, timeout: 45_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`migrate.ts ${args.join(' ')} did not exit normally: ${error.message}\n${stderr}`));
        } else {
          resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
        }
      },
    );
  });
}

function linesOf(text: string): string[] {
  return text.trimEnd().split('\n');
}

const APPLIED_0_1_0 = /^applied 0\.1\.0 {2}baseline: users and posts {2}\(\d+(\.\d+)? ms\)$/;
const APPLIED_1_0_0 = /^applied 1\.0\.0 {2}users\.is_admin, user_logins and feedback {2}\(\d+(\.\d+)? ms\)$/;
const SEED_TABLES = ['users', 'posts', 'user_logins', 'feedback'];

describe('scripts/migrate.ts (CLI, child processes)', () => {
  let dir: string;
  let cleanup: () => void;
  let dbFile: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('ksm-cli-'));
    dbFile = path.join(dir, 'app.sqlite3');
  });
  afterEach(() => cleanup());

  /** The CLI on this test's own SQLite file, through the production environment. */
  function cli(...args: string[]): Promise<CliResult> {
    return runCli(['--env', 'production', ...args], { DATABASE_URL: `sqlite://${dbFile}` });
  }

  async function withFile<T>(fn: (db: Knex) => Promise<T>): Promise<T> {
    const db = fileDb(dbFile);
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  async function rowCounts(): Promise<Record<string, number>> {
    return withFile(async (db) => {
      const counts: Record<string, number> = {};
      for (const table of SEED_TABLES) {
        const row = (await db(table).count({ n: '*' }).first()) as { n: number };
        counts[table] = Number(row.n);
      }
      return counts;
    });
  }

  describe('latest', () => {
    it('on a fresh database applies 0.1.0 and 1.0.0 with their times and leaves db_version at 1.0.0', async () => {
      const run = await cli('latest');
      expect(run.stderr).to.equal('');
      expect(run.code).to.equal(0);
      const lines = linesOf(run.stdout);
      expect(lines).to.have.length(3);
      expect(lines[0]).to.match(APPLIED_0_1_0);
      expect(lines[1]).to.match(APPLIED_1_0_0);
      expect(lines[2]).to.equal('database is at 1.0.0');

      await withFile(async (db) => {
        expect(await getDatabaseVersion(db)).to.equal('1.0.0');
        expect(await db.schema.hasColumn('users', 'is_admin')).to.equal(true);
        expect(await db.schema.hasTable('user_logins')).to.equal(true);
        expect(await db.schema.hasTable('feedback')).to.equal(true);
      });
    });

    it('is the default command, and a second run applies nothing and changes nothing', async () => {
      expect((await cli()).code).to.equal(0);
      const before = await withFile(sqliteSchema);

      const again = await cli();
      expect(again).to.deep.equal({ code: 0, stdout: 'database is up to date at 1.0.0\n', stderr: '' });
      expect(await withFile(sqliteSchema)).to.deep.equal(before);
    });
  });

  describe('status', () => {
    it('is read-only: all pending at 0.0.0 on a fresh database, all applied after latest', async () => {
      const fresh = await cli('status');
      expect(fresh.stderr).to.equal('');
      expect(fresh.code).to.equal(0);
      expect(linesOf(fresh.stdout)).to.deep.equal([
        'current version  0.0.0',
        'target version   1.0.0',
        '  pending  0.1.0  baseline: users and posts',
        '  pending  1.0.0  users.is_admin, user_logins and feedback',
        '2 pending: run `latest` to apply',
      ]);
      expect(await withFile((db) => db.raw(`SELECT name FROM sqlite_master`))).to.deep.equal([]);

      expect((await cli('latest')).code).to.equal(0);
      const migrated = await cli('status');
      expect(migrated.code).to.equal(0);
      expect(linesOf(migrated.stdout)).to.deep.equal([
        'current version  1.0.0',
        'target version   1.0.0',
        '  applied  0.1.0  baseline: users and posts',
        '  applied  1.0.0  users.is_admin, user_logins and feedback',
        'nothing pending',
      ]);
    });
  });

  describe('seed', () => {
    it('migrates first, inserts the development data, and a second seed duplicates nothing', async () => {
      const first = await cli('seed');
      expect(first.stderr).to.equal('');
      expect(first.code).to.equal(0);
      const lines = linesOf(first.stdout);
      expect(lines[0]).to.match(APPLIED_0_1_0);
      expect(lines[1]).to.match(APPLIED_1_0_0);
      expect(lines.slice(2)).to.deep.equal(['database is at 1.0.0', `seeded ${path.join('seeds', '01_development_data.ts')}`]);

      const counts = await rowCounts();
      expect(counts.users).to.be.at.least(3);
      expect(counts.posts).to.be.at.least(2);
      expect(counts.user_logins).to.be.at.least(1);
      await withFile(async (db) => {
        const admins = await db('users').where({ is_admin: 1 }).pluck('username');
        expect(admins).to.have.length(1);
        expect(await db('feedback').distinct('kind').orderBy('kind').pluck('kind')).to.deep.equal(['bug', 'feedback']);
        expect(await db('users').whereNot({ password_hash: 'seed-not-a-real-hash' }).count({ n: '*' }).first()).to.deep.equal({ n: 0 });
      });

      const second = await cli('seed');
      expect(second.code).to.equal(0);
      expect(linesOf(second.stdout)).to.deep.equal([
        'database is up to date at 1.0.0',
        `seeded ${path.join('seeds', '01_development_data.ts')}`,
      ]);
      expect(await rowCounts()).to.deep.equal(counts);
    });
  });

  describe('usage', () => {
    it('--help prints the usage on stdout and exits 0', async () => {
      const run = await runCli(['--help']);
      expect(run.code).to.equal(0);
      expect(run.stderr).to.equal('');
      expect(run.stdout).to.match(/^Usage: /);
      for (const word of ['latest', 'status', 'seed', '--env', '--verbose']) expect(run.stdout).to.include(word);
    });

    async function expectUsageError(args: string[], reason: RegExp): Promise<void> {
      const run = await runCli(args);
      expect(run.code, run.stderr).to.equal(2);
      expect(run.stdout).to.equal('');
      const [first, ...rest] = linesOf(run.stderr);
      expect(first).to.match(/^error: /);
      expect(first).to.match(reason);
      expect(rest.join('\n')).to.include('Usage: ');
    }

    it('an unknown command exits 2 with the reason and the usage on stderr', () =>
      expectUsageError(['frobnicate'], /unknown command "frobnicate"/));

    it('an unknown option exits 2', () => expectUsageError(['latest', '--force'], /--force/));

    it('a missing --env value exits 2', () => expectUsageError(['latest', '--env'], /--env/));

    it('an unknown environment exits 2', () => expectUsageError(['--env', 'staging'], /unknown environment "staging"/));
  });

  describe('errors', () => {
    async function corruptDbVersion(): Promise<void> {
      await withFile(async (db) => {
        await initializeVersionTracking(db);
        await db('system_settings').where({ key: 'db_version' }).update({ value: 'not-a-version' });
      });
    }

    it('a corrupt db_version exits 1 with one stderr line naming CORRUPT_VERSION and no stack', async () => {
      await corruptDbVersion();
      const run = await cli('latest');
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(linesOf(run.stderr)).to.have.length(1);
      expect(run.stderr).to.match(/^error \[CORRUPT_VERSION\]: system_settings\.db_version holds "not-a-version"/);
      const stored = await withFile((db) => db('system_settings').where({ key: 'db_version' }).first('value'));
      expect(stored).to.deep.equal({ value: 'not-a-version' });
    });

    it('with --verbose the stack follows the error line', async () => {
      await corruptDbVersion();
      const run = await cli('latest', '--verbose');
      expect(run.code).to.equal(1);
      const [first, ...rest] = linesOf(run.stderr);
      expect(first).to.match(/^error \[CORRUPT_VERSION\]: /);
      expect(rest[0]).to.match(/^CorruptVersionError: /);
      expect(rest.some((line) => /^\s+at /.test(line))).to.equal(true);
    });

    it("never prints a connection string's password, with or without --verbose", async () => {
      const env = { DATABASE_URL: 'postgres://app:S3cretPassw0rd@127.0.0.1:1/db' };
      const run = await runCli(['--env', 'production', 'latest'], env);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(linesOf(run.stderr)).to.have.length(1);
      expect(run.stderr).to.match(/^error/);
      const verbose = await runCli(['--env', 'production', 'latest', '--verbose'], env);
      expect(verbose.code).to.equal(1);
      for (const output of [run.stdout, run.stderr, verbose.stdout, verbose.stderr]) {
        expect(output).not.to.include('S3cretPassw0rd');
      }
    });

    it('an unsupported DATABASE_URL scheme exits 1 with a clear message', async () => {
      const run = await runCli(['--env', 'production', 'status'], { DATABASE_URL: 'redis://cache:6379/0' });
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(linesOf(run.stderr)).to.deep.equal([
        'error [UNSUPPORTED_DIALECT]: DATABASE_URL has the unsupported scheme "redis:"; use postgres://, mysql://, mariadb://, sqlite:// or file:',
      ]);
    });

    it('without --env, NODE_ENV chooses the environment when it names one', async () => {
      // Production is recognisable by its DATABASE_URL being read (and refused) before any connection.
      const run = await runCli(['status'], { NODE_ENV: 'production', DATABASE_URL: 'redis://cache:6379/0' });
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/^error \[UNSUPPORTED_DIALECT\]: DATABASE_URL has the unsupported scheme "redis:"/);
    });
  });
});

describe('migrationStatus (SQLite, in memory)', () => {
  let db: Knex;
  beforeEach(() => {
    db = memoryDb();
  });
  afterEach(() => db.destroy());

  it('on an empty database reports everything pending at 0.0.0, sorted by semver, and creates nothing', async () => {
    const status = await migrationStatus(db, tableMigrations(['0.10.0', '0.2.0', '0.9.0']));
    expect(status).to.deep.equal({
      current: '0.0.0',
      target: '0.10.0',
      unknown: [],
      migrations: [
        { version: '0.2.0', description: 'create t_0_2_0', state: 'pending' },
        { version: '0.9.0', description: 'create t_0_9_0', state: 'pending' },
        { version: '0.10.0', description: 'create t_0_10_0', state: 'pending' },
      ],
    });
    expect(await db.raw(`SELECT name FROM sqlite_master`)).to.deep.equal([]);
  });

  it('plans as the runner does: a late hotfix below db_version is missing in both, never shown as applied', async () => {
    const [v010, v020, v030] = tableMigrations(['0.1.0', '0.2.0', '0.3.0']);
    await runMigrations(db, [v010, v030], quiet);
    const status = await migrationStatus(db, [v010, v020, v030]);
    expect(status.migrations.map((m) => [m.version, m.state])).to.deep.equal([
      ['0.1.0', 'applied'],
      ['0.2.0', 'missing'],
      ['0.3.0', 'applied'],
    ]);
    const report = await runMigrations(db, [v010, v020, v030], quiet);
    expect(report.missing).to.deep.equal(['0.2.0']);
    expect(report.applied).to.deep.equal([]);
    // With out-of-order runs allowed, both see it as pending, and the runner applies it.
    expect((await migrationStatus(db, [v010, v020, v030])).current).to.equal('0.3.0');
    const applied = await runMigrations(db, [v010, v020, v030], { ...quiet, allowOutOfOrder: true });
    expect(applied.applied.map((a) => a.version)).to.deep.equal(['0.2.0']);
    expect((await migrationStatus(db, [v010, v020, v030])).migrations.every((m) => m.state === 'applied')).to.equal(true);
  });

  it('marks what runMigrations applied as applied and the rest as pending', async () => {
    await runMigrations(db, tableMigrations(['0.1.0', '0.2.0']), quiet);
    const status = await migrationStatus(db, tableMigrations(['0.1.0', '0.2.0', '0.3.0']));
    expect(status.current).to.equal('0.2.0');
    expect(status.target).to.equal('0.3.0');
    expect(status.migrations.map((m) => `${m.version} ${m.state}`)).to.deep.equal([
      '0.1.0 applied',
      '0.2.0 applied',
      '0.3.0 pending',
    ]);
  });

  it("defaults to the app's migrations", async () => {
    const fresh = await migrationStatus(db, APP_MIGRATIONS_DIR);
    expect(fresh.current).to.equal('0.0.0');
    expect(fresh.target).to.equal(CURRENT_DB_VERSION);
    expect(fresh.migrations.map((m) => m.version)).to.include.members(['0.1.0', '1.0.0']);
    expect(fresh.migrations.every((m) => m.state === 'pending')).to.equal(true);

    await runMigrations(db, APP_MIGRATIONS_DIR, quiet);
    const migrated = await migrationStatus(db, APP_MIGRATIONS_DIR);
    expect(migrated.current).to.equal(CURRENT_DB_VERSION);
    expect(migrated.migrations.every((m) => m.state === 'applied')).to.equal(true);
  });

  it('rejects a corrupt db_version with CorruptVersionError and leaves it as it is', async () => {
    await initializeVersionTracking(db);
    await db('system_settings').where({ key: 'db_version' }).update({ value: 'v1' });
    const err = await migrationStatus(db, tableMigrations(['0.1.0'])).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptVersionError);
    expect(await db('system_settings').where({ key: 'db_version' }).pluck('value')).to.deep.equal(['v1']);
  });
});
