/**
 * loadKnexMigrations and knex-style files in loadMigrations: knex's order and extensions (checked
 * against knex's own file lister), config.transaction, the version rule, checksums, mixed folders.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { ChecksumMismatchError, InvalidMigrationError } from '../../lib/errors';
import { loadKnexMigrations } from '../../lib/load/knex-migrations';
import { loadMigrations } from '../../lib/load/load-migrations';
import { silentLogger } from '../../lib/logger';
import { Migrator } from '../../lib/migrator';
import { checksumOf, checksumOfSource } from '../../lib/store/checksum';
import { memoryDb, tempDir } from '../helpers/db';
import { KNEX_FILES, KNEX_HISTORY, copyHistory } from '../helpers/knex-history';

// knex's own lister of migration files (what its migrator runs, in its order).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FsMigrations } = require('knex/lib/migrations/migrate/sources/fs-migrations') as {
  FsMigrations: new (dirs: string, sortDirsSeparately: boolean, loadExtensions?: readonly string[]) => { getMigrations(): Promise<{ file: string }[]> };
};

const knexStyle = (table: string, extra = '') =>
  `exports.up = (knex) => knex.schema.createTable('${table}', (t) => t.increments('id'));\nexports.down = (knex) => knex.schema.dropTable('${table}');\n${extra}`;

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

describe('knex migration files as migrations', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('ksm-knex-load-')));
  afterEach(() => tmp.cleanup());

  it('the fixture: knex’s order, 0.0.<n> versions, the file name as description, config.transaction, checksums of the content', async () => {
    const list = await loadKnexMigrations(KNEX_HISTORY);
    const knexOrder = (await new FsMigrations(KNEX_HISTORY, false).getMigrations()).map((m) => m.file);
    expect(list.map((m) => m.description)).to.deep.equal(knexOrder);
    expect(knexOrder).to.deep.equal(KNEX_FILES);
    expect(list.map((m) => m.version)).to.deep.equal(KNEX_FILES.map((_f, i) => `0.0.${i + 1}`));
    expect(list.map((m) => m.knexName)).to.deep.equal(KNEX_FILES);
    expect(list.filter((m) => m.transaction === false).map((m) => m.description)).to.deep.equal(['20190801100000_reviews_rating_index.js']);
    expect(list.every((m) => typeof m.down === 'function')).to.equal(true);
    expect(checksumOf(list[3])).to.equal(checksumOfSource(fs.readFileSync(path.join(KNEX_HISTORY, KNEX_FILES[3]), 'utf8')));
    // loadMigrations reads the same folder the same way.
    expect((await loadMigrations(KNEX_HISTORY)).map((m) => [m.version, m.description])).to.deep.equal(list.map((m) => [m.version, m.description]));
  });

  it('only the extensions knex loads, in code-unit order of names (as knex sorts them), whatever else lies in the folder', async () => {
    write(tmp.dir, {
      'b_second.js': knexStyle('b'),
      'B_upper.cjs': knexStyle('upper'),
      'a_first.ts': knexStyle('a'),
      '10_ten.js': knexStyle('ten'),
      '9_nine.js': knexStyle('nine'),
      'notes.md': '# not a migration',
      'types.d.ts': 'export {};',
    });
    fs.mkdirSync(path.join(tmp.dir, 'snapshots'));
    const ours = (await loadKnexMigrations(tmp.dir)).map((m) => m.description);
    const knexOrder = (await new FsMigrations(tmp.dir, false).getMigrations()).map((m) => m.file).filter((f) => !f.endsWith('.d.ts'));
    expect(ours).to.deep.equal(knexOrder);
    expect(ours).to.deep.equal(['10_ten.js', '9_nine.js', 'B_upper.cjs', 'a_first.ts', 'b_second.js']);
    // A custom loadExtensions, as a knexfile may set it.
    expect((await loadKnexMigrations(tmp.dir, { loadExtensions: ['.js'] })).map((m) => m.description)).to.deep.equal(['10_ten.js', '9_nine.js', 'b_second.js']);
  });

  it('a knex-style file knex would not load (.mjs by default) is refused by loadMigrations, naming it', async () => {
    write(tmp.dir, { '1_a.js': knexStyle('a'), '2_b.mjs': "export const up = async () => {};\nexport const down = async () => {};\n" });
    const err = await loadMigrations(tmp.dir).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidMigrationError);
    expect((err as Error).message).to.include('2_b.mjs').and.include('loadExtensions');
    expect((await loadMigrations(tmp.dir, { loadExtensions: ['.js', '.mjs'] })).map((m) => m.version)).to.deep.equal(['0.0.1', '0.0.2']);
  });

  it('disableTransactions applies to files without config.transaction; an explicit config.transaction wins', async () => {
    write(tmp.dir, {
      '1_a.js': knexStyle('a'),
      '2_b.js': knexStyle('b', 'exports.config = { transaction: true };'),
      '3_c.js': knexStyle('c', 'exports.config = { transaction: false };'),
    });
    const flags = async (disableTransactions: boolean) => (await loadKnexMigrations(tmp.dir, { disableTransactions })).map((m) => m.transaction !== false);
    expect(await flags(false)).to.deep.equal([true, true, false]);
    expect(await flags(true)).to.deep.equal([false, true, false]);
  });

  it('versions: a map naming every file, or a function; a map that misses a file is refused naming it', async () => {
    write(tmp.dir, { '1_a.js': knexStyle('a'), '2_b.js': knexStyle('b') });
    expect((await loadKnexMigrations(tmp.dir, { versions: { '1_a.js': '1.0.0', '2_b.js': '1.1.0' } })).map((m) => m.version)).to.deep.equal(['1.0.0', '1.1.0']);
    expect((await loadKnexMigrations(tmp.dir, { versions: (_name, n) => `0.${n}.0` })).map((m) => m.version)).to.deep.equal(['0.1.0', '0.2.0']);
    const err = await loadKnexMigrations(tmp.dir, { versions: { '1_a.js': '1.0.0' } }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidMigrationError);
    expect((err as Error).message).to.include('2_b.js');
  });

  it('a mixed folder: knex files first, semver migrations above them; a semver version among the knex ones is refused', async () => {
    const folder = copyHistory();
    try {
      const semver = (version: string) => `module.exports = { version: '${version}', description: 'next', async up(trx) { await trx.schema.createTable('next_${version.replace(/\./g, '_')}', (t) => t.increments('id')); } };\n`;
      write(folder.dir, { 'v0_1_0_next.js': semver('0.1.0') });
      const list = await loadMigrations(folder.dir);
      expect(list.map((m) => m.version)).to.deep.equal([...KNEX_FILES.map((_f, i) => `0.0.${i + 1}`), '0.1.0']);
      expect(list.at(-1)?.knexName).to.equal(undefined);
      // loadKnexMigrations skips the semver file.
      expect(await loadKnexMigrations(folder.dir)).to.have.length(KNEX_FILES.length);
      write(folder.dir, { 'v0_0_7_sneaky.js': semver('0.0.7') });
      const err = await loadMigrations(folder.dir).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(InvalidMigrationError);
      expect((err as Error).message).to.include('0.0.7').and.include(`0.0.${KNEX_FILES.length}`);
    } finally {
      folder.cleanup();
    }
  });

  it('up receives the runner’s transaction; a file exporting neither shape is refused; an edit after the switch is reported', async () => {
    write(tmp.dir, {
      '1_probe.js': "exports.up = async (knex) => { await knex.schema.createTable(knex.isTransaction ? 'in_trx' : 'outside', (t) => t.increments('id')); };\n",
    });
    const db = memoryDb();
    try {
      await new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).latest();
      expect(await db.schema.hasTable('in_trx')).to.equal(true);
      fs.appendFileSync(path.join(tmp.dir, '1_probe.js'), '// edited\n');
      const report = await new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).validate();
      expect(report.problems.map((p) => [p.kind, p.version])).to.deep.equal([['changed', '0.0.1']]);
    } finally {
      await db.destroy();
    }
    write(tmp.dir, { '2_bad.js': 'exports.nothing = 1;\n' });
    const err = await loadKnexMigrations(tmp.dir).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(InvalidMigrationError);
    expect((err as Error).message).to.include('2_bad.js');
  });
  it('a knex file added after the switch among the adopted ones shifts their versions: refused with ChecksumMismatchError', async () => {
    write(tmp.dir, { '1_a.js': knexStyle('a'), '3_c.js': knexStyle('c') });
    const db = memoryDb();
    try {
      expect((await new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).latest()).to).to.equal('0.0.2');
      write(tmp.dir, { '2_b.js': knexStyle('b') });
      const err = await new Migrator({ db, migrations: tmp.dir, logger: silentLogger }).latest().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ChecksumMismatchError);
      expect((err as ChecksumMismatchError).versions).to.deep.equal(['0.0.2']);
      expect(await db.schema.hasTable('b')).to.equal(false);
    } finally {
      await db.destroy();
    }
  });
});
