import { expect } from 'chai';
import path from 'path';
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
});
