/**
 * A real 3-node MariaDB Galera cluster on loopback, for the Galera suites (issue 11), after the
 * verified recipe in shared/spec/galera-cluster.md: three extra `mariadbd` processes (Debian
 * packages mariadb-server, galera-4, rsync), each with its own generated .cnf passed as the FIRST
 * argument (`--defaults-file`, so /etc/mysql is never read and the system server on 3306 is never
 * touched), its own datadir, SQL, gcomm, IST and SST ports, all under a fresh temp directory. Node 1
 * is initialised and bootstraps the cluster; nodes 2 and 3 join with an empty datadir and receive a
 * full copy by rsync SST. A database (`test`) is created on the cluster and replicated.
 *
 * kill(i) SIGKILLs one node, restart(i) starts it again (rsync SST from a survivor) and waits until
 * it is Synced in a cluster of 3 again, stop() ends all of them and removes the directory. So does
 * the process's exit, and a watchdog ends them even when the test process is killed (no mariadbd of
 * ours is ever left behind): it ends every process whose command line names the cluster directory.
 *
 * Skipped with a printed reason where a binary is missing; failing instead where .ci/run requires
 * MariaDB (KSM_REQUIRE_MARIADB=1), which installs galera-4, rsync and mariadb-backup too.
 */
import { execFile, spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { DIALECTS, mysql } from './dialects';

export interface GaleraPorts {
  /** The SQL port (node i listens on sql + i - 1). */
  readonly sql: number;
  /** Group communication, gmcast.listen_addr (node i on gcomm + 10 (i - 1)). */
  readonly gcomm: number;
  /** Incremental state transfer receive port, ist.recv_addr (ist + 10 (i - 1)). */
  readonly ist: number;
  /** State snapshot transfer (rsync daemon) receive port, wsrep_sst_receive_address (sst + 10 (i - 1)). */
  readonly sst: number;
}

/** The recipe's ports: SQL 3311-3313, gcomm 4567/4577/4587, IST 4568/4578/4588, SST 4444/4454/4464. */
export const DEFAULT_BASE_PORTS: GaleraPorts = { sql: 3311, gcomm: 4567, ist: 4568, sst: 4444 };
const PORT_STEP: GaleraPorts = { sql: 1, gcomm: 10, ist: 10, sst: 10 };

export interface GaleraOptions {
  /** Only 3 is supported (a majority survives the loss of one node). */
  readonly size?: 3;
  /** Overrides of DEFAULT_BASE_PORTS, per kind. */
  readonly basePorts?: Partial<GaleraPorts>;
  /** The database created on the cluster and named in the nodes' URLs (default `test`). */
  readonly database?: string;
}

export interface GaleraNode {
  /** 1, 2 or 3 (also the number in wsrep_node_name `node<i>`). */
  readonly index: number;
  readonly name: string;
  /** The SQL port on 127.0.0.1. */
  readonly port: number;
  readonly ports: GaleraPorts;
  /** mysql://root@127.0.0.1:<port>/<database> */
  readonly url: string;
  /** The node's mariadbd process while it runs, else undefined. */
  readonly pid: number | undefined;
  readonly dataDir: string;
  readonly errorLog: string;
}

export interface GaleraNodeStatus {
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining, … */
  readonly state: string;
  /** wsrep_cluster_size */
  readonly size: number;
  /** wsrep_cluster_status: Primary, non-Primary, … */
  readonly clusterStatus: string;
  /** @@wsrep_node_name */
  readonly name: string;
}

export interface GaleraCluster {
  readonly nodes: readonly GaleraNode[];
  /** Created on the cluster (replicated to every node). */
  readonly database: string;
  /** The per-run directory holding the .cnf files, datadirs and logs. */
  readonly dir: string;
  /** The watchdog process (ends every process of ours and removes the directory when this process dies). */
  readonly watchdogPid: number;
  /** Every port the cluster uses, for checks that they are free again after stop(). */
  readonly ports: readonly number[];
  /** Wall-clock time the cluster took to be Synced at 3 nodes, in ms. */
  readonly startMs: number;
  /** The node's wsrep status, on a fresh connection. */
  status(index: number): Promise<GaleraNodeStatus>;
  /** Waits until every running node is Synced and reports a cluster of `size`. */
  waitForClusterSize(size: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs one node's mariadbd (and any SST helper of it) and waits until it is gone. */
  kill(index: number): Promise<void>;
  /**
   * Starts a killed node again (full rsync SST from a survivor, its grastate has seqno -1) and waits
   * until it is Synced and every running node reports a cluster of 3 again. Resolves to the time it took, in ms.
   */
  restart(index: number): Promise<number>;
  /** SIGTERMs all nodes, waits for them to exit, removes the directory, ends the watchdog. Idempotent. */
  stop(): Promise<void>;
}

const START_NODE_TIMEOUT_MS = 60_000;
const RESTART_TIMEOUT_MS = 120_000;
const KILL_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 30_000;
const CLUSTER_NAME = 'ksm_galera';
const PROVIDER = '/usr/lib/galera/libgalera_smm.so';

/** An executable by name: PATH, then the Debian locations (sbin is not on a user's PATH). */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  return dirs.map((dir) => path.join(dir, name)).find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The uid/gid of the mysql user when running as root (mariadbd refuses root; the cnf says user=mysql). */
function mysqlUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'mysql');
  return entry ? { uid: Number(entry[2]), gid: Number(entry[3]) } : undefined;
}

const NOT_SELECTED = 'mysql is not in KSM_DIALECTS';

/** Why a Galera cluster cannot run here (a missing binary, with its Debian package), or undefined when it can. */
export function galeraUnavailable(): string | undefined {
  if (!DIALECTS.includes(mysql)) return NOT_SELECTED;
  const missing: string[] = [];
  const packages = new Set<string>();
  const need = (what: string, ok: boolean, pkg: string) => {
    if (ok) return;
    missing.push(what);
    packages.add(pkg);
  };
  need('mariadbd', findBinary('mariadbd') !== undefined, 'mariadb-server');
  need('mariadb-install-db', findBinary('mariadb-install-db') !== undefined, 'mariadb-server');
  need(PROVIDER, fs.existsSync(PROVIDER), 'galera-4');
  need('wsrep_sst_rsync', findBinary('wsrep_sst_rsync') !== undefined, 'mariadb-server');
  need('rsync', findBinary('rsync') !== undefined, 'rsync');
  if (missing.length > 0) {
    return `Galera is not installed (missing ${missing.join(', ')}; Debian package${packages.size > 1 ? 's' : ''} ${[...packages]
      .map((p) => `\`${p}\``)
      .join(' ')}, which .ci/run installs)`;
  }
  if (process.getuid?.() === 0 && !mysqlUser()) return 'running as root and there is no mysql user to run mariadbd as (it refuses root)';
  return undefined;
}

/** The ports of node i (1-based). */
export function nodePorts(base: GaleraPorts, index: number): GaleraPorts {
  const at = (kind: keyof GaleraPorts) => base[kind] + PORT_STEP[kind] * (index - 1);
  return { sql: at('sql'), gcomm: at('gcomm'), ist: at('ist'), sst: at('sst') };
}

/** Whether nothing listens on 127.0.0.1:port (binding it succeeds). Rejects on errors other than EADDRINUSE. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The pids of every process (other than this one) whose command line contains `needle`. */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function cnfFile(dir: string, index: number, ports: GaleraPorts, all: readonly GaleraPorts[], runAsMysql: boolean): string {
  const node = path.join(dir, `node${index}`);
  return [
    '[mariadbd]',
    `datadir=${node}/data`,
    `socket=${node}/mysqld.sock`,
    `pid-file=${node}/mysqld.pid`,
    `log-error=${node}/error.log`,
    `port=${ports.sql}`,
    'bind-address=127.0.0.1',
    ...(runAsMysql ? ['user=mysql'] : []),
    'skip-name-resolve',
    'innodb_buffer_pool_size=64M',
    'innodb_log_file_size=16M',
    'innodb_flush_log_at_trx_commit=2',
    'binlog_format=ROW',
    'default_storage_engine=InnoDB',
    'innodb_autoinc_lock_mode=2',
    'wsrep_on=ON',
    `wsrep_provider=${PROVIDER}`,
    `wsrep_cluster_name=${CLUSTER_NAME}`,
    `wsrep_cluster_address=gcomm://${all.map((p) => `127.0.0.1:${p.gcomm}`).join(',')}`,
    `wsrep_node_name=node${index}`,
    'wsrep_node_address=127.0.0.1',
    `wsrep_node_incoming_address=127.0.0.1:${ports.sql}`,
    `wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${ports.gcomm};ist.recv_addr=127.0.0.1:${ports.ist};gcache.size=32M"`,
    'wsrep_sst_method=rsync',
    `wsrep_sst_receive_address=127.0.0.1:${ports.sst}`,
    '[client]',
    `port=${ports.sql}`,
    `socket=${node}/mysqld.sock`,
    '',
  ].join('\n');
}

/**
 * The watchdog: a shell of its own session (no terminal signal reaches it) that waits for EOF on
 * its stdin, a pipe from this process. EOF comes on stop() (after everything is already stopped),
 * or when the test process ends in any way, SIGKILL included. It then SIGTERMs every process whose
 * command line names the cluster directory (the mariadbd's `--defaults-file`, the SST scripts and
 * rsync daemons, whose config lives in a datadir), SIGKILLs what is left after 20 s and removes the
 * directory. The directory comes in the environment, not the arguments, so the shell does not
 * match itself.
 */
const WATCHDOG = `
trap '' PIPE INT HUP
d=$KSM_GALERA_DIR
ours() {
  for p in /proc/[0-9]*; do
    pid=\${p#/proc/}
    [ "$pid" = "$$" ] && continue
    c=$(tr '\\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    case "$c" in *"$d"*) echo "$pid" ;; esac
  done
}
alive() {
  for p in $pids; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}
read -r _ || :
pids=$(ours)
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  n=0
  while alive && [ "$n" -lt 100 ]; do sleep 0.2; n=$((n + 1)); done
  pids=$(ours)
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
fi
rm -rf "$d"
exit 0
`;

interface NodeState extends GaleraNode {
  readonly cnf: string;
  readonly stdoutLog: string;
  child: ChildProcess | undefined;
  exit: Promise<void> | undefined;
  exited: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
}

const live = new Set<{ dir: string; nodes: readonly NodeState[] }>();
let exitHookInstalled = false;

/** On the test process's exit, whatever stop() was not called for: synchronous, best effort (the watchdog finishes the job). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) {
      for (const node of cluster.nodes) if (node.pid !== undefined) signal(node.pid, 'SIGKILL');
      for (const pid of processesMentioning(cluster.dir)) signal(pid, 'SIGKILL');
      fs.rmSync(cluster.dir, { recursive: true, force: true });
    }
  });
}

/** The errors of the node's error.log (the cause is often well above the tail), then its tail and stdout. */
function nodeLogs(node: NodeState): string {
  let errors = '';
  try {
    errors = fs
      .readFileSync(node.errorLog, 'utf8')
      .split('\n')
      .filter((line) => /\[ERROR\]/.test(line))
      .slice(-10)
      .join('\n');
  } catch {
    // no log yet
  }
  const parts = [
    [`${node.errorLog} ([ERROR] lines)`, errors],
    [`${node.errorLog} (last lines)`, tail(node.errorLog)],
    [`${node.stdoutLog}`, tail(node.stdoutLog, 10)],
  ]
    .filter(([, text]) => text)
    .map(([title, text]) => `--- ${title}\n${text}`);
  return parts.length > 0 ? parts.join('\n') : '(no log output)';
}

/** One status query on a fresh TCP connection to 127.0.0.1:<port> as root. */
async function queryStatus(port: number, timeoutMs = 2000): Promise<GaleraNodeStatus> {
  const conn = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: timeoutMs });
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_cluster_status')",
    );
    const status = Object.fromEntries(rows.map((r) => [String(r.Variable_name).toLowerCase(), String(r.Value)]));
    const [[{ name }]] = await conn.query<RowDataPacket[]>('SELECT @@wsrep_node_name AS name');
    return {
      state: status.wsrep_local_state_comment ?? '',
      size: Number(status.wsrep_cluster_size ?? 0),
      clusterStatus: status.wsrep_cluster_status ?? '',
      name: String(name),
    };
  } finally {
    conn.destroy();
  }
}

function describeStatus(status: GaleraNodeStatus | string | undefined): string {
  if (status === undefined) return 'no answer yet';
  if (typeof status === 'string') return status;
  return `${status.state}, cluster size ${status.size}, ${status.clusterStatus}`;
}

/** Starts a 3-node Galera cluster on loopback and returns once all nodes are Synced in a cluster of 3. */
export async function startGaleraCluster(options: GaleraOptions = {}): Promise<GaleraCluster> {
  const reason = galeraUnavailable();
  if (reason !== undefined) throw new Error(`cannot start a Galera cluster: ${reason}`);
  const size = options.size ?? 3;
  if (size !== 3) throw new Error(`only a 3-node Galera cluster is supported, not ${String(size)}`);
  const database = options.database ?? 'test';
  if (!/^[a-z_][a-z0-9_]*$/i.test(database)) throw new Error(`not a plain database name: ${database}`);
  const base: GaleraPorts = { ...DEFAULT_BASE_PORTS, ...options.basePorts };
  const portsOf = [1, 2, 3].map((i) => nodePorts(base, i));
  const allPorts: number[] = [];
  const seen = new Map<number, string>();
  for (const [i, ports] of portsOf.entries()) {
    for (const kind of ['sql', 'gcomm', 'ist', 'sst'] as const) {
      const label = `node ${i + 1} ${kind === 'sql' ? 'SQL' : kind === 'gcomm' ? 'gcomm' : kind.toUpperCase()}`;
      const port = ports[kind];
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`galera: ${label} port ${port} is not a valid port`);
      const other = seen.get(port);
      if (other) throw new Error(`galera: ${label} port ${port} is also the ${other} port (basePorts overlap)`);
      seen.set(port, label);
      allPorts.push(port);
      if (!(await portFree(port))) {
        throw new Error(
          `galera: port ${port} (${label}) is already in use on 127.0.0.1; stop whatever listens there or pass startGaleraCluster({ basePorts }) other ports`,
        );
      }
    }
  }

  const user = mysqlUser();
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksm-galera-'));
  const nodes: NodeState[] = portsOf.map((ports, i) => {
    const index = i + 1;
    const nodeDir = path.join(dir, `node${index}`);
    fs.mkdirSync(path.join(nodeDir, 'data'), { recursive: true });
    const cnf = path.join(dir, `node${index}.cnf`);
    fs.writeFileSync(cnf, cnfFile(dir, index, ports, portsOf, user !== undefined));
    const state: NodeState = {
      index,
      name: `node${index}`,
      port: ports.sql,
      ports,
      url: `mysql://root@127.0.0.1:${ports.sql}/${database}`,
      get pid() {
        return state.exited === undefined ? state.child?.pid : undefined;
      },
      dataDir: path.join(nodeDir, 'data'),
      errorLog: path.join(nodeDir, 'error.log'),
      cnf,
      stdoutLog: path.join(nodeDir, 'stdout.log'),
      child: undefined,
      exit: undefined,
      exited: undefined,
    };
    return state;
  });
  if (user) {
    const chownAll = (p: string) => {
      fs.chownSync(p, user.uid, user.gid);
      if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) chownAll(path.join(p, f));
    };
    chownAll(dir);
  }

  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'ksm-galera-watchdog'], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    env: { ...process.env, KSM_GALERA_DIR: dir },
  });
  const watchdogExit = new Promise<void>((resolve) => {
    watchdog.on('close', () => resolve());
    watchdog.on('error', () => resolve());
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const instance = { dir, nodes };
  live.add(instance);
  installExitHook();

  const mariadbd = findBinary('mariadbd') as string;
  const node = (index: number): NodeState => {
    const found = nodes.find((n) => n.index === index);
    if (!found) throw new Error(`galera: there is no node ${index} (nodes are 1-${nodes.length})`);
    return found;
  };
  const running = () => nodes.filter((n) => n.pid !== undefined);

  const launch = (n: NodeState, bootstrap: boolean) => {
    const out = fs.openSync(n.stdoutLog, 'a');
    if (user) fs.fchownSync(out, user.uid, user.gid);
    // --defaults-file must be the first argument: nothing of /etc/mysql is read.
    const child = spawn(mariadbd, [`--defaults-file=${n.cnf}`, ...(bootstrap ? ['--wsrep-new-cluster'] : [])], {
      stdio: ['ignore', out, out],
      detached: true,
    });
    fs.closeSync(out);
    n.child = child;
    n.exited = undefined;
    n.exit = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        n.exited ??= { code, signal: sig };
        resolve();
      });
      child.once('error', (error) => {
        n.exited ??= { code: null, signal: null, error };
        resolve();
      });
    });
    // A forgotten stop() must not keep mocha alive: the exit hook and the watchdog end the nodes then.
    child.unref();
  };

  /** Waits until the node answers Synced (and, if given, reports a cluster of `size`). */
  const waitSynced = async (n: NodeState, timeoutMs: number, size?: number) => {
    const deadline = Date.now() + timeoutMs;
    let last: GaleraNodeStatus | string | undefined;
    for (;;) {
      if (n.exited) {
        const how = n.exited.error ? n.exited.error.message : `code ${n.exited.code ?? n.exited.signal}`;
        throw new Error(`galera: node ${n.index} (port ${n.port}) exited (${how}) before it was Synced:\n${nodeLogs(n)}`);
      }
      try {
        last = await queryStatus(n.port);
        if (last.state === 'Synced' && (size === undefined || last.size === size)) return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `galera: node ${n.index} (port ${n.port}) was not Synced${size === undefined ? '' : ` in a cluster of ${size}`} within ${timeoutMs} ms ` +
            `(last: ${describeStatus(last)}):\n${nodeLogs(n)}`,
        );
      }
      await sleep(200);
    }
  };

  const waitForClusterSize = async (expected: number, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (const n of running()) await waitSynced(n, Math.max(1, deadline - Date.now()), expected);
    // A node may have left meanwhile: check all of them once more.
    for (const n of running()) {
      const status = await queryStatus(n.port);
      if (status.state !== 'Synced' || status.size !== expected) {
        throw new Error(`galera: node ${n.index} reports ${describeStatus(status)} instead of Synced in a cluster of ${expected}`);
      }
    }
  };

  const waitGone = async (n: NodeState, timeoutMs: number): Promise<boolean> => {
    if (!n.exit || n.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([n.exit.then(() => 'exited' as const), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    return outcome === 'exited';
  };

  const killNode = async (n: NodeState) => {
    const pid = n.pid;
    if (pid === undefined) return;
    signal(pid, 'SIGKILL');
    if (!(await waitGone(n, KILL_TIMEOUT_MS))) throw new Error(`galera: node ${n.index} (pid ${pid}) did not die within ${KILL_TIMEOUT_MS} ms of SIGKILL`);
    // An SST script or rsync daemon of this node would hold its SST port.
    for (const helper of processesMentioning(path.join(dir, `node${n.index}`) + '/')) signal(helper, 'SIGKILL');
  };

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const up = running();
      for (const n of [...up].reverse()) if (n.pid !== undefined) signal(n.pid, 'SIGTERM');
      const stuck: number[] = [];
      for (const n of up) {
        const pid = n.pid;
        if (!(await waitGone(n, STOP_TIMEOUT_MS)) && pid !== undefined) {
          stuck.push(n.index);
          signal(pid, 'SIGKILL');
          await waitGone(n, KILL_TIMEOUT_MS);
        }
      }
      for (const pid of processesMentioning(dir)) signal(pid, 'SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      // Everything is gone already: the watchdog finds nothing and exits.
      watchdog.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([watchdogExit.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 10_000)))]);
      clearTimeout(timer);
      if (!done && watchdog.pid !== undefined) signal(watchdog.pid, 'SIGKILL');
      live.delete(instance);
      if (stuck.length > 0) console.log(`  galera: node(s) ${stuck.join(', ')} ignored SIGTERM for ${STOP_TIMEOUT_MS} ms and were SIGKILLed`);
    })());

  try {
    const installDb = findBinary('mariadb-install-db') as string;
    await new Promise<void>((resolve, reject) =>
      execFile(
        installDb,
        [`--defaults-file=${nodes[0].cnf}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
        { timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`galera: mariadb-install-db failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve()),
      ),
    );
    launch(nodes[0], true);
    await waitSynced(nodes[0], START_NODE_TIMEOUT_MS);
    // One joiner at a time: each gets a full rsync SST, and a node can donate to one joiner at a time.
    for (const n of nodes.slice(1)) {
      launch(n, false);
      await waitSynced(n, START_NODE_TIMEOUT_MS);
    }
    await waitForClusterSize(3, START_NODE_TIMEOUT_MS);
    const conn = await createConnection({ host: '127.0.0.1', port: nodes[0].port, user: 'root' });
    try {
      await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    } finally {
      conn.destroy();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const startMs = Date.now() - started;
  console.log(`  galera: ${nodes.length} nodes synced in ${(startMs / 1000).toFixed(1)} s (${dir})`);

  return {
    nodes,
    database,
    dir,
    watchdogPid: watchdog.pid ?? -1,
    ports: allPorts,
    startMs,
    status: (index) => queryStatus(node(index).port),
    waitForClusterSize,
    async kill(index) {
      const n = node(index);
      if (stopping) throw new Error('galera: the cluster is stopped');
      if (n.pid === undefined) throw new Error(`galera: node ${index} is not running`);
      await killNode(n);
    },
    async restart(index) {
      const n = node(index);
      if (stopping) throw new Error('galera: the cluster is stopped');
      if (n.pid !== undefined) throw new Error(`galera: node ${index} is running (kill it first)`);
      if (running().length === 0) throw new Error('galera: no node is running to donate a state transfer (bootstrapping from a full stop is not supported)');
      const t0 = Date.now();
      launch(n, false);
      await waitSynced(n, RESTART_TIMEOUT_MS, nodes.length);
      await waitForClusterSize(nodes.length, RESTART_TIMEOUT_MS);
      const ms = Date.now() - t0;
      console.log(`  galera: node ${index} rejoined and synced in ${(ms / 1000).toFixed(1)} s`);
      return ms;
    },
    stop,
  };
}

export interface GaleraSuite {
  /** The suite's cluster, started in its before() and stopped in its after(). */
  cluster(): GaleraCluster;
}

const reported = new Set<string>();

/**
 * Declares a suite that needs a Galera cluster, like describeDialect: skipped with the reason printed
 * once where the binaries are missing, failing where .ci/run requires MariaDB (and so Galera). One
 * cluster per suite: started in before(), stopped in after().
 */
export function describeGalera(title: string, body: (suite: GaleraSuite) => void, options: GaleraOptions = {}): void {
  describe(`${title} [galera]`, function () {
    let cluster: GaleraCluster | undefined;
    before(async function () {
      const reason = galeraUnavailable();
      if (reason !== undefined) {
        if (mysql.required && reason !== NOT_SELECTED) {
          throw new Error(`Galera suites are required here (.ci/run sets KSM_REQUIRE_MARIADB=1) but ${reason}`);
        }
        if (!reported.has('galera')) {
          reported.add('galera');
          console.log(`\n  SKIPPED: galera suites — ${reason}\n`);
        }
        this.skip();
      }
      this.timeout(4 * START_NODE_TIMEOUT_MS);
      cluster = await startGaleraCluster(options);
    });
    after(async function () {
      this.timeout(2 * STOP_TIMEOUT_MS);
      await cluster?.stop();
      cluster = undefined;
    });
    body({
      cluster: () => {
        if (!cluster) throw new Error('galera cluster not started');
        return cluster;
      },
    });
  });
}
