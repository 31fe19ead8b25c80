/**
 * Scenario 6 — apply N migrations on a database server (issue #10, item 6): PostgreSQL and
 * MariaDB/MySQL, when they answer. Each migration creates one small table and inserts one row into
 * it. Contenders, paired in the same rounds on the same server: ours (runMigrations, the list in
 * memory), knex's migrator (a directory of generated .js files) and a floor on the raw driver (one
 * transaction per migration with a one-row version update). Every run is its own child process on a
 * fresh schema (PostgreSQL, via search_path) or database (MariaDB/MySQL) that the parent creates
 * before and drops after it; the time is measured inside the child, from creating the connection
 * (connecting included) to the end of the migration call.
 */
import fs from 'fs';
import path from 'path';
import type { ApplyServerContender, ApplyServerInput, ApplyServerOutput } from './children/apply-server-child';
import { nameOf } from './children/migrations';
import { knexServerMigrationFile } from './children/server-migrations';
import { rounds, scratch, type BenchContext } from './lib/context';
import { newRow, ratio, type Row, type Table } from './lib/report';
import { serverEngines, type ServerEngine } from './lib/servers';
import { median } from './lib/stats';

const CONTENDERS: { id: string; contender: ApplyServerContender; label: string; role: Row['role'] }[] = [
  { id: 'ours', contender: 'ours', label: 'ours: runMigrations', role: 'ours' },
  { id: 'knex', contender: 'knex', label: 'knex migrator (dir of .js files)', role: 'peer' },
  { id: 'floor', contender: 'floor', label: 'floor: 1 transaction/migration, raw driver', role: 'floor' },
];

/**
 * "insert 2.00 (1.61 ms), begin 1.00 (0.05 ms), …": one run's statements by kind, per migration, with
 * the time spent awaiting the server for them, per migration; most time first.
 */
function kindsPerMigration(run: ApplyServerOutput | undefined, n: number): string {
  if (!run) return '—';
  return Object.entries(run.kinds)
    .map(([kind, count]) => ({ kind, count, ms: run.kindMs[kind] ?? 0 }))
    .sort((a, b) => b.ms - a.ms || a.kind.localeCompare(b.kind))
    .map(({ kind, count, ms }) => `${kind} ${(count / n).toFixed(2)} (${(ms / n).toFixed(2)} ms)`)
    .join(', ');
}

/** The run whose time is the median of `runs` (the lower middle one for an even count). */
function medianRun(runs: readonly ApplyServerOutput[]): ApplyServerOutput | undefined {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function measureEngine(ctx: BenchContext, engine: ServerEngine, sizes: number[], knexDirs: Map<number, string>): Promise<Table[]> {
  const tables: Table[] = [];
  const server = await engine.describe();
  const namespace = engine.kind === 'postgres' ? 'schema (search_path in the URL)' : 'database';
  for (const n of sizes) {
    const rows = new Map(CONTENDERS.map((c) => [c.id, newRow(c.id, c.label, c.role)]));
    /** Per contender: measured ms by round (for the pairing), and what went wrong in failed runs. */
    const byRound = new Map(CONTENDERS.map((c) => [c.id, new Map<number, number>()]));
    const failures = new Map(CONTENDERS.map((c) => [c.id, [] as string[]]));
    await rounds(ctx, `apply-server ${engine.name} N=${n}`, CONTENDERS, async (c, round, warmUp) => {
      const db = await engine.fresh();
      let result: ApplyServerOutput;
      try {
        const payload: ApplyServerInput = { contender: c.contender, engine: engine.kind, url: db.url, n, dir: knexDirs.get(n) };
        ({ result } = await ctx.compiled.run<ApplyServerOutput>('bench/children/apply-server-child', payload));
        if (result.tables !== n || result.rows !== n) throw new Error(`left ${result.tables} tables and ${result.rows} rows, expected ${n} of each`);
      } catch (err) {
        // Recorded and shown (a failed run is a result too, e.g. a server limit), not fatal to the other contenders.
        const message = (err as Error).message.split('\n').filter((l) => l.trim() !== '').slice(-2).join(' / ');
        failures.get(c.id)?.push(`${warmUp ? 'warm-up' : `run ${round}`}: ${message}`);
        ctx.progress(`apply-server ${engine.name} N=${n}: ${c.label} failed: ${message}`);
        return;
      } finally {
        await db.drop();
      }
      if (warmUp) return;
      const row = rows.get(c.id) as Row;
      row.samples.push(result.ms);
      row.details?.push(result);
      byRound.get(c.id)?.set(round, result.ms);
    });

    const anyFailed = [...failures.values()].some((f) => f.length > 0);
    for (const row of rows.values()) {
      const runs = (row.details ?? []) as ApplyServerOutput[];
      const statements = median(runs.map((r) => r.statements));
      const dbMs = median(runs.map((r) => r.dbMs));
      row.extras.statements = Number.isFinite(statements) ? statements : '—';
      row.extras['stmts/migration'] = Number.isFinite(statements) ? (statements / n).toFixed(2) : '—';
      row.extras['ms/migration'] = runs.length > 0 ? (median(row.samples) / n).toFixed(2) : '—';
      row.extras['awaiting server'] = runs.length > 0 ? `${dbMs.toFixed(0)} ms (${((dbMs / median(row.samples)) * 100).toFixed(0)}%)` : '—';
      if (anyFailed) row.extras['failed runs'] = failures.get(row.id)?.length ?? 0;
    }
    const table: Table = {
      scenario: 'apply-server',
      title:
        `Apply N=${n} migrations (CREATE TABLE + 1 INSERT each) on ${engine.name}, a fresh ${namespace} per run — ` +
        `ms from connecting to done; ${ctx.runs} runs after a warm-up`,
      unit: 'ms',
      params: { engine: engine.name, n, server, failures: Object.fromEntries(failures) },
      rows: [...rows.values()],
      ratioTo: ['floor', 'knex'],
      targets: [],
      notes: [
        `server: ${server}`,
        'every contender in its own child process (plain node on the transpiled tree), the same URL form (configFromUrl), its own fresh ' +
          `${namespace}, created before the child starts and dropped after it (both untimed); the order rotates every round`,
        'ours: runMigrations(db, list in memory, { logger: silentLogger }), defaults otherwise; knex: migrate.latest({ directory, loadExtensions: [".js"] }) over N generated files ' +
          '(loading them is included), defaults otherwise: one transaction around the whole batch, knex_migrations / knex_migrations_lock',
        engine.kind === 'postgres'
          ? 'floor: pg driver, one connection: system_settings created and seeded, then per migration BEGIN; CREATE TABLE; INSERT; UPDATE system_settings (db_version); COMMIT'
          : 'floor: mysql2 driver, one connection: system_settings created and seeded, then per migration CREATE TABLE (commits implicitly); BEGIN; INSERT; UPDATE system_settings (db_version); COMMIT',
        'statements: knex\'s query event (includes BEGIN/COMMIT; the floor counts its own); "awaiting server": median summed time the client waited for the ' +
          'server\'s answers (knex: every driver call, client._query; statements are sequential), the rest is client-side work and connecting',
        ...CONTENDERS.map(
          (c) => `per migration, ${c.id} (its median run): statements by kind (ms awaiting them): ${kindsPerMigration(medianRun((rows.get(c.id)?.details ?? []) as ApplyServerOutput[]), n)}`,
        ),
        'each run checked afterwards: N tables t_<i>, one row in each',
        ...CONTENDERS.filter((c) => (failures.get(c.id) ?? []).length > 0).map(
          (c) => `FAILED: ${c.label}, ${(failures.get(c.id) ?? []).length} run(s), e.g. ${(failures.get(c.id) ?? [])[0]}`,
        ),
      ],
    };
    // The target is stated for N=1000: evaluated at the largest N of the run (1000, or 300 with --quick).
    if (n === Math.max(...sizes)) {
      const ours = byRound.get('ours') as Map<number, number>;
      const knex = byRound.get('knex') as Map<number, number>;
      const paired = [...ours.keys()].filter((r) => knex.has(r));
      const faster = paired.filter((r) => (ours.get(r) as number) < (knex.get(r) as number)).length;
      const text = `≤1.0× knex migrator at N=${n}`;
      const oursFailed = (failures.get('ours') ?? []).length;
      if (ours.size === 0 || knex.size === 0) {
        table.targets.push({
          rowId: 'ours',
          text,
          met: oursFailed > 0 ? false : null,
          detail: `no ratio: ${ours.size === 0 ? 'ours' : "knex's migrator"} did not complete a measured run`,
        });
      } else {
        const toKnex = ratio(table, 'ours', 'knex');
        table.targets.push({
          rowId: 'ours',
          text,
          met: toKnex <= 1.0 && oursFailed === 0,
          detail:
            `${toKnex.toFixed(2)}× knex's migrator on ${engine.name} (medians ${median([...ours.values()]).toFixed(0)} vs ${median([...knex.values()]).toFixed(0)} ms); ` +
            `faster in ${faster} of ${paired.length} paired rounds; ${ratio(table, 'ours', 'floor').toFixed(2)}× the floor` +
            (oursFailed > 0 ? `; ours failed ${oursFailed} run(s)` : ''),
        });
      }
    }
    tables.push(table);
  }
  return tables;
}

export async function applyServerScenario(ctx: BenchContext): Promise<Table[]> {
  const sizes = ctx.quick ? [100, 300] : [100, 1000];
  const engines = serverEngines(ctx);
  if (engines.length === 0) {
    console.log('apply-server: skipped — --dialects names neither postgres nor mysql\n');
    return [];
  }
  const dir = scratch(ctx, 'apply-server');
  const knexDirs = new Map<number, string>();
  for (const n of sizes) {
    const knexDir = path.join(dir, `knex-migrations-${n}`);
    fs.mkdirSync(knexDir);
    for (let i = 1; i <= n; i++) fs.writeFileSync(path.join(knexDir, `${nameOf(i)}.js`), knexServerMigrationFile(i));
    knexDirs.set(n, knexDir);
  }
  const tables: Table[] = [];
  try {
    for (const engine of engines) {
      const reason = await engine.unavailable();
      if (reason) {
        console.log(`apply-server on ${engine.name}: skipped — ${reason}\n`);
        continue;
      }
      try {
        tables.push(...(await measureEngine(ctx, engine, sizes, knexDirs)));
      } finally {
        await engine.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return tables;
}
