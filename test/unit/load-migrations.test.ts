import { expect } from 'chai';
import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, resolve } from 'path';
import { InvalidMigrationError } from '../../lib/errors';
import { loadMigrations } from '../../lib/load/load-migrations';
import { checksumOfSource } from '../../lib/store/checksum';
import type { Knex } from 'knex';

const REPO = resolve(__dirname, '../..');
const LOG = '(globalThis as unknown as { __ksmLoadLog: unknown[][] }).__ksmLoadLog';
const JS_LOG = 'globalThis.__ksmLoadLog';
const fakeTrx = { fake: 'trx' } as unknown as Knex.Transaction;

/** What the migrations' `up` pushed: [version, the argument it got]. */
function log(): unknown[][] {
  return (globalThis as unknown as { __ksmLoadLog: unknown[][] }).__ksmLoadLog;
}

describe('loadMigrations: a folder of migration files', () => {
  let root: string;
  let count = 0;

  /** A fresh folder under the temporary root holding `files` (paths may name sub-folders). */
  function folder(files: Record<string, string>): string {
    const dir = join(root, `m${++count}`);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async function refusal(dir: string): Promise<InvalidMigrationError> {
    try {
      await loadMigrations(dir);
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidMigrationError);
      return err as InvalidMigrationError;
    }
    return expect.fail('loadMigrations should have refused');
  }

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'ksm-load-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    (globalThis as unknown as { __ksmLoadLog: unknown[][] }).__ksmLoadLog = [];
  });

  it('loads CommonJS .js and .cjs, ESM .mjs and TypeScript .ts, in file-name order, ignoring everything else', async () => {
    const dir = folder({
      '001-cjs.js': `module.exports = { version: '1.0.0', description: 'cjs js', async up(trx) { ${JS_LOG}.push(['1.0.0', trx]); }, async down() {} };`,
      '002-cjs.cjs': `module.exports = { version: '1.1.0', description: 'cjs cjs', transaction: false, async up(trx) { ${JS_LOG}.push(['1.1.0', trx]); } };`,
      '003-esm.mjs': `export default { version: '1.2.0', description: 'esm mjs', requires: ['1.0.0'], async up(trx) { ${JS_LOG}.push(['1.2.0', trx]); } };`,
      '004-ts.ts': [
        "import type { Knex } from 'knex';",
        'const label: string = "ts";',
        'export default {',
        "  version: '2.0.0',",
        '  description: label,',
        `  async up(trx: Knex.Transaction): Promise<void> { ${LOG}.push(['2.0.0', trx]); },`,
        '};',
      ].join('\n'),
      'README.md': '# not a migration',
      'notes.txt': 'not a migration either',
      'x.d.ts': 'export declare const x: number;',
      'y.d.mts': 'export declare const y: number;',
      // Loading anything in a sub-folder would throw.
      'snapshots/1.0.0.js': "throw new Error('a sub-folder was loaded');",
      'snapshots/1.0.0.json': '{}',
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => [m.version, m.description])).to.deep.equal([
      ['1.0.0', 'cjs js'],
      ['1.1.0', 'cjs cjs'],
      ['1.2.0', 'esm mjs'],
      ['2.0.0', 'ts'],
    ]);
    for (const m of migrations) await m.up(fakeTrx);
    expect(log()).to.deep.equal(['1.0.0', '1.1.0', '1.2.0', '2.0.0'].map((v) => [v, fakeTrx]));
    expect(migrations[0].down).to.be.a('function');
    expect(migrations[1]).to.not.have.property('down');
    expect(migrations[1].transaction).to.equal(false);
    expect(migrations[2].requires).to.deep.equal(['1.0.0']);
    for (const m of migrations) expect(m.checksum).to.match(/^[0-9a-f]{64}$/);
  });

  it('loads ESM .js from a "type": "module" folder, top-level await included', async () => {
    const dir = folder({
      'package.json': '{ "type": "module" }',
      'a.js': `export default { version: '1.0.0', description: 'esm js', async up(trx) { ${JS_LOG}.push(['1.0.0', trx]); } };`,
      // require() cannot load this one at all (ERR_REQUIRE_ASYNC_MODULE): import() must.
      'b.js': `const description = await Promise.resolve('esm js, top-level await');\nexport default { version: '1.1.0', description, async up(trx) { ${JS_LOG}.push(['1.1.0', trx]); } };`,
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => m.description)).to.deep.equal(['esm js', 'esm js, top-level await']);
    for (const m of migrations) await m.up(fakeTrx);
    expect(log()).to.deep.equal([['1.0.0', fakeTrx], ['1.1.0', fakeTrx]]);
  });

  it('loads ESM TypeScript that the require hook refuses (.mts, .ts under "type": "module") through jiti', async () => {
    const dir = folder({
      'package.json': '{ "type": "module" }',
      'a.ts': `import { label } from './helpers/label.ts';\nexport default { version: '1.0.0', description: label('a'), async up(trx: unknown) { ${LOG}.push(['1.0.0', trx]); } };`,
      'b.mts': `const n: number = 2;\nexport default { version: '1.1.0', description: 'mts ' + n, async up(trx: unknown) { ${LOG}.push(['1.1.0', trx]); } };`,
      'helpers/label.ts': 'export function label(x: string): string { return `esm ts ${x}`; }',
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => m.description)).to.deep.equal(['esm ts a', 'mts 2']);
    for (const m of migrations) await m.up(fakeTrx);
    expect(log()).to.deep.equal([['1.0.0', fakeTrx], ['1.1.0', fakeTrx]]);
  });

  it('returns new plain objects whose up and down still see the exported object as `this`', async () => {
    const dir = folder({
      'a.js': [
        'module.exports = {',
        "  version: '1.0.0', description: 'this', table: 'users', extra: 42,",
        `  async up(trx) { ${JS_LOG}.push(['up', this.table, trx]); },`,
        `  async down(trx) { ${JS_LOG}.push(['down', this.table, trx]); },`,
        '};',
      ].join('\n'),
    });
    const [m] = await loadMigrations(dir);
    // Only the Migration fields: not the module's object (which has `table` and `extra`).
    expect(Object.keys(m).sort()).to.deep.equal(['checksum', 'description', 'down', 'up', 'version']);
    expect(Object.getPrototypeOf(m)).to.equal(Object.prototype);
    await m.up(fakeTrx);
    await m.down?.(fakeTrx);
    expect(log()).to.deep.equal([['up', 'users', fakeTrx], ['down', 'users', fakeTrx]]);
  });

  it('refuses a file that exports no migration, naming the file', async () => {
    const dir = folder({ '1.0.0.js': 'module.exports = { foo: 1 };' });
    const err = await refusal(dir);
    expect(err.code).to.equal('INVALID_MIGRATION');
    expect(err.message).to.include(`Migration file ${join(dir, '1.0.0.js')} exports no migration`);
    expect(err.message).to.include('module.exports = { version, description, up }');
  });

  it('refuses a badly shaped migration, saying what is wrong', async () => {
    const dir = folder({ 'a.ts': "export default { version: 100, description: 'x', up: 'nope', down: 1 };" });
    const err = await refusal(dir);
    expect(err.message).to.include(join(dir, 'a.ts'));
    expect(err.message).to.include('version must be a string');
    expect(err.message).to.include('up must be a function');
    expect(err.message).to.include('down must be a function');
    expect(err.message).to.not.include('description');
  });

  it('refuses a file that throws while loading, naming the file, with the error as cause', async () => {
    const dir = folder({ 'boom.cjs': "throw new Error('boom at load');" });
    const err = await refusal(dir);
    expect(err.message).to.include(`Migration file ${join(dir, 'boom.cjs')} failed to load: boom at load`);
    expect(err.cause).to.be.instanceOf(Error);
    expect((err.cause as Error).message).to.equal('boom at load');
  });

  it('refuses a missing directory, naming it', async () => {
    const missing = join(root, 'no-such-folder');
    const err = await refusal(missing);
    expect(err.message).to.equal(`Migration directory ${missing} does not exist`);
    expect((err.cause as NodeJS.ErrnoException).code).to.equal('ENOENT');
  });

  it('checksums the whole file: a helper edit counts, whitespace and a declared checksum do not', async () => {
    const source = (value: number, gap = ' ') =>
      `function helper() {${gap}return ${value}; }\n` +
      `module.exports = { version: '1.0.0', description: 'c', checksum: 'declared', async up() { helper(); } };\n`;
    const checksumIn = async (content: string) => (await loadMigrations(folder({ 'a.js': content })))[0].checksum;

    const original = await checksumIn(source(1));
    expect(original).to.equal(checksumOfSource(source(1)));
    expect(await checksumIn(source(1, '\n\t   '))).to.equal(original);
    expect(await checksumIn(source(2))).to.not.equal(original);
  });

  it('without a TypeScript require hook, loads .ts through jiti (child process)', function () {
    this.timeout(30_000);
    const dir = folder({
      '1.0.0.ts': [
        "import type { Knex } from 'knex';",
        "import { twice } from './helpers/twice';",
        // A type annotation: plain require() of this file would be a SyntaxError.
        'const n: number = twice(21);',
        `export default { version: '1.0.0', description: 'ts via jiti', async up(trx: Knex.Transaction) { ${LOG}.push([n, trx]); } };`,
      ].join('\n'),
      'helpers/twice.ts': 'export const twice = (x: number): number => x * 2;',
    });
    // ts-node compiles the library, then its hook is removed: from there on the process is what a plain
    // `node` running the compiled library sees, where only jiti can load a .ts migration.
    const script = `
      const { loadMigrations } = require(${JSON.stringify(join(REPO, 'lib/load/load-migrations.ts'))});
      delete require.extensions['.ts'];
      const jiti = require.resolve('jiti');
      const jitiBefore = jiti in require.cache;
      globalThis.__ksmLoadLog = [];
      loadMigrations(${JSON.stringify(dir)}).then(async ([m]) => {
        await m.up('trx');
        console.log(JSON.stringify({ jitiBefore, jitiAfter: jiti in require.cache, description: m.description, log: globalThis.__ksmLoadLog }));
      });`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: REPO, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop() as string)).to.deep.equal({
      jitiBefore: false,
      jitiAfter: true,
      description: 'ts via jiti',
      log: [[42, 'trx']],
    });
  });
});
