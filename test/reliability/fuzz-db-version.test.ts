/**
 * Property tests: whatever db_version holds. A value that is not canonical semver (junk, near
 * misses, build metadata, SQL, unicode, megabytes) → runMigrations, getDatabaseVersion and
 * migrationStatus reject with CorruptVersionError carrying the stored value, and nothing changes.
 * A canonical version → the start gate's rules (README, "Rules"), computed here without the library:
 * pending migrations run in semver order; a newer database of the same major runs nothing and warns;
 * a newer major is refused with SchemaTooNewError, changing nothing.
 * Each with and without a system_migrations history (a database versioned before history existed is
 * adopted on its first run: the versions at or below db_version are recorded, and nothing else changes).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Knex } from 'knex';
import semver from 'semver';
import { CorruptVersionError, SchemaTooNewError } from '../../lib/errors';
import { ensureHistoryTable, HISTORY_TABLE, recordHistory } from '../../lib/store/history';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion, initializeVersionTracking, setSystemSetting } from '../../lib/store/settings';
import { migrationStatus } from '../../lib/functions';
import type { Migration, MigrationReport } from '../../lib/types';
import { memoryDb } from '../helpers/db';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { canonicalVersion, corruptVersion, fuzzParams, fuzzRuns, migrationVersion, oracleIsCanonical } from '../helpers/fuzz-arbitraries';
import { snapshot, snapshotDiff, withoutTable } from '../helpers/fuzz-snapshot';
import { recordingLogger } from '../helpers/migrations';

/** Distinct migration versions in random order. */
const versionList = fc
  .uniqueArray(migrationVersion, { maxLength: 6 })
  .chain((vs) => fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }));

/** A stored canonical version and a list; the stored one is often one of the list's (the usual case in life). */
const storedAndList: fc.Arbitrary<[string, string[]]> = versionList.chain((versions) =>
  fc.tuple(versions.length > 0 ? fc.oneof(canonicalVersion, fc.constantFrom(...versions)) : canonicalVersion, fc.constant(versions)),
);

/** Migrations that only insert a row into fuzz_log (no DDL: the same on every engine, MySQL included). */
function loggingMigrations(versions: readonly string[], ran: string[]): Migration[] {
  return versions.map((version) => ({
    version,
    description: `log ${version}`,
    async up(trx: Knex.Transaction) {
      ran.push(version);
      await trx('fuzz_log').insert({ version });
    },
  }));
}

async function createLog(db: Knex): Promise<void> {
  await db.schema.createTable('fuzz_log', (t) => {
    t.increments('seq');
    t.string('version', 64).notNullable();
  });
}

/**
 * The history a database may have: none (versioned before system_migrations existed, or never run by
 * this version of the library), or one consistent with db_version (every listed version at or below
 * it recorded as applied).
 */
type HistoryMode = 'none' | 'consistent';
const historyMode = fc.constantFrom<HistoryMode>('none', 'consistent');

/**
 * fuzz_log empty; system_settings holds exactly `stored` as db_version (written raw, unvalidated) and
 * one other key; system_migrations absent, or holding the listed versions up to `stored`.
 */
async function storeVersion(db: Knex, stored: string, mode: HistoryMode, list: readonly Migration[]): Promise<void> {
  await db('fuzz_log').del();
  await db.schema.dropTableIfExists(HISTORY_TABLE);
  await initializeVersionTracking(db);
  await db('system_settings').del();
  await db('system_settings').insert({ key: 'db_version', value: stored });
  await setSystemSetting(db, 'existing', 'untouched');
  if (mode === 'consistent') {
    await ensureHistoryTable(db);
    const upTo = oracleIsCanonical(stored) ? stored : '0.0.0';
    for (const m of list) if (!semver.gt(m.version, upTo)) await recordHistory(db, m, 'up', new Date());
  }
}

async function historyOf(db: Knex): Promise<{ version: string; direction: string }[]> {
  if (!(await db.schema.hasTable(HISTORY_TABLE))) return [];
  return db(HISTORY_TABLE).orderBy('id').select('version', 'direction');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

type Outcomes = Record<'pending' | 'current' | 'newerSameMajor' | 'tooNew', number>;

const properties = {
  async corrupt(db: Knex, numRuns: number): Promise<void> {
    let seen = 0;
    await fc.assert(
      fc.asyncProperty(corruptVersion, versionList, historyMode, async (stored, versions, mode) => {
        const ran: string[] = [];
        await storeVersion(db, stored, mode, loggingMigrations(versions, ran));
        const before = await snapshot(db);
        const logger = recordingLogger();
        const errors = [
          await rejection(runMigrations(db, loggingMigrations(versions, ran), { logger })),
          await rejection(getDatabaseVersion(db)),
          await rejection(migrationStatus(db, loggingMigrations(versions, ran))),
        ];
        for (const error of errors) {
          expect(error).to.be.instanceOf(CorruptVersionError);
          expect((error as CorruptVersionError).code).to.equal('CORRUPT_VERSION');
          expect((error as CorruptVersionError).storedValue === stored, 'the error carries the stored value').to.equal(true);
        }
        expect(ran, 'no migration ran').to.deep.equal([]);
        const after = await snapshot(db);
        expect(after, `nothing changed (history: ${mode}; changed: ${snapshotDiff(before, after)})`).to.deep.equal(before);
        seen++;
      }),
      fuzzParams(numRuns),
    );
    expect(seen).to.be.greaterThan(0);
  },

  /** Returns how often each branch of the gate was taken. */
  async canonical(db: Knex, numRuns: number): Promise<Outcomes> {
    const outcomes: Outcomes = { pending: 0, current: 0, newerSameMajor: 0, tooNew: 0 };
    await fc.assert(
      fc.asyncProperty(storedAndList, historyMode, async ([stored, versions], mode) => {
        const ran: string[] = [];
        const list = loggingMigrations(versions, ran);
        await storeVersion(db, stored, mode, list);
        const before = await snapshot(db);
        const logger = recordingLogger();
        const outcome = await runMigrations(db, list, { logger }).catch((e: unknown) => e);

        const sorted = [...versions].sort(semver.compare);
        const newest = sorted.at(-1) ?? '0.0.0';
        const atOrBelow = sorted.filter((v) => !semver.gt(v, stored));
        // Without history, the first run under the lock records the versions at or below db_version as
        // adopted: bookkeeping, the only change allowed when nothing else runs.
        const bookkeepingOnly = async () => {
          if (mode === 'consistent') {
            expect(await snapshot(db), 'nothing changed').to.deep.equal(before);
          } else {
            expect(withoutTable(await snapshot(db), HISTORY_TABLE), 'nothing but the history changed').to.deep.equal(
              withoutTable(before, HISTORY_TABLE),
            );
            const history = await historyOf(db);
            if (history.length > 0) expect(history).to.deep.equal(atOrBelow.map((version) => ({ version, direction: 'adopt' })));
          }
        };

        if (semver.gt(stored, newest) && semver.major(stored) !== semver.major(newest)) {
          outcomes.tooNew++;
          expect(outcome).to.be.instanceOf(SchemaTooNewError);
          expect(outcome).to.include({ databaseVersion: stored, codeVersion: newest });
          expect(ran).to.deep.equal([]);
          // Refused "before anything happens": not even bookkeeping.
          const after = await snapshot(db);
          expect(after, `nothing changed (history: ${mode}; changed: ${snapshotDiff(before, after)})`).to.deep.equal(before);
        } else if (semver.gt(stored, newest)) {
          outcomes.newerSameMajor++;
          expect(outcome).to.deep.equal({ from: stored, to: stored, applied: [] });
          expect(logger.warnings).to.have.length(1);
          expect(logger.warnings[0]).to.include(stored);
          expect(ran).to.deep.equal([]);
          await bookkeepingOnly();
        } else {
          const pending = sorted.filter((v) => semver.gt(v, stored));
          expect(outcome, String(outcome)).to.deep.include({ from: stored, to: pending.at(-1) ?? stored });
          expect((outcome as MigrationReport).missing, 'nothing reported missing').to.equal(undefined);
          expect((outcome as MigrationReport).applied.map((a) => a.version)).to.deep.equal(pending);
          expect(ran).to.deep.equal(pending);
          expect(await db('fuzz_log').orderBy('seq').pluck('version')).to.deep.equal(pending);
          expect(await getDatabaseVersion(db)).to.equal(pending.at(-1) ?? stored);
          expect(logger.warnings).to.deep.equal([]);
          const history = await historyOf(db);
          const ups = history.filter((h) => h.direction === 'up').map((h) => h.version);
          expect(ups.slice(ups.length - pending.length), 'each applied migration recorded, in order').to.deep.equal(pending);
          if (mode === 'none') {
            expect(history.filter((h) => h.direction === 'adopt').map((h) => h.version), 'adopted').to.deep.equal(atOrBelow);
          }
          if (pending.length === 0) {
            outcomes.current++;
            await bookkeepingOnly();
          } else {
            outcomes.pending++;
          }
        }
      }),
      fuzzParams(numRuns),
    );
    return outcomes;
  },
};

describe('property: db_version contents [in-memory SQLite]', () => {
  let db: Knex;
  beforeEach(async () => {
    db = memoryDb();
    await createLog(db);
  });
  afterEach(() => db.destroy());

  it('any non-canonical value: CorruptVersionError (with the value) from run, read and status; nothing changes', () =>
    properties.corrupt(db, fuzzRuns(150, 1500)));

  it("any canonical value: runs, no-ops with a warning, or SchemaTooNewError, by the start gate's rules", async () => {
    const outcomes = await properties.canonical(db, fuzzRuns(200, 2000));
    // Every branch of the gate was exercised.
    for (const [branch, count] of Object.entries(outcomes)) expect(count, branch).to.be.greaterThan(0);
  });
});

for (const dialect of DIALECTS.filter((d) => d.name !== 'sqlite')) {
  describeDialect(dialect, 'property: db_version contents', ({ database }) => {
    beforeEach(() => createLog(database().db));
    it('any non-canonical value: CorruptVersionError (with the value) from run, read and status; nothing changes', () =>
      properties.corrupt(database().db, fuzzRuns(20, 200)));
    it("any canonical value: runs, no-ops with a warning, or SchemaTooNewError, by the start gate's rules", async () => {
      const outcomes = await properties.canonical(database().db, fuzzRuns(25, 250));
      expect(Object.values(outcomes).reduce((a, b) => a + b)).to.equal(fuzzRuns(25, 250));
    });
  });
}
