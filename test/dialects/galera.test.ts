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
import { dataMigrations, loggingMigrations } from '../helpers/race-child';

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

  /** 8 app instances at once, round robin over the nodes (as a load balancer spreads them); asserts all exit 0. */
  async function race(urls: readonly string[], env: Record<string, string>, label: string): Promise<void> {
    const startAt = String(Date.now() + 8000); // ts-node start-up of 8 children on 2 cores stays below this
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => runTs('test/helpers/race-child.ts', [], { ...env, RACE_START_AT: startAt, DATABASE_URL: urls[i % 3] }, 180_000)),
    );
    const exits = results.map((r, i) => `node ${(i % 3) + 1}: ${r.killed ? 'hung' : `exit ${r.code}`} ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    const slowest = Math.max(...results.map((r) => Number(/"ms":(\d+)/.exec(r.stdout)?.[1] ?? NaN)));
    console.log(`      ${label}: ${results.filter((r) => r.code === 0).length}/8 exit 0, slowest ${slowest} ms`);
    expect(
      results.map((r) => r.code),
      exits.join('\n'),
    ).to.deep.equal(Array(8).fill(0));
  }

  /** Every node has the same, complete picture: each of `versions` ran once, one history row each, not dirty, no lease. */
  async function expectExactlyOnce(dbs: readonly Knex[], versions: readonly string[]): Promise<void> {
    for (const [i, db] of dbs.entries()) {
      const logged = (await db('migration_log').select('version').count({ n: '*' }).groupBy('version').orderBy('version')) as { version: string; n: number | string }[];
      expect(
        logged.map((r) => [r.version, Number(r.n)]),
        `node ${i + 1}: each migration ran exactly once`,
      ).to.deep.equal(versions.map((v) => [v, 1]));
      expect(await getDatabaseVersion(db), `node ${i + 1}`).to.equal(versions[versions.length - 1]);
      expect(await getSystemSetting(db, DIRTY_KEY), `node ${i + 1}: never marked dirty`).to.equal(undefined);
      expect(await getSystemSetting(db, LOCK_KEY), `node ${i + 1}: the lease was released`).to.equal(undefined);
      const ups = (await db('system_migrations').where({ direction: 'up' }).orderBy('id').pluck('version')) as string[];
      expect(ups, `node ${i + 1}: one history row per migration`).to.deep.equal(versions);
    }
  }

  it('a fresh database, table-creating migrations, 8 instances at once, 5 times: all exit 0, each migration once, every node agrees', async function () {
    this.timeout(900_000);
    for (let round = 1; round <= 5; round++) {
      const { urls, dbs } = await freshDatabase();
      await race(urls, { RACE_MIGRATIONS: '3' }, `fresh database ${round}/5, 8 processes over 3 nodes to 3 migrations`);
      await expectExactlyOnce(dbs, loggingMigrations(3).map((m) => m.version));
      await Promise.all(opened.splice(0).map((db) => db.destroy()));
    }
  });

  it('upgrades with data-only migrations, 8 instances at once, 5 deploys: all exit 0, each migration once, every node agrees', async function () {
    this.timeout(900_000);
    const { urls, dbs } = await freshDatabase();
    await runMigrations(dbs[0], loggingMigrations(1), quiet);
    for (let deploy = 1; deploy <= 5; deploy++) {
      await race(urls, { RACE_MIGRATIONS: '1', RACE_DATA: String(deploy) }, `deploy ${deploy}/5 (data only), 8 processes over 3 nodes`);
      await expectExactlyOnce(dbs, [...loggingMigrations(1), ...dataMigrations(deploy)].map((m) => m.version));
    }
    expect(await dbs[2]('race_0').where({ id: 1 }).first('v')).to.deep.equal({ v: 'data 4' });
  });

  for (const victim of ['the app process holding the lease', 'the node it runs on'] as const) {
    it(`${victim} is SIGKILLed in the middle of a migration: after the lease runs out the next start on another node refuses, naming it; repaired, it runs once`, async function () {
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
        if (victim === 'the node it runs on') await cluster().kill(3);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      if (victim === 'the node it runs on') await cluster().waitForClusterSize(2);
      expect(await node1.schema.hasTable('holder_made'), 'its DDL committed, cluster-wide').to.equal(true);

      // The dead runner's lease runs out (10 s), then the next start reads the in-progress marker.
      const started = performance.now();
      const refused = await runMigrations(node1, loggingMigrations(2), { ...quiet, lockTimeoutMs: 60_000 }).catch((e: unknown) => e);
      console.log(`      ${victim} killed: the next start on node 1 refused after ${Math.round(performance.now() - started)} ms (the lease running out)`);
      expect(refused).to.be.instanceOf(DirtyDatabaseError);
      expect(refused).to.include({ version: '9.0.0', inProgress: true, lastGoodVersion: '1.0.0' });
      expect(await node1.schema.hasTable('race_1'), 'nothing ran after it').to.equal(false);

      await node1.schema.dropTable('holder_made');
      await repairDatabase(node1);
      const report = await runMigrations(dbs[1], loggingMigrations(2), { ...quiet, lockTimeoutMs: 60_000 });
      expect(report.applied.map((a) => a.version)).to.deep.equal(['1.1.0']);
      await expectExactlyOnce(victim === 'the node it runs on' ? dbs.slice(0, 2) : dbs, loggingMigrations(2).map((m) => m.version));
      if (victim === 'the node it runs on') {
        console.log(`      node 3 back (rsync SST) in ${await cluster().restart(3)} ms`);
        await expectExactlyOnce(dbs, loggingMigrations(2).map((m) => m.version));
      }
    });
  }
});
