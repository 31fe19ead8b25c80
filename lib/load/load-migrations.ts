/**
 * Loads a folder of migration files, one migration per file: `module.exports = { version, description, up }`
 * (CommonJS) or `export default { … }` (ESM, TypeScript). The runner orders them by semver later.
 */
import { readdirSync, readFileSync, type Dirent } from 'fs';
import { join, resolve } from 'path';
import { describeCause, InvalidMigrationError } from '../errors';
import { checksumOfSource } from '../store/checksum';
import type { Migration } from '../types';
import { importFile } from './import-file';
import type { KnexMigrationsOptions } from './knex-migrations';

const SOURCE = /\.[cm]?[jt]s$/;
const DECLARATION = /\.d\.[cm]?ts$/;

/** A JavaScript or TypeScript source file name (not a declaration file): what the loaders read. */
export function isSourceFile(name: string): boolean {
  return SOURCE.test(name) && !DECLARATION.test(name);
}
const EXPECTED = 'expected module.exports = { version, description, up } or export default { … }';

/**
 * A folder's migrations. Files that export `up` but no `version` (nor `description`) are knex-style
 * (`exports.up = (knex) => …`, written by `knex migrate:make`): they become migrations through
 * lib/load/knex-migrations.ts, versioned by their place in knex's order, and every semver migration
 * of the folder must be above them. `knex` holds the knexfile's `migrations` settings for them.
 */
export async function loadMigrations(directory: string, knex: KnexMigrationsOptions = {}): Promise<Migration[]> {
  const semver: Migration[] = [];
  const knexFiles: LoadedFile[] = [];
  for (const loaded of await loadFolder(directory, isSourceFile)) {
    if (isKnexStyle(loaded.exported)) knexFiles.push(loaded);
    else semver.push(toMigration(loaded.file, loaded.exported, loaded.source));
  }
  if (knexFiles.length === 0) return semver;
  const { knexMigrationsOf, assertAboveKnexMigrations } = await import('./knex-migrations');
  const fromKnex = knexMigrationsOf(knexFiles, knex);
  assertAboveKnexMigrations(semver, fromKnex);
  return [...fromKnex, ...semver];
}

/** A file of a migrations folder, loaded: its name, path, content and exports. */
export interface LoadedFile {
  readonly name: string;
  readonly file: string;
  readonly source: string;
  readonly exported: unknown;
}

/**
 * Loads every file of `directory` whose name `accepts`, in code-unit order of their names (the same
 * on every machine, whatever the locale, and the order of knex's sort by file name).
 */
export async function loadFolder(directory: string, accepts: (name: string) => boolean): Promise<LoadedFile[]> {
  let entries: Dirent[];
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'ENOTDIR' ? 'is not a directory' : `cannot be read: ${describeCause(err)}`;
    throw new InvalidMigrationError(`Migration directory ${directory} ${why}`, { cause: err });
  }
  const names = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && accepts(e.name))
    .map((e) => e.name)
    .sort();

  const loaded: LoadedFile[] = [];
  // One at a time: a migration file may have load-time side effects, and errors then name the first bad file.
  for (const name of names) {
    const file = join(directory, name);
    const absolute = resolve(file);
    try {
      const source = readFileSync(absolute, 'utf8'); // synchronous: 100 small files read ~50 ms faster at start
      loaded.push({ name, file, source, exported: await importFile(absolute) });
    } catch (err) {
      throw new InvalidMigrationError(`Migration file ${file} failed to load: ${describeCause(err)}`, { cause: err });
    }
  }
  return loaded;
}

/** knex's migration shape: `up` exported, and neither `version` nor `description` (which make a semver migration). */
export function isKnexStyle(exported: unknown): boolean {
  const m = unwrap(exported);
  return m !== undefined && typeof m.up === 'function' && !('version' in m) && !('description' in m);
}

/** A fresh Migration from a file's exports; refuses anything not migration-shaped. */
function toMigration(file: string, exported: unknown, source: string): Migration {
  const m = unwrap(exported);
  if (!m) throw new InvalidMigrationError(`Migration file ${file} exports no migration: ${EXPECTED}`);
  const problems = [
    typeof m.version !== 'string' && 'version must be a string',
    typeof m.description !== 'string' && 'description must be a string',
    typeof m.up !== 'function' && 'up must be a function',
    m.down !== undefined && typeof m.down !== 'function' && 'down must be a function when present',
    m.transaction !== undefined && typeof m.transaction !== 'boolean' && 'transaction must be a boolean when present',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new InvalidMigrationError(`Migration file ${file}: ${problems.join('; ')}`);

  let checksum: string | undefined;
  const up = m.up as Migration['up'];
  const down = m.down as Migration['down'];
  return {
    version: m.version as string,
    description: m.description as string,
    // Bound, so a migration's methods can still call its other members through `this`.
    up: up.bind(m),
    ...(down && { down: down.bind(m) }),
    ...(m.transaction !== undefined && { transaction: m.transaction as boolean }),
    ...(m.requires !== undefined && { requires: m.requires as string[] }),
    // The file is the source of truth: its checksum covers helpers that `up` calls, so it wins over
    // any `checksum` the export declares (which could go stale when the file is edited). Computed when
    // first asked for: a start with nothing pending never hashes.
    get checksum(): string {
      return (checksum ??= checksumOfSource(source));
    },
  };
}

/** The file names `make` writes: `v<major>_<minor>_<patch>_<slug>` (plain versions only). */
const VERSIONED_NAME = /^v(0|[1-9]\d*)_(0|[1-9]\d*)_(0|[1-9]\d*)_[^.]*\.[cm]?[jt]s$/;

/**
 * The versions a folder's file names announce, without loading any file — or undefined unless every
 * migration file is named `v<major>_<minor>_<patch>_<slug>` and no version repeats. Only a hint: the
 * runner uses it to find out that nothing can be pending without loading the files, and loads them
 * whenever the hint and the database's history disagree in any way.
 */
export function versionsFromFileNames(directory: string): string[] | undefined {
  let names: string[];
  try {
    names = readdirSync(directory).filter(isSourceFile);
  } catch {
    return undefined;
  }
  const versions = new Set<string>();
  for (const name of names) {
    const match = VERSIONED_NAME.exec(name);
    if (!match) return undefined;
    const version = `${match[1]}.${match[2]}.${match[3]}`;
    if (versions.has(version)) return undefined;
    versions.add(version);
  }
  return [...versions];
}

/**
 * The migration object in a module's exports: module.exports itself, or its `default` (an ESM
 * namespace, tsc's `exports.default`, or `import()` of CommonJS wrapping one of those: two levels at most).
 */
export function unwrap(exported: unknown): Record<string, unknown> | undefined {
  let value = exported;
  for (let depth = 0; depth <= 2 && isObject(value); depth++) {
    if ('version' in value || 'up' in value || 'description' in value) return value;
    value = value.default;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
