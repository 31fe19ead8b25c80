/**
 * The CLI's commands beyond latest/status/seed: --dry-run, down, to, validate, snapshot, lint and
 * --json, run as real child processes against a SQLite file.
 */
import { expect } from 'chai';
import path from 'path';
import { getDatabaseVersion } from '../lib/store/settings';
import { schemaSnapshot } from '../lib/snapshot/snapshot';
import { fileDb, tempDir } from './helpers/db';
import { runTs, type ProcessResult } from './helpers/processes';

describe('CLI: dry run, down/to, validate, snapshot, lint, --json', () => {
  let tmp: ReturnType<typeof tempDir>;
  let url: string;
  let file: string;
  const cli = (...args: string[]): Promise<ProcessResult> =>
    runTs('scripts/migrate.ts', [...args, '--env', 'production'], { DATABASE_URL: url, NODE_ENV: '' });

  beforeEach(() => {
    tmp = tempDir('ksm-cli2-');
    file = path.join(tmp.dir, 'app.sqlite');
    url = `sqlite://${file}`;
  });
  afterEach(() => tmp.cleanup());

  async function withDb<T>(fn: (db: ReturnType<typeof fileDb>) => Promise<T>): Promise<T> {
    const db = fileDb(file);
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  it('a target that is not semver: exit 1 with INVALID_VERSION; a usage error with --json: exit 2 and a JSON document', async () => {
    const bad = await cli('to', '1.x', '--json');
    expect(bad.code, bad.stderr).to.equal(1);
    expect(JSON.parse(bad.stdout)).to.deep.include({ ok: false });
    expect(JSON.parse(bad.stdout).error.code).to.equal('INVALID_VERSION');
    const usage = await cli('bogus', '--json');
    expect(usage.code).to.equal(2);
    expect(JSON.parse(usage.stdout)).to.deep.equal({ ok: false, error: { code: 'USAGE', name: 'UsageError', message: 'unknown command "bogus"' } });
    expect(usage.stderr).to.match(/^error: unknown command "bogus"/);
  });

  it('latest --dry-run prints the SQL of each migration and leaves the database unchanged', async () => {
    await cli('to', '0.1.0');
    const before = await withDb(async (db) => ({ schema: await schemaSnapshot(db, { exclude: [] }), version: await getDatabaseVersion(db) }));
    const r = await cli('latest', '--dry-run');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^applied 1\.0\.0 {2}users\.is_admin, user_logins and feedback {2}\(/m);
    expect(r.stdout).to.match(/^ {4}create table `user_logins`/m);
    expect(r.stdout).to.match(/^ {4}DROP TABLE "users";$/m);
    expect(r.stdout).to.not.match(/^ {4}SELECT/m);
    expect(r.stdout.trim().split('\n').at(-1)).to.equal('dry run: would go from 0.1.0 to 1.0.0; nothing was changed');
    const after = await withDb(async (db) => ({ schema: await schemaSnapshot(db, { exclude: [] }), version: await getDatabaseVersion(db) }));
    expect(after).to.deep.equal(before);
  });

  it('down --to and to VERSION move the database both ways', async () => {
    await cli('latest');
    const down = await cli('down', '--to', '0.1.0');
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stdout).to.match(/^rolled back 1\.0\.0 {2}users\.is_admin, user_logins and feedback/m);
    expect(down.stdout.trim().split('\n').at(-1)).to.equal('database is at 0.1.0');
    expect(await withDb((db) => db.schema.hasTable('feedback'))).to.equal(false);
    const up = await cli('to', '1.0.0');
    expect(up.stdout.trim().split('\n').at(-1)).to.equal('database is at 1.0.0');
    expect(await withDb((db) => getDatabaseVersion(db))).to.equal('1.0.0');
  });

  it('validate: exit 0 when the database matches; exit 1 with a readable diff after a hand change', async () => {
    await cli('latest');
    const ok = await cli('validate');
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout.trim()).to.equal('ok: database at 1.0.0 matches the code and its snapshot');
    await withDb((db) => db.schema.alterTable('posts', (t) => void t.string('mood', 16)));
    const drift = await cli('validate');
    expect(drift.code).to.equal(1);
    expect(drift.stdout).to.include('schema differs from migrations/snapshots/sqlite.json:');
    expect(drift.stdout).to.include('  + posts.columns.mood');
    expect(drift.stdout.trim().split('\n').at(-1)).to.equal('validation failed');
    const json = JSON.parse((await cli('validate', '--json')).stdout) as { ok: boolean; drift: { kind: string; path: string }[] };
    expect(json.ok).to.equal(false);
    expect(json.drift.map((d) => [d.kind, d.path])).to.deep.equal([['added', 'posts.columns.mood']]);
  });

  it('lint: exit 0 on the app migrations, reporting what it checked', async () => {
    const r = await cli('lint');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('checked  0.1.0');
    expect(r.stdout).to.include('checked  1.0.0  (major: may break compatibility)');
    expect(await withDb((db) => getDatabaseVersion(db))).to.equal('0.0.0');
  });

  it('--json: every command prints exactly one JSON document; errors too, with their code', async () => {
    for (const args of [['latest'], ['status'], ['to', '0.1.0'], ['down', '--to', '0.0.0'], ['validate'], ['repair'], ['lint']]) {
      const r = await cli(...args, '--json');
      const lines = r.stdout.trim().split('\n');
      expect(lines, args.join(' ')).to.have.length(1);
      expect(() => JSON.parse(lines[0]), args.join(' ')).to.not.throw();
    }
    const report = JSON.parse((await cli('latest', '--json')).stdout) as { from: string; to: string; applied: { version: string; direction: string }[] };
    expect(report.to).to.equal('1.0.0');
    expect(report.applied.map((a) => [a.version, a.direction])).to.deep.equal([['0.1.0', 'up'], ['1.0.0', 'up']]);
    const failed = await cli('to', '7.0.0', '--json');
    expect(failed.code).to.equal(1);
    expect(JSON.parse(failed.stdout)).to.deep.equal({
      ok: false,
      error: { code: 'ROLLBACK_NOT_POSSIBLE', name: 'RollbackError', message: 'Cannot migrate to 7.0.0: it is not a registered version' },
    });
  });

  it('usage errors: down without --to, to without VERSION, --dry-run where it does not apply', async () => {
    for (const args of [['down'], ['to'], ['seed', '--dry-run'], ['status', '--to', '1.0.0'], ['latest', 'extra']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(/^error: /);
    }
  });
});
