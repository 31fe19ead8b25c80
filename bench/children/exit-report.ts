/**
 * Preloaded (`node --require`, or NODE_OPTIONS=--require) into a CLI process of the cli-start
 * scenario, whose own code we do not control. At exit it writes, to files the parent names:
 *
 * - BENCH_MODULES_FILE: `Object.keys(require.cache)` as JSON — every CommonJS module the process
 *   loaded (jiti shares require.cache, so TypeScript files it loaded are listed too);
 * - BENCH_RSS_FILE: `process.resourceUsage().maxRSS` (KiB) — the peak RSS fallback when
 *   /usr/bin/time is missing;
 * - BENCH_PHASES_FILE: where the start-up time went (ms since the process started, see Phases),
 *   from a wrapper around Module._load and around the package's `loadMigrations` export. The
 *   wrapper costs a little itself: these runs are never the timed ones.
 *
 * It imports nothing but fs and module (both already loaded by node), so it adds one module to the list.
 */
import fs from 'fs';
import Module from 'module';
import path from 'path';

const modulesFile = process.env.BENCH_MODULES_FILE;
const rssFile = process.env.BENCH_RSS_FILE;
const phasesFile = process.env.BENCH_PHASES_FILE;

export interface Phases {
  /** When this hook was preloaded: node's own start-up is over, the bin file starts next. */
  readonly preloadAt: number;
  /** When require('knex') (knex's main module) first returned. */
  readonly knexLoadedAt?: number;
  /** When our dist/cli/main.js (and with it knex and the runner) was loaded. */
  readonly ourCliLoadedAt?: number;
  /** Files outside node_modules that were required (knexfile, migrations) and the time spent in those require()s. */
  readonly projectFiles: number;
  readonly projectFilesMs: number;
  /** Our loadMigrations(): its duration (reads, requires, checksums), if it ran. */
  readonly loadMigrationsMs?: number;
  readonly exitAt: number;
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load; _resolveFilename(request: string, parent: unknown): string };

if (phasesFile) {
  const original = loader._load;
  const preloadAt = performance.now();
  let knexLoadedAt: number | undefined;
  let ourCliLoadedAt: number | undefined;
  let projectFiles = 0;
  let projectFilesMs = 0;
  let loadMigrationsMs: number | undefined;
  const sep = path.sep;
  loader._load = function load(this: unknown, request: string, parent: unknown, isMain: boolean) {
    const started = performance.now();
    const exported = original.call(this, request, parent, isMain);
    let file = '';
    try {
      file = isMain ? path.resolve(request) : loader._resolveFilename(request, parent);
    } catch {
      // a builtin or something the loader resolved its own way
    }
    const now = performance.now();
    if (knexLoadedAt === undefined && file.endsWith(`${sep}node_modules${sep}knex${sep}knex.js`)) knexLoadedAt = now;
    if (ourCliLoadedAt === undefined && file.endsWith(`${sep}knex-semver-migrate${sep}dist${sep}cli${sep}main.js`)) ourCliLoadedAt = now;
    if (path.isAbsolute(file) && !file.includes(`${sep}node_modules${sep}`) && !isMain && !file.endsWith('exit-report.js')) {
      projectFiles++;
      projectFilesMs += now - started;
    }
    if (file.endsWith(`${sep}knex-semver-migrate${sep}dist${sep}load${sep}load-migrations.js`)) {
      const mod = exported as { loadMigrations?: (...args: unknown[]) => Promise<unknown>; __benchWrapped?: boolean };
      if (typeof mod.loadMigrations === 'function' && !mod.__benchWrapped) {
        const fn = mod.loadMigrations;
        mod.__benchWrapped = true;
        mod.loadMigrations = (...args: unknown[]) => {
          const t = performance.now();
          const done = () => (loadMigrationsMs = (loadMigrationsMs ?? 0) + performance.now() - t);
          const result = fn(...args);
          result.then(done, done);
          return result;
        };
      }
    }
    return exported;
  };
  process.on('exit', () => {
    const phases: Phases = { preloadAt, knexLoadedAt, ourCliLoadedAt, projectFiles, projectFilesMs, loadMigrationsMs, exitAt: performance.now() };
    fs.writeFileSync(phasesFile, JSON.stringify(phases));
  });
}

process.on('exit', () => {
  if (modulesFile) fs.writeFileSync(modulesFile, JSON.stringify(Object.keys(require.cache)));
  if (rssFile) fs.writeFileSync(rssFile, String(process.resourceUsage().maxRSS));
});
