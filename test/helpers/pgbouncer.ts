/**
 * A PgBouncer of the test's own in front of the local PostgreSQL (shared/spec/pgbouncer.md): the
 * Debian `pgbouncer` binary on a free loopback port, with its ini, auth file, log and pid file in a
 * temp directory, pool_mode transaction or session, a small pool so that many clients really share
 * a few server connections. stop() ends it and removes the directory; so does the process's exit,
 * and a watchdog ends it even when the test process is killed (no pgbouncer is ever left behind).
 *
 * Skipped with a printed reason where pgbouncer or PostgreSQL is missing; failing instead where
 * .ci/run requires PostgreSQL (KSM_REQUIRE_POSTGRES=1), which installs pgbouncer too.
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import knexFactory, { type Knex } from 'knex';
import { DIALECTS, postgres } from './dialects';

export type PoolMode = 'transaction' | 'session';

export interface PgBouncerOptions {
  readonly poolMode: PoolMode;
  /** Databases of 127.0.0.1:5432 it serves besides `test`; the URL names the first of them. */
  readonly databases?: readonly string[];
  /** Server connections per database and user (default 5). */
  readonly poolSize?: number;
  /**
   * server_round_robin: hand out idle server connections in turn instead of the most recently used
   * first (PgBouncer's default, LIFO). A client's consecutive statements then land on different
   * server connections whenever more than one is idle, as with poolers that promise no affinity.
   */
  readonly serverRoundRobin?: boolean;
}

export interface PgBouncer {
  /** postgres://postgres@127.0.0.1:<port>/<database>: the first extra database, else `test`. */
  readonly url: string;
  readonly port: number;
  readonly poolMode: PoolMode;
  /** The admin console (SHOW POOLS, SHOW SERVERS, KILL <db>). */
  readonly adminUrl: string;
  /** The pgbouncer process and its directory, for tests of stop(). */
  readonly pid: number;
  readonly dir: string;
  /** Ends pgbouncer (closing its server connections) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const SERVER = { host: '127.0.0.1', port: 5432 };
const DEFAULT_POOL_SIZE = 5;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** Where the binary is: KSM_PGBOUNCER_BIN, PATH, or the Debian package's /usr/sbin (not on a user's PATH). */
export function pgbouncerBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  const candidates = process.env.KSM_PGBOUNCER_BIN ? [process.env.KSM_PGBOUNCER_BIN] : dirs.map((dir) => path.join(dir, 'pgbouncer'));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** pgbouncer refuses to run as root: as root it runs as postgres (or nobody), else as the current user. */
function runAs(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':'));
  for (const name of ['postgres', 'nobody']) {
    const entry = passwd.find((fields) => fields[0] === name);
    if (entry) return { name, uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new Error('running as root, and there is neither a postgres nor a nobody user to run pgbouncer as (it refuses root)');
}

/** Why PgBouncer suites cannot run here (no binary, no PostgreSQL), or undefined when they can. */
export async function pgbouncerUnavailable(): Promise<string | undefined> {
  if (!DIALECTS.includes(postgres)) return 'postgres is not in KSM_DIALECTS';
  if (!pgbouncerBinary()) {
    return process.env.KSM_PGBOUNCER_BIN
      ? `KSM_PGBOUNCER_BIN=${process.env.KSM_PGBOUNCER_BIN} is not an executable`
      : 'pgbouncer is not installed (no pgbouncer on PATH or in /usr/sbin; Debian package `pgbouncer`, which .ci/run installs)';
  }
  return postgres.unavailable();
}

const live = new Set<{ pid: number; dir: string }>();
let exitHookInstalled = false;

/** On the test process's exit, whatever stop() was not called for: synchronous, best effort. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const instance of live) {
      try {
        process.kill(instance.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      fs.rmSync(instance.dir, { recursive: true, force: true });
    }
  });
}

/**
 * The child is this shell, not pgbouncer: it runs pgbouncer in the background and a reader of its
 * stdin (a pipe from this process) that, when the pipe closes — on stop(), or when the test process
 * ends in any way, SIGKILL included — terminates pgbouncer (SIGKILL after 5 s) and removes the
 * directory. When pgbouncer ends for whatever reason, the shell prints the end of its logs on
 * stderr, removes the directory and exits with pgbouncer's status. SIGPIPE is ignored so that a reader of stdout that is already gone
 * cannot kill the shell between starting pgbouncer and watching it.
 * $1 = binary, $2 = ini, $3 = directory.
 */
const WATCHDOG = `
trap '' PIPE
exec 3<&0
"$1" "$2" </dev/null >/dev/null 2>>"$3/stderr.log" 3<&- &
pid=$!
{
  read -r _ || :
  kill -TERM "$pid" 2>/dev/null
  n=0
  while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$pid" 2>/dev/null
  rm -rf "$3"
} <&3 >/dev/null 2>&1 &
reader=$!
exec 3<&-
echo "$pid"
wait "$pid"
status=$?
kill "$reader" 2>/dev/null
tail -n 15 "$3/pgbouncer.log" "$3/stderr.log" >&2 2>/dev/null
rm -rf "$3"
exit "$status"
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function iniFile(dir: string, port: number, options: PgBouncerOptions, databases: string[]): string {
  return [
    '[databases]',
    ...databases.map((db) => `${db} = host=${SERVER.host} port=${SERVER.port} dbname=${db}`),
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    'auth_type = trust',
    `auth_file = ${dir}/userlist.txt`,
    'admin_users = postgres',
    `pool_mode = ${options.poolMode}`,
    'max_client_conn = 200',
    `default_pool_size = ${options.poolSize ?? DEFAULT_POOL_SIZE}`,
    `server_round_robin = ${options.serverRoundRobin ? 1 : 0}`,
    'ignore_startup_parameters = extra_float_digits,options',
    `logfile = ${dir}/pgbouncer.log`,
    `pidfile = ${dir}/pgbouncer.pid`,
    '',
  ].join('\n');
}

function readLogs(dir: string): string {
  return ['pgbouncer.log', 'stderr.log']
    .map((file) => {
      try {
        return fs.readFileSync(path.join(dir, file), 'utf8').trim().split('\n').slice(-15).join('\n');
      } catch {
        return '';
      }
    })
    .filter(Boolean)
    .join('\n');
}

/**
 * A knex instance on one connection through it (or to its admin console, database `pgbouncer`). The
 * server version is given, so knex sends no `select version()`, which the console would refuse.
 */
export function connectThrough(url: string, options: { connections?: number; timeoutMs?: number; quiet?: boolean } = {}): Knex {
  const quiet = () => undefined;
  return knexFactory({
    client: 'pg',
    version: '15',
    connection: url,
    pool: { min: 0, max: options.connections ?? 1 },
    acquireConnectionTimeout: options.timeoutMs ?? 10_000,
    ...(options.quiet ? { log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet } } : {}),
  });
}

/** Whether a real query reaches PostgreSQL through it. */
async function answers(url: string): Promise<boolean> {
  const db = connectThrough(url, { timeoutMs: 1000, quiet: true });
  try {
    await db.raw('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await db.destroy();
  }
}

/** Starts a PgBouncer in front of 127.0.0.1:5432 and returns once a query goes through it. */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error((await pgbouncerUnavailable()) ?? 'pgbouncer is not installed');
  const extra = [...(options.databases ?? [])];
  for (const db of extra) if (!/^[a-z_][a-z0-9_]*$/i.test(db)) throw new Error(`not a plain database name: ${db}`);
  const databases = [...new Set(['test', ...extra])];
  const user = runAs();
  // A port that was free a moment ago may be taken by the time pgbouncer binds it: try another.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(binary, port, options, databases, extra[0] ?? 'test', user);
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError;
}

async function launch(
  binary: string,
  port: number,
  options: PgBouncerOptions,
  databases: string[],
  database: string,
  user: { uid: number; gid: number } | undefined,
): Promise<PgBouncer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ksm-pgbouncer-${options.poolMode}-`));
  const ini = path.join(dir, 'pgbouncer.ini');
  fs.writeFileSync(ini, iniFile(dir, port, options, databases));
  fs.writeFileSync(path.join(dir, 'userlist.txt'), '"postgres" ""\n');
  if (user) for (const file of [dir, ...fs.readdirSync(dir).map((f) => path.join(dir, f))]) fs.chownSync(file, user.uid, user.gid);

  const child: ChildProcess = spawn('/bin/sh', ['-c', WATCHDOG, 'ksm-pgbouncer-watchdog', binary, ini, dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('close', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  let shellOutput = '';
  child.stderr?.on('data', (d: Buffer) => (shellOutput += d.toString()));
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('error', reject);
    void exit.then(() => reject(new Error(`the pgbouncer watchdog shell exited at once: ${shellOutput}`)));
  });
  const instance = { pid, dir };
  live.add(instance);
  installExitHook();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      child.ref(); // keeps the process alive until the shell has exited
      child.stdin?.end();
      let timeout: NodeJS.Timeout | undefined;
      const timer = new Promise<'timeout'>((resolve) => (timeout = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)));
      const outcome = await Promise.race([exit, timer]);
      clearTimeout(timeout);
      if (outcome === 'timeout') {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
      live.delete(instance);
    })());

  const url = `postgres://postgres@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`pgbouncer (${options.poolMode}) on port ${port} exited (${exited.code ?? exited.signal}) before accepting connections:\n${shellOutput}`);
    }
    if (await answers(`postgres://postgres@127.0.0.1:${port}/test`)) break;
    if (Date.now() > deadline) {
      const logs = readLogs(dir);
      await stop();
      throw new Error(`pgbouncer (${options.poolMode}) on port ${port} did not answer within ${START_TIMEOUT_MS} ms:\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // From now on neither the child nor its pipes keep the test process alive: a forgotten stop()
  // must not hang mocha; the exit hook and the watchdog end pgbouncer then.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return { url, port, poolMode: options.poolMode, adminUrl: `postgres://postgres@127.0.0.1:${port}/pgbouncer`, pid, dir, stop };
}

const reported = new Set<string>();
let probe: Promise<string | undefined> | undefined;

/**
 * Declares a suite that needs PgBouncer, like describeDialect: skipped with the reason printed once
 * where it is missing, failing where .ci/run requires PostgreSQL (and so pgbouncer).
 */
export function describePgBouncer(title: string, body: () => void): void {
  describe(`${title} [pgbouncer]`, function () {
    before(async function () {
      probe ??= pgbouncerUnavailable();
      const reason = await probe;
      if (reason === undefined) return;
      if (postgres.required && reason !== 'postgres is not in KSM_DIALECTS') {
        throw new Error(`pgbouncer suites are required here (.ci/run sets KSM_REQUIRE_POSTGRES=1) but ${reason}`);
      }
      if (!reported.has('pgbouncer')) {
        reported.add('pgbouncer');
        console.log(`\n  SKIPPED: pgbouncer suites — ${reason}\n`);
      }
      this.skip();
    });
    body();
  });
}
