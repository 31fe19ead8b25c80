/**
 * Scenario 3 — rebuild a big table: users (R rows, a unique index and two more) with posts (R rows,
 * REFERENCES users ON DELETE CASCADE). Every contender makes the same change (display_name
 * varchar(100) → varchar(200), which SQLite can only do by rebuilding the table) in its own child
 * process on a fresh copy of the fixture, and reports time and peak RSS:
 *   ours: rebuildTable(knex, …); ours in a migration: runMigrations with a migration calling
 *   rebuildTable(trx, …); knex's alterTable(… .alter()) inside a transaction with foreign keys ON (as
 *   a migration would run it) and, for reference, on its own; the floor: SQLite's 12 steps as raw SQL
 *   through node-sqlite3 in one transaction; and a baseline child that only loads knex and opens the db.
 */
import fs from 'fs';
import path from 'path';
import type { RebuildContender, RebuildInput, RebuildOutput } from './children/rebuild-child';
import { rounds, scratch, type BenchContext } from './lib/context';
import { copyFlushed, buildRebuildFixture } from './lib/fixture';
import { newRow, ratio, rowById, type Row, type Table } from './lib/report';
import { fmtMiB, median } from './lib/stats';

const CONTENDERS: { id: string; contender: RebuildContender; label: string; role: Row['role'] }[] = [
  { id: 'ours', contender: 'ours', label: 'ours: rebuildTable(knex)', role: 'ours' },
  { id: 'ours-migration', contender: 'ours-runner', label: 'ours: rebuildTable in runMigrations', role: 'ours' },
  { id: 'knex-trx', contender: 'knex-trx', label: 'knex alterTable .alter() in trx, FK ON', role: 'peer' },
  { id: 'knex', contender: 'knex', label: 'knex alterTable .alter(), no trx', role: 'info' },
  { id: 'floor', contender: 'floor', label: 'floor: raw 12-step SQL (sqlite3)', role: 'floor' },
  { id: 'baseline', contender: 'baseline', label: 'baseline: load knex + open db', role: 'baseline' },
];

/** Allowed peak-RSS growth from the small to the large fixture (10× the rows) to count as flat. */
const FLAT_MIB = 5;

export async function rebuildScenario(ctx: BenchContext): Promise<Table[]> {
  const sizes = ctx.quick ? [10_000, 100_000] : [100_000, 1_000_000];
  const tables: Table[] = [];
  const rssBySize = new Map<number, Map<string, number>>();
  for (const rows of sizes) {
    const dir = scratch(ctx, `rebuild-${rows}`);
    const template = path.join(dir, 'template.sqlite');
    ctx.progress(`rebuild R=${rows}: building the fixture`);
    const built = performance.now();
    await buildRebuildFixture(template, rows);
    const buildMs = performance.now() - built;

    const table: Table = {
      scenario: 'rebuild',
      title: `Rebuild users (R=${rows.toLocaleString('en-US')} rows + ${rows.toLocaleString('en-US')} child rows, 3 indexes) — ms, own child process each, fresh copy each; ${ctx.runs} runs after a warm-up`,
      unit: 'ms',
      params: { rows },
      rows: CONTENDERS.map((c) => newRow(c.id, c.label, c.role)),
      ratioTo: ['floor', 'knex-trx', 'knex'],
      targets: [],
      notes: [],
    };
    const outputs = new Map<string, RebuildOutput[]>();
    let serial = 0;
    await rounds(ctx, `rebuild R=${rows}`, CONTENDERS, async (c, _round, warmUp) => {
      const file = path.join(dir, `run-${serial++}.sqlite`);
      copyFlushed(template, file);
      const payload: RebuildInput = { contender: c.contender, file };
      try {
        const { result } = await ctx.compiled.run<RebuildOutput>('bench/children/rebuild-child', payload);
        if (warmUp) return;
        rowById(table, c.id).samples.push(result.ms);
        rowById(table, c.id).details?.push(result);
        outputs.set(c.id, [...(outputs.get(c.id) ?? []), result]);
      } finally {
        fs.rmSync(file, { force: true });
        fs.rmSync(`${file}-journal`, { force: true });
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });

    const rss = new Map<string, number>();
    for (const c of CONTENDERS) {
      const outs = outputs.get(c.id) ?? [];
      rss.set(c.id, median(outs.map((o) => o.peakRssKiB)));
    }
    rssBySize.set(rows, rss);
    const baseRss = rss.get('baseline') ?? Number.NaN;
    for (const c of CONTENDERS) {
      const outs = outputs.get(c.id) ?? [];
      const row = rowById(table, c.id);
      const peak = rss.get(c.id) ?? Number.NaN;
      row.extras['peak RSS'] = fmtMiB(peak);
      row.extras['−baseline'] = c.id === 'baseline' ? '' : `${peak - baseRss >= 0 ? '+' : ''}${((peak - baseRss) / 1024).toFixed(1)}`;
      const childLeft = Math.min(...outs.map((o) => o.posts));
      row.extras['child rows left'] = `${childLeft.toLocaleString('en-US')}${childLeft < rows ? ` (LOST ${(rows - childLeft).toLocaleString('en-US')})` : ''}`;
      row.extras['users rows'] = Math.min(...outs.map((o) => o.users)).toLocaleString('en-US');
      row.extras.indexes = Math.min(...outs.map((o) => o.usersIndexes));
      row.extras['FK viol.'] = Math.max(...outs.map((o) => o.fkViolations));
      row.extras['new type'] = c.id === 'baseline' ? '' : [...new Set(outs.map((o) => o.displayNameType))].join('/');
    }
    for (const id of ['ours', 'ours-migration']) {
      // The time target is stated for the big table: evaluated at the largest size of the run.
      if (rows === Math.max(...sizes)) {
        const r = ratio(table, id, 'floor');
        table.targets.push({ rowId: id, text: '≤1.1× floor', met: r <= 1.1, detail: `${r.toFixed(2)}× the raw 12-step SQL` });
      }
      const over = ((rss.get(id) ?? Number.NaN) - baseRss) / 1024;
      table.targets.push({ rowId: id, text: 'RSS ≤ baseline+20 MiB', met: over <= 20, detail: `peak RSS ${over >= 0 ? '+' : ''}${over.toFixed(1)} MiB over the knex-only process` });
      const outs = outputs.get(id) ?? [];
      const lost = outs.some((o) => o.posts !== rows || o.users !== rows || o.fkViolations > 0);
      table.targets.push({ rowId: id, text: 'no rows lost', met: !lost, detail: lost ? 'rows were lost or foreign keys violated' : `all ${rows} users and ${rows} child rows kept in every run` });
    }
    table.notes.push(
      'change made by everyone: users.display_name varchar(100) → varchar(200) (only possible in SQLite by rebuilding the table)',
      'time: from opening the database (after loading modules) to the end of the rebuild; peak RSS: process.resourceUsage().maxRSS at that point (median of runs)',
      'children: plain node on the transpiled tree; the floor loads node-sqlite3 only (no knex), hence its lower RSS',
      `fixture built in ${(buildMs / 1000).toFixed(1)} s once, then copied (and fsynced) before every run; default rollback journal, synchronous=FULL`,
    );
    tables.push(table);
  }
  // Flat in row count: compare peak RSS at the two sizes.
  const [small, large] = sizes;
  const largeTable = tables.find((t) => t.params.rows === large);
  if (largeTable && rssBySize.has(small)) {
    for (const id of ['ours', 'ours-migration']) {
      const growth = ((rssBySize.get(large)?.get(id) ?? Number.NaN) - (rssBySize.get(small)?.get(id) ?? Number.NaN)) / 1024;
      const baseGrowth = ((rssBySize.get(large)?.get('baseline') ?? Number.NaN) - (rssBySize.get(small)?.get('baseline') ?? Number.NaN)) / 1024;
      largeTable.targets.push({
        rowId: id,
        text: `RSS flat in rows (≤${FLAT_MIB} MiB growth)`,
        met: growth <= FLAT_MIB,
        detail: `peak RSS ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB from R=${small} to R=${large} (baseline ${baseGrowth >= 0 ? '+' : ''}${baseGrowth.toFixed(1)} MiB)`,
      });
    }
  }
  return tables;
}
