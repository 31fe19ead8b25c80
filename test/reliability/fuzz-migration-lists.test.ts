/**
 * Property tests: hostile migration lists. Random valid and invalid versions, duplicates, unsorted
 * arrays, pre-releases, build metadata, junk and non-string fields. Each list either validates (and
 * comes back sorted by semver, without duplicates, and runMigrations applies exactly that order), or
 * is refused with InvalidMigrationError naming every problem, before the database is touched.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Knex } from 'knex';
import semver from 'semver';
import { InvalidMigrationError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { validateMigrations } from '../../lib/plan/plan';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion } from '../../lib/store/settings';
import type { Migration } from '../../lib/types';
import { isCanonicalSemver } from '../../lib/version';
import { memoryDb } from '../helpers/db';
import {
  anyVersionString,
  fuzzParams,
  corruptVersion,
  fuzzRuns,
  migrationVersion,
  oracleHasBuildMetadata,
  oracleIsCanonical,
} from '../helpers/fuzz-arbitraries';
import { snapshot } from '../helpers/fuzz-snapshot';

/** Stands for "a real function" in a generated entry (fast-check prints and shrinks plain data better). */
const FN = '<function>';

interface EntrySpec {
  version: unknown;
  description: unknown;
  up: unknown;
  down: unknown;
}
type ListItem = EntrySpec | { notAnObject: unknown };

const entrySpec: fc.Arbitrary<EntrySpec> = fc.record({
  version: fc.oneof(
    { weight: 12, arbitrary: anyVersionString },
    // A tiny pool, so duplicates (and a pre-release next to its release) are common.
    { weight: 4, arbitrary: fc.constantFrom('0.1.0', '1.0.0', '1.0.0-rc.1', '1.0.0+build', '1.10.0', '1.9.0') },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 1, 1.5, true, {}, [], ['1.0.0'], { toString: () => '1.0.0' }) },
  ),
  description: fc.oneof(
    { weight: 12, arbitrary: fc.string({ minLength: 1, maxLength: 16 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('', '   ', '\n\t', '\u00a0', undefined, null, 42) },
  ),
  up: fc.oneof({ weight: 15, arbitrary: fc.constant(FN) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('up', undefined, null, {}) }),
  down: fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constant(FN) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('down', 0, null) },
  ),
});

/** Mostly well-formed entries, sometimes not even an object. */
const hostileList: fc.Arbitrary<ListItem[]> = fc.array(
  fc.oneof(
    { weight: 25, arbitrary: entrySpec },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, undefined, 42, 'migration', []).map((notAnObject) => ({ notAnObject })) },
  ),
  { maxLength: 8 },
);

/** Distinct canonical versions in random order: lists that must validate. */
const validList: fc.Arbitrary<ListItem[]> = fc
  .uniqueArray(migrationVersion, { maxLength: 8 })
  .chain((versions) => fc.shuffledSubarray(versions, { minLength: versions.length, maxLength: versions.length }))
  .map((versions) => versions.map((version) => ({ version, description: `create ${version}`, up: FN, down: undefined })));

const anyList = fc.oneof(validList, hostileList);

/** Builds the real list: FN becomes a function whose `up` logs its version (in `ran` and in fuzz_log). */
function toMigrations(items: readonly ListItem[], ran: string[]): Migration[] {
  return items.map((item) => {
    if ('notAnObject' in item) return item.notAnObject as Migration;
    return {
      version: item.version,
      description: item.description,
      up:
        item.up === FN
          ? async (trx: Knex.Transaction) => {
              ran.push(String(item.version));
              await trx.raw('CREATE TABLE IF NOT EXISTS fuzz_log (seq INTEGER PRIMARY KEY, version TEXT NOT NULL)');
              await trx('fuzz_log').insert({ version: item.version });
            }
          : item.up,
      down: item.down === FN ? async () => undefined : item.down,
    } as Migration;
  });
}

interface Expectation {
  valid: boolean;
  /** Indexes whose version is not canonical: the message names them "at index i". */
  badVersionAt: number[];
  buildMetadata: boolean;
  duplicate: boolean;
}

/** What the README promises, computed without the library. */
function expectationFor(items: readonly ListItem[]): Expectation {
  const badVersionAt: number[] = [];
  const seen = new Set<string>();
  let valid = true;
  let buildMetadata = false;
  let duplicate = false;
  items.forEach((item, index) => {
    if ('notAnObject' in item) {
      valid = false;
      if (typeof item.notAnObject !== 'object' || item.notAnObject === null) badVersionAt.push(index);
      return;
    }
    const { version, description, up, down } = item;
    if (!oracleIsCanonical(version)) {
      valid = false;
      badVersionAt.push(index);
      if (oracleHasBuildMetadata(version)) buildMetadata = true;
    } else if (version === '0.0.0' || version.startsWith('0.0.0-')) {
      valid = false; // not above 0.0.0, the version of an empty database
    } else if (seen.has(version)) {
      valid = false;
      duplicate = true;
    } else {
      seen.add(version);
    }
    if (typeof description !== 'string' || description.trim() === '') valid = false;
    if (up !== FN) valid = false;
    if (down !== undefined && down !== FN) valid = false;
  });
  return { valid, badVersionAt, buildMetadata, duplicate };
}

function sortedVersions(items: readonly ListItem[]): string[] {
  return items.map((i) => String((i as EntrySpec).version)).sort(semver.compare);
}

describe('property: hostile migration lists', () => {
  it("the library's canonical-semver test agrees with a SemVer 2.0.0 grammar oracle (no build metadata)", () => {
    fc.assert(
      fc.property(fc.oneof(anyVersionString, corruptVersion), (version) => {
        expect(isCanonicalSemver(version), JSON.stringify(version)).to.equal(oracleIsCanonical(version));
      }),
      fuzzParams(fuzzRuns(2000, 20000)),
    );
  });

  it('validateMigrations: InvalidMigrationError naming every problem, or the list sorted by semver without duplicates', () => {
    const seen = { valid: 0, invalid: 0, buildMetadata: 0, duplicate: 0 };
    fc.assert(
      fc.property(anyList, (items) => {
        const list = toMigrations(items, []);
        const before = [...list];
        const expected = expectationFor(items);
        let result: Migration[] | undefined;
        let error: unknown;
        try {
          result = validateMigrations(list);
        } catch (err) {
          error = err;
        }
        expect(list.every((m, i) => m === before[i]), 'the input array is not reordered').to.equal(true);
        if (expected.valid) {
          seen.valid++;
          expect(error, 'a valid list must be accepted').to.equal(undefined);
          expect(result).to.have.length(list.length);
          expect(new Set(result).size, 'each input object exactly once').to.equal(list.length);
          expect(result!.every((m) => list.includes(m)), 'only input objects').to.equal(true);
          for (let i = 1; i < (result?.length ?? 0); i++) {
            const [a, b] = [result![i - 1].version, result![i].version];
            expect(semver.compare(a, b), `${a} before ${b}`).to.equal(-1);
          }
        } else {
          seen.invalid++;
          expect(error, 'an invalid list must be refused').to.be.instanceOf(InvalidMigrationError);
          expect((error as InvalidMigrationError).code).to.equal('INVALID_MIGRATION');
          const message = (error as Error).message;
          for (const index of expected.badVersionAt) expect(message).to.include(`at index ${index}:`);
          if (expected.buildMetadata) {
            seen.buildMetadata++;
            expect(message).to.include('build metadata');
          }
          if (expected.duplicate) {
            seen.duplicate++;
            expect(message).to.include('duplicate version');
          }
        }
      }),
      fuzzParams(fuzzRuns(1000, 10000)),
    );
    // The generator really produces both kinds, including the two named cases.
    for (const [kind, count] of Object.entries(seen)) expect(count, `${kind} lists generated`).to.be.greaterThan(0);
  });

  it('a version of any JavaScript type (bigint, circular object, symbol) is refused with InvalidMigrationError, not a TypeError', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const version of [1n, circular, Symbol('1.0.0')]) {
      const list = [{ version, description: 'hostile version', up: async () => undefined }] as unknown as Migration[];
      let error: unknown;
      try {
        validateMigrations(list);
      } catch (err) {
        error = err;
      }
      expect(error, String(typeof version)).to.be.instanceOf(InvalidMigrationError);
      expect((error as Error).message).to.include('at index 0:');
    }
  });

  it('runMigrations on a fresh database: applies exactly the sorted list, or refuses and changes nothing', async () => {
    const seen = { valid: 0, invalid: 0 };
    await fc.assert(
      fc.asyncProperty(anyList, async (items) => {
        const db = memoryDb();
        try {
          await db.raw('CREATE TABLE sentinel (id INTEGER PRIMARY KEY, note TEXT)');
          await db('sentinel').insert({ note: 'before' });
          const before = await snapshot(db);
          const ran: string[] = [];
          const expected = expectationFor(items);
          const outcome = await runMigrations(db, toMigrations(items, ran), { logger: silentLogger }).catch((e: unknown) => e);
          if (expected.valid) {
            seen.valid++;
            const sorted = sortedVersions(items);
            expect(outcome).to.deep.include({ from: '0.0.0', to: sorted.at(-1) ?? '0.0.0' });
            expect((outcome as { applied: { version: string }[] }).applied.map((a) => a.version)).to.deep.equal(sorted);
            expect(ran).to.deep.equal(sorted);
            if (sorted.length > 0) expect(await db('fuzz_log').orderBy('seq').pluck('version')).to.deep.equal(sorted);
            expect(await getDatabaseVersion(db)).to.equal(sorted.at(-1) ?? '0.0.0');
            const again = await runMigrations(db, toMigrations(items, ran), { logger: silentLogger });
            expect(again.applied).to.deep.equal([]);
            expect(ran).to.have.length(sorted.length);
          } else {
            seen.invalid++;
            expect(outcome).to.be.instanceOf(InvalidMigrationError);
            expect(ran).to.deep.equal([]);
            expect(await snapshot(db)).to.deep.equal(before);
          }
        } finally {
          await db.destroy();
        }
      }),
      fuzzParams(fuzzRuns(150, 1500)),
    );
    expect(seen.valid, 'valid lists generated').to.be.greaterThan(0);
    expect(seen.invalid, 'invalid lists generated').to.be.greaterThan(0);
  });
});
