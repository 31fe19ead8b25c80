/**
 * `make`: writes a new migration file into the project's migrations folder, at the next version
 * (default: the next minor of the newest migration there). The folder is the registry, so the next
 * `latest` picks the file up with no other edit. TypeScript where the project has a tsconfig.json,
 * JavaScript otherwise (ESM or CommonJS as the project's package.json says).
 */
import fs from 'fs';
import path from 'path';
import semver from 'semver';
import { InvalidVersionError, showValue } from '../errors';
import { loadMigrations } from '../load/load-migrations';
import { newestVersion, validateMigrations } from '../plan/plan';
import { INITIAL_VERSION } from '../store/settings';
import type { Migration } from '../types';
import { compareVersions, isCanonicalSemver, isNewer } from '../version';

export type Bump = 'major' | 'minor' | 'patch';
export const BUMPS: readonly Bump[] = ['major', 'minor', 'patch'];
export const DEFAULT_BUMP: Bump = 'minor';
export const MAX_SLUG_LENGTH = 50;

/** The generator refused; nothing was written. */
export class GeneratorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GeneratorError';
  }
}

/**
 * The version after `newest` (semver.inc). A pre-release graduates to the release it leads to
 * when the bump does not go past that release: after 1.2.0-rc.1, --minor and --patch give 1.2.0 and
 * --major 2.0.0; after 1.2.3-rc.1, --patch gives 1.2.3 and --minor 1.3.0. Always greater than `newest`.
 */
export function nextVersion(newest: string, bump: Bump = DEFAULT_BUMP): string {
  if (!isCanonicalSemver(newest)) throw new InvalidVersionError(newest);
  if (!BUMPS.includes(bump)) throw new GeneratorError(`unknown bump ${showValue(bump)}: use ${BUMPS.join(', ')}`);
  return semver.inc(newest, bump) as string; // null only for an invalid version or bump, both refused above
}

/**
 * A file-name slug: lowercase a–z, 0–9 and underscores, accents folded (é → e), whole words up to
 * MAX_SLUG_LENGTH characters so names are not cut mid-word (a single longer word is cut).
 */
export function slugify(description: string): string {
  const words = description
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  let slug = words.length > 0 ? words[0].slice(0, MAX_SLUG_LENGTH) : '';
  for (const word of words.slice(1)) {
    if (slug.length + 1 + word.length > MAX_SLUG_LENGTH) break;
    slug += `_${word}`;
  }
  if (slug === '') throw new GeneratorError(`description ${showValue(description)} has no letters or digits to name the file after`);
  return slug;
}

/** `v1_2_0_<slug>`; a pre-release keeps its hyphen (`v1_2_0-rc_1_<slug>`) so it cannot be read as part of the slug. */
export function migrationFileStem(version: string, slug: string): string {
  const v = semver.parse(version);
  if (v === null || !isCanonicalSemver(version)) throw new InvalidVersionError(version);
  const pre = v.prerelease.length > 0 ? `-${v.prerelease.join('_')}` : '';
  return `v${v.major}_${v.minor}_${v.patch}${pre}_${slug}`;
}

/** A single-quoted TypeScript string literal of any text. */
function quote(text: string): string {
  const escaped = text.replace(/[\\'\u0000-\u001f\u2028\u2029]/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `'${escaped}'`;
}


/** The language of the generated file. */
export type MigrationLanguage = 'ts' | 'esm' | 'cjs';

/**
 * The language of the project that holds `migrationsDir`: from that folder upward, the first folder with
 * a tsconfig.json (TypeScript) or a package.json (its `type`: ESM or CommonJS) decides; CommonJS if none.
 */
export function languageOf(migrationsDir: string): MigrationLanguage {
  for (let dir = path.resolve(migrationsDir); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'tsconfig.json'))) return 'ts';
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module' ? 'esm' : 'cjs';
      } catch {
        return 'cjs';
      }
    }
    if (path.dirname(dir) === dir) return 'cjs';
  }
}

const EXTENSION: Record<MigrationLanguage, string> = { ts: '.ts', esm: '.js', cjs: '.js' };

/**
 * The template: `up` and `down` that do nothing until filled in, typed from the package (`void trx`
 * keeps noUnusedParameters quiet, so a TypeScript file typechecks as generated).
 */
export function renderMigration({ version, description, language }: { version: string; description: string; language: MigrationLanguage }): string {
  if (!isCanonicalSemver(version)) throw new InvalidVersionError(version);
  const title = description.replace(/\s+/g, ' ').replace(/\*\//g, '*\\/').trim();
  const object = `{
  version: ${quote(version)},
  description: ${quote(description)},

  async up(trx) {
    // TODO: make the change. Run every query through \`trx\`: the migration runs inside it. For example:
    // await trx.schema.alterTable('users', (t) => t.string('nickname', 64));
    void trx;
  },

  async down(trx) {
    // TODO: undo exactly what up does, keeping the data. For example:
    // await trx.schema.alterTable('users', (t) => t.dropColumn('nickname'));
    void trx;
  },
}`;
  const header = `/**\n * ${version} — ${title}\n */\n`;
  if (language === 'ts') {
    return `${header}import type { Migration } from 'knex-semver-migrate';\n\nconst migration: Migration = ${object};\n\nexport default migration;\n`;
  }
  const typed = "/** @type {import('knex-semver-migrate').Migration} */\n";
  return language === 'esm' ? `${header}${typed}export default ${object};\n` : `${header}${typed}module.exports = ${object};\n`;
}

export interface MakeOptions {
  readonly description: string;
  /** Which part of the newest version to bump; default minor. */
  readonly bump?: Bump;
  /** An explicit version instead of a bump: canonical semver, not used yet. */
  readonly version?: string;
  /** Accept an explicit version that is not greater than the newest (a late hotfix). */
  readonly force?: boolean;
  /** The project's migrations folder (created if missing). */
  readonly migrationsDir: string;
  /** Default: languageOf(migrationsDir). */
  readonly language?: MigrationLanguage;
}

export interface MadeMigration {
  readonly version: string;
  /** Absolute path of the new file. */
  readonly file: string;
  readonly language: MigrationLanguage;
}

/** Writes a new migration file and returns what it made. Everything is checked first; nothing is overwritten. */
export async function makeMigration(options: MakeOptions): Promise<MadeMigration> {
  const description = options.description.replace(/\s+/g, ' ').trim();
  const slug = slugify(description);
  const dir = path.resolve(options.migrationsDir);
  const existing = fs.existsSync(dir) ? await loadExisting(dir) : [];
  const version = chooseVersion(existing, options);
  const language = options.language ?? languageOf(dir);
  const file = path.join(dir, `${migrationFileStem(version, slug)}${EXTENSION[language]}`);
  fs.mkdirSync(dir, { recursive: true });
  writeNewFile(file, renderMigration({ version, description, language }));
  return { version, file, language };
}

/** The folder's migrations, loaded rather than guessed from file names: versions live in the objects. */
async function loadExisting(dir: string): Promise<Migration[]> {
  try {
    return validateMigrations(await loadMigrations(dir));
  } catch (e) {
    throw new GeneratorError(`cannot read the existing migrations in ${dir}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function chooseVersion(registered: readonly Migration[], { bump, version, force }: MakeOptions): string {
  const newest = newestVersion(registered);
  if (version === undefined) return nextVersion(newest, bump ?? DEFAULT_BUMP);
  if (bump !== undefined) throw new GeneratorError('give either a bump or an explicit version, not both');
  if (!isCanonicalSemver(version)) throw new InvalidVersionError(version);
  const twin = registered.find((m) => compareVersions(m.version, version) === 0);
  if (twin) throw new GeneratorError(`version ${version} already exists (${twin.description}); nothing was written`);
  if (!isNewer(version, INITIAL_VERSION)) throw new GeneratorError(`version ${version} must be greater than ${INITIAL_VERSION}, the version of an empty database`);
  if (!isNewer(version, newest) && force !== true) {
    throw new GeneratorError(
      `version ${version} is not greater than the newest registered version ${newest}: databases already at ${newest} ` +
        `would only run it with allowOutOfOrder; pass --force if that is what you want`,
    );
  }
  return version;
}

/** Writes a file that must not exist yet ('wx' fails instead of overwriting). */
function writeNewFile(file: string, text: string): void {
  try {
    fs.writeFileSync(file, text, { flag: 'wx' });
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw new GeneratorError(exists ? `${file} already exists; it was not overwritten` : `cannot write ${file}: ${String(e)}`, { cause: e });
  }
}
