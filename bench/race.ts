/**
 * Scenario 4 — race at boot: 16 processes start at once on a fresh database and all run the same
 * migrations; time until all 16 are ready vs one process alone doing the same. SQLite (a file), and
 * PostgreSQL / MariaDB when they answer (KSM_POSTGRES_URL / KSM_MYSQL_URL, defaults as in
 * test/helpers/dialects.ts), each run on a fresh file / schema / database. Children load their
 * modules first and start on a "go" written to their stdin; the time runs from "go" to the last
 * child's runMigrations() returning. Afterwards migration_log must hold each version exactly once.
 */
import type { ChildProcessWithoutNullStreams } from 'child_process';
import knexFactory from 'knex';
import os from 'os';
import path from 'path';
import { configFromUrl } from '../lib/database-url';
import { LOADED, raceVersion, type RaceInput, type RaceOutput } from './children/race-migrations';
import { parseResult } from './lib/child';
import { rounds, scratch, type BenchContext } from './lib/context';
import { newRow, ratio, rowById, type Table } from './lib/report';
import { serverEngines, uniqueName } from './lib/servers';
import { median } from './lib/stats';

const PROCESSES = 16;
export const MIGRATIONS = 10;
const ROWS_PER_MIGRATION = 200;
const RUN_TIMEOUT_MS = 180_000;

interface Engine {
  readonly name: string;
  /** undefined when it can be used, else why not. */
  unavailable(): Promise<string | undefined>;
  /** A fresh database; returns its URL and how to drop it. */
  fresh(): Promise<{ url: string; drop(): Promise<void> }>;
  close(): Promise<void>;
}

/** SQLite (a new file per run), then the servers `--dialects` selects (bench/lib/servers.ts). */
function engines(ctx: BenchContext): Engine[] {
  const list: Engine[] = [];
  if (ctx.dialects.includes('sqlite')) {
    const dir = scratch(ctx, 'race-sqlite');
    list.push({
      name: 'SQLite (file, sqlite3)',
      unavailable: async () => undefined,
      fresh: async () => ({ url: `sqlite://${path.join(dir, `${uniqueName()}.sqlite`)}`, drop: async () => undefined }),
      close: async () => undefined,
    });
  }
  list.push(...serverEngines(ctx));
  return list;
}

interface RaceRun {
  /** From "go" to the last process ready, ms. */
  readonly allMs: number;
  readonly firstMs: number;
  readonly outputs: RaceOutput[];
}

/** Starts one child per URL, releases them together, waits for all. */
export async function race(ctx: BenchContext, urls: string[]): Promise<RaceRun> {
  const children: ChildProcessWithoutNullStreams[] = [];
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), RUN_TIMEOUT_MS);
  try {
    const loaded: Promise<void>[] = [];
    const finished: Promise<RaceOutput>[] = [];
    for (const url of urls) {
      const payload: RaceInput = { url, migrations: MIGRATIONS, rowsPerMigration: ROWS_PER_MIGRATION };
      const child = ctx.compiled.spawn('bench/children/race-child', payload);
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      loaded.push(
        new Promise((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            stdout += d.toString();
            if (stdout.includes(LOADED)) resolve();
          });
          child.on('close', () => reject(new Error(`race child exited before loading: ${stderr.slice(-800)}`)));
        }),
      );
      finished.push(
        new Promise((resolve, reject) => {
          child.on('close', (code, signal) => {
            if (code !== 0) reject(new Error(`race child exited with ${signal ?? code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
            else {
              try {
                resolve(parseResult<RaceOutput>(stdout, 'race-child'));
              } catch (err) {
                reject(err);
              }
            }
          });
        }),
      );
    }
    await Promise.all(loaded);
    const goAt = performance.timeOrigin + performance.now();
    for (const child of children) child.stdin.write('go\n');
    const outputs = await Promise.all(finished);
    const ready = outputs.map((o) => o.readyAt - goAt);
    return { allMs: Math.max(...ready), firstMs: Math.min(...ready), outputs };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Each migration applied exactly once: by the reports and by migration_log. `sessionSql` runs on the
 * reading connection first (a Galera node: wait for the cluster's commits).
 */
export async function verify(url: string, outputs: RaceOutput[], sessionSql?: string): Promise<string | undefined> {
  const expected = Array.from({ length: MIGRATIONS }, (_, k) => raceVersion(k + 1));
  const applied = outputs.flatMap((o) => o.applied).sort();
  if (JSON.stringify(applied) !== JSON.stringify([...expected].sort())) return `reports applied ${applied.join(',')}`;
  if (outputs.some((o) => o.to !== expected[expected.length - 1])) return 'a process did not end at the final version';
  const db = knexFactory({ ...configFromUrl(url), useNullAsDefault: true, pool: { min: 0, max: 1 } });
  try {
    if (sessionSql) await db.raw(sessionSql);
    const logged = (await db('migration_log').orderBy('id').pluck('version')) as string[];
    if (JSON.stringify(logged) !== JSON.stringify(expected)) return `migration_log holds ${logged.join(',')}`;
    return undefined;
  } finally {
    await db.destroy();
  }
}

export async function raceScenario(ctx: BenchContext): Promise<Table[]> {
  const tables: Table[] = [];
  for (const engine of engines(ctx)) {
    const reason = await engine.unavailable();
    if (reason) {
      console.log(`race on ${engine.name}: skipped — ${reason}\n`);
      continue;
    }
    const table: Table = {
      scenario: 'race',
      title: `Race at boot on ${engine.name}: ${PROCESSES} processes vs 1, fresh database, ${MIGRATIONS} migrations (CREATE TABLE + ${ROWS_PER_MIGRATION} rows + log row) — ms from "go" to ready; ${ctx.runs} runs after a warm-up`,
      unit: 'ms',
      params: { engine: engine.name, processes: PROCESSES, migrations: MIGRATIONS, rowsPerMigration: ROWS_PER_MIGRATION },
      rows: [
        newRow('single', '1 process alone', 'floor'),
        newRow('all', `${PROCESSES} processes: last one ready`, 'ours'),
        newRow('first', `${PROCESSES} processes: first one ready`, 'info'),
        ...(ctx.quick ? [] : [newRow('separate', `control: ${PROCESSES} processes, own db each`, 'info')]),
      ],
      ratioTo: ctx.quick ? ['single'] : ['single', 'separate'],
      targets: [],
      notes: [
        'children: plain node on the transpiled tree; modules loaded and the knex instance created (createKnex(configFromUrl(url)), no connection yet) before "go"; after "go" each connects and runs runMigrations',
        'exactly once: every migration in exactly one report, migration_log holds each version once, every process ends at the final version',
        `control (not with --quick): the same ${PROCESSES} processes, each on its own fresh database, so nobody waits for a lock: the cost of ${PROCESSES} processes sharing ${os.cpus().length} cores`,
        'CPU ms/process: median user+system CPU of one process between "go" and ready; "all processes": its sum per run',
      ],
    };
    const failures: string[] = [];
    const appliers: number[] = [];
    const loserStatements: number[] = [];
    const winnerStatements: number[] = [];
    const cpu = new Map<string, number[]>();
    type Variant = { id: string; processes: number; databases: number };
    const variants: Variant[] = [
      { id: 'single', processes: 1, databases: 1 },
      { id: 'all', processes: PROCESSES, databases: 1 },
      { id: 'separate', processes: PROCESSES, databases: PROCESSES },
    ].filter((v) => !ctx.quick || v.id !== 'separate'); // the control is skipped by --quick
    await rounds(ctx, `race ${engine.name}`, variants, async (v, _round, warmUp) => {
      const dbs = await Promise.all(Array.from({ length: v.databases }, () => engine.fresh()));
      try {
        const urls = Array.from({ length: v.processes }, (_, k) => dbs[k % dbs.length].url);
        const run = await race(ctx, urls);
        for (const [k, db] of dbs.entries()) {
          const problem = await verify(db.url, run.outputs.filter((_, j) => j % dbs.length === k));
          if (problem) failures.push(`${v.id}: ${problem}`);
        }
        if (warmUp) return;
        rowById(table, v.id).samples.push(run.allMs);
        cpu.set(v.id, [...(cpu.get(v.id) ?? []), ...run.outputs.map((o) => o.cpuMs)]);
        if (v.id === 'all') {
          rowById(table, 'first').samples.push(run.firstMs);
          appliers.push(run.outputs.filter((o) => o.applied.length > 0).length);
          loserStatements.push(...run.outputs.filter((o) => o.applied.length === 0).map((o) => o.statements));
          winnerStatements.push(...run.outputs.filter((o) => o.applied.length > 0).map((o) => o.statements));
        }
        if (v.id === 'single') winnerStatements.push(...run.outputs.map((o) => o.statements));
        rowById(table, v.id).details?.push({
          readyMs: run.outputs.map((o) => o.readyAt - Math.min(...run.outputs.map((x) => x.goAt))),
          cpuMs: run.outputs.map((o) => o.cpuMs),
        });
      } finally {
        for (const db of dbs) await db.drop();
      }
    });
    await engine.close();
    for (const id of variants.map((v) => v.id)) {
      rowById(table, id).extras['each ran once'] = failures.some((f) => f.startsWith(`${id}:`)) ? 'NO' : 'yes';
      const c = cpu.get(id) ?? [];
      rowById(table, id).extras['CPU ms/process'] = c.length > 0 ? median(c).toFixed(0) : '';
      rowById(table, id).extras['CPU ms, all processes'] = c.length > 0 ? ((median(c) * c.length) / ctx.runs).toFixed(0) : '';
    }
    rowById(table, 'all').extras['processes that applied'] = [...new Set(appliers)].join('/');
    rowById(table, 'all').extras['statements: applier / each other'] = `${median(winnerStatements)} / ${median(loserStatements)}`;
    rowById(table, 'single').extras['statements: applier / each other'] = `${median(winnerStatements)}`;
    const r = ratio(table, 'all', 'single');
    table.targets.push({ rowId: 'all', text: `all ${PROCESSES} ready ≤2× single`, met: r <= 2, detail: `${r.toFixed(2)}× one process alone${ctx.quick ? '' : `; ${ratio(table, 'all', 'separate').toFixed(2)}× the no-lock control`}` });
    table.targets.push({
      rowId: 'all',
      text: 'each migration exactly once',
      met: failures.length === 0,
      detail: failures.length === 0 ? `checked in all ${ctx.runs + 1} runs (warm-up included)` : failures.join('; '),
    });
    tables.push(table);
  }
  return tables;
}
