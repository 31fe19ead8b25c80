/**
 * Property tests: system settings with hostile keys and values — quotes, SQL fragments, NUL-free
 * unicode (case and accent variants, combining marks, astral planes), very long strings. Every
 * accepted key/value round-trips exactly and never disturbs another key or db_version; everything
 * refused is refused with InvalidSettingError and leaves the database exactly as it was.
 * In-memory SQLite with many runs, then every engine present (fewer runs).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Knex } from 'knex';
import { DIRTY_KEY } from '../../lib/store/dirty';
import { InvalidSettingError } from '../../lib/errors';
import {
  getDatabaseVersion,
  getSystemSetting,
  initializeVersionTracking,
  setSystemSetting,
  updateDatabaseVersion,
} from '../../lib/store/settings';
import { memoryDb } from '../helpers/db';
import { DIALECTS, describeDialect } from '../helpers/dialects';
import { fuzzParams, fuzzRuns, hostileText, longText, settingValue } from '../helpers/fuzz-arbitraries';
import { snapshot } from '../helpers/fuzz-snapshot';

const VERSION = '1.2.3';

/** Keys near each other under case, accent, width or trailing-space folding, and near db_version. */
const LOOKALIKE_KEYS = [
  'site_name', 'Site_Name', 'SITE_NAME', 'site_name ', 'sité_name', 'site_nâme', 'a', 'A', 'ä', 'a ', 'ß', 'ss', 'key', 'key\u00a0',
];
const DB_VERSION_LOOKALIKES = ['DB_VERSION', 'Db_Version', 'db_version ', 'db_versión', ' db_version', 'db_version\n', 'db_version\u200b'];

/** A key the API accepts: non-empty, not db_version, within the 255 characters every engine's column holds. */
const validKey: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 6, arbitrary: hostileText(48) },
    { weight: 2, arbitrary: fc.constantFrom(...LOOKALIKE_KEYS) },
    { weight: 1, arbitrary: fc.constantFrom(...DB_VERSION_LOOKALIKES) },
  )
  .filter((k) => k.length > 0 && k.length <= 255 && k !== 'db_version' && k !== DIRTY_KEY);

/** Database state every run starts from: db_version 1.2.3 and one unrelated setting. */
async function resetSettings(db: Knex): Promise<void> {
  await initializeVersionTracking(db);
  await db('system_settings').del();
  await initializeVersionTracking(db);
  await updateDatabaseVersion(db, VERSION);
  await setSystemSetting(db, 'existing', 'untouched');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

/** Each property takes the database and a run count, so the same check runs on every engine. */
const properties = {
  async roundTrip(db: Knex, numRuns: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(validKey, settingValue), { minLength: 1, maxLength: 10 }),
        fc.array(validKey, { maxLength: 3 }),
        async (writes, probes) => {
          await resetSettings(db);
          const model = new Map<string, string>([['existing', 'untouched']]);
          for (const [key, value] of writes) {
            await setSystemSetting(db, key, value);
            model.set(key, value);
          }
          for (const [key, value] of model) {
            const stored = await getSystemSetting(db, key);
            expect(stored === value, `key ${JSON.stringify(key)} round-trips (got ${JSON.stringify(stored)?.slice(0, 80)})`).to.equal(true);
          }
          for (const probe of probes) {
            if (!model.has(probe)) expect(await getSystemSetting(db, probe), `unknown key ${JSON.stringify(probe)}`).to.equal(undefined);
          }
          expect(await getDatabaseVersion(db), 'db_version is untouched').to.equal(VERSION);
          const [{ n }] = await db('system_settings').count({ n: '*' });
          expect(Number(n), 'one row per distinct key, plus db_version').to.equal(model.size + 1);
        },
      ),
      fuzzParams(numRuns),
    );
  },

  async refusals(db: Knex, numRuns: number): Promise<void> {
    const invalidCall = fc.oneof(
      fc.record({ key: fc.constantFrom<unknown>('', 'db_version'), value: settingValue as fc.Arbitrary<unknown> }),
      fc.record({ key: validKey as fc.Arbitrary<unknown>, value: fc.constantFrom<unknown>(undefined, null, 42, 0, true, {}, ['x'], Buffer.from('x')) }),
      fc.record({ key: fc.constantFrom<unknown>(undefined, null, 0, 42, {}, ['k'], true), value: settingValue as fc.Arbitrary<unknown> }),
    );
    await resetSettings(db);
    const before = await snapshot(db);
    await fc.assert(
      fc.asyncProperty(invalidCall, async ({ key, value }) => {
        const setError = await rejection(setSystemSetting(db, key as string, value as string));
        expect(setError, 'setSystemSetting refuses').to.be.instanceOf(InvalidSettingError);
        expect((setError as InvalidSettingError).code).to.equal('INVALID_SETTING');
        if (typeof key !== 'string' || key === '') {
          expect(await rejection(getSystemSetting(db, key as string)), 'getSystemSetting refuses').to.be.instanceOf(InvalidSettingError);
        }
        expect(await snapshot(db), 'nothing changed').to.deep.equal(before);
      }),
      fuzzParams(numRuns),
    );
  },

  async longKeys(db: Knex, numRuns: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(longText(256, 2_000), settingValue, async (key, value) => {
        await resetSettings(db);
        const before = await snapshot(db);
        const error = await rejection(setSystemSetting(db, key, value));
        if (error === undefined) {
          expect((await getSystemSetting(db, key)) === value, 'a stored long key round-trips').to.equal(true);
          expect(await getDatabaseVersion(db)).to.equal(VERSION);
        } else {
          expect(error, `a ${key.length}-character key: stored, or refused with InvalidSettingError (got ${String(error)})`).to.be.instanceOf(
            InvalidSettingError,
          );
          expect(await snapshot(db), 'nothing changed').to.deep.equal(before);
        }
      }),
      fuzzParams(numRuns),
    );
  },

  /** Deterministic: keys that only look like db_version are ordinary keys and never move the version. */
  async dbVersionLookalikes(db: Knex): Promise<void> {
    await resetSettings(db);
    for (const key of DB_VERSION_LOOKALIKES) {
      const error = await rejection(setSystemSetting(db, key, 'not a version'));
      if (error !== undefined) expect(error, JSON.stringify(key)).to.be.instanceOf(InvalidSettingError);
      else expect(await getSystemSetting(db, key), JSON.stringify(key)).to.equal('not a version');
      expect(await rejection(getDatabaseVersion(db)), `db_version after setting ${JSON.stringify(key)}`).to.equal(undefined);
      expect(await getDatabaseVersion(db), `db_version after setting ${JSON.stringify(key)}`).to.equal(VERSION);
    }
  },

  /** Deterministic: keys differing only in case, accents or trailing spaces are different keys. */
  async distinctLookalikes(db: Knex): Promise<void> {
    await resetSettings(db);
    for (const [i, key] of LOOKALIKE_KEYS.entries()) await setSystemSetting(db, key, `value ${i}`);
    const got = await Promise.all(LOOKALIKE_KEYS.map((key) => getSystemSetting(db, key)));
    expect(got).to.deep.equal(LOOKALIKE_KEYS.map((_, i) => `value ${i}`));
  },
};

describe('property: hostile settings keys and values [in-memory SQLite]', () => {
  let db: Knex;
  beforeEach(() => {
    db = memoryDb();
  });
  afterEach(() => db.destroy());

  it('every accepted key/value round-trips exactly; other keys and db_version are untouched', () =>
    properties.roundTrip(db, fuzzRuns(150, 1500)));
  it('empty or reserved keys, non-string keys or values: InvalidSettingError, database unchanged', () =>
    properties.refusals(db, fuzzRuns(100, 1000)));
  it('keys longer than 255 characters: stored and round-trip, or InvalidSettingError with nothing changed', () =>
    properties.longKeys(db, fuzzRuns(15, 100)));
  it('keys that look like db_version never change db_version', () => properties.dbVersionLookalikes(db));
  it('keys differing only in case, accents or trailing spaces are distinct keys', () => properties.distinctLookalikes(db));
});

for (const dialect of DIALECTS.filter((d) => d.name !== 'sqlite')) {
  describeDialect(dialect, 'property: hostile settings keys and values', ({ database }) => {
    it('every accepted key/value round-trips exactly; other keys and db_version are untouched', () =>
      properties.roundTrip(database().db, fuzzRuns(25, 250)));
    it('empty or reserved keys, non-string keys or values: InvalidSettingError, database unchanged', () =>
      properties.refusals(database().db, fuzzRuns(25, 250)));
    it('keys longer than 255 characters: stored and round-trip, or InvalidSettingError with nothing changed', () =>
      properties.longKeys(database().db, fuzzRuns(5, 40)));
    it('keys that look like db_version never change db_version', () => properties.dbVersionLookalikes(database().db));
    it('keys differing only in case, accents or trailing spaces are distinct keys', () => properties.distinctLookalikes(database().db));
  });
}
