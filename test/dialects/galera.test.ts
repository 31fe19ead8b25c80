/**
 * A MariaDB Galera cluster (issue 11): app instances spread over its three nodes start at once. GET_LOCK
 * is node-local there; the runner's lease row (taken and kept by certified writes) must let exactly one
 * of them migrate, each migration once, whatever node each instance talks to — and a node dying in the
 * middle of a migration must leave a database that says so, not one the next start half re-applies.
 */
import { spawn } from 'child_process';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { configFromUrl } from '../../lib/database-url';
import { DirtyDatabaseError } from '../../lib/errors';
import { runMigrations } from '../../lib/functions';
import { repairDatabase } from '../../lib/store/repair';
import { silentLogger } from '../../lib/logger';
import { DIRTY_KEY, LOCK_KEY, getDatabaseVersion, getSystemSetting } from '../../lib/store/settings';
import { describeGalera } from '../helpers/galera';
import { REPO_ROOT, runTs } from '../helpers/processes';
import { loggingMigrations } from '../helpers/race-child';

const quiet = { logger: silentLogger };

describeGalera('app instances spread over a 3-node Galera cluster', ({ cluster }) => {
  let counter = 0;
  const opened: Knex[] = [];

  /** A fresh database on the cluster: its URL on each node, and a knex on each that reads only after the cluster's commits. */
  async function freshDatabase(): Promise<{ urls: string[]; dbs: Knex[] }> {
    const name = `ksm_galera_${process.pid}_${counter++}`;
    const admin = knexFactory(configFromUrl(cluster().nodes[0].url));
    try {
      await admin.raw(`CREATE DATABASE \`${name}\``);
    } finally {
      await admin.destroy();
    }
    const urls = cluster().nodes.map((n) => n.url.replace(/\/[^/?]*$/, `/${name}`));
    const dbs = urls.map((url) => {
      const config = configFromUrl(url);
      const db = knexFactory({
        ...config,
        pool: {
          min: 0,
          max: 4,
          afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) =>
            conn.query('SET SESSION wsrep_sync_wait = 1', (err) => done(err, conn)),
        },
      });
      opened.push(db);
      return db;
    });
    return { urls, dbs };
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.destroy()));
  });

  it('a fresh database, then two deploys with data migrations: every round all 8 exit 0, each migration once, never dirty, no lease left', async function () {
    this.timeout(900_000);
    const { urls, dbs } = await freshDatabase();
    for (const count of [2, 4, 6]) {
      const env = { RACE_START_AT: String(Date.now() + 8000), RACE_MIGRATIONS: String(count) };
      // Round robin over the nodes, as a load balancer would spread app instances.
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => runTs('test/helpers/race-child.ts', [], { ...env, DATABASE_URL: urls[i % 3] }, 180_000)),
      );
      const exits = results.map((r, i) => `node ${(i % 3) + 1}: ${r.killed ? 'hung' : `exit ${r.code}`} ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
      const slowest = Math.max(...results.map((r) => Number(/"ms":(\d+)/.exec(r.stdout)?.[1] ?? NaN)));
      console.log(`      8 processes over 3 nodes to ${count} migrations: ${results.filter((r) => r.code === 0).length}/8 exit 0, slowest ${slowest} ms`);
      expect(
        results.map((r) => r.code),
        exits.join('\n'),
      ).to.deep.equal(Array(8).fill(0));

      // Read on every node: each one has the same, complete picture.
      for (const [i, db] of dbs.entries()) {
        const logged = (await db('migration_log').select('version').count({ n: '*' }).groupBy('version').orderBy('version')) as { version: string; n: number | string }[];
        expect(
          logged.map((r) => [r.version, Number(r.n)]),
          `node ${i + 1}: each migration ran exactly once`,
        ).to.deep.equal(loggingMigrations(count).map((m) => [m.version, 1]));
        expect(await getDatabaseVersion(db), `node ${i + 1}`).to.equal(`1.${count - 1}.0`);
        expect(await getSystemSetting(db, DIRTY_KEY), `node ${i + 1}: never marked dirty`).to.equal(undefined);
        expect(await getSystemSetting(db, LOCK_KEY), `node ${i + 1}: the lease was released`).to.equal(undefined);
        const ups = (await db('system_migrations').where({ direction: 'up' }).orderBy('id').pluck('version')) as string[];
        expect(ups, `node ${i + 1}: one history row per migration`).to.deep.equal(loggingMigrations(count).map((m) => m.version));
      }
    }
  });

  it("the node a runner uses is killed in the middle of a migration: the next start on another node refuses, naming it; repaired, it runs", async function () {
    this.timeout(300_000);
    const { urls, dbs } = await freshDatabase();
    const [node1] = dbs;
    await runMigrations(node1, loggingMigrations(1), quiet);
    // A runner on node 3 takes the lease, creates a table (committed at once: MySQL DDL), then hangs.
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'test/helpers/lock-holder.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: urls[2], HOLDER_DDL: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('LOCKED') && resolve());
        child.on('close', () => reject(new Error('lock holder exited early')));
      });
      await cluster().kill(3);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await cluster().waitForClusterSize(2);
    expect(await node1.schema.hasTable('holder_made'), 'its DDL committed, cluster-wide').to.equal(true);

    // The dead runner's lease runs out (10 s), then the next start reads the in-progress marker.
    const started = performance.now();
    const refused = await runMigrations(node1, [...loggingMigrations(1), ...loggingMigrations(2).slice(1)], { ...quiet, lockTimeoutMs: 60_000 }).catch((e: unknown) => e);
    console.log(`      the next start on node 1 refused after ${Math.round(performance.now() - started)} ms (the lease running out)`);
    expect(refused).to.be.instanceOf(DirtyDatabaseError);
    expect(refused).to.include({ version: '9.0.0', inProgress: true, lastGoodVersion: '1.0.0' });
    expect(await node1.schema.hasTable('race_1'), 'nothing ran after it').to.equal(false);

    await node1.schema.dropTable('holder_made');
    await repairDatabase(node1);
    const report = await runMigrations(dbs[1], loggingMigrations(2), { ...quiet, lockTimeoutMs: 60_000 });
    expect(report.applied.map((a) => a.version)).to.deep.equal(['1.1.0']);
    expect(await getDatabaseVersion(node1)).to.equal('1.1.0');
    expect(await getSystemSetting(node1, LOCK_KEY)).to.equal(undefined);
  });
});
