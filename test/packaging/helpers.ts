/**
 * Helpers of the packaging suite: child processes with timeouts, a clean environment for them,
 * file trees (write, hash), and the table list of a database.
 */
import { spawn } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * The environment for every child: this process's, minus what would leak the repository into the
 * temporary projects (npm's per-script variables such as npm_config_local_prefix, which would make
 * `npm install` install into the repository; NODE_ENV; NODE_OPTIONS; ts-node's settings).
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry|cafile|proxy|https_proxy|noproxy|strict_ssl)$/;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('npm_') && !keep.test(key)) continue;
    if (key === 'NODE_ENV' || key === 'NODE_OPTIONS' || key === 'INIT_CWD' || key.startsWith('TS_NODE_')) continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs a program to its end (never rejects on a non-zero exit); kills it after `timeoutMs`. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
}

/** `command args` with its exit code and output, for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  return `${what} → exit ${String(r.code)}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** Writes files (relative path → text) under `root`, creating folders. */
export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [relative, text] of Object.entries(files)) {
    const file = path.join(root, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

/**
 * Every entry under `dir` (relative path → sha256 of a file's bytes, `dir` for a folder, `link → target`
 * for a symbolic link): two calls compare equal only if nothing was changed, added or removed.
 */
export function hashTree(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(current, entry.name);
      const relative = path.relative(dir, full).split(path.sep).join('/');
      if (entry.isSymbolicLink()) result[relative] = `link → ${fs.readlinkSync(full)}`;
      else if (entry.isDirectory()) {
        result[relative] = 'dir';
        walk(full);
      } else result[relative] = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return result;
}

/** Files (not folders) below `dir` whose name matches, as paths relative to `dir`, skipping node_modules. */
export function findFiles(dir: string, pattern: RegExp): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (pattern.test(entry.name)) found.push(path.relative(dir, full).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return found.sort();
}

/** The base tables of the database (SQLite: without its internal sqlite_* tables; PostgreSQL: of the current schema), sorted. */
export async function listTables(db: Knex): Promise<string[]> {
  const client = String(db.client.config.client);
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') {
    const r = (await db.raw(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )) as { rows: { name: string }[] };
    return r.rows.map((row) => row.name).sort();
  }
  const rows = (await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")) as { name: string }[];
  return rows.map((row) => row.name).sort();
}

/** The column names of a table, sorted. */
export async function columnsOf(db: Knex, table: string): Promise<string[]> {
  return Object.keys(await db(table).columnInfo()).sort();
}

/** The lines of a text, without the trailing empty one. */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}
