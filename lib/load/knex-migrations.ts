/**
 * knex migration files (`exports.up = (knex) => …`, `exports.down`, `exports.config`) as migrations,
 * so a project can switch from knex's migrator without rewriting its history. Order, extensions and
 * the per-file transaction flag follow knex's own migrator (knex/lib/migrations): files sorted by
 * name in code-unit order, only the extensions knex loads, `config.transaction` over the
 * knexfile's `disableTransactions`.
 */
import { extname } from 'path';
import { InvalidMigrationError } from '../errors';
import { checksumOfSource } from '../store/checksum';
import type { Migration } from '../types';
import { isCanonicalSemver, isNewer } from '../version';
import { isKnexStyle, isSourceFile, loadFolder, unwrap, type LoadedFile } from './load-migrations';

/** knex's DEFAULT_LOAD_EXTENSIONS (knex/lib/migrations/common/MigrationsLoader.js). */
export const KNEX_LOAD_EXTENSIONS: readonly string[] = ['.co', '.coffee', '.eg', '.iced', '.js', '.cjs', '.litcoffee', '.ls', '.ts'];

export interface KnexMigrationsOptions {
  /** The extensions knex loads (the knexfile's `migrations.loadExtensions`). Default: knex's. */
  readonly loadExtensions?: readonly string[];
  /** The knexfile's `migrations.disableTransactions`: files without `config.transaction` run outside a transaction. */
  readonly disableTransactions?: boolean;
  /**
   * The version of each knex file. Default: `0.0.<n>`, n its 1-based place in knex's order, so the
   * project's first semver migration (`make`: 0.1.0) goes above them all. A map (file name →
   * version) must name every knex file; a function gets the name and the 1-based place.
   */
  readonly versions?: Readonly<Record<string, string>> | ((name: string, position: number) => string);
}

/** The default version of the knex file at 1-based `position` in knex's order. */
export function defaultKnexVersion(position: number): string {
  return `0.0.${position}`;
}

/**
 * The knex-style migrations of a knex migrations folder, in knex's order (files with knex's load
 * extensions, sorted by name). Each receives the runner's transaction as its `knex` argument;
 * `config.transaction = false` becomes `transaction: false`. Description: the file name, as
 * knex_migrations records it; checksum: the file's content. Semver migrations in the same folder
 * are skipped here (loadMigrations returns both). A file with a knex extension that exports neither
 * shape is refused, as knex's migrator refuses it.
 */
export async function loadKnexMigrations(directory: string, options: KnexMigrationsOptions = {}): Promise<Migration[]> {
  const extensions = options.loadExtensions ?? KNEX_LOAD_EXTENSIONS;
  const files = await loadFolder(directory, (name) => extensions.includes(extname(name)) && isSourceFile(name));
  const notMigrations = files.filter((f) => !isKnexStyle(f.exported) && unwrap(f.exported) === undefined);
  if (notMigrations.length > 0) {
    throw new InvalidMigrationError(`${notMigrations.map((f) => f.file).join(', ')}: not a migration (expected exports.up = (knex) => … and exports.down)`);
  }
  return knexMigrationsOf(files.filter((f) => isKnexStyle(f.exported)), options);
}

/** Migrations from loaded knex-style files, given in knex's order (by name). */
export function knexMigrationsOf(files: readonly LoadedFile[], options: KnexMigrationsOptions): Migration[] {
  const extensions = options.loadExtensions ?? KNEX_LOAD_EXTENSIONS;
  // knex never loads these, so knex_migrations cannot know them: running them would be a surprise.
  const unloaded = files.filter((f) => !extensions.includes(extname(f.name)));
  if (unloaded.length > 0) {
    throw new InvalidMigrationError(
      `${unloaded.map((f) => f.file).join(', ')}: knex-style migration(s) with an extension knex does not load ` +
        `(loadExtensions: ${extensions.join(' ')}): add version and description, or the extension to migrations.loadExtensions`,
    );
  }
  const versionOf = versionRule(files, options.versions);
  return files.map((f, i) => toKnexMigration(f, versionOf(f.name, i + 1), options.disableTransactions === true));
}

function versionRule(files: readonly LoadedFile[], versions: KnexMigrationsOptions['versions']): (name: string, position: number) => string {
  if (versions === undefined) return (_name, position) => defaultKnexVersion(position);
  if (typeof versions === 'function') return versions;
  const unmapped = files.filter((f) => !Object.hasOwn(versions, f.name));
  if (unmapped.length > 0) throw new InvalidMigrationError(`knex migration(s) without a version in the versions map: ${unmapped.map((f) => f.name).join(', ')}`);
  return (name) => versions[name];
}

function toKnexMigration(loaded: LoadedFile, version: string, disableTransactions: boolean): Migration {
  const m = unwrap(loaded.exported) as Record<string, unknown>;
  const up = m.up as (knex: unknown) => unknown;
  const down = m.down;
  if (down !== undefined && typeof down !== 'function') throw new InvalidMigrationError(`Migration file ${loaded.file}: down must be a function when present`);
  const config = m.config as { transaction?: unknown } | undefined;
  // knex: a boolean config.transaction wins; otherwise every file follows disableTransactions.
  const transaction = typeof config?.transaction === 'boolean' ? config.transaction : !disableTransactions;
  let checksum: string | undefined;
  return {
    version,
    description: loaded.name,
    knexName: loaded.name,
    // Called on the module, as knex calls them; a knex migration may return a promise or not.
    async up(trx) {
      await up.call(m, trx);
    },
    ...(typeof down === 'function' && {
      async down(trx) {
        await (down as (knex: unknown) => unknown).call(m, trx);
      },
    }),
    ...(!transaction && { transaction: false }),
    get checksum(): string {
      return (checksum ??= checksumOfSource(loaded.source));
    },
  };
}

/**
 * In a folder that mixes both, every semver migration goes above the knex ones: knex's history is
 * the past, and a semver version among it would interleave with files that ran long ago.
 */
export function assertAboveKnexMigrations(semver: readonly Migration[], fromKnex: readonly Migration[]): void {
  // Invalid versions are left to validateMigrations, which reports every problem at once.
  const versions = fromKnex.map((m) => m.version).filter(isCanonicalSemver);
  if (versions.length === 0) return;
  const newestKnex = versions.reduce((newest, v) => (isNewer(v, newest) ? v : newest));
  const below = semver.filter((m) => isCanonicalSemver(m.version) && !isNewer(m.version, newestKnex));
  if (below.length > 0) {
    throw new InvalidMigrationError(
      `semver migration(s) ${below.map((m) => `${String(m.version)} (${String(m.description)})`).join(', ')} must be above ` +
        `${newestKnex}, the newest knex migration of the folder`,
    );
  }
}
