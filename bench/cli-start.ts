/**
 * Scenario 5 — cli-start: the package's command line against knex's, as installed in a project, on a
 * SQLite file that is already current. What a deploy step (`knex-semver-migrate latest` before the
 * app starts) pays when there is nothing to do.
 *
 * Set-up, once per benchmark run, in the scratch directory:
 *  1. pack the package as published: the sources (lib/ from the run's snapshot; package.json, tools/,
 *     tsconfig*.json from the working tree) are copied to a scratch folder and `npm pack` builds
 *     (`prepare` → `npm run build`) and packs them there — the repository's own dist/ is not touched;
 *  2. one template project: `npm install <tarball> knex@<the repository's version>`, copied into four
 *     projects with N migrations each (boot's smaller N): JavaScript (knexfile.js) for ours and for
 *     knex, TypeScript (knexfile.ts + tsconfig.json) for ours (loaded through jiti) and for knex
 *     (whose CLI needs ts-node: ts-node and typescript are linked into that project only, as a knex
 *     user installs them). sqlite3 is linked from the repository (it cannot download its binary here);
 *  3. each CLI migrates its own project's database once.
 *
 * Then, interleaved (the order rotates each round), R runs of each contender, every one a fresh
 * process started as `node <project>/node_modules/<package>/<bin file> …` (not npx, whose own
 * start-up would be added to both), timed from spawn() to exit, peak RSS from /usr/bin/time -f %M
 * (or, if missing, process.resourceUsage().maxRSS in a --require hook, for every row alike). Floors:
 * `node -e 0` and `node -e "require('knex')"`. After the timed rounds, one more (untimed) run of each
 * CLI with a --require hook lists the modules it loaded, and DEBUG=knex:query counts its statements.
 */
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { BetterSqlite } from './children/better-sqlite3';
import type { Phases } from './children/exit-report';
import { knexMigrationFile, nameOf, tableName, versionOf } from './children/migrations';
import { REPO_ROOT } from './lib/child';
import { rounds, scratch, type BenchContext } from './lib/context';
import { newRow, rowById, stat, type Row, type Table } from './lib/report';
import { WriteWatch } from './lib/sqlite-watch';
import { fmtMiB, fmtMs, fmtRatio, median } from './lib/stats';

/** Migrations per project: boot's smaller size (its N=1000 is about requiring many files, not the CLI). */
const N = 100;
/** Measured runs: 15 (more with --runs), 5 with --quick. */
const FULL_RUNS = 15;

type Lang = 'js' | 'ts';
type ProjectId = 'js-ours' | 'js-knex' | 'ts-ours' | 'ts-knex';

const OUR_BIN = 'node_modules/knex-semver-migrate/dist/cli/bin.js';
const KNEX_BIN = 'node_modules/knex/bin/cli.js';
const LAST_VERSION = versionOf(N);

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly role: Row['role'];
  /** The project it runs in (cwd, and the database watched for writes); none for the floors. */
  readonly project?: ProjectId;
  /** node's arguments; project-relative paths are resolved against the project folder. */
  readonly args: readonly string[];
  /** The row its ×knex ratios are taken to (knex's CLI in the same language). */
  readonly peer?: string;
  /** What its stdout must say when nothing is pending. */
  readonly expect?: RegExp;
  readonly env?: NodeJS.ProcessEnv;
  /** A fresh, empty jiti cache for each run (TMPDIR pointed at a new folder). */
  readonly coldJiti?: boolean;
}

const OURS_EXPECT = new RegExp(`database is up to date at ${LAST_VERSION.replace(/\./g, '\\.')}`);
const KNEX_EXPECT = /Already up to date/;

const CONTENDERS: Contender[] = [
  { id: 'ours-js', label: 'ours: latest (knexfile.js, .js migrations)', role: 'ours', project: 'js-ours', args: [OUR_BIN, 'latest'], peer: 'knex-js', expect: OURS_EXPECT },
  { id: 'knex-js', label: 'knex migrate:latest (knexfile.js, .js)', role: 'peer', project: 'js-knex', args: [KNEX_BIN, 'migrate:latest'], expect: KNEX_EXPECT },
  { id: 'ours-ts', label: 'ours: latest (knexfile.ts, .ts; jiti)', role: 'ours', project: 'ts-ours', args: [OUR_BIN, 'latest'], peer: 'knex-ts', expect: OURS_EXPECT },
  { id: 'knex-ts', label: 'knex migrate:latest (knexfile.ts, .ts; ts-node)', role: 'peer', project: 'ts-knex', args: [KNEX_BIN, 'migrate:latest'], expect: KNEX_EXPECT },
  {
    id: 'ours-ts-cold',
    label: 'ours: latest (.ts), empty jiti cache',
    role: 'info',
    project: 'ts-ours',
    args: [OUR_BIN, 'latest'],
    peer: 'knex-ts',
    expect: OURS_EXPECT,
    coldJiti: true,
  },
  {
    id: 'knex-ts-fast',
    label: 'knex migrate:latest (.ts; ts-node transpile-only)',
    role: 'info',
    project: 'ts-knex',
    args: [KNEX_BIN, 'migrate:latest'],
    peer: 'knex-ts',
    expect: KNEX_EXPECT,
    env: { TS_NODE_TRANSPILE_ONLY: 'true' },
  },
  { id: 'node', label: 'floor: node -e 0', role: 'floor', args: ['-e', '0'] },
  { id: 'require-knex', label: "floor: node -e \"require('knex')\"", role: 'floor', project: 'js-knex', args: ['-e', "require('knex')"] },
];

/** The package modules a start with nothing pending must not load (issue: snapshot, lint, rebuild, generator). */
const MUST_NOT_LOAD: { readonly what: string; readonly dir: string }[] = [
  { what: 'snapshot/lint', dir: 'dist/snapshot/' },
  { what: 'rebuild', dir: 'dist/sqlite/rebuild' },
  { what: 'rebuild DDL', dir: 'dist/sqlite/ddl' },
  { what: 'generator', dir: 'dist/cli/make' },
];

// ---------------------------------------------------------------------------------------------
// Set-up: the tarball, the template install, the four projects.

interface Setup {
  readonly projects: Record<ProjectId, string>;
  readonly tarball: string;
  readonly tarballKiB: number;
  readonly knexVersion: string;
  readonly seconds: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`cli-start: ${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${(err.stderr ?? '').slice(-2000)}`);
  }
}

function repoVersion(pkg: string): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** `npm pack` of the package, built in a copy (lib/ from the run's snapshot when there is one). */
function pack(dir: string, ctx: BenchContext): { tarball: string; kib: number } {
  const src = path.join(dir, 'package-src');
  fs.mkdirSync(src);
  // bench/run.ts copies the TypeScript sources to <workDir>/ts when the run starts: the code every scenario measures.
  const snapshotLib = path.join(ctx.workDir, 'ts', 'lib');
  fs.cpSync(fs.existsSync(snapshotLib) ? snapshotLib : path.join(REPO_ROOT, 'lib'), path.join(src, 'lib'), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'tools']) {
    if (fs.existsSync(path.join(REPO_ROOT, f))) fs.cpSync(path.join(REPO_ROOT, f), path.join(src, f), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  const out = run('npm', ['pack', '--pack-destination', dir, '--json', '--loglevel=error'], src);
  // The prepare script's own output comes first; the JSON array is the last thing printed.
  const packed = JSON.parse(out.slice(out.lastIndexOf('\n[') + 1)) as { filename: string; size: number }[];
  const tarball = path.join(dir, packed[0].filename);
  return { tarball, kib: packed[0].size / 1024 };
}

function link(project: string, pkg: string): void {
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', pkg), path.join(project, 'node_modules', pkg), 'dir');
}

const KNEXFILE_JS = `/** @type {Record<string, import('knex').Knex.Config>} */
module.exports = {
  development: {
    client: 'sqlite3',
    connection: { filename: './db.sqlite3' },
    useNullAsDefault: true,
    migrations: { directory: './migrations' },
  },
};
`;

const KNEXFILE_TS = `import type { Knex } from 'knex';

const config: Record<string, Knex.Config> = {
  development: {
    client: 'sqlite3',
    connection: { filename: './db.sqlite3' },
    useNullAsDefault: true,
    migrations: { directory: './migrations' },
  },
};

export default config;
`;

/** The same settings in both TypeScript projects (jiti does not read it; ts-node does). */
const TSCONFIG = `${JSON.stringify(
  { compilerOptions: { target: 'ES2022', module: 'commonjs', moduleResolution: 'node', strict: true, esModuleInterop: true, skipLibCheck: true } },
  null,
  2,
)}\n`;

const createBody = (i: number) => `createTable('${tableName(i)}', (t) => {
      t.increments('id');
      t.string('note');
    })`;

/** File stem the package's `make` gives version 1.i.0: v1_i_0_<slug>. */
const ourStem = (i: number) => `v${versionOf(i).replace(/\./g, '_')}_create_${tableName(i)}`;

/** Our format, as `knex-semver-migrate make` writes it (CommonJS flavour), with the body filled in. */
function ourMigrationJs(i: number): string {
  return `/**
 * ${versionOf(i)} — create ${tableName(i)}
 */
/** @type {import('knex-semver-migrate').Migration} */
module.exports = {
  version: '${versionOf(i)}',
  description: 'create ${tableName(i)}',

  async up(trx) {
    await trx.schema.${createBody(i)};
  },

  async down(trx) {
    await trx.schema.dropTable('${tableName(i)}');
  },
};
`;
}

/** Our format, as `make` writes it for TypeScript. */
function ourMigrationTs(i: number): string {
  return `/**
 * ${versionOf(i)} — create ${tableName(i)}
 */
import type { Migration } from 'knex-semver-migrate';

const migration: Migration = {
  version: '${versionOf(i)}',
  description: 'create ${tableName(i)}',

  async up(trx) {
    await trx.schema.${createBody(i)};
  },

  async down(trx) {
    await trx.schema.dropTable('${tableName(i)}');
  },
};

export default migration;
`;
}

/** knex's format, as `knex migrate:make -x ts` writes it, with the same DDL. */
function knexMigrationTs(i: number): string {
  return `import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.${createBody(i).replace(/\n {4}/g, '\n  ')};
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('${tableName(i)}');
}
`;
}

function writeProject(dir: string, template: string, lang: Lang, kind: 'ours' | 'knex'): void {
  fs.mkdirSync(path.join(dir, 'migrations'), { recursive: true });
  fs.copyFileSync(path.join(template, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(template, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  link(dir, 'sqlite3');
  if (lang === 'ts' && kind === 'knex') {
    link(dir, 'ts-node');
    link(dir, 'typescript');
  }
  if (lang === 'js') fs.writeFileSync(path.join(dir, 'knexfile.js'), KNEXFILE_JS);
  else {
    fs.writeFileSync(path.join(dir, 'knexfile.ts'), KNEXFILE_TS);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), TSCONFIG);
  }
  for (let i = 1; i <= N; i++) {
    const [name, text] =
      kind === 'ours'
        ? [`${ourStem(i)}.${lang}`, lang === 'js' ? ourMigrationJs(i) : ourMigrationTs(i)]
        : [`${nameOf(i)}.${lang}`, lang === 'js' ? knexMigrationFile(i) : knexMigrationTs(i)];
    fs.writeFileSync(path.join(dir, 'migrations', name), text);
  }
}

async function setUp(ctx: BenchContext, dir: string, env: NodeJS.ProcessEnv): Promise<Setup> {
  const started = performance.now();
  ctx.progress('cli-start: npm pack');
  const { tarball, kib } = pack(dir, ctx);
  const knexVersion = repoVersion('knex');
  const template = path.join(dir, 'template');
  fs.mkdirSync(template);
  fs.writeFileSync(path.join(template, 'package.json'), `${JSON.stringify({ name: 'cli-start-project', version: '1.0.0', private: true }, null, 2)}\n`);
  ctx.progress('cli-start: npm install <tarball> knex');
  run('npm', ['install', tarball, `knex@${knexVersion}`, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], template);
  const projects = {} as Record<ProjectId, string>;
  for (const id of ['js-ours', 'js-knex', 'ts-ours', 'ts-knex'] as const) {
    projects[id] = path.join(dir, id);
    const [lang, kind] = id.split('-') as [Lang, 'ours' | 'knex'];
    writeProject(projects[id], template, lang, kind);
  }
  // Bring every database to the last migration with its own CLI (the type-checked ts-node for knex's TS project).
  for (const c of CONTENDERS.filter((x) => x.id === 'ours-js' || x.id === 'knex-js' || x.id === 'ours-ts' || x.id === 'knex-ts')) {
    ctx.progress(`cli-start: migrating ${c.project}`);
    const cwd = projects[c.project as ProjectId];
    const out = run(process.execPath, [...c.args], cwd, env);
    const tables = tablesIn(path.join(cwd, 'db.sqlite3'));
    if (tables < N) throw new Error(`cli-start: ${c.id} left ${tables} of ${N} tables; it printed:\n${out.slice(-1000)}`);
  }
  return { projects, tarball, tarballKiB: kib, knexVersion, seconds: (performance.now() - started) / 1000 };
}

/** The migrations' tables (t_*) in a database file. */
function tablesIn(file: string): number {
  const db = new BetterSqlite(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// One process.

interface ProcessRun {
  readonly wallMs: number;
  readonly rssKiB: number;
  readonly stdout: string;
  readonly stderr: string;
}

const TIME_BIN = '/usr/bin/time';
type RssMethod = 'time' | 'hook';

function spawnTimed(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, rss: { method: RssMethod; file: string; hook: string }): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    fs.rmSync(rss.file, { force: true });
    const [cmd, argv] =
      rss.method === 'time'
        ? [TIME_BIN, ['-o', rss.file, '-f', '%M', process.execPath, ...args]]
        : [process.execPath, ['--require', rss.hook, ...args]];
    const childEnv = rss.method === 'hook' ? { ...env, BENCH_RSS_FILE: rss.file } : env;
    const started = performance.now();
    const child = spawn(cmd, argv, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let exitedAt = 0;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', () => (exitedAt = performance.now()));
    child.on('close', (code, signal) => {
      const wallMs = (exitedAt || performance.now()) - started;
      if (code !== 0) {
        reject(new Error(`cli-start: node ${args.join(' ')} (in ${cwd}) exited with ${signal ?? code}:\n${stdout.slice(-1000)}\n${stderr.slice(-2000)}`));
        return;
      }
      // /usr/bin/time -o writes "%M\n" (after a "Command exited…" line when the status is not 0).
      const text = fs.existsSync(rss.file) ? fs.readFileSync(rss.file, 'utf8').trim().split('\n').pop() : undefined;
      const rssKiB = Number(text);
      if (!Number.isFinite(rssKiB) || rssKiB <= 0) {
        reject(new Error(`cli-start: no peak RSS for node ${args.join(' ')}: ${JSON.stringify(text)}`));
        return;
      }
      resolve({ wallMs, rssKiB, stdout, stderr });
    });
  });
}

/** The environment every child gets: ours, minus anything that would change how node or ts-node start. */
function baseEnv(tmp: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('TS_NODE_') || k === 'DEBUG' || k.startsWith('JITI_') || k === 'NODE_ENV') continue;
    env[k] = v;
  }
  // jiti keeps its transpiled files in $TMPDIR/jiti: a folder of this run, warm after the first start.
  env.TMPDIR = tmp;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Loaded modules and statements, from one extra untimed run.

interface Inspection {
  readonly modules: number;
  /** Modules outside any node_modules folder: the knexfile and migration files. */
  readonly projectModules: number;
  /** The package's own modules, relative to its folder (dist/…). */
  readonly ours: string[];
  readonly forbidden: string[];
  readonly jiti: boolean;
  readonly typescript: boolean;
  readonly tsNode: boolean;
  readonly statements: number;
  readonly phases: Phases;
}

async function inspect(c: Contender, cwd: string, env: NodeJS.ProcessEnv, hook: string, dir: string): Promise<Inspection> {
  const file = path.join(dir, `modules-${c.id}.json`);
  const phasesFile = path.join(dir, `phases-${c.id}.json`);
  const rssFile = path.join(dir, `rss-${c.id}`);
  const inspectEnv = {
    ...env,
    ...c.env,
    NODE_OPTIONS: `--require ${hook}`,
    BENCH_MODULES_FILE: file,
    BENCH_PHASES_FILE: phasesFile,
    DEBUG: 'knex:query',
    DEBUG_COLORS: 'false',
  };
  const { stderr } = await spawnTimed(c.args, cwd, inspectEnv, { method: 'hook', file: rssFile, hook });
  const modules = (JSON.parse(fs.readFileSync(file, 'utf8')) as string[]).filter((m) => m !== hook);
  // require.cache holds real paths (the scratch folder may sit behind a symlinked tmpdir).
  const pkgDir = `${path.join(fs.realpathSync(cwd), 'node_modules', 'knex-semver-migrate')}${path.sep}`;
  const ours = modules.filter((m) => m.startsWith(pkgDir)).map((m) => m.slice(pkgDir.length));
  const inPackage = (name: string) => modules.some((m) => m.includes(`${path.sep}node_modules${path.sep}${name}${path.sep}`));
  return {
    modules: modules.length,
    projectModules: modules.filter((m) => path.isAbsolute(m) && !m.includes(`${path.sep}node_modules${path.sep}`)).length,
    ours,
    forbidden: ours.filter((m) => MUST_NOT_LOAD.some((f) => m.startsWith(f.dir))),
    jiti: inPackage('jiti'),
    typescript: inPackage('typescript'),
    tsNode: inPackage('ts-node'),
    // debug prints one "<date> knex:query <sql>" line per query sent.
    statements: stderr.split('\n').filter((l) => /\bknex:query\b/.test(l)).length,
    phases: JSON.parse(fs.readFileSync(phasesFile, 'utf8')) as Phases,
  };
}

/** Median of each phase over several inspections (undefined where a run did not have it). */
function medianPhases(list: readonly Inspection[]): Phases {
  const m = (get: (p: Phases) => number | undefined) => {
    const values = list.map((i) => get(i.phases)).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  return {
    preloadAt: m((p) => p.preloadAt) as number,
    knexLoadedAt: m((p) => p.knexLoadedAt),
    ourCliLoadedAt: m((p) => p.ourCliLoadedAt),
    projectFiles: m((p) => p.projectFiles) as number,
    projectFilesMs: m((p) => p.projectFilesMs) as number,
    loadMigrationsMs: m((p) => p.loadMigrationsMs),
    exitAt: m((p) => p.exitAt) as number,
  };
}

function describePhases(p: Phases): string {
  const at = (v: number | undefined) => (v === undefined ? '?' : v.toFixed(0));
  return (
    [
      `node ready ${at(p.preloadAt)}`,
      `knex loaded ${at(p.knexLoadedAt)}`,
      ...(p.ourCliLoadedAt !== undefined ? [`our CLI modules loaded ${at(p.ourCliLoadedAt)}`] : []),
      `exit ${at(p.exitAt)}`,
    ].join(' → ') +
    (p.loadMigrationsMs !== undefined ? `; loadMigrations ${p.loadMigrationsMs.toFixed(1)} ms` : '') +
    (p.projectFiles === 0
      ? '; no project file loaded through require() (jiti compiles and runs them itself)'
      : `; require() of ${p.projectFiles.toFixed(0)} project file(s) ${p.projectFilesMs.toFixed(1)} ms`)
  );
}

// ---------------------------------------------------------------------------------------------

/** Nearest-rank percentile. */
function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export async function cliStartScenario(ctx: BenchContext): Promise<Table[]> {
  const runs = ctx.quick ? ctx.runs : Math.max(FULL_RUNS, ctx.runs);
  const dir = scratch(ctx, 'cli-start');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const env = baseEnv(tmp);
  // The hook from the run's transpiled tree (plain JavaScript, loadable by any node process).
  const hook = ctx.compiled.argv('bench/children/exit-report')[0];
  const rssMethod: RssMethod = fs.existsSync(TIME_BIN) ? 'time' : 'hook';
  const rssFile = path.join(dir, 'rss');

  const setup = await setUp(ctx, dir, env);
  const rows = new Map(CONTENDERS.map((c) => [c.id, newRow(c.id, c.label, c.role)]));
  const rss = new Map<string, number[]>(CONTENDERS.map((c) => [c.id, []]));
  const byRound = new Map<string, number[]>(CONTENDERS.map((c) => [c.id, []]));
  const writes = new Map<string, string[]>();
  const watches = new Map(
    (Object.entries(setup.projects) as [ProjectId, string][]).map(([id, p]) => [id, new WriteWatch(path.join(p, 'db.sqlite3'))]),
  );
  try {
    await rounds({ ...ctx, runs }, `cli-start N=${N}`, CONTENDERS, async (c, round, warmUp) => {
      const cwd = c.project ? setup.projects[c.project] : dir;
      let runEnv: NodeJS.ProcessEnv = { ...env, ...c.env };
      let cold: string | undefined;
      if (c.coldJiti) {
        cold = fs.mkdtempSync(path.join(dir, 'cold-'));
        runEnv = { ...runEnv, TMPDIR: cold };
      }
      const watch = c.project ? watches.get(c.project) : undefined;
      const before = watch?.state();
      try {
        const r = await spawnTimed(c.args, cwd, runEnv, { method: rssMethod, file: rssFile, hook });
        if (c.expect && !c.expect.test(r.stdout)) {
          throw new Error(`cli-start: ${c.id} did not report an up-to-date database; it printed:\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-1000)}`);
        }
        const changed = watch && before ? WriteWatch.changed(before, watch.state()) : undefined;
        if (changed) writes.set(c.id, [...(writes.get(c.id) ?? []), changed]);
        if (warmUp) return;
        (rows.get(c.id) as Row).samples.push(r.wallMs);
        (rss.get(c.id) as number[]).push(r.rssKiB);
        (byRound.get(c.id) as number[])[round - 1] = r.wallMs;
      } finally {
        if (cold) fs.rmSync(cold, { recursive: true, force: true });
      }
    });
  } finally {
    for (const w of watches.values()) w.close();
  }

  // Untimed runs with the require hook: modules, statements, phases (interleaved too).
  const inspectRuns = ctx.quick ? 1 : 3;
  ctx.progress(`cli-start: module lists, statements and phases (${inspectRuns} untimed run(s) each)`);
  const inspected = CONTENDERS.filter((x) => x.role === 'ours' || x.role === 'peer');
  const allInspections = new Map<string, Inspection[]>(inspected.map((c) => [c.id, []]));
  for (let k = 0; k < inspectRuns; k++) {
    for (let j = 0; j < inspected.length; j++) {
      const c = inspected[(j + k) % inspected.length];
      (allInspections.get(c.id) as Inspection[]).push(await inspect(c, setup.projects[c.project as ProjectId], env, hook, dir));
    }
  }
  const inspections = new Map([...allInspections].map(([id, list]) => [id, { ...list[0], phases: medianPhases(list) }]));

  const medianRss = (id: string) => median(rss.get(id) as number[]);
  for (const c of CONTENDERS) {
    const row = rows.get(c.id) as Row;
    const s = stat(row);
    row.extras.p90 = fmtMs(percentile(row.samples, 90));
    row.extras['×knex'] = c.peer ? fmtRatio(s.median / stat(rows.get(c.peer) as Row).median) : c.role === 'peer' ? '1' : '';
    row.extras['peak RSS'] = fmtMiB(medianRss(c.id));
    row.extras['RSS ×knex'] = c.peer ? fmtRatio(medianRss(c.id) / medianRss(c.peer)) : c.role === 'peer' ? '1' : '';
    row.extras['×node -e 0'] = fmtRatio(s.median / stat(rows.get('node') as Row).median);
    const ins = inspections.get(c.id);
    row.extras.statements = ins ? ins.statements : '';
    row.extras.modules = ins ? `${ins.modules} (${ins.projectModules} project)` : '';
    row.extras['wrote?'] = c.role === 'floor' ? '' : writes.has(c.id) ? `YES (${[...new Set(writes.get(c.id))].join('; ')})` : 'no';
    row.details?.push(...row.samples.map((ms, k) => ({ wallMs: ms, rssKiB: (rss.get(c.id) as number[])[k] })));
    if (ins) row.details?.push({ inspection: ins });
  }

  const table: Table = {
    scenario: 'cli-start',
    title: `CLI start with nothing pending, N=${N} migrations applied, SQLite file — whole-process ms, spawn to exit; ${runs} runs after a warm-up`,
    unit: 'ms',
    params: { n: N, runs, rssMethod, knex: setup.knexVersion, tarballKiB: Math.round(setup.tarballKiB) },
    rows: [...rows.values()],
    ratioTo: [],
    targets: [],
    notes: [],
  };

  // Targets: the issue's, for JavaScript and for TypeScript.
  const faster = (a: string, b: string) => {
    const x = byRound.get(a) as number[];
    const y = byRound.get(b) as number[];
    return x.filter((v, k) => v < y[k]).length;
  };
  for (const [id, peer, what] of [
    ['ours-js', 'knex-js', "knex's CLI, knexfile.js"],
    ['ours-ts', 'knex-ts', "knex's CLI + ts-node, knexfile.ts"],
  ] as const) {
    const r = stat(rowById(table, id)).median / stat(rowById(table, peer)).median;
    table.targets.push({
      rowId: id,
      text: '≤1.0× knex wall',
      met: r <= 1.0,
      detail: `${r.toFixed(3)}× ${what} (medians ${fmtMs(stat(rowById(table, id)).median)} vs ${fmtMs(stat(rowById(table, peer)).median)} ms); faster in ${faster(id, peer)} of ${runs} paired rounds`,
    });
    const m = medianRss(id) / medianRss(peer);
    table.targets.push({ rowId: id, text: 'peak RSS ≤1.2× knex', met: m <= 1.2, detail: `${m.toFixed(3)}× (${fmtMiB(medianRss(id))} vs ${fmtMiB(medianRss(peer))})` });
  }
  for (const id of ['ours-js', 'ours-ts']) {
    const ins = inspections.get(id) as Inspection;
    table.targets.push({
      rowId: id,
      text: 'loads no snapshot, lint, rebuild, generator',
      met: ins.forbidden.length === 0,
      detail: ins.forbidden.length === 0 ? `none of ${MUST_NOT_LOAD.map((f) => f.dir).join(', ')} loaded` : `loaded ${ins.forbidden.join(', ')}`,
    });
  }

  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  for (const id of ['ours-js', 'ours-ts']) {
    const ins = inspections.get(id) as Inspection;
    table.notes.push(
      `modules, ${id} (untimed run): ${ins.modules} in all, ${ins.ours.length} of the package; ` +
        MUST_NOT_LOAD.map((f) => `${f.dir}: ${ins.ours.filter((m) => m.startsWith(f.dir)).join(', ') || 'none'}`).join('; ') +
        `; jiti ${yesNo(ins.jiti)}, typescript ${yesNo(ins.typescript)}, ts-node ${yesNo(ins.tsNode)}`,
    );
  }
  for (const id of ['knex-js', 'knex-ts']) {
    const ins = inspections.get(id) as Inspection;
    table.notes.push(`modules, ${id}: ${ins.modules} in all, ${ins.projectModules} project file(s); typescript ${yesNo(ins.typescript)}, ts-node ${yesNo(ins.tsNode)}`);
  }
  for (const c of inspected) {
    table.notes.push(`where the time went, ${c.id} (ms since process start, median of ${inspectRuns} untimed run(s) with a require hook): ${describePhases((inspections.get(c.id) as Inspection).phases)}`);
  }
  table.notes.push(
    `package modules loaded by ours-js: ${(inspections.get('ours-js') as Inspection).ours.join(' ')}`,
    'started as `node <project>/node_modules/knex-semver-migrate/dist/cli/bin.js latest` and `node <project>/node_modules/knex/bin/cli.js migrate:latest` (the bin files, not npx, so npx\'s own start-up is left out of both), cwd = the project',
    `projects: \`npm install <npm pack tarball, ${Math.round(setup.tarballKiB)} KiB> knex@${setup.knexVersion}\` once, copied into each project; sqlite3 linked from the repository; the knex TS project also links ts-node and typescript (knex's CLI registers ts-node/register through rechoir); ours has no ts-node (jiti loads the .ts files). Set up in ${setup.seconds.toFixed(0)} s`,
    `each project: knexfile + ${N} migrations creating one table each (the same DDL), already applied by its own CLI; knex's TS files in \`migrate:make -x ts\` form, ours in \`knex-semver-migrate make\` form`,
    "knex+ts-node type-checks (ts-node's default; knex's CLI sets nothing); knex-ts-fast: TS_NODE_TRANSPILE_ONLY=true; jiti keeps its transpiled files in $TMPDIR/jiti, warm after the first start (ours-ts), or a new empty folder for every run (ours-ts-cold: a first start, e.g. a fresh container)",
    `peak RSS: ${rssMethod === 'time' ? '/usr/bin/time -f %M (GNU time; the whole node process)' : 'process.resourceUsage().maxRSS at exit (--require hook)'}, median of runs; wall time includes the ${rssMethod === 'time' ? '/usr/bin/time wrapper' : '--require hook'}, the same for every row`,
    'modules: require.cache at exit in the untimed run (project = knexfile and migration files); statements: knex queries seen with DEBUG=knex:query there (the connection pragmas of withSqliteDefaults run on the raw connection and are not counted); "wrote?": PRAGMA data_version, size and mtime of the project\'s database before vs after each run (the parent keeps a connection open)',
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return [table];
}
