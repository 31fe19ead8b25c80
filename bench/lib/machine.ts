/** A description of the machine and software the numbers were measured on. */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import os from 'os';
import { BetterSqlite } from '../children/better-sqlite3';
import { REPO_ROOT } from './child';
import fs from 'fs';
import path from 'path';

export interface Machine {
  readonly cpus: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly sqlite: { readonly sqlite3Driver: string; readonly betterSqlite3: string };
  readonly packages: Record<string, string>;
  readonly tmpdir: string;
  /** The code measured: HEAD and whether lib/ or migrations/ had uncommitted changes. */
  readonly git: string;
  readonly date: string;
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** node-sqlite3 bundles its own SQLite; it reports the version on its module. */
async function sqlite3Version(): Promise<string> {
  const mod = (await import('sqlite3')) as unknown as { VERSION?: string; default?: { VERSION?: string } };
  return mod.VERSION ?? mod.default?.VERSION ?? '?';
}

/** sha256 (12 hex digits) over lib/ and migrations/ as they are on disk: which code was measured. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else hash.update(child).update(fs.readFileSync(path.join(REPO_ROOT, child)));
    }
  };
  walk('lib');
  walk('migrations');
  return hash.digest('hex').slice(0, 12);
}

function gitState(): string {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const head = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'lib', 'migrations']);
    return dirty ? `${head} + uncommitted changes in lib/ or migrations/ (${dirty.split('\n').length} files; content ${sourceHash()})` : head;
  } catch {
    return '?';
  }
}

export async function describeMachine(): Promise<Machine> {
  const better = new BetterSqlite(':memory:');
  const betterVersion = (better.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  better.close();
  return {
    cpus: os.cpus()[0]?.model ?? '?',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sqlite: { sqlite3Driver: await sqlite3Version(), betterSqlite3: betterVersion },
    packages: Object.fromEntries(['knex', 'sqlite3', 'better-sqlite3', 'pg', 'mysql2', 'umzug', 'kysely', 'typescript'].map((p) => [p, versionOf(p)])),
    tmpdir: os.tmpdir(),
    git: gitState(),
    date: new Date().toISOString(),
  };
}

export function machineLine(m: Machine): string {
  return (
    `${m.cores} cores (${m.cpus}), ${m.memoryGiB} GiB, ${m.os}; node ${m.node}; SQLite ${m.sqlite.sqlite3Driver} (sqlite3 driver), ` +
    `${m.sqlite.betterSqlite3} (better-sqlite3); ` +
    Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') +
    `; code: ${m.git}`
  );
}
