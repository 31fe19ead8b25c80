/**
 * Scenario 2 — boot when up to date (N migrations already applied): the cost an app pays at every
 * start. Whole child processes are timed, from spawn() to exit: load modules, open the database,
 * "migrate to latest" (nothing to do), close. Contenders: ours (runMigrations with the N-migration
 * list in memory, and with the list loaded from N compiled module files), knex's migrator over N
 * files, Umzug, Kysely, and a bare process that opens the database and runs the one version query.
 * Every child is started the same way: plain node on the transpiled tree ("compiled"), and, for
 * N=1000, also node -r ts-node/register/transpile-only ("ts-node"), as the project's CLI runs.
 */
import fs from 'fs';
import path from 'path';
import type { ApplyContender, ApplyInput, ApplyOutput } from './children/apply-child';
import type { BootContender, BootInput, BootOutput } from './children/boot-child';
import { knexMigrationFile, nameOf, ourMigrationModule } from './children/migrations';
import type { Children } from './lib/child';
import { rounds, scratch, type BenchContext } from './lib/context';
import { newRow, ratio, rowById, type Row, type Table } from './lib/report';
import { median } from './lib/stats';
import { WriteWatch } from './lib/sqlite-watch';

interface Contender {
  readonly id: string;
  readonly contender: BootContender;
  readonly label: string;
  readonly role: Row['role'];
  /** Which prepared database it boots on. */
  readonly db: ApplyContender;
}

const CONTENDERS: Contender[] = [
  { id: 'ours', contender: 'ours', label: 'ours: runMigrations (list in memory)', role: 'ours', db: 'ours' },
  { id: 'ours-files', contender: 'ours-modules', label: 'ours: runMigrations (N module files)', role: 'ours', db: 'ours' },
  { id: 'knex', contender: 'knex', label: 'knex migrator (dir of .js files)', role: 'peer', db: 'knex' },
  { id: 'umzug', contender: 'umzug', label: 'Umzug (knex-table storage)', role: 'peer', db: 'umzug' },
  { id: 'kysely', contender: 'kysely', label: 'Kysely Migrator (better-sqlite3)', role: 'peer', db: 'kysely' },
  { id: 'bare', contender: 'bare', label: 'bare: open + SELECT db_version', role: 'floor', db: 'ours' },
];

interface Prepared {
  readonly files: Map<ApplyContender, string>;
  readonly knexDir: string;
  readonly modulesIndex: string;
}

async function prepare(ctx: BenchContext, dir: string, n: number): Promise<Prepared> {
  const knexDir = path.join(dir, 'knex-migrations');
  const modulesDir = path.join(dir, 'our-migrations');
  fs.mkdirSync(knexDir);
  fs.mkdirSync(modulesDir);
  const requires: string[] = [];
  for (let i = 1; i <= n; i++) {
    fs.writeFileSync(path.join(knexDir, `${nameOf(i)}.js`), knexMigrationFile(i));
    fs.writeFileSync(path.join(modulesDir, `${nameOf(i)}.js`), ourMigrationModule(i));
    requires.push(`  require('./${nameOf(i)}.js').migration,`);
  }
  const modulesIndex = path.join(modulesDir, 'index.js');
  fs.writeFileSync(modulesIndex, `module.exports = [\n${requires.join('\n')}\n];\n`);
  const files = new Map<ApplyContender, string>();
  for (const c of ['ours', 'knex', 'umzug', 'kysely'] as const) {
    const file = path.join(dir, `${c}.sqlite`);
    const payload: ApplyInput = { contender: c, n, file, dir: knexDir };
    const { result } = await ctx.compiled.run<ApplyOutput>('bench/children/apply-child', payload);
    if (result.tables !== n) throw new Error(`boot: preparing ${c} left ${result.tables} tables`);
    files.set(c, file);
  }
  return { files, knexDir, modulesIndex };
}

async function measure(ctx: BenchContext, children: Children, mode: string, n: number, prepared: Prepared): Promise<Table> {
  const rows = new Map(CONTENDERS.map((c) => [c.id, newRow(c.id, c.label, c.role)]));
  const outputs = new Map<string, BootOutput[]>();
  const writes = new Map<string, string[]>();
  const watches = new Map([...prepared.files].map(([k, file]) => [k, new WriteWatch(file)]));
  try {
    await rounds(ctx, `boot N=${n} (${mode})`, CONTENDERS, async (c, _round, warmUp) => {
      const watch = watches.get(c.db) as WriteWatch;
      const before = watch.state();
      const payload: BootInput = { contender: c.contender, file: watch.file, n, dir: prepared.knexDir, modules: prepared.modulesIndex };
      const { wallMs, result } = await children.run<BootOutput>('bench/children/boot-child', payload);
      const changed = WriteWatch.changed(before, watch.state());
      if (changed) writes.set(c.id, [...(writes.get(c.id) ?? []), changed]);
      if (warmUp) return;
      (rows.get(c.id) as Row).samples.push(wallMs);
      outputs.set(c.id, [...(outputs.get(c.id) ?? []), result]);
    });
  } finally {
    for (const w of watches.values()) w.close();
  }
  for (const [id, row] of rows) {
    const outs = outputs.get(id) ?? [];
    row.extras['modules loaded at'] = median(outs.map((o) => o.loadedAt)).toFixed(0);
    row.extras['open+migrate'] = median(outs.map((o) => o.workMs)).toFixed(1);
    row.extras.statements = median(outs.map((o) => o.statements));
    row.extras['wrote?'] = writes.has(id) ? `YES (${[...new Set(writes.get(id))].join('; ')})` : 'no';
    row.details?.push(...outs.map((o) => ({ loadedAt: o.loadedAt, workMs: o.workMs, statements: o.statements })));
    if (outs[0]) row.details?.push({ sql: outs[0].sql });
  }
  const table: Table = {
    scenario: 'boot',
    title: `Boot when up to date, N=${n} applied (${mode}) — whole-process ms, spawn to exit; ${ctx.runs} runs after a warm-up`,
    unit: 'ms',
    params: { n, mode },
    rows: [...rows.values()],
    ratioTo: ['bare', 'knex'],
    targets: [],
    notes: [
      `children started as ${mode === 'compiled' ? 'plain node on the transpiled tree' : 'node -r ts-node/register/transpile-only'}; each loads only its own modules`,
      '"modules loaded at": ms since process start when its modules were loaded; "open+migrate": ms from then to the end of the migrate call (or query)',
      'statements: SQL statements seen by knex\'s query event (Kysely: its query log); every knex connection also runs the two withSqliteDefaults pragmas in afterCreate (not counted, same for all)',
      '"wrote?": PRAGMA data_version on a connection the parent keeps open, file size and mtime, before vs after each run',
    ],
  };
  for (const id of ['ours', 'ours-files']) {
    // The time target is for runMigrations with the list in memory; the module-files row shows what
    // requiring N migration files adds on top (the app's layout, not the runner).
    const r = ratio(table, id, 'bare');
    if (id === 'ours') table.targets.push({ rowId: id, text: '≤1.1× bare process', met: r <= 1.1, detail: `${r.toFixed(3)}× the bare-query process` });
    table.targets.push({
      rowId: id,
      text: 'writes nothing',
      met: !writes.has(id),
      detail: writes.has(id) ? `changed: ${writes.get(id)?.join('; ')}` : 'data_version, size and mtime unchanged in every run',
    });
  }
  return table;
}

export async function bootScenario(ctx: BenchContext): Promise<Table[]> {
  const plan: { n: number; modes: ('compiled' | 'ts-node')[] }[] = [
    { n: 100, modes: ['compiled'] },
    { n: 1000, modes: ctx.quick ? ['compiled'] : ['compiled', 'ts-node'] },
  ];
  const tables: Table[] = [];
  for (const { n, modes } of plan) {
    const dir = scratch(ctx, `boot-${n}`);
    const prepared = await prepare(ctx, dir, n);
    for (const mode of modes) tables.push(await measure(ctx, mode === 'compiled' ? ctx.compiled : ctx.tsNode, mode, n, prepared));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Ours must not issue more statements as N grows.
  const stmts = (t: Table, id: string) => Number(rowById(t, id).extras.statements);
  const small = tables.find((t) => t.params.n === 100);
  for (const t of tables.filter((x) => x.params.n === 1000)) {
    for (const id of ['ours', 'ours-files']) {
      if (!small) continue;
      const [a, b] = [stmts(small, id), stmts(t, id)];
      t.targets.push({ rowId: id, text: 'statements flat in N', met: b <= a, detail: `${a} statement(s) at N=100, ${b} at N=1000` });
    }
    const notes = CONTENDERS.map((c) => `${c.id} ${small ? stmts(small, c.id) : '?'}→${stmts(t, c.id)}`).join(', ');
    t.notes.push(`statements at N=100 → N=1000: ${notes}`);
  }
  return tables;
}
