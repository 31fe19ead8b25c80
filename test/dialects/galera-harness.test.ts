/**
 * The Galera test harness (test/helpers/galera.ts) on its own: a real 3-node MariaDB Galera cluster
 * on loopback, started once for the suite. What the Galera suites of issue 11 will rely on:
 * replication between the nodes, GET_LOCK's scope under Galera, losing and regaining a node, and a
 * stop() that leaves nothing behind.
 */
import { expect } from 'chai';
import fs from 'fs';
import knexFactory from 'knex';
import net from 'net';
import os from 'os';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { configFromUrl } from '../../lib/database-url';
import { DEFAULT_BASE_PORTS, describeGalera, nodePorts, portFree, processesMentioning, startGaleraCluster, type GaleraNode } from '../helpers/galera';
import { portOpen, processAlive } from '../helpers/processes';

/** Polls until check() holds; resolves to the time it took, or rejects with `what` after ms. */
async function eventually(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A session on the node, through its URL (the same one the library will be given). */
const connect = (node: GaleraNode): Promise<Connection> => createConnection(node.url);

async function rows(conn: Connection, sql: string): Promise<Record<string, unknown>[]> {
  const [result] = await conn.query<RowDataPacket[]>(sql);
  return result.map((row) => ({ ...row }));
}

const value = async (conn: Connection, sql: string): Promise<unknown> => (await rows(conn, sql))[0].v;

/** The table on the node, read after the node has applied everything committed before (wsrep_sync_wait). */
async function readSynced(node: GaleraNode): Promise<Record<string, unknown>[]> {
  const conn = await connect(node);
  try {
    await conn.query('SET SESSION wsrep_sync_wait = 1');
    return await rows(conn, 'SELECT id, v FROM galera_smoke ORDER BY id');
  } finally {
    conn.destroy();
  }
}

async function write(node: GaleraNode, id: number, v: string): Promise<void> {
  const conn = await connect(node);
  try {
    await conn.query('INSERT INTO galera_smoke (id, v) VALUES (?, ?)', [id, v]);
  } finally {
    conn.destroy();
  }
}

describeGalera('Galera test harness', ({ cluster }) => {
  const node = (index: number): GaleraNode => cluster().nodes[index - 1];
  const expected: Record<string, unknown>[] = [];

  it('three mariadbd of its own, each started with its own --defaults-file first, on the recipe ports: Synced, cluster size 3, distinct node names', async () => {
    const { nodes, dir, database } = cluster();
    expect(nodes.map((n) => n.index)).to.deep.equal([1, 2, 3]);
    expect(nodes.map((n) => n.port)).to.deep.equal([3311, 3312, 3313]);
    expect(nodes.map((n) => n.ports)).to.deep.equal([1, 2, 3].map((i) => nodePorts(DEFAULT_BASE_PORTS, i)));
    expect(nodes[1].ports).to.deep.equal({ sql: 3312, gcomm: 4577, ist: 4578, sst: 4454 });
    expect(database).to.equal('test');
    const names: string[] = [];
    const gcommIds: string[] = [];
    const stateIds: string[] = [];
    for (const n of nodes) {
      expect(n.url).to.equal(`mysql://root@127.0.0.1:${n.port}/test`);
      expect(n.pid, `node ${n.index} pid`).to.be.a('number');
      const argv = fs.readFileSync(`/proc/${n.pid}/cmdline`, 'utf8').split('\0');
      expect(argv[1], `node ${n.index}: the first argument`).to.equal(`--defaults-file=${dir}/node${n.index}.cnf`);
      const status = await cluster().status(n.index);
      expect(status, `node ${n.index}`).to.include({ state: 'Synced', size: 3, clusterStatus: 'Primary' });
      names.push(status.name);
      const conn = await connect(n);
      try {
        const [vars] = await rows(conn, 'SELECT @@port AS port, @@datadir AS datadir, @@wsrep_on AS wsrep_on, @@wsrep_cluster_name AS cluster, DATABASE() AS db');
        expect(vars).to.include({ port: n.port, wsrep_on: 1, cluster: 'ksm_galera', db: 'test' });
        expect(String(vars.datadir).startsWith(`${dir}/node${n.index}/`), String(vars.datadir)).to.equal(true);
        const status2 = Object.fromEntries(
          (await rows(conn, "SHOW STATUS WHERE Variable_name IN ('wsrep_gcomm_uuid', 'wsrep_cluster_state_uuid')")).map((r) => [r.Variable_name, r.Value]),
        );
        gcommIds.push(String(status2.wsrep_gcomm_uuid));
        stateIds.push(String(status2.wsrep_cluster_state_uuid));
      } finally {
        conn.destroy();
      }
    }
    expect(names).to.deep.equal(['node1', 'node2', 'node3']);
    expect(new Set(gcommIds).size, 'three group members').to.equal(3);
    expect(new Set(stateIds).size, 'one cluster (same state uuid)').to.equal(1);
    // The URL works through the library's URL parsing too (what the Galera suites will hand it).
    const db = knexFactory({ ...configFromUrl(node(3).url), pool: { min: 0, max: 1 } });
    try {
      const [[row]] = (await db.raw('SELECT DATABASE() AS db, @@wsrep_node_name AS name')) as [Record<string, unknown>[]];
      expect(row).to.deep.equal({ db: 'test', name: 'node3' });
    } finally {
      await db.destroy();
    }
  });

  it('a table and a row written on node 1 are readable on nodes 2 and 3, and a row written on node 3 on node 1', async () => {
    const conn = await connect(node(1));
    try {
      await conn.query('CREATE TABLE galera_smoke (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)');
      await conn.query("INSERT INTO galera_smoke (id, v) VALUES (1, 'from node 1')");
    } finally {
      conn.destroy();
    }
    expected.push({ id: 1, v: 'from node 1' });
    expect(await readSynced(node(2))).to.deep.equal(expected);
    expect(await readSynced(node(3))).to.deep.equal(expected);
    await write(node(3), 2, 'from node 3');
    expected.push({ id: 2, v: 'from node 3' });
    expect(await readSynced(node(1))).to.deep.equal(expected);
  });

  it('GET_LOCK is node-local: a lock held on node 1 (refused to a second session there) is also granted on node 2 at the same time', async () => {
    const a = await connect(node(1));
    const a2 = await connect(node(1));
    const b = await connect(node(2));
    try {
      const version = String(await value(a, 'SELECT VERSION() AS v'));
      let rejection: (Error & { errno?: number }) | undefined;
      try {
        expect(await value(a, "SELECT GET_LOCK('ksm_galera_x', 0) AS v")).to.equal(1);
      } catch (err) {
        if (!(err as { errno?: number }).errno) throw err;
        rejection = err as Error & { errno?: number };
      }
      if (rejection) {
        // MariaDB 10.6.13 / 10.11.3 (MDEV-30473): ER_NOT_SUPPORTED_YET "GET_LOCK in cluster (WSREP_ON=ON)".
        expect(rejection.errno).to.equal(1235);
        expect(rejection.message).to.match(/GET_LOCK in cluster/);
        let onNode2: (Error & { errno?: number }) | undefined;
        await b.query("SELECT GET_LOCK('ksm_galera_x', 0) AS v").catch((err: Error & { errno?: number }) => (onNode2 = err));
        expect(onNode2?.errno).to.equal(1235);
        console.log(`  galera: GET_LOCK is rejected under wsrep on ${version} (ER_NOT_SUPPORTED_YET)`);
        return;
      }
      // The lock is real on its node: another session of node 1 cannot have it.
      expect(await value(a2, "SELECT GET_LOCK('ksm_galera_x', 0) AS v")).to.equal(0);
      // But node 2 knows nothing of it: a session there gets it while node 1's session still holds it.
      expect(await value(b, "SELECT IS_FREE_LOCK('ksm_galera_x') AS v")).to.equal(1);
      expect(await value(b, "SELECT GET_LOCK('ksm_galera_x', 0) AS v")).to.equal(1);
      expect(await value(a, "SELECT IS_USED_LOCK('ksm_galera_x') = CONNECTION_ID() AS v")).to.equal(1);
      expect(await value(b, "SELECT IS_USED_LOCK('ksm_galera_x') = CONNECTION_ID() AS v")).to.equal(1);
      console.log(`  galera: GET_LOCK is accepted under wsrep on ${version} and node-local (held on two nodes at once)`);
      expect(await value(a, "SELECT RELEASE_LOCK('ksm_galera_x') AS v")).to.equal(1);
      expect(await value(b, "SELECT RELEASE_LOCK('ksm_galera_x') AS v")).to.equal(1);
    } finally {
      for (const conn of [a, a2, b]) conn.destroy();
    }
  });

  let killedPid: number | undefined;

  it('kill(2): its mariadbd is gone at once, nodes 1 and 3 settle at a Primary cluster of 2, and writes on node 1 still work', async function () {
    this.timeout(90_000);
    killedPid = node(2).pid;
    expect(killedPid).to.be.a('number');
    await cluster().kill(2);
    expect(processAlive(killedPid as number), 'node 2 mariadbd after kill').to.equal(false);
    expect(node(2).pid).to.equal(undefined);
    expect(await portOpen(node(2).port), 'node 2 SQL port').to.equal(false);
    const ms = await eventually(
      'nodes 1 and 3 report a Synced, Primary cluster of 2',
      async () => {
        const statuses = await Promise.all([cluster().status(1), cluster().status(3)]);
        return statuses.every((s) => s.size === 2 && s.state === 'Synced' && s.clusterStatus === 'Primary');
      },
      60_000,
    );
    console.log(`  galera: cluster size 2 seen ${(ms / 1000).toFixed(1)} s after the SIGKILL`);
    await write(node(1), 3, 'while node 2 was down');
    expected.push({ id: 3, v: 'while node 2 was down' });
    expect(await readSynced(node(3))).to.deep.equal(expected);
    await cluster().waitForClusterSize(2, 10_000);
  });

  it('restart(2): node 2 is back Synced in a cluster of 3 with every row, including the one written while it was down', async function () {
    this.timeout(180_000);
    await cluster().restart(2);
    const pid = node(2).pid;
    expect(pid).to.be.a('number');
    expect(pid).to.not.equal(killedPid);
    expect(processAlive(pid as number)).to.equal(true);
    for (const i of [1, 2, 3]) expect(await cluster().status(i), `node ${i}`).to.include({ state: 'Synced', size: 3, clusterStatus: 'Primary' });
    expect(await readSynced(node(2))).to.deep.equal(expected);
    await write(node(2), 4, 'from the restarted node 2');
    expected.push({ id: 4, v: 'from the restarted node 2' });
    expect(await readSynced(node(1))).to.deep.equal(expected);
    expect(await readSynced(node(3))).to.deep.equal(expected);
  });

  it('stop(): no process of ours is left (by pid and by command line), the directory is gone, every port is free again', async function () {
    this.timeout(90_000);
    const { dir, ports, watchdogPid } = cluster();
    const pids = cluster().nodes.map((n) => n.pid);
    expect(pids.every((pid) => typeof pid === 'number' && processAlive(pid))).to.equal(true);
    expect(processAlive(watchdogPid)).to.equal(true);
    expect(ports).to.have.length(12);
    expect(fs.existsSync(dir)).to.equal(true);
    await cluster().stop();
    for (const pid of pids) expect(processAlive(pid as number), `mariadbd ${pid}`).to.equal(false);
    expect(cluster().nodes.map((n) => n.pid)).to.deep.equal([undefined, undefined, undefined]);
    expect(processAlive(watchdogPid), 'the watchdog').to.equal(false);
    expect(processesMentioning(dir)).to.deep.equal([]);
    expect(fs.existsSync(dir)).to.equal(false);
    for (const port of ports) expect(await portFree(port), `port ${port}`).to.equal(true);
    await cluster().stop(); // idempotent
  });

  it('a busy port: startGaleraCluster() fails at once naming it, and creates nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(3313, '127.0.0.1', resolve));
    const before = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('ksm-galera-'));
    try {
      let error: Error | undefined;
      try {
        const unexpected = await startGaleraCluster();
        await unexpected.stop();
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.match(/port 3313 \(node 3 SQL\) is already in use on 127\.0\.0\.1/);
      expect(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('ksm-galera-'))).to.deep.equal(before);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
