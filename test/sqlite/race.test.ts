import { expect } from 'chai';
import path from 'path';
import { sqliteAdapter } from '../../lib/dialects/sqlite';
import { LockTimeoutError } from '../../lib/errors';
import { getDatabaseVersion } from '../../lib/store/settings';
import { fileDb, tempDir } from '../helpers/db';
import { runTs } from '../helpers/processes';

const PROCESSES = 6;
const MIGRATIONS = 5;

describe('several processes starting at once on one SQLite file', () => {
  it(`${PROCESSES} processes: every migration applied exactly once, all end at the final version, none fails`, async () => {
    const tmp = tempDir();
    const file = path.join(tmp.dir, 'race.sqlite');
    try {
      // Children need ~1–2 s to load ts-node; a shared start time makes them really start together.
      const env = { DATABASE_URL: `sqlite://${file}`, RACE_START_AT: String(Date.now() + 4000), RACE_MIGRATIONS: String(MIGRATIONS) };
      const results = await Promise.all(Array.from({ length: PROCESSES }, () => runTs('test/helpers/race-child.ts', [], env)));

      for (const r of results) {
        expect(r.stderr, r.stderr).to.equal('');
        expect(r.code).to.equal(0);
      }
      const reports = results.map((r) => JSON.parse(r.stdout.trim()) as { to: string; applied: { version: string }[] });
      for (const report of reports) expect(report.to).to.equal(`1.${MIGRATIONS - 1}.0`);
      const appliedEverywhere = reports.flatMap((r) => r.applied.map((a) => a.version)).sort();
      expect(appliedEverywhere).to.deep.equal(Array.from({ length: MIGRATIONS }, (_, i) => `1.${i}.0`).sort());

      const db = fileDb(file);
      try {
        const log = (await db('migration_log').select('version').orderBy('id')) as { version: string }[];
        expect(log.map((l) => l.version)).to.deep.equal(Array.from({ length: MIGRATIONS }, (_, i) => `1.${i}.0`));
        expect(await getDatabaseVersion(db)).to.equal(`1.${MIGRATIONS - 1}.0`);
        for (let i = 0; i < MIGRATIONS; i++) expect(await db(`race_${i}`).count({ n: '*' })).to.deep.equal([{ n: 500 }]);
        expect(await db.raw('PRAGMA integrity_check')).to.deep.equal([{ integrity_check: 'ok' }]);
      } finally {
        await db.destroy();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('a new database whose first writer holds the write lock past our wait: a lock timeout (retried by the runner), never a raw SQLITE_BUSY', async () => {
    const tmp = tempDir();
    const file = path.join(tmp.dir, 'busy.sqlite');
    const waiter = fileDb(file);
    const writer = fileDb(file);
    try {
      await writer.raw('CREATE TABLE filler (x TEXT)');
      // The first writer creates system_settings (not yet visible) and then writes more than its
      // page cache holds: the spill takes the database's EXCLUSIVE lock, which blocks even readers.
      const trx = await writer.transaction();
      await trx.raw('PRAGMA cache_size = 10');
      await trx.raw('CREATE TABLE system_settings (key VARCHAR(255) PRIMARY KEY, value TEXT, created_at DATETIME, updated_at DATETIME)');
      const waited = sqliteAdapter.withMigrationLock(waiter, { lockTimeoutMs: 1000 }, () => Promise.resolve('locked')).catch((e: unknown) => e);
      // The waiter has read sqlite_master (no system_settings) and now waits on CREATE; then the spill.
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let i = 0; i < 50; i++) await trx('filler').insert(Array.from({ length: 20 }, () => ({ x: 'y'.repeat(1000) })));
      const err = await waited;
      await trx.commit();
      // Its second look at sqlite_master met the EXCLUSIVE lock: that is a lock wait, not a failure.
      expect(err).to.be.instanceOf(LockTimeoutError);
      expect(await sqliteAdapter.withMigrationLock(waiter, { lockTimeoutMs: 1000 }, () => Promise.resolve('locked'))).to.equal('locked');
    } finally {
      await waiter.destroy();
      await writer.destroy();
      tmp.cleanup();
    }
  });
});
