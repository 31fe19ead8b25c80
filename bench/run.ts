/**
 * Benchmarks (issue #5). Never part of `npm test`.
 *
 *   npm run bench                                   all scenarios, full sizes
 *   npm run bench -- apply boot rebuild race cli-start apply-server galera   pick scenarios (any subset, any order)
 *   npm run bench -- --quick                        smaller sizes for a fast smoke run
 *   npm run bench -- --json results.json            also write every number to a JSON file
 *   npm run bench -- --runs 9                       measured runs per contender (default 7, cli-start 15, --quick 5; minimum 5)
 *   npm run bench -- race --dialects sqlite,postgres   engines for race (sqlite, postgres, mysql) and apply-server (postgres, mysql)
 *   npm run bench -- --wait-quiet                   on a shared machine: before each round, wait (≤ 2 min)
 *                                                   until other processes leave the CPU idle
 *
 * Scratch files go to os.tmpdir() and are removed at the end.
 */
import fs from 'fs';
import path from 'path';
import { applyScenario } from './apply';
import { applyServerScenario } from './apply-server';
import { bootScenario } from './boot';
import { cliStartScenario } from './cli-start';
import { Children, copyRepoSources, transpileRepo } from './lib/child';
import { newWorkDir, type BenchContext } from './lib/context';
import { interferenceNote } from './lib/interference';
import { describeMachine, machineLine } from './lib/machine';
import { renderTable, tableJson, type Table } from './lib/report';
import { galeraScenario } from './galera';
import { raceScenario } from './race';
import { rebuildScenario } from './rebuild';

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<Table[]>> = {
  apply: applyScenario,
  boot: bootScenario,
  rebuild: rebuildScenario,
  race: raceScenario,
  'cli-start': cliStartScenario,
  'apply-server': applyServerScenario,
  galera: galeraScenario,
};

interface Args {
  readonly scenarios: string[];
  readonly quick: boolean;
  readonly json?: string;
  readonly runs?: number;
  readonly dialects: string[];
  readonly waitQuiet: boolean;
}

const USAGE =
  'usage: npm run bench -- [apply] [boot] [rebuild] [race] [cli-start] [apply-server] [--quick] [--json FILE] [--runs N≥5] [--dialects sqlite,postgres,mysql] [--wait-quiet]';

function parseArgs(argv: string[]): Args {
  const scenarios: string[] = [];
  let quick = false;
  let json: string | undefined;
  let runs: number | undefined;
  let dialects = ['sqlite', 'postgres', 'mysql'];
  let waitQuiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--json') json = path.resolve(value());
    else if (a.startsWith('--json=')) json = path.resolve(a.slice('--json='.length));
    else if (a === '--runs') runs = Number(value());
    else if (a === '--dialects') dialects = value().split(',').map((s) => s.trim());
    else if (a === '--wait-quiet') waitQuiet = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a in SCENARIOS) scenarios.push(a);
    else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (runs !== undefined && (!Number.isInteger(runs) || runs < 5)) throw new Error(`--runs must be an integer ≥ 5\n${USAGE}`);
  return { scenarios: scenarios.length > 0 ? scenarios : Object.keys(SCENARIOS), quick, json, runs, dialects, waitQuiet };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const workDir = newWorkDir();
  const started = performance.now();
  const cleanup = () => fs.rmSync(workDir, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    // One snapshot of the code for the whole run, in both forms the children are started from.
    const compiledRoot = path.join(workDir, 'js');
    const sourceRoot = path.join(workDir, 'ts');
    transpileRepo(compiledRoot);
    copyRepoSources(sourceRoot);
    const ctx: BenchContext = {
      quick: args.quick,
      runs: args.runs ?? (args.quick ? 5 : 7),
      workDir,
      compiled: Children.of('compiled', compiledRoot),
      tsNode: Children.of('ts-node', sourceRoot),
      dialects: args.dialects,
      waitQuietMs: args.waitQuiet ? 120_000 : 0,
      waits: new Map(),
      cpu: { others: 0, dbServers: 0, total: 0 },
      progress: (m) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${m}\n`),
    };
    const machine = await describeMachine();
    console.log(`knex-semver-migrate benchmarks${args.quick ? ' (--quick)' : ''}: ${args.scenarios.join(', ')}`);
    console.log(`machine: ${machineLine(machine)}\n`);
    const results: Record<string, unknown[]> = {};
    const writeJson = () => {
      if (!args.json) return;
      fs.writeFileSync(
        args.json,
        `${JSON.stringify({ machine, options: { ...args, json: undefined }, elapsedSeconds: (performance.now() - started) / 1000, scenarios: results }, null, 2)}\n`,
      );
    };
    for (const name of args.scenarios) {
      const tables = await SCENARIOS[name](ctx);
      const other = interferenceNote(ctx.cpu);
      Object.assign(ctx.cpu, { others: 0, dbServers: 0, total: 0 });
      const waited = [...ctx.waits.values()].reduce((a, w) => ({ waitedMs: a.waitedMs + w.waitedMs, notQuiet: a.notQuiet + w.notQuiet }), { waitedMs: 0, notQuiet: 0 });
      ctx.waits.clear();
      for (const table of tables) {
        table.notes.push(
          other.text +
            (args.waitQuiet
              ? ` (rounds waited ${(waited.waitedMs / 1000).toFixed(0)} s in all for other processes to go idle${waited.notQuiet > 0 ? `; ${waited.notQuiet} round(s) started without a quiet machine` : ''})`
              : ''),
        );
        table.params.otherCpuShare = other.share;
      }
      for (const table of tables) console.log(`${renderTable(table)}\n`);
      results[name] = tables.map(tableJson);
      writeJson(); // after each scenario, so a later failure keeps what was measured
    }
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s${args.json ? `; JSON written to ${args.json}` : ''}`);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
