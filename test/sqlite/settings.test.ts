import { expect } from 'chai';
import type { Knex } from 'knex';
import { CorruptVersionError, InvalidSettingError, InvalidVersionError } from '../../lib/errors';
import {
  getDatabaseVersion,
  getSystemSetting,
  initializeVersionTracking,
  setSystemSetting,
  updateDatabaseVersion,
} from '../../lib/store/settings';
import { memoryDb } from '../helpers/db';

describe('settings (SQLite, in memory)', () => {
  let db: Knex;
  beforeEach(() => {
    db = memoryDb();
  });
  afterEach(() => db.destroy());

  describe('initializeVersionTracking', () => {
    it('creates system_settings with the seed’s columns and db_version 0.0.0', async () => {
      expect(await db.schema.hasTable('system_settings')).to.equal(false);
      await initializeVersionTracking(db);
      const columns = (await db.raw('PRAGMA table_info(system_settings)')) as { name: string; notnull: number; pk: number }[];
      expect(columns.map((c) => c.name)).to.deep.equal(['key', 'value', 'created_at', 'updated_at']);
      expect(columns.find((c) => c.name === 'key')?.pk).to.equal(1);
      expect(columns.find((c) => c.name === 'value')?.notnull).to.equal(1);
      const rows = await db('system_settings').select('key', 'value');
      expect(rows).to.deep.equal([{ key: 'db_version', value: '0.0.0' }]);
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
    });

    it('is idempotent and never resets an existing version', async () => {
      await initializeVersionTracking(db);
      await updateDatabaseVersion(db, '1.2.3');
      await initializeVersionTracking(db);
      await initializeVersionTracking(db);
      expect(await getDatabaseVersion(db)).to.equal('1.2.3');
      expect(await db('system_settings').count({ n: '*' })).to.deep.equal([{ n: 1 }]);
    });

    it('fills in db_version when the table exists without it', async () => {
      await initializeVersionTracking(db);
      await db('system_settings').del();
      await initializeVersionTracking(db);
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
    });
  });

  describe('versions', () => {
    it('getDatabaseVersion is 0.0.0 on a database without tracking, and creates nothing', async () => {
      expect(await getDatabaseVersion(db)).to.equal('0.0.0');
      expect(await db.schema.hasTable('system_settings')).to.equal(false);
    });

    it('updateDatabaseVersion round-trips semver, including pre-releases', async () => {
      await initializeVersionTracking(db);
      for (const v of ['0.1.0', '1.0.0-rc.1', '1.10.0', '2.0.0-alpha.beta.1']) {
        await updateDatabaseVersion(db, v);
        expect(await getDatabaseVersion(db)).to.equal(v);
      }
    });

    for (const bad of ['', '1', '1.0', 'v1.0.0', '1.0.0 ', 'DROP TABLE users', '1.0.0+meta']) {
      it(`updateDatabaseVersion rejects ${JSON.stringify(bad)} and keeps the old version`, async () => {
        await initializeVersionTracking(db);
        await updateDatabaseVersion(db, '1.0.0');
        const err = await updateDatabaseVersion(db, bad).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(InvalidVersionError);
        expect((err as InvalidVersionError).code).to.equal('INVALID_VERSION');
        expect(await getDatabaseVersion(db)).to.equal('1.0.0');
      });
    }

    it('a corrupted db_version is reported as CorruptVersionError with the stored value', async () => {
      await initializeVersionTracking(db);
      await db('system_settings').where({ key: 'db_version' }).update({ value: 'one point oh' });
      const err = await getDatabaseVersion(db).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVersionError);
      expect((err as Error).message).to.include('"one point oh"');
    });
  });

  describe('getSystemSetting / setSystemSetting', () => {
    beforeEach(() => initializeVersionTracking(db));

    it('returns undefined for a missing key', async () => {
      expect(await getSystemSetting(db, 'nope')).to.equal(undefined);
    });

    const values: [string, string][] = [
      ['quotes', `it's "quoted" \\ back\`tick`],
      ['sql', "'); DROP TABLE system_settings; --"],
      ['unicode', 'ünïcødé ✓ 日本語 🚀 \u200b'],
      ['empty value', ''],
      ['newlines', 'a\nb\r\nc\t'],
      ["key with 'quote' and ; --", 'v'],
    ];
    for (const [key, value] of values) {
      it(`round-trips exactly: ${key}`, async () => {
        await setSystemSetting(db, key, value);
        expect(await getSystemSetting(db, key)).to.equal(value);
      });
    }

    it('round-trips a 1 MB value exactly', async () => {
      const big = 'x€'.repeat(512 * 1024);
      await setSystemSetting(db, 'big', big);
      const back = await getSystemSetting(db, 'big');
      expect(back?.length).to.equal(big.length);
      expect(back).to.equal(big);
      expect(await db.schema.hasTable('system_settings')).to.equal(true);
    });

    it('upsert keeps created_at and bumps updated_at', async () => {
      await setSystemSetting(db, 'theme', 'dark');
      const old = '2001-01-01 00:00:00';
      await db('system_settings').where({ key: 'theme' }).update({ created_at: old, updated_at: old });
      await setSystemSetting(db, 'theme', 'light');
      const row = (await db('system_settings').where({ key: 'theme' }).first()) as Record<string, string>;
      expect(row.value).to.equal('light');
      expect(row.created_at).to.equal(old);
      expect(row.updated_at).to.not.equal(old);
      expect(row.updated_at > old).to.equal(true);
      expect(await db('system_settings').where({ key: 'theme' }).count({ n: '*' })).to.deep.equal([{ n: 1 }]);
    });

    it('rejects an empty or non-string key', async () => {
      for (const key of ['', undefined, 42] as unknown as string[]) {
        const err = await setSystemSetting(db, key, 'v').catch((e: unknown) => e);
        expect(err).to.be.instanceOf(InvalidSettingError);
        expect((err as InvalidSettingError).code).to.equal('INVALID_SETTING');
      }
      const err = await getSystemSetting(db, '').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidSettingError);
    });

    it('rejects a non-string value', async () => {
      const err = await setSystemSetting(db, 'n', 42 as unknown as string).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidSettingError);
      expect(await getSystemSetting(db, 'n')).to.equal(undefined);
    });

    it('refuses to write db_version and leaves it unchanged', async () => {
      await updateDatabaseVersion(db, '1.0.0');
      const err = await setSystemSetting(db, 'db_version', '9.9.9').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidSettingError);
      expect((err as Error).message).to.include('updateDatabaseVersion');
      expect(await getDatabaseVersion(db)).to.equal('1.0.0');
    });
  });
});
