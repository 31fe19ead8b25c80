/**
 * The additive-only guard: minor and patch migrations may not break code built for the version
 * before them; major ones may.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { AdditiveViolationError, classify, isMajorStep, isWidening } from '../../lib/snapshot/additive';
import { checkAdditive } from '../../lib/functions';
import { isSqlite } from '../../lib/dialects';
import { MigrationFailedError, UnsupportedDialectError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion } from '../../lib/store/settings';
import { schemaSnapshot } from '../../lib/snapshot/snapshot';
import { rebuildTable } from '../../lib/sqlite/rebuild';
import type { Migration } from '../../lib/types';
import { APP_MIGRATIONS_DIR } from '../helpers/app';
import { DIALECTS, describeDialect } from '../helpers/dialects';

const quiet = { logger: silentLogger };

const base: Migration = {
  version: '1.0.0',
  description: 'accounts',
  async up(trx) {
    await trx.schema.createTable('accounts', (t) => {
      t.increments('id');
      t.string('email', 255).notNullable();
      t.string('nick', 64);
      t.integer('score');
    });
    await trx.schema.createTable('audit', (t) => t.increments('id'));
  },
};

/** A column change that works on every engine: rebuildTable on SQLite, ALTER elsewhere. */
async function alterColumn(trx: Knex.Transaction, column: string, sqliteDefinition: string, alter: (t: Knex.AlterTableBuilder) => void): Promise<void> {
  if (isSqlite(trx)) await rebuildTable(trx, 'accounts', { alterColumns: { [column]: sqliteDefinition } });
  else await trx.schema.alterTable('accounts', alter);
}

const step = (version: string, description: string, up: Migration['up']): Migration => ({ version, description, up });

const breaking: Record<string, Migration> = {
  dropColumn: step('1.1.0', 'drop nick', (trx) => (isSqlite(trx) ? rebuildTable(trx, 'accounts', { dropColumns: ['nick'] }).then(() => undefined) : trx.schema.alterTable('accounts', (t) => void t.dropColumn('nick')))),
  dropTable: step('1.1.0', 'drop audit', (trx) => trx.schema.dropTable('audit')),
  narrow: step('1.1.0', 'shorter email', (trx) => alterColumn(trx, 'email', 'VARCHAR(64) NOT NULL', (t) => void t.string('email', 64).notNullable().alter())),
  notNull: step('1.1.0', 'nick required', (trx) => alterColumn(trx, 'nick', 'VARCHAR(64) NOT NULL', (t) => void t.string('nick', 64).notNullable().alter())),
  addRequired: step('1.1.0', 'required column', (trx) => trx.schema.alterTable('accounts', (t) => void t.string('plan', 16).notNullable())),
};

const expected: Record<string, [string, RegExp]> = {
  dropColumn: ['drop-column', /^accounts\.nick$/],
  dropTable: ['drop-table', /^table audit$/],
  narrow: ['narrow-type', /^accounts\.email\.type: varchar\(255\) -> varchar\(64\)$/],
  notNull: ['not-null-without-default', /^accounts\.nick made NOT NULL without a default$/],
  addRequired: ['not-null-without-default', /^accounts\.plan added NOT NULL without a default$/],
};

describe('additive guard: pure parts', () => {
  it('isWidening: longer, bigger and unlimited are widening; the reverse is not', () => {
    expect(isWidening('varchar(64)', 'varchar(255)')).to.equal(true);
    expect(isWidening('varchar(255)', 'text')).to.equal(true);
    expect(isWidening('integer', 'bigint')).to.equal(true);
    expect(isWidening('int', 'integer')).to.equal(true); // two spellings of one type
    expect(isWidening('varchar(255)', 'varchar(64)')).to.equal(false);
    expect(isWidening('text', 'varchar(255)')).to.equal(false);
    expect(isWidening('bigint', 'integer')).to.equal(false);
    expect(isWidening('int unsigned', 'int')).to.equal(false);
    expect(isWidening('integer', 'text')).to.equal(false);
  });

  it('isMajorStep compares with the registered version just below', () => {
    const list = ['0.1.0', '0.2.0', '1.0.0', '1.1.0', '2.0.0-rc.1'].map((v) => step(v, v, async () => undefined));
    expect(list.map((m) => isMajorStep(m, list))).to.deep.equal([false, false, true, false, true]);
  });

  it('classify ignores additions that old code does not notice', () => {
    const snap = (columns: { name: string; nullable: boolean; default: string | null }[]) => ({
      dialect: 'sqlite' as const,
      tables: [{ name: 't', columns: columns.map((c) => ({ ...c, type: 'text', autoIncrement: false, generated: null })), primaryKey: [], indexes: [], uniques: [], foreignKeys: [], checks: [] }],
    });
    const before = snap([{ name: 'a', nullable: true, default: null }]);
    const after = snap([{ name: 'a', nullable: true, default: null }, { name: 'b', nullable: true, default: null }, { name: 'c', nullable: false, default: "'x'" }]);
    expect(classify([{ kind: 'added', path: 't.columns.b' }, { kind: 'added', path: 't.columns.c' }], before, after)).to.deep.equal([]);
  });
});

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'additive-only guard', ({ database }) => {
    if (dialect.engine !== 'mysql') {
      for (const [name, migration] of Object.entries(breaking)) {
        it(`checkAdditive reports a minor version that ${migration.description}, and leaves the database as it was`, async () => {
          const { db } = database();
          await runMigrations(db, [base], quiet);
          const before = await schemaSnapshot(db);
          const report = await checkAdditive(db, [base, migration], quiet);
          expect(report.ok).to.equal(false);
          expect(report.checked).to.deep.equal([{ version: '1.1.0', major: false }]);
          expect(report.violations).to.have.length(1);
          expect(report.violations[0]).to.include({ version: '1.1.0', rule: expected[name][0] });
          expect(report.violations[0].change).to.match(expected[name][1]);
          expect(await schemaSnapshot(db)).to.deep.equal(before);
          expect(await getDatabaseVersion(db)).to.equal('1.0.0');
        });
      }

      it('the same change as a major version is allowed; additive changes pass', async () => {
        const { db } = database();
        await runMigrations(db, [base], quiet);
        const major = { ...breaking.dropTable, version: '2.0.0' };
        expect((await checkAdditive(db, [base, major], quiet)).ok).to.equal(true);
        const additive = step('1.1.0', 'additive', async (trx) => {
          await trx.schema.createTable('extra', (t) => t.increments('id'));
          await trx.schema.alterTable('accounts', (t) => {
            t.string('bio', 255);
            t.boolean('active').notNullable().defaultTo(true);
          });
        });
        const widen = step('1.2.0', 'longer nick', (trx) => alterColumn(trx, 'nick', 'VARCHAR(255)', (t) => void t.string('nick', 255).alter()));
        const report = await checkAdditive(db, [base, additive, widen], quiet);
        expect(report.violations).to.deep.equal([]);
        expect(report.checked.map((c) => c.version)).to.deep.equal(['1.1.0', '1.2.0']);
      });

      it("the app's own migrations are additive where they must be", async () => {
        const { db } = database();
        const report = await checkAdditive(db, APP_MIGRATIONS_DIR, quiet);
        expect(report).to.deep.equal({ ok: true, checked: [{ version: '0.1.0', major: false }, { version: '1.0.0', major: true }], violations: [] });
      });
    } else {
      it('checkAdditive needs transactional DDL: refused on MySQL, nothing touched', async () => {
        const { db } = database();
        const err = await checkAdditive(db, [base], quiet).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(UnsupportedDialectError);
        expect(await db.schema.hasTable('accounts')).to.equal(false);
      });
    }

    it('enforceAdditive: a violating minor migration fails (rolled back where DDL allows), earlier ones stay', async () => {
      const { db } = database();
      const err = await runMigrations(db, [base, breaking.dropTable], { ...quiet, enforceAdditive: true }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MigrationFailedError);
      expect((err as MigrationFailedError).cause).to.be.instanceOf(AdditiveViolationError);
      expect((err as Error).message).to.include('Migration 1.1.0 (drop audit) is not a major version but drops a table (table audit)');
      expect(await getDatabaseVersion(db)).to.equal('1.0.0');
      if (dialect.engine !== 'mysql') expect(await db.schema.hasTable('audit')).to.equal(true);
      else expect((err as MigrationFailedError).dirty).to.equal(true);
    });
  });
}
