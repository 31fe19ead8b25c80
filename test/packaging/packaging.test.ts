/**
 * The package as users get it: `npm pack`, then the tarball installed into fresh projects under the
 * OS temp folder (CommonJS, ESM, TypeScript compiled by tsc under strict, TypeScript migrations run
 * by the CLI through jiti), each driven through its API and every command of the installed bin in
 * child processes. On SQLite always; the CommonJS project on PostgreSQL too when the server answers
 * (mandatory with KSM_REQUIRE_POSTGRES=1, as in test/helpers/dialects.ts).
 *
 * Slow-ish (about 2 minutes): one `npm pack` (which rebuilds dist/) and one `npm install`; the other
 * projects copy the installed node_modules (`cp -a`, ~0.3 s instead of ~3–6 s per install).
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import knexFactory, { type Knex } from 'knex';
import { DIALECTS, postgres, type TestDatabase } from '../helpers/dialects';
import {
  BASE_FILES,
  BOOKKEEPING,
  DROPS_EMAIL,
  EXTENSION,
  FAILING,
  MADE,
  MODULE_TRACER,
  NOTES_DOWN,
  NOTES_UP,
  OWN_TABLES,
  SAMPLE_APP_TABLES,
  SEEDED,
  cjsProject,
  esmProject,
  migrationSource,
  tsCompiledProject,
  tsJitiProject,
  type Language,
} from './fixtures';
import { REPO_ROOT, columnsOf, describeRun, findFiles, hashTree, lines, listTables, run, writeFiles, type RunResult } from './helpers';

const PACKAGE = 'knex-semver-migrate';
const NEWEST_BASE = '1.2.0';
const COMMANDS = ['latest', 'down', 'to', 'status', 'validate', 'snapshot', 'lint', 'repair', 'seed', 'make'];
const OPTIONS = ['--knexfile', '--cwd', '--env', '--migrations-dir', '--snapshots-dir', '--to', '--dry-run', '--json', '--allow-out-of-order', '--ignore-checksums', '--major', '--version', '--force', '--verbose', '--help'];
const FORBIDDEN_IN_TARBALL = ['test/', 'bench/', '.ci/', 'migrations/', 'seeds/', 'scripts/', 'app/', 'knexfile.ts', 'tsconfig.json', 'data/', 'lib/'];
const REQUIRED_IN_TARBALL = ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli/bin.js', 'package.json', 'README.md'];
const REPOSITORY_ONLY = /scripts\/migrate|ts-node|npm run db:|\bapp\/database/;
const TS_COMPILERS = /[\\/]node_modules[\\/](typescript|ts-node|tsx|jiti|@babel|esbuild|@swc)[\\/]/;

interface StatusJson {
  current: string;
  target: string;
  migrations: { version: string; description: string; state: string }[];
  unknown: string[];
  dirty?: unknown;
}

interface Project {
  readonly label: string;
  readonly dir: string;
  readonly engine: 'sqlite' | 'postgres';
  /** Appended to every CLI call (e.g. --env postgres). */
  readonly cliArgs: readonly string[];
  readonly env: Record<string, string | undefined>;
  readonly knexfile: string;
  openDb(): Knex;
  /** The folder the CLI reads migrations from, relative to dir. */
  readonly migrationsDir: string;
  /** The language of migration files this suite drops into migrationsDir. */
  readonly dropLanguage: Language;
  readonly make: {
    readonly args: readonly string[];
    /** Where make must write, relative to dir. */
    readonly expectedFile: string;
    readonly language: Language;
    /** Run on the generated file before it is filled in (tsc: the template typechecks as generated). */
    checkGenerated?(): Promise<void>;
    /** After the file is filled in (tsc: compile it to where the CLI reads). */
    after?(): Promise<void>;
  };
  readonly snapshotArgs: readonly string[];
  readonly snapshotFile: string;
  readonly seedFile: string;
  /** node arguments of the app script. */
  readonly app: readonly string[];
  checkApp?(output: Record<string, unknown>): void;
  /** SQLite files (relative to dir) → their expected tables. */
  readonly sqliteFiles: Record<string, string[]>;
  readonly packageHash: Record<string, string>;
  readonly stats: { runs: number; ms: number; started: number; leaks: string[] };
}

const tables = (...own: string[]) => [...own, ...BOOKKEEPING].sort();

describe('packaging: the npm tarball in fresh projects', function () {
  this.timeout(15 * 60_000);
  const suiteStarted = Date.now();
  let root = '';
  let tarball = '';
  let tarEntries: string[] = [];
  let template = '';
  let templateHash: Record<string, string> = {};
  let tracer = '';
  const summary: string[] = [];

  before(async function () {
    this.timeout(10 * 60_000);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ksm-packaging-'));
    const packDir = path.join(root, 'pack');
    fs.mkdirSync(packDir);
    const pack = await run('npm', ['pack', '--pack-destination', packDir], { cwd: REPO_ROOT, timeoutMs: 5 * 60_000 });
    expect(pack.code, describeRun('npm pack', pack)).to.equal(0);
    const tgz = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    expect(tgz, 'npm pack wrote one tarball').to.have.length(1);
    tarball = path.join(packDir, tgz[0]);
    const list = await run('tar', ['-tzf', tarball], { cwd: root });
    expect(list.code, describeRun('tar -tzf', list)).to.equal(0);
    tarEntries = lines(list.stdout).map((l) => l.replace(/^package\//, '')).filter((l) => !l.endsWith('/')).sort();

    template = path.join(root, 'template');
    fs.mkdirSync(template);
    fs.writeFileSync(path.join(template, 'package.json'), `${JSON.stringify({ name: 'ksm-template', version: '1.0.0', private: true }, null, 2)}\n`);
    const install = await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: template, timeoutMs: 5 * 60_000 });
    expect(install.code, describeRun('npm install <tarball>', install)).to.equal(0);
    templateHash = hashTree(path.join(template, 'node_modules', PACKAGE));
    tracer = path.join(root, 'trace-modules.cjs');
    fs.writeFileSync(tracer, MODULE_TRACER);
    summary.push(`npm pack ${(pack.ms / 1000).toFixed(1)} s, npm install ${(install.ms / 1000).toFixed(1)} s`);
  });

  after(() => {
    if (root !== '' && process.env.KSM_KEEP_PACKAGING !== '1') fs.rmSync(root, { recursive: true, force: true });
    for (const line of summary) console.log(`    [packaging] ${line}`);
    console.log(`    [packaging] whole file: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s`);
  });

  /** A fresh project: the installed node_modules copied from the template, drivers linked from the repository. */
  function createProject(name: string, files: Record<string, string>, links: readonly string[]): { dir: string; packageHash: Record<string, string> } {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    const manifest = JSON.parse(fs.readFileSync(path.join(template, 'package.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ ...manifest, name: `ksm-${name}` }, null, 2)}\n`);
    execFileSync('cp', ['-a', path.join(template, 'node_modules'), path.join(dir, 'node_modules')]);
    for (const link of links) {
      const target = path.join(dir, 'node_modules', link);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', link), target);
    }
    // The project's own package.json (ESM) keeps the dependency the install recorded.
    const own = files['package.json'];
    const rest = { ...files };
    delete rest['package.json'];
    if (own !== undefined) {
      const merged = { ...(JSON.parse(own) as Record<string, unknown>), dependencies: manifest.dependencies };
      fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(merged, null, 2)}\n`);
    }
    writeFiles(dir, rest);
    const packageHash = hashTree(path.join(dir, 'node_modules', PACKAGE));
    expect(packageHash, 'the copied install equals the template install').to.deep.equal(templateHash);
    return { dir, packageHash };
  }

  function newStats() {
    return { runs: 0, ms: 0, started: Date.now(), leaks: [] as string[] };
  }

  /** The installed bin, run directly (its shebang), in the project or in `cwd`. */
  async function cli(p: Project, args: readonly string[], options: { cwd?: string; raw?: boolean; env?: Record<string, string | undefined> } = {}): Promise<RunResult> {
    const r = await run(path.join(p.dir, 'node_modules', '.bin', PACKAGE), options.raw ? args : [...args, ...p.cliArgs], {
      cwd: options.cwd ?? p.dir,
      env: { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, ...p.env, ...options.env },
    });
    p.stats.runs++;
    p.stats.ms += r.ms;
    // Nothing a user sees may point at this repository's own tooling.
    for (const line of lines(r.stdout + r.stderr)) if (REPOSITORY_ONLY.test(line)) p.stats.leaks.push(`${args.join(' ')}: ${line}`);
    return r;
  }

  async function ok(p: Project, args: readonly string[], options: { cwd?: string; raw?: boolean } = {}): Promise<string[]> {
    const r = await cli(p, args, options);
    expect(r.code, describeRun(args.join(' '), r)).to.equal(0);
    expect(r.stderr, describeRun(args.join(' '), r)).to.equal('');
    return lines(r.stdout);
  }

  /** The CommonJS modules loaded by one traced CLI run. */
  async function tracedRun(p: Project, args: readonly string[]): Promise<string[]> {
    const out = path.join(root, `trace-${p.label.replace(/\W+/g, '-')}-${p.stats.runs}.json`);
    const r = await cli(p, args, { env: { NODE_OPTIONS: `--require ${tracer}`, KSM_TRACE_OUT: out } });
    expect(r.code, describeRun(args.join(' '), r)).to.equal(0);
    return JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
  }

  async function withDb<T>(p: Project, fn: (db: Knex) => Promise<T>): Promise<T> {
    const db = p.openDb();
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  }

  const versionOf = (p: Project) =>
    withDb(p, async (db) => ((await db('system_settings').where({ key: 'db_version' }).first('value')) as { value: string } | undefined)?.value);

  const dropFile = (p: Project, stem: string) => path.join(p.dir, p.migrationsDir, `${stem}${EXTENSION[p.dropLanguage]}`);

  const sqliteDb = (file: string): Knex => knexFactory({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });

  /** The same commands, in the same order, in every project. */
  function cliScenario(get: () => Project): void {
    let baseline: StatusJson | undefined;

    it('the app migrates through the API; `status --json` agrees with it', async () => {
      const p = get();
      const app = await run(process.execPath, p.app, { cwd: p.dir, env: p.env });
      expect(app.code, describeRun(`node ${p.app.join(' ')}`, app)).to.equal(0);
      const output = JSON.parse(lines(app.stdout).at(-1) ?? '') as Record<string, unknown> & { status: StatusJson };
      expect(output.status.current).to.equal(NEWEST_BASE);
      expect(output.status.migrations.map((m) => [m.version, m.state])).to.deep.equal([
        ['1.0.0', 'applied'],
        ['1.1.0', 'applied'],
        ['1.2.0', 'applied'],
      ]);
      if ('viaFunction' in output) expect(output.viaFunction).to.deep.equal(output.status);
      if ('version' in output) expect(output.version).to.equal(NEWEST_BASE);
      p.checkApp?.(output);

      const status = JSON.parse((await ok(p, ['status', '--json'])).join('\n')) as StatusJson;
      expect(status).to.deep.equal(output.status);
      expect(status.target).to.equal(status.current);
      baseline = status;
      expect(await ok(p, ['status'])).to.deep.equal([
        'current version  1.2.0',
        'target version   1.2.0',
        '  applied  1.0.0  accounts',
        '  applied  1.1.0  invoices',
        '  applied  1.2.0  display names',
        'nothing pending',
      ]);
      expect(await withDb(p, listTables)).to.deep.equal(tables(...OWN_TABLES));
    });

    it('seed migrates, then runs the seed files', async () => {
      const p = get();
      expect(await ok(p, ['seed'])).to.deep.equal([`database is up to date at ${NEWEST_BASE}`, `seeded ${p.seedFile}`]);
      const rows = await withDb(p, (db) => db('accounts').select('name', 'email', 'display_name').orderBy('id'));
      expect(rows).to.deep.equal(SEEDED.map((s) => ({ ...s, display_name: null })));
    });

    it('down --to, latest --dry-run, to VERSION (down and up), latest again; the data migration fills the seeded rows', async () => {
      const p = get();
      const down = await ok(p, ['down', '--to', '1.1.0']);
      expect(down[0]).to.match(/^rolled back 1\.2\.0 {2}display names {2}\(\d+(\.\d+)? ms\)$/);
      expect(down.at(-1)).to.equal('database is at 1.1.0');
      expect(await versionOf(p)).to.equal('1.1.0');
      expect(await withDb(p, (db) => columnsOf(db, 'accounts'))).to.deep.equal(['email', 'id', 'name']);

      const dry = await ok(p, ['latest', '--dry-run']);
      expect(dry[0]).to.match(/^applied 1\.2\.0 {2}display names/);
      expect(dry.some((l) => /^ {4}alter table [`"]accounts[`"] add column [`"]display_name[`"]/i.test(l)), dry.join('\n')).to.equal(true);
      expect(dry.at(-1)).to.equal('dry run: would go from 1.1.0 to 1.2.0; nothing was changed');
      expect(await versionOf(p)).to.equal('1.1.0');
      expect(await withDb(p, (db) => columnsOf(db, 'accounts'))).to.deep.equal(['email', 'id', 'name']);

      expect((await ok(p, ['to', '1.2.0'])).at(-1)).to.equal('database is at 1.2.0');
      const filled = await withDb(p, (db) => db('accounts').select('name', 'display_name').orderBy('id'));
      expect(filled).to.deep.equal(SEEDED.map((s) => ({ name: s.name, display_name: s.name.toUpperCase() })));

      // invoices reference accounts: one row, so rolling back through 1.1.0 drops real data as its down says.
      await withDb(p, (db) => db('invoices').insert({ account_id: 1, amount_cents: 1250 }));
      const toOld = await ok(p, ['to', '1.0.0']);
      expect(toOld.map((l) => l.replace(/ {2}\(.*\)$/, ''))).to.deep.equal([
        'rolled back 1.2.0  display names',
        'rolled back 1.1.0  invoices',
        'database is at 1.0.0',
      ]);
      expect(await withDb(p, listTables)).to.deep.equal(tables('accounts'));

      const latest = await ok(p, ['latest']);
      expect(latest.map((l) => l.replace(/ {2}\(.*\)$/, ''))).to.deep.equal(['applied 1.1.0  invoices', 'applied 1.2.0  display names', 'database is at 1.2.0']);
      expect(await withDb(p, listTables)).to.deep.equal(tables(...OWN_TABLES));
    });

    it('make writes a migration in the project language; lint checks it (and refuses a non-additive one); latest applies it', async () => {
      const p = get();
      const r = await cli(p, ['make', MADE.description, ...p.make.args]);
      expect(r.code, describeRun('make', r)).to.equal(0);
      const match = /^created (.+) \((.+)\)$/.exec(r.stdout.trim());
      expect(match, r.stdout).to.not.equal(null);
      const [, created, version] = match as RegExpExecArray;
      expect(version).to.equal(MADE.version);
      const createdFile = path.resolve(p.dir, created);
      const generated = fs.readFileSync(createdFile, 'utf8');
      const expectedFile = path.join(p.dir, p.make.expectedFile);
      // Wrong language or place: record it, then write what make should have written so the next steps still run.
      const problems: string[] = [];
      if (created !== p.make.expectedFile) problems.push(`make wrote ${created}; expected ${p.make.expectedFile}`);
      const marker = { cjs: 'module.exports = {', esm: 'export default {', ts: "import type { Migration } from 'knex-semver-migrate';" }[p.make.language];
      if (!generated.includes(marker)) problems.push(`the generated file lacks ${JSON.stringify(marker)}:\n${generated}`);
      if (problems.length === 0) {
        await p.make.checkGenerated?.();
        expect(generated.split('void trx;').length - 1, generated).to.equal(2);
        fs.writeFileSync(createdFile, generated.replace('void trx;', NOTES_UP).replace('void trx;', NOTES_DOWN));
      } else {
        fs.rmSync(createdFile);
        fs.writeFileSync(expectedFile, migrationSource(p.make.language, { version: MADE.version, description: MADE.description, up: NOTES_UP, down: NOTES_DOWN }));
      }
      await p.make.after?.();

      const pending = await ok(p, ['status']);
      expect(pending.slice(-2)).to.deep.equal(['  pending  1.3.0  Add account notes', '1 pending: run `latest` to apply']);

      const lint = await ok(p, ['lint']);
      expect(lint).to.include('checked  1.3.0');
      expect(lint.at(-1)).to.equal('ok: 1 pending migration(s) are additive where they must be');
      expect(await versionOf(p)).to.equal('1.2.0');
      expect(await withDb(p, (db) => columnsOf(db, 'accounts'))).to.not.include('notes');

      const dropsEmail = dropFile(p, 'v1_4_0_drops_email');
      fs.writeFileSync(dropsEmail, migrationSource(p.dropLanguage, DROPS_EMAIL));
      try {
        const refused = await cli(p, ['lint']);
        expect(refused.code, describeRun('lint', refused)).to.equal(1);
        expect(refused.stdout).to.match(/^violation {2}1\.4\.0 \(drops email\): /m);
        expect(lines(refused.stdout).at(-1)).to.equal('lint failed');
        expect(await withDb(p, (db) => columnsOf(db, 'accounts'))).to.include('email');
        expect(await versionOf(p)).to.equal('1.2.0');
      } finally {
        fs.rmSync(dropsEmail);
      }

      const applied = await ok(p, ['latest']);
      expect(applied.map((l) => l.replace(/ {2}\(.*\)$/, ''))).to.deep.equal(['applied 1.3.0  Add account notes', 'database is at 1.3.0']);
      expect(await withDb(p, (db) => columnsOf(db, 'accounts'))).to.deep.equal(['display_name', 'email', 'id', 'name', 'notes']);
      expect(problems).to.deep.equal([]);
    });

    it('validate (exit 0), snapshot, validate again (exit 0); a hand-added column fails validate (exit 1)', async () => {
      const p = get();
      const snapshotDir = path.dirname(p.snapshotFile);
      expect(await ok(p, ['validate', ...p.snapshotArgs])).to.deep.equal([
        `no expected snapshot in ${snapshotDir}: schema not compared (write one with \`snapshot\`)`,
        'ok: database at 1.3.0 matches the code',
      ]);
      const snap = await ok(p, ['snapshot', ...p.snapshotArgs]);
      expect(snap).to.deep.equal(['database is up to date at 1.3.0', `wrote ${p.snapshotFile} (2 tables)`]);
      const written = JSON.parse(fs.readFileSync(path.join(p.dir, p.snapshotFile), 'utf8')) as { tables: { name: string }[] };
      expect(written.tables.map((t) => t.name).sort()).to.deep.equal(OWN_TABLES);
      expect(await ok(p, ['validate', ...p.snapshotArgs])).to.deep.equal(['ok: database at 1.3.0 matches the code and its snapshot']);

      await withDb(p, (db) => db.schema.alterTable('accounts', (t) => void t.string('hand_added', 20)));
      const drift = await cli(p, ['validate', ...p.snapshotArgs]);
      expect(drift.code, describeRun('validate', drift)).to.equal(1);
      expect(drift.stdout).to.include(`schema differs from ${p.snapshotFile}:`);
      expect(drift.stdout).to.include('  + accounts.columns.hand_added');
      expect(lines(drift.stdout).at(-1)).to.equal('validation failed');
      const json = JSON.parse((await cli(p, ['validate', '--json', ...p.snapshotArgs])).stdout) as { ok: boolean; drift: { kind: string; path: string }[] };
      expect(json.ok).to.equal(false);
      expect(json.drift.map((d) => [d.kind, d.path])).to.deep.equal([['added', 'accounts.columns.hand_added']]);
      if (p.snapshotArgs.length > 0) {
        // Without --snapshots-dir the default folder holds no snapshot: the flag is what found it.
        const elsewhere = await ok(p, ['validate']);
        expect(elsewhere[0]).to.match(/^no expected snapshot in /);
      }
      await withDb(p, (db) => db.raw('ALTER TABLE accounts DROP COLUMN hand_added'));
      expect(await ok(p, ['validate', ...p.snapshotArgs])).to.deep.equal(['ok: database at 1.3.0 matches the code and its snapshot']);
    });

    it('a failing migration: exit 1, one `error [MIGRATION_FAILED]` line naming it, database left at the previous version', async () => {
      const p = get();
      const file = dropFile(p, 'v1_4_0_breaks_on_purpose');
      fs.writeFileSync(file, migrationSource(p.dropLanguage, FAILING));
      const before = await withDb(p, listTables);
      const message = 'Migration 1.4.0 (breaks on purpose) failed: deliberate failure; it was rolled back and db_version stays at 1.3.0';
      try {
        const r = await cli(p, ['latest']);
        expect(r.code, describeRun('latest', r)).to.equal(1);
        expect(lines(r.stderr)).to.deep.equal([`error [MIGRATION_FAILED]: ${message}`]);
        expect(r.stdout).to.equal('');
        expect(await versionOf(p)).to.equal('1.3.0');
        expect(await withDb(p, listTables)).to.deep.equal(before);
        const json = await cli(p, ['latest', '--json']);
        expect(json.code).to.equal(1);
        expect(JSON.parse(json.stdout)).to.deep.equal({ ok: false, error: { code: 'MIGRATION_FAILED', name: 'MigrationFailedError', message } });
        const status = JSON.parse((await ok(p, ['status', '--json'])).join('\n')) as StatusJson;
        expect(status.current).to.equal('1.3.0');
        expect(status.migrations.at(-1)).to.deep.equal({ version: '1.4.0', description: 'breaks on purpose', state: 'pending' });
      } finally {
        fs.rmSync(file);
      }
      expect((await ok(p, ['status'])).at(-1)).to.equal('nothing pending');
    });

    it('repair clears the dirty marker a crashed run left; latest refuses until then', async () => {
      const p = get();
      const marker = { version: '1.4.0', description: 'breaks on purpose', failedAt: '2024-01-02T03:04:05.000Z', error: 'simulated crash', lastGoodVersion: '1.3.0' };
      await withDb(p, (db) => db('system_settings').insert({ key: 'migration_dirty', value: JSON.stringify(marker) }));
      const status = await ok(p, ['status']);
      expect(status).to.include('dirty: 1.4.0 (breaks on purpose) failed at 2024-01-02T03:04:05.000Z; run `repair` once fixed');
      const refused = await cli(p, ['latest']);
      expect(refused.code, describeRun('latest', refused)).to.equal(1);
      expect(lines(refused.stderr)).to.have.length(1);
      expect(refused.stderr).to.match(/^error \[DIRTY_DATABASE\]: /);
      expect(refused.stderr, 'the advice names the installed command').to.include('"knex-semver-migrate repair"');
      expect(await ok(p, ['repair'])).to.deep.equal([
        'cleared the dirty marker of 1.4.0 (breaks on purpose, failed at 2024-01-02T03:04:05.000Z)',
        'db_version stays at 1.3.0',
      ]);
      expect(await ok(p, ['latest'])).to.deep.equal(['database is up to date at 1.3.0']);
      expect(await ok(p, ['repair', '--to', '1.3.0'])).to.deep.equal(['the database was not marked dirty', 'db_version stays at 1.3.0']);
    });

    it('--help (exit 0) lists every command and option; usage errors exit 2 and change nothing', async () => {
      const p = get();
      const help = await ok(p, ['--help']);
      expect(help[0]).to.equal(`Usage: ${PACKAGE} [command [ARG]] [options]`);
      for (const command of COMMANDS) expect(help.some((l) => l.startsWith(`  ${command} `)), command).to.equal(true);
      for (const option of OPTIONS) expect(help.some((l) => l.trimStart().startsWith(option) || l.includes(` ${option}`)), option).to.equal(true);
      const cases: [string[], string][] = [
        [['bogus', ...p.cliArgs], 'error: unknown command "bogus"'],
        [['down', ...p.cliArgs], 'error: down needs --to VERSION'],
        [['status', '--dry-run', ...p.cliArgs], 'error: --dry-run goes with latest, down, to'],
        [['latest', '--no-such-flag', ...p.cliArgs], "error: Unknown option '--no-such-flag'"],
        [['latest', '--env', 'nope'], 'error: unknown environment "nope" (the knexfile has: '],
      ];
      for (const [args, first] of cases) {
        const r = await cli(p, args, { raw: true });
        expect(r.code, describeRun(args.join(' '), r)).to.equal(2);
        expect(lines(r.stderr)[0]?.startsWith(first), describeRun(args.join(' '), r)).to.equal(true);
        expect(r.stderr).to.include(`Usage: ${PACKAGE} [command [ARG]] [options]`);
        expect(r.stdout).to.equal('');
      }
      expect(await versionOf(p)).to.equal('1.3.0');
    });

    it('the project is found from elsewhere: --cwd, a subfolder (knexfile looked up), --knexfile', async () => {
      const p = get();
      const expected = JSON.parse((await ok(p, ['status', '--json'])).join('\n')) as StatusJson;
      expect(expected.current).to.equal('1.3.0');
      expect(expected.migrations.map((m) => m.version)).to.deep.equal([...(baseline?.migrations.map((m) => m.version) ?? []), '1.3.0']);
      const fromCwd = await ok(p, ['status', '--json', '--cwd', p.dir], { cwd: root });
      expect(JSON.parse(fromCwd.join('\n'))).to.deep.equal(expected);
      const fromSubfolder = await ok(p, ['status', '--json'], { cwd: path.join(p.dir, p.migrationsDir) });
      expect(JSON.parse(fromSubfolder.join('\n'))).to.deep.equal(expected);
      const withKnexfile = await ok(p, ['status', '--json', '--knexfile', path.join(p.dir, p.knexfile)], { cwd: os.tmpdir() });
      expect(JSON.parse(withKnexfile.join('\n'))).to.deep.equal(expected);
      const relative = await ok(p, ['status', '--json', '--cwd', root, '--knexfile', path.join(path.basename(p.dir), p.knexfile)], { cwd: os.tmpdir() });
      expect(JSON.parse(relative.join('\n'))).to.deep.equal(expected);
      const missing = await cli(p, ['status', '--cwd', root], { cwd: root });
      expect(missing.code, describeRun('status --cwd <no knexfile>', missing)).to.equal(2);
      expect(missing.stderr).to.match(/^error: no knexfile found: /);
    });

  }

  /** Last in each project: what its databases hold, and the installed package untouched by everything before. */
  function finalChecks(get: () => Project): void {
    it('its databases hold only its own tables (nothing of the sample app); the installed package is unchanged', async () => {
      const p = get();
      if (p.engine === 'sqlite') {
        expect(findFiles(p.dir, /\.(sqlite3?|db)$/)).to.deep.equal(Object.keys(p.sqliteFiles).sort());
        for (const [file, expected] of Object.entries(p.sqliteFiles)) {
          const db = sqliteDb(path.join(p.dir, file));
          try {
            const found = await listTables(db);
            expect(found.filter((t) => SAMPLE_APP_TABLES.includes(t)), file).to.deep.equal([]);
            expect(found, file).to.deep.equal(expected);
          } finally {
            await db.destroy();
          }
        }
      } else {
        const found = await withDb(p, listTables);
        expect(found.filter((t) => SAMPLE_APP_TABLES.includes(t))).to.deep.equal([]);
        expect(found).to.deep.equal(tables(...OWN_TABLES));
      }
      expect(p.stats.leaks, 'CLI output mentioning the repository-only tooling').to.deep.equal([]);
      const after = hashTree(path.join(p.dir, 'node_modules', PACKAGE));
      expect(after).to.deep.equal(p.packageHash);
      const installedFiles = Object.entries(after).filter(([, h]) => h !== 'dir').map(([f]) => f).sort();
      expect(installedFiles).to.deep.equal(tarEntries);
      summary.push(
        `${p.label}: ${p.stats.runs} CLI runs (${Math.round(p.stats.ms / Math.max(1, p.stats.runs))} ms each on average), ` +
          `${((Date.now() - p.stats.started) / 1000).toFixed(1)} s; ` +
          (p.engine === 'sqlite'
            ? Object.entries(p.sqliteFiles).map(([file, t]) => `${file}: ${t.join(', ')}`).join('; ')
            : `private schema: ${tables(...OWN_TABLES).join(', ')}`),
      );
    });
  }

  it('the tarball holds the build and nothing of the repository', () => {
    for (const entry of REQUIRED_IN_TARBALL) expect(tarEntries, entry).to.include(entry);
    const leaked = tarEntries.filter((e) => FORBIDDEN_IN_TARBALL.some((f) => (f.endsWith('/') ? e.startsWith(f) : e === f)) || e.endsWith('.tsbuildinfo'));
    expect(leaked).to.deep.equal([]);
    expect(tarEntries.filter((e) => !e.startsWith('dist/') && e !== 'LICENSE')).to.deep.equal(['CHANGELOG.md', 'README.md', 'package.json']);
    const dist = tarEntries.filter((e) => e.startsWith('dist/'));
    // Every compiled module has its declaration, and nothing else is shipped in dist.
    for (const js of dist.filter((e) => e.endsWith('.js'))) expect(dist, js).to.include(js.replace(/\.js$/, '.d.ts'));
    expect(dist.filter((e) => !/\.(js|d\.ts)$/.test(e))).to.deep.equal(['dist/index.mjs']);
    const manifest = JSON.parse(fs.readFileSync(path.join(template, 'node_modules', PACKAGE, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin).to.deep.equal({ [PACKAGE]: 'dist/cli/bin.js' });
    const bin = path.join(template, 'node_modules', PACKAGE, 'dist', 'cli', 'bin.js');
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'), 'bin.js starts with a shebang').to.equal(true);
    expect(fs.statSync(bin).mode & 0o111, 'bin.js is executable').to.not.equal(0);
    expect(fs.realpathSync(path.join(template, 'node_modules', '.bin', PACKAGE))).to.equal(bin);
    expect(fs.existsSync(path.join(template, 'node_modules', 'knex', 'package.json')), 'npm installed the knex peer').to.equal(true);
  });

  it('the tarball ships the LICENSE that package.json lists in `files` (license: MIT)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { files: string[]; license: string };
    expect(manifest.files).to.include('LICENSE');
    expect(tarEntries).to.include('LICENSE');
  });

  describe('CommonJS JavaScript project [sqlite]', () => {
    let p: Project;
    before(() => {
      const { dir, packageHash } = createProject('cjs', cjsProject(), ['sqlite3']);
      p = {
        label: 'cjs [sqlite]',
        dir,
        engine: 'sqlite',
        cliArgs: [],
        env: {},
        knexfile: 'knexfile.js',
        openDb: () => sqliteDb(path.join(dir, 'data', 'app.sqlite')),
        migrationsDir: 'migrations',
        dropLanguage: 'cjs',
        make: { args: [], expectedFile: `migrations/${MADE.stem}.js`, language: 'cjs' },
        snapshotArgs: [],
        snapshotFile: 'migrations/snapshots/sqlite.json',
        seedFile: 'seeds/01.js',
        app: ['app.js'],
        sqliteFiles: { 'data/app.sqlite': tables(...OWN_TABLES), 'data/audit.sqlite': tables('audit_events') },
        packageHash,
        stats: newStats(),
      };
    });

    cliScenario(() => p);

    it('a second database and migrations folder: --env audit --migrations-dir audit-migrations (traced: no TypeScript compiler loaded)', async () => {
      const loaded = await tracedRun(p, ['latest', '--env', 'audit', '--migrations-dir', 'audit-migrations']);
      expect(loaded.some((m) => m.endsWith(path.join('dist', 'cli', 'main.js'))), 'the tracer sees the CLI').to.equal(true);
      expect(loaded.some((m) => m.endsWith(path.join('audit-migrations', 'v1_0_0_audit_events.cjs'))), 'and the migration file').to.equal(true);
      expect(loaded.filter((m) => TS_COMPILERS.test(m))).to.deep.equal([]);
      const db = sqliteDb(path.join(p.dir, 'data', 'audit.sqlite'));
      try {
        expect(await listTables(db)).to.deep.equal(tables('audit_events'));
      } finally {
        await db.destroy();
      }
      const status = JSON.parse((await ok(p, ['status', '--json', '--env', 'audit', '--migrations-dir', 'audit-migrations'])).join('\n')) as StatusJson;
      expect(status.migrations).to.deep.equal([{ version: '1.0.0', description: 'audit events', state: 'applied' }]);
      // The main database did not move.
      expect(await versionOf(p)).to.equal('1.3.0');
      const main = await tracedRun(p, ['latest']);
      expect(main.filter((m) => TS_COMPILERS.test(m))).to.deep.equal([]);
    });

    it('a start with nothing pending loads neither snapshots, lint, the SQLite rebuild nor the CLI/generator', async () => {
      const r = await run(process.execPath, ['boot.js'], { cwd: p.dir });
      expect(r.code, describeRun('node boot.js', r)).to.equal(0);
      const { report, afterBoot, afterSnapshot } = JSON.parse(lines(r.stdout).at(-1) ?? '') as {
        report: { from: string; to: string; applied: unknown[] };
        afterBoot: string[];
        afterSnapshot: string[];
      };
      expect(report).to.deep.equal({ from: '1.3.0', to: '1.3.0', applied: [] });
      const pkg = path.join(p.dir, 'node_modules', PACKAGE, 'dist');
      const rel = (list: string[]) => list.map((m) => path.relative(pkg, m).split(path.sep).join('/'));
      expect(rel(afterBoot)).to.include.members(['index.js', 'run/execute.js', 'load/load-migrations.js']);
      expect(rel(afterBoot).filter((m) => /^(snapshot\/|sqlite\/rebuild|sqlite\/ddl|cli\/)/.test(m))).to.deep.equal([]);
      // The list can show them: a snapshot loads the snapshot modules.
      expect(rel(afterSnapshot)).to.include('snapshot/snapshot.js');
    });

    finalChecks(() => p);
  });

  describe('CommonJS JavaScript project [postgres]', () => {
    let p: Project;
    let database: TestDatabase | undefined;
    let publicBefore: string[] = [];
    const publicTables = async (db: Knex) =>
      ((await db.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")) as { rows: { table_name: string }[] }).rows.map((r) => r.table_name).sort();

    before(async function () {
      if (!DIALECTS.includes(postgres)) {
        console.log('\n  SKIPPED: packaging on postgres — KSM_DIALECTS leaves it out\n');
        this.skip();
      }
      const reason = await postgres.unavailable();
      if (reason !== undefined) {
        if (postgres.required) throw new Error(`postgres is required here (KSM_REQUIRE_POSTGRES=1) but ${reason}`);
        console.log(`\n  SKIPPED: packaging on postgres — ${reason}\n`);
        this.skip();
      }
      database = await postgres.create();
      const db = database;
      publicBefore = await publicTables(db.db);
      const { dir, packageHash } = createProject('cjs-pg', cjsProject(), ['sqlite3', 'pg']);
      p = {
        label: 'cjs [postgres]',
        dir,
        engine: 'postgres',
        cliArgs: ['--env', 'postgres'],
        env: { PACKAGING_PG_URL: db.url },
        knexfile: 'knexfile.js',
        openDb: () => db.open(),
        migrationsDir: 'migrations',
        dropLanguage: 'cjs',
        make: { args: [], expectedFile: `migrations/${MADE.stem}.js`, language: 'cjs' },
        snapshotArgs: [],
        snapshotFile: 'migrations/snapshots/postgres.json',
        seedFile: 'seeds/01.js',
        app: ['app.js', 'postgres'],
        sqliteFiles: {},
        packageHash,
        stats: newStats(),
      };
    });

    after(async () => {
      if (database) {
        const after = await publicTables(database.db);
        await database.cleanup();
        database = undefined;
        // Other suites may share the server: only names this project creates count.
        const ours = [...OWN_TABLES, ...BOOKKEEPING, ...SAMPLE_APP_TABLES, 'audit_events', 'failing_tmp'];
        expect(after.filter((t) => ours.includes(t) && !publicBefore.includes(t)), 'tables created in the public schema').to.deep.equal([]);
      }
    });

    cliScenario(() => p);
    finalChecks(() => p);
  });

  describe('ESM JavaScript project ("type": "module") [sqlite]', () => {
    let p: Project;
    before(() => {
      const { dir, packageHash } = createProject('esm', esmProject(), ['sqlite3']);
      p = {
        label: 'esm [sqlite]',
        dir,
        engine: 'sqlite',
        cliArgs: [],
        env: {},
        knexfile: 'knexfile.js',
        openDb: () => sqliteDb(path.join(dir, 'data', 'app.sqlite')),
        migrationsDir: 'migrations',
        dropLanguage: 'esm',
        make: { args: [], expectedFile: `migrations/${MADE.stem}.js`, language: 'esm' },
        snapshotArgs: ['--snapshots-dir', 'schema'],
        snapshotFile: 'schema/sqlite.json',
        seedFile: 'seeds/01.js',
        app: ['start.mjs'],
        checkApp(output) {
          const resolved = output.resolved as { import: string; require: string };
          expect(resolved.import.endsWith(`/node_modules/${PACKAGE}/dist/index.mjs`), resolved.import).to.equal(true);
          expect(resolved.require.endsWith(path.join('node_modules', PACKAGE, 'dist', 'index.js')), resolved.require).to.equal(true);
          expect(output.oneInstance, 'import and require share one copy of the library').to.equal(true);
          const names = output.names as { import: string[]; require: string[] };
          expect(names.import, 'dist/index.mjs re-exports every name of dist/index.js').to.deep.equal(names.require);
          expect(names.require).to.include.members(['Migrator', 'initializeDatabase', 'runMigrations', 'MigrationFailedError', 'silentLogger']);
          expect(output.failure).to.deep.equal({ failed: true, migrationError: true, cjsClass: true, code: 'MIGRATION_FAILED', version: '1.0.0' });
        },
        sqliteFiles: { 'data/app.sqlite': tables(...OWN_TABLES) },
        packageHash,
        stats: newStats(),
      };
    });

    cliScenario(() => p);
    finalChecks(() => p);
  });

  describe('TypeScript project compiled by tsc (strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, node16) [sqlite]', () => {
    let p: Project;
    const tsc = async (...args: string[]) => {
      return run(process.execPath, [path.join(p.dir, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], { cwd: p.dir, timeoutMs: 180_000 });
    };
    const compile = async () => {
      const r = await tsc('-p', '.');
      expect(r.code, describeRun('tsc -p .', r)).to.equal(0);
      expect(r.stdout).to.equal('');
    };

    before(() => {
      const { dir, packageHash } = createProject('ts-compiled', tsCompiledProject(), ['sqlite3', 'typescript', '@types/node']);
      p = {
        label: 'typescript via tsc [sqlite]',
        dir,
        engine: 'sqlite',
        cliArgs: [],
        env: {},
        knexfile: 'knexfile.js',
        openDb: () => sqliteDb(path.join(dir, 'data', 'app.sqlite')),
        migrationsDir: 'dist/migrations',
        dropLanguage: 'cjs',
        make: {
          // make into the sources; tsc compiles them to dist/migrations, which the CLI reads.
          args: ['--migrations-dir', 'src/migrations'],
          expectedFile: `src/migrations/${MADE.stem}.ts`,
          language: 'ts',
          checkGenerated: compile,
          after: compile,
        },
        snapshotArgs: [],
        snapshotFile: 'dist/migrations/snapshots/sqlite.json',
        seedFile: 'dist/seeds/01.js',
        app: ['dist/app.js'],
        checkApp(output) {
          expect(output.again).to.deep.equal({ from: '1.2.0', to: '1.2.0', applied: 0 });
          expect(output.first).to.equal('1.0.0');
          expect(output.logged, 'the typed Logger received the runner progress').to.equal(true);
          expect(output.failure).to.deep.equal({ failed: true, code: 'MIGRATION_FAILED', version: '1.0.0', lastGood: '0.0.0' });
        },
        sqliteFiles: { 'data/app.sqlite': tables(...OWN_TABLES) },
        packageHash,
        stats: newStats(),
      };
    });

    it("tsc compiles the app and the migrations with the package's declarations checked (no skipLibCheck); a wrong use fails", async () => {
      const r = await tsc('-p', '.', '--listFiles');
      expect(r.code, describeRun('tsc -p . --listFiles', r)).to.equal(0);
      const listed = lines(r.stdout).map((f) => path.relative(p.dir, f).split(path.sep).join('/'));
      expect(listed).to.include.members([`node_modules/${PACKAGE}/dist/index.d.ts`, `node_modules/${PACKAGE}/dist/types.d.ts`, `node_modules/${PACKAGE}/dist/migrator.d.ts`]);
      expect(fs.readdirSync(path.join(p.dir, 'dist', 'migrations')).sort()).to.deep.equal(BASE_FILES.map((f) => `${f}.js`));
      for (const file of ['dist/app.js', 'dist/esm-check.mjs', 'dist/seeds/01.js']) expect(fs.existsSync(path.join(p.dir, file)), file).to.equal(true);
    });

    it('ESM TypeScript (.mts, compiled to .mjs) runs through the import entry', async () => {
      const r = await run(process.execPath, ['dist/esm-check.mjs'], { cwd: p.dir });
      expect(r.code, describeRun('node dist/esm-check.mjs', r)).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal({ to: '1.0.0', applied: ['1.0.0'] });
    });

    cliScenario(() => p);

    it('the CLI never loads TypeScript in a compiled project, even with typescript installed', async () => {
      // `status` always loads the folder (`latest` with nothing pending may load no file at all).
      const loaded = await tracedRun(p, ['status']);
      expect(loaded.some((m) => m.endsWith(path.join('dist', 'migrations', `${BASE_FILES[0]}.js`))), 'the tracer sees the compiled migrations').to.equal(true);
      expect(loaded.filter((m) => TS_COMPILERS.test(m))).to.deep.equal([]);
    });

    finalChecks(() => p);
  });

  describe('TypeScript migrations and knexfile.ts run by the CLI (jiti; no typescript, no ts-node) [sqlite]', () => {
    let p: Project;
    before(() => {
      const { dir, packageHash } = createProject('ts-jiti', tsJitiProject(), ['sqlite3']);
      p = {
        label: 'typescript via jiti [sqlite]',
        dir,
        engine: 'sqlite',
        cliArgs: [],
        env: {},
        knexfile: 'knexfile.ts',
        openDb: () => sqliteDb(path.join(dir, 'data', 'app.sqlite')),
        migrationsDir: 'migrations',
        dropLanguage: 'ts',
        make: { args: [], expectedFile: `migrations/${MADE.stem}.ts`, language: 'ts' },
        snapshotArgs: [],
        snapshotFile: 'migrations/snapshots/sqlite.json',
        seedFile: 'seeds/01.ts',
        app: ['app.js'],
        sqliteFiles: { 'data/app.sqlite': tables(...OWN_TABLES) },
        packageHash,
        stats: newStats(),
      };
    });

    it('has no TypeScript toolchain installed', () => {
      for (const name of ['typescript', 'ts-node', 'tsx', '@swc/core', 'esbuild']) {
        expect(fs.existsSync(path.join(p.dir, 'node_modules', name)), name).to.equal(false);
      }
    });

    cliScenario(() => p);

    it('loads the TypeScript files through jiti (and never through typescript)', async () => {
      const loaded = await tracedRun(p, ['status']);
      expect(loaded.some((m) => /[\\/]node_modules[\\/]jiti[\\/]/.test(m)), 'jiti is loaded').to.equal(true);
      expect(loaded.filter((m) => /[\\/]node_modules[\\/](typescript|ts-node|tsx)[\\/]/.test(m))).to.deep.equal([]);
    });

    finalChecks(() => p);
  });
});
