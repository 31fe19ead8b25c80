/**
 * Scenario 7 — race at boot on a MariaDB Galera cluster (issue #11, item 5): 8 processes start at once
 * on a fresh database and run the same migrations (those of the race scenario), spread round robin over
 * the 3 nodes of a cluster on loopback, against the same 8 all on one node of it, and one process
 * alone. The cluster is started for the scenario (test/helpers/galera.ts, the tests' harness) and
 * stopped after it; every run gets a fresh database, created on node 1 and dropped after the run.
 * Time: from "go" to the last child's runMigrations() returning (the race scenario's children).
 */
import knexFactory from 'knex';
import { configFromUrl } from '../lib/database-url';
import { galeraUnavailable, startGaleraCluster } from '../test/helpers/galera';
import { rounds, type BenchContext } from './lib/context';
import { newRow, ratio, rowById, type Table } from './lib/report';
import { uniqueName } from './lib/servers';
import { MIGRATIONS, race, verify } from './race';

const PROCESSES = 8;

export async function galeraScenario(ctx: BenchContext): Promise<Table[]> {
  const reason = !ctx.dialects.includes('mysql') ? '--dialects does not name mysql' : galeraUnavailable();
  if (reason) {
    console.log(`galera: skipped — ${reason}\n`);
    return [];
  }
  const cluster = await startGaleraCluster();
  ctx.progress(`galera: 3 nodes synced in ${(cluster.startMs / 1000).toFixed(1)} s`);
  try {
    const admin = knexFactory(configFromUrl(cluster.nodes[0].url));
    const table: Table = {
      scenario: 'galera',
      title:
        `Race at boot on a 3-node Galera cluster: ${PROCESSES} processes round robin over the nodes vs all on one node, fresh database, ` +
        `${MIGRATIONS} migrations (CREATE TABLE + rows + log row) — ms from "go" to ready; ${ctx.runs} runs after a warm-up`,
      unit: 'ms',
      params: { processes: PROCESSES, migrations: MIGRATIONS, nodes: cluster.nodes.length },
      rows: [
        newRow('single', '1 process alone (node 1)', 'floor'),
        newRow('one-node', `${PROCESSES} processes, all on node 1`, 'info'),
        newRow('spread', `${PROCESSES} processes over 3 nodes: last one ready`, 'ours'),
      ],
      ratioTo: ['single', 'one-node'],
      targets: [],
      notes: [
        'cluster: MariaDB Galera (Debian mariadb-server, galera-4), 3 mariadbd on loopback, rsync SST, innodb_flush_log_at_trx_commit=2 (the harness of the tests)',
        'the lock on Galera is the lease row (lib/dialects/cluster-lease.ts): on one node and over three alike, since the node is detected, not the spread',
        'exactly once: every migration in exactly one report, migration_log (read on node 1 with wsrep_sync_wait=1) holds each version once',
      ],
    };
    const failures: string[] = [];
    const variants = [
      { id: 'single', processes: 1, spread: false },
      { id: 'one-node', processes: PROCESSES, spread: false },
      { id: 'spread', processes: PROCESSES, spread: true },
    ];
    await rounds(ctx, 'galera', variants, async (v, _round, warmUp) => {
      const name = uniqueName();
      await admin.raw(`CREATE DATABASE \`${name}\``);
      try {
        const urls = cluster.nodes.map((n) => n.url.replace(/\/[^/?]*$/, `/${name}`));
        const run = await race(
          ctx,
          Array.from({ length: v.processes }, (_, k) => urls[v.spread ? k % urls.length : 0]),
        );
        const problem = await verify(urls[0], run.outputs, 'SET SESSION wsrep_sync_wait = 1');
        if (problem) failures.push(`${v.id}: ${problem}`);
        if (!warmUp) rowById(table, v.id).samples.push(run.allMs);
      } finally {
        await admin.raw(`DROP DATABASE \`${name}\``);
      }
    });
    await admin.destroy();
    for (const v of variants) rowById(table, v.id).extras['each ran once'] = failures.some((f) => f.startsWith(`${v.id}:`)) ? 'NO' : 'yes';
    const r = ratio(table, 'spread', 'one-node');
    table.targets.push({ rowId: 'spread', text: `spread over 3 nodes ≤2× all on one node`, met: r <= 2, detail: `${r.toFixed(2)}× all on one node; ${ratio(table, 'spread', 'single').toFixed(2)}× one process alone` });
    table.targets.push({
      rowId: 'spread',
      text: 'each migration exactly once',
      met: failures.length === 0,
      detail: failures.length === 0 ? `checked in all ${ctx.runs + 1} runs (warm-up included)` : failures.join('; '),
    });
    return [table];
  } finally {
    await cluster.stop();
  }
}
