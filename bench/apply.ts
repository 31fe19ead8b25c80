/**
 * Scenario 1 — apply N migrations (each creating one small table) to a fresh SQLite file through the
 * sqlite3 driver: this project vs knex's migrator vs Umzug vs Kysely vs two floors on the raw driver,
 * (a) one transaction per migration with a one-row version update, (b) all of it in one transaction.
 * Each run is its own child process on its own new file; the time is measured inside the child from
 * opening the database to the end of the migration call.
 */
import fs from 'fs';
import path from 'path';
import type { ApplyContender, ApplyInput, ApplyOutput } from './children/apply-child';
import { knexMigrationFile, nameOf } from './children/migrations';
import { rounds, scratch, type BenchContext } from './lib/context';
import { newRow, ratio, type Row, type Table } from './lib/report';
import { median } from './lib/stats';

const CONTENDERS: { id: string; contender: ApplyContender; label: string; role: Row['role'] }[] = [
  { id: 'ours', contender: 'ours', label: 'ours: runMigrations', role: 'ours' },
  { id: 'ours-sp', contender: 'ours-savepoints', label: 'ours: savepointPerMigration', role: 'info' },
  { id: 'knex', contender: 'knex', label: "knex migrator (dir of .js files)", role: 'peer' },
  { id: 'knex-mem', contender: 'knex-source', label: 'knex migrator (in-memory source)', role: 'info' },
  { id: 'umzug', contender: 'umzug', label: 'Umzug (knex-table storage)', role: 'peer' },
  { id: 'kysely', contender: 'kysely', label: 'Kysely Migrator (better-sqlite3)', role: 'peer' },
  { id: 'floorA', contender: 'floor-a', label: 'floor (a): 1 transaction/migration', role: 'floor' },
  { id: 'floorB', contender: 'floor-b', label: 'floor (b): 1 transaction in all', role: 'floor' },
];

export async function applyScenario(ctx: BenchContext): Promise<Table[]> {
  const sizes = ctx.quick ? [100, 300] : [100, 1000];
  const tables: Table[] = [];
  for (const n of sizes) {
    const dir = scratch(ctx, `apply-${n}`);
    const knexDir = path.join(dir, 'knex-migrations');
    fs.mkdirSync(knexDir);
    for (let i = 1; i <= n; i++) fs.writeFileSync(path.join(knexDir, `${nameOf(i)}.js`), knexMigrationFile(i));

    const rows = new Map(CONTENDERS.map((c) => [c.id, newRow(c.id, c.label, c.role)]));
    const statements = new Map<string, number[]>();
    let serial = 0;
    await rounds(ctx, `apply N=${n}`, CONTENDERS, async (c, _round, warmUp) => {
      const file = path.join(dir, `${c.id}-${serial++}.sqlite`);
      const payload: ApplyInput = { contender: c.contender, n, file, dir: knexDir };
      const { result } = await ctx.compiled.run<ApplyOutput>('bench/children/apply-child', payload);
      if (result.tables !== n) throw new Error(`apply N=${n}: ${c.label} left ${result.tables} tables, expected ${n}`);
      fs.rmSync(file, { force: true });
      if (warmUp) return;
      const row = rows.get(c.id) as Row;
      row.samples.push(result.ms);
      row.details?.push(result);
      statements.set(c.id, [...(statements.get(c.id) ?? []), result.statements]);
    });
    fs.rmSync(dir, { recursive: true, force: true });

    for (const [id, row] of rows) {
      const s = statements.get(id) ?? [];
      row.extras.statements = median(s);
      row.extras['stmts/migration'] = (median(s) / n).toFixed(1);
    }
    const table: Table = {
      scenario: 'apply',
      title: `Apply N=${n} migrations (each CREATE TABLE) to a fresh SQLite file — ms from opening the db to done; ${ctx.runs} runs after a warm-up`,
      unit: 'ms',
      params: { n },
      rows: [...rows.values()],
      ratioTo: ['floorA', 'floorB', 'knex', 'umzug', 'kysely'],
      targets: [],
      notes: [
        'every contender in its own child process (plain node on the transpiled tree), its own new file; sqlite3 driver except Kysely (better-sqlite3)',
        'knex: loading the migration files happens inside migrate.latest() and is included; "knex-mem" is the same migrator with an in-memory migrationSource',
        'ours (default): the batch runs in one savepoint with one foreign_key_check and the bookkeeping written once, replayed one savepoint per migration only if something fails; "ours-sp" (savepointPerMigration) gives each migration its own savepoint, db_version update, history row and foreign_key_check from the start',
      ],
    };
    // The targets are stated for N=1000: evaluated at the largest N of the run (1000, or 300 with --quick).
    if (n === Math.max(...sizes)) {
      const toKnex = ratio(table, 'ours', 'knex');
      const toFloorB = ratio(table, 'ours', 'floorB');
      table.targets.push(
        { rowId: 'ours', text: `≤1.0× knex migrator at N=${n}`, met: toKnex <= 1.0, detail: `${toKnex.toFixed(2)}× knex's migrator` },
        { rowId: 'ours', text: `≤1.2× floor (b) at N=${n}`, met: toFloorB <= 1.2, detail: `${toFloorB.toFixed(2)}× floor (b)` },
      );
    }
    tables.push(table);
  }
  return tables;
}
