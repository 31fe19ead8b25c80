/**
 * The migration generator behind `scripts/migrate.ts make`: picks the next version, writes
 * migrations/v<version>_<slug>.ts from a typed template and registers it in migrations/index.ts, so
 * CURRENT_DB_VERSION follows with no manual edit. Paths are injected so tests can work on a copy.
 *
 * index.ts is edited through the TypeScript parser (already present wherever ts-node runs), not with
 * regular expressions: an index of an unexpected shape is refused instead of being written broken.
 */
import fs from 'fs';
import path from 'path';
import semver from 'semver';
import ts from 'typescript';
import { InvalidVersionError, showValue } from './errors';
import { newestVersion, validateMigrations } from './plan';
import { INITIAL_VERSION } from './settings';
import type { Migration } from './types';
import { compareVersions, isCanonicalSemver, isNewer } from './version';

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

// Words that cannot name a `const`.
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'implements import in instanceof interface let new null package private protected public return static super switch ' +
    'this throw true try typeof var void while with yield await arguments eval').split(' '),
);

/**
 * camelCase of the slug (`add_avatar_to_users` → `addAvatarToUsers`), prefixed with `migration` when
 * that is not a valid identifier (leading digit, reserved word), and numbered when `taken` has it.
 */
export function exportNameFor(slug: string, taken: ReadonlySet<string> = new Set()): string {
  const camel = slug.replace(/_+([a-z0-9])/g, (_match, c: string) => c.toUpperCase());
  const base = /^[0-9]/.test(camel) || RESERVED.has(camel) ? `migration${camel[0].toUpperCase()}${camel.slice(1)}` : camel;
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}${n}`;
  return name;
}

/** A single-quoted TypeScript string literal of any text. */
function quote(text: string): string {
  const escaped = text.replace(/[\\'\u0000-\u001f\u2028\u2029]/g, (c) =>
    c === '\\' || c === "'" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `'${escaped}'`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * The typed template: `up` and `down` that resolve without doing anything until filled in. `void trx`
 * keeps noUnusedParameters quiet meanwhile, so the file typechecks as generated.
 */
export function renderMigration({ version, description, exportName }: { version: string; description: string; exportName: string }): string {
  if (!isCanonicalSemver(version)) throw new InvalidVersionError(version);
  if (!IDENTIFIER.test(exportName) || RESERVED.has(exportName)) throw new GeneratorError(`${showValue(exportName)} is not a valid export name`);
  const title = description.replace(/\s+/g, ' ').replace(/\*\//g, '*\\/').trim();
  return `/**
 * ${version} — ${title}
 */
import type { Migration } from '../lib/types';

export const ${exportName}: Migration = {
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
};
`;
}

function parseIndex(source: string): ts.SourceFile {
  const { diagnostics } = ts.transpileModule(source, { reportDiagnostics: true, fileName: 'index.ts' });
  if (diagnostics !== undefined && diagnostics.length > 0) {
    throw new GeneratorError(`migrations/index.ts does not parse (${ts.flattenDiagnosticMessageText(diagnostics[0].messageText, ' ')}): fix it first`);
  }
  return ts.createSourceFile('index.ts', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function shapeError(what: string): GeneratorError {
  return new GeneratorError(`migrations/index.ts does not have the expected shape (${what}); register the migration by hand`);
}

const moduleOf = (d: ts.ImportDeclaration): string => (d.moduleSpecifier as ts.StringLiteral).text;

/** The array literal of `export const migrations = [...]` (through `as`/`satisfies`), or undefined. */
function migrationsArray(sf: ts.SourceFile): ts.ArrayLiteralExpression | undefined {
  for (const statement of sf.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    if (!statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    for (const d of statement.declarationList.declarations) {
      if (!ts.isIdentifier(d.name) || d.name.text !== 'migrations') continue;
      let init = d.initializer;
      while (init !== undefined && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))) {
        init = init.expression;
      }
      return init !== undefined && ts.isArrayLiteralExpression(init) ? init : undefined;
    }
  }
  return undefined;
}

/**
 * Adds `import { exportName } from 'importPath';` after the last migration import (`./v…`) and
 * appends exportName to the `migrations` array literal, keeping its layout (one line, or one
 * element per line with or without a trailing comma). Refuses an index it does not recognise.
 */
export function registerMigration(indexSource: string, { exportName, importPath }: { exportName: string; importPath: string }): string {
  if (!IDENTIFIER.test(exportName)) throw new GeneratorError(`${showValue(exportName)} is not a valid export name`);
  const sf = parseIndex(indexSource);
  const imports = sf.statements.filter(ts.isImportDeclaration);
  if (imports.some((d) => moduleOf(d) === importPath)) throw new GeneratorError(`migrations/index.ts already imports ${importPath}`);
  if (declaredNames(indexSource).has(exportName)) throw new GeneratorError(`migrations/index.ts already has a name ${exportName}`);
  const anchor = imports.filter((d) => /^\.\/v\d/.test(moduleOf(d))).at(-1) ?? imports.at(-1);
  if (anchor === undefined) throw shapeError('no import statements');
  const array = migrationsArray(sf);
  if (array === undefined) throw shapeError('no `export const migrations = [ … ]` array literal');
  if (!array.elements.every(ts.isIdentifier)) throw shapeError('the migrations array holds something other than plain names');

  const eol = indexSource.includes('\r\n') ? '\r\n' : '\n';
  const q = indexSource[anchor.moduleSpecifier.getStart(sf)];
  const edits = [
    { at: anchor.end, text: `${eol}import { ${exportName} } from ${q}${importPath}${q};` },
    arrayEdit(indexSource, sf, array, exportName, eol),
  ].sort((a, b) => b.at - a.at);
  return edits.reduce((text, e) => text.slice(0, e.at) + e.text + text.slice(e.at), indexSource);
}

/** Where and what to insert to append `name`: right after the last element, so a trailing comma stays last. */
function arrayEdit(source: string, sf: ts.SourceFile, array: ts.ArrayLiteralExpression, name: string, eol: string) {
  const last = array.elements.at(-1);
  if (last === undefined) return { at: array.elements.pos, text: name };
  const multiLine = source.slice(array.getStart(sf), array.end).includes('\n');
  if (!multiLine) return { at: last.end, text: `, ${name}` };
  const start = last.getStart(sf);
  const indent = /^[ \t]*/.exec(source.slice(source.lastIndexOf('\n', start) + 1, start))?.[0] ?? '';
  return { at: last.end, text: `,${eol}${indent}${name}` };
}

/** Every top-level name of the index (imports and declarations): a new export name must avoid them all. */
export function declaredNames(indexSource: string): Set<string> {
  const sf = ts.createSourceFile('index.ts', indexSource, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names = new Set<string>();
  for (const s of sf.statements) {
    if (ts.isImportDeclaration(s) && s.importClause) {
      const { name, namedBindings } = s.importClause;
      if (name) names.add(name.text);
      if (namedBindings && ts.isNamespaceImport(namedBindings)) names.add(namedBindings.name.text);
      if (namedBindings && ts.isNamedImports(namedBindings)) for (const e of namedBindings.elements) names.add(e.name.text);
    } else if (ts.isVariableStatement(s)) {
      for (const d of s.declarationList.declarations) if (ts.isIdentifier(d.name)) names.add(d.name.text);
    } else if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) && s.name) {
      names.add(s.name.text);
    }
  }
  return names;
}

export interface MakeOptions {
  readonly description: string;
  /** Which part of the newest registered version to bump; default minor. */
  readonly bump?: Bump;
  /** An explicit version instead of a bump: canonical semver, not registered yet. */
  readonly version?: string;
  /** Accept an explicit version that is not greater than the newest (a late hotfix). */
  readonly force?: boolean;
  /** The directory holding index.ts and the migration files. */
  readonly migrationsDir: string;
}

export interface MadeMigration {
  readonly version: string;
  /** Absolute path of the new file. */
  readonly file: string;
  readonly exportName: string;
}

/**
 * Writes and registers a new migration; returns what it made. Everything is checked before the
 * first write; the file is never overwritten, and it is removed again if index.ts cannot be written.
 */
export async function makeMigration(options: MakeOptions): Promise<MadeMigration> {
  const description = options.description.replace(/\s+/g, ' ').trim();
  const slug = slugify(description);
  const indexFile = path.join(options.migrationsDir, 'index.ts');
  const indexSource = readIndex(indexFile);
  const version = chooseVersion(await loadRegistered(options.migrationsDir), options);
  const stem = migrationFileStem(version, slug);
  const file = path.join(options.migrationsDir, `${stem}.ts`);
  const exportName = exportNameFor(slug, declaredNames(indexSource));
  const updatedIndex = registerMigration(indexSource, { exportName, importPath: `./${stem}` });

  writeNewFile(file, renderMigration({ version, description, exportName }));
  try {
    replaceFile(indexFile, updatedIndex);
  } catch (e) {
    fs.rmSync(file, { force: true });
    throw e;
  }
  return { version, file, exportName };
}

function readIndex(indexFile: string): string {
  try {
    return fs.readFileSync(indexFile, 'utf8');
  } catch (e) {
    throw new GeneratorError(`cannot read ${indexFile}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * The registered list, loaded through index.ts itself rather than guessed from file names: it is
 * what CURRENT_DB_VERSION and the runner use, versions live in the objects (file names can be wrong,
 * unregistered, or unable to spell a pre-release), and loading it validates the list.
 */
async function loadRegistered(migrationsDir: string): Promise<Migration[]> {
  const dir = path.resolve(migrationsDir);
  // A fresh load, so a second make in the same process sees what the first one registered.
  for (const key of Object.keys(require.cache)) if (key.startsWith(dir + path.sep)) delete require.cache[key];
  try {
    const loaded = (await import(path.join(dir, 'index'))) as { migrations?: unknown };
    if (!Array.isArray(loaded.migrations)) throw new Error('it does not export a `migrations` array');
    return validateMigrations(loaded.migrations as Migration[]);
  } catch (e) {
    throw new GeneratorError(`cannot load the registered migrations from ${path.join(dir, 'index.ts')}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
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

/** Replaces a file through a rename, so a crash never leaves index.ts half-written. */
function replaceFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
