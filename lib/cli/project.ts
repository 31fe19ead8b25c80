/**
 * The user's project as the CLI sees it, found the way knex's own CLI finds it: `--cwd` first, then
 * the knexfile (`--knexfile`, or `knexfile.*` looked up from the working directory), whose folder
 * becomes the working directory; the environment's config; the migrations and snapshots folders.
 */
import fs from 'fs';
import path from 'path';
import type { Knex } from 'knex';
import { importFile } from '../load/import-file';
import { DEFAULT_SNAPSHOTS_FOLDER } from '../migrator';

export const KNEXFILE_EXTENSIONS = ['js', 'cjs', 'mjs', 'ts', 'cts', 'mts'] as const;
export const DEFAULT_ENV = 'development';
export const DEFAULT_MIGRATIONS_FOLDER = 'migrations';
export const DEFAULT_SEEDS_FOLDER = 'seeds';

/** A problem with the project's files (no knexfile, unknown environment): exit code 2 with usage. */
export class ProjectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProjectError';
  }
}

export interface ProjectOptions {
  readonly cwd?: string;
  readonly knexfile?: string;
  readonly env?: string;
  readonly migrationsDir?: string;
  readonly snapshotsDir?: string;
}

export interface Project {
  /** The folder relative paths are resolved from (the knexfile's). */
  readonly root: string;
  /** The environment's knex config; undefined only for commands that need no database (make). */
  readonly config?: Knex.Config;
  readonly migrationsDir: string;
  readonly snapshotsDir: string;
  readonly seedsDir: string;
}

/** Locates the knexfile and changes into its folder, as `knex` does; `needsConfig` false lets `make` run without one. */
export async function openProject(options: ProjectOptions, nodeEnv: string | undefined, needsConfig: boolean): Promise<Project> {
  if (options.cwd !== undefined) process.chdir(path.resolve(options.cwd));
  const knexfile = options.knexfile !== undefined ? path.resolve(options.knexfile) : findUp(process.cwd());
  if (options.knexfile !== undefined && !fs.existsSync(knexfile as string)) throw new ProjectError(`knexfile ${options.knexfile} does not exist`);
  if (knexfile === undefined && needsConfig) {
    throw new ProjectError(`no knexfile found: looked for knexfile.{${KNEXFILE_EXTENSIONS.join(',')}} in ${process.cwd()} and its parents (or pass --knexfile PATH)`);
  }
  const root = knexfile ? path.dirname(knexfile) : process.cwd();
  if (root !== process.cwd()) process.chdir(root);

  const environments = knexfile ? await readEnvironments(knexfile) : undefined;
  const names = environments?.names ?? [];
  if (options.env === '') throw new ProjectError('--env needs an environment name');
  const env = options.env ?? (nodeEnv !== undefined && names.includes(nodeEnv) ? nodeEnv : DEFAULT_ENV);
  if (environments && !names.includes(env)) {
    throw new ProjectError(`unknown environment "${env}" (the knexfile has: ${names.join(', ') || 'none'})`);
  }
  // An offline command told where the migrations are needs no config (which may need DATABASE_URL).
  const config = needsConfig || options.migrationsDir === undefined ? await environments?.config(env) : undefined;
  const migrationsDir = path.resolve(root, options.migrationsDir ?? configuredDirectory(config?.migrations?.directory, 'migrations.directory') ?? DEFAULT_MIGRATIONS_FOLDER);
  return {
    root,
    config,
    migrationsDir,
    snapshotsDir: path.resolve(root, options.snapshotsDir ?? path.join(migrationsDir, DEFAULT_SNAPSHOTS_FOLDER)),
    seedsDir: path.resolve(root, configuredDirectory(config?.seeds?.directory, 'seeds.directory') ?? DEFAULT_SEEDS_FOLDER),
  };
}

function findUp(dir: string): string | undefined {
  for (let current = dir; ; current = path.dirname(current)) {
    for (const ext of KNEXFILE_EXTENSIONS) {
      const candidate = path.join(current, `knexfile.${ext}`);
      if (fs.existsSync(candidate)) return candidate;
    }
    if (path.dirname(current) === current) return undefined;
  }
}

interface Environments {
  readonly names: readonly string[];
  /** The environment's config; a function or getter runs only here, for the chosen one (it may read DATABASE_URL). */
  config(env: string): Promise<Knex.Config>;
}

/**
 * The knexfile's environments. A knexfile exports one config (it has a `client`: every environment
 * uses it), an object of configs, or a function returning either.
 */
async function readEnvironments(knexfile: string): Promise<Environments> {
  let exported: unknown;
  try {
    exported = await importFile(knexfile);
  } catch (cause) {
    throw new ProjectError(`cannot load ${path.basename(knexfile)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  let value = defaultExport(exported);
  if (typeof value === 'function') value = await (value as () => unknown)();
  if (value === null || typeof value !== 'object') throw new ProjectError(`${path.basename(knexfile)} exports no knex config`);
  const all = value as Record<string, unknown>;
  const single = 'client' in all;
  return {
    names: single ? [DEFAULT_ENV] : Object.keys(all),
    async config(env) {
      let config = single ? all : all[env];
      if (typeof config === 'function') config = await (config as () => unknown)();
      if (config === null || typeof config !== 'object') throw new ProjectError(`environment "${env}" of the knexfile is not a knex config`);
      return config as Knex.Config;
    },
  };
}

/** ESM `export default`, or TypeScript's compiled `exports.default` (possibly wrapped once more by import()). */
export function defaultExport(exported: unknown): unknown {
  let value = exported;
  for (let i = 0; i < 2 && isObject(value) && 'default' in value && (value.__esModule === true || Object.keys(value).every((k) => k === 'default' || k === 'module.exports')); i++) {
    value = value.default;
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** knex allows a list of folders; this tool reads one. */
function configuredDirectory(directory: unknown, key: string): string | undefined {
  if (directory === undefined) return undefined;
  if (typeof directory === 'string') return directory;
  if (Array.isArray(directory) && directory.length === 1 && typeof directory[0] === 'string') return directory[0];
  throw new ProjectError(`the knexfile's ${key} must name one folder (or pass --migrations-dir)`);
}
