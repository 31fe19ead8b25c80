/**
 * The migration generator (lib/cli/make.ts): its parts, then makeMigration in temporary projects,
 * then `scripts/migrate.ts make` in child processes. Migrations are a folder (one file each, loaded
 * by loadMigrations), so `make` only writes a file and the next `latest` picks it up. Every project
 * here lives under one temporary folder outside the repo; the repo's own migrations/ is only read.
 */
import fs from 'fs';
import path from 'path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import ts from 'typescript';
import { InvalidVersionError } from '../lib/errors';
import {
  BUMPS,
  DEFAULT_BUMP,
  GeneratorError,
  languageOf,
  makeMigration,
  MAX_SLUG_LENGTH,
  migrationFileStem,
  nextVersion,
  renderMigration,
  slugify,
  type Bump,
  type MigrationLanguage,
} from '../lib/cli/make';
import { loadMigrations } from '../lib/load/load-migrations';
import { INITIAL_VERSION } from '../lib/store/settings';
import { tempDir } from './helpers/db';
import { REPO_ROOT, runTs, type ProcessResult } from './helpers/processes';

const LANGUAGES: readonly MigrationLanguage[] = ['ts', 'esm', 'cjs'];
const EXTENSION: Record<MigrationLanguage, string> = { ts: '.ts', esm: '.js', cjs: '.js' };

/** What marks a project as each language: a tsconfig.json, or the package.json's "type". */
const PROJECT_FILES: Record<MigrationLanguage, Record<string, string>> = {
  ts: { 'tsconfig.json': '{ "compilerOptions": { "strict": true } }\n' },
  esm: { 'package.json': '{ "name": "app", "type": "module" }\n' },
  cjs: { 'package.json': '{ "name": "app" }\n' },
};

/** A description that needs every kind of escaping, in the string literal and in the header comment. */
const AWKWARD = 'it\'s "quoted" \\ */ done /* `tick` ${x}\nsecond\tline\r\n\u2028\u2029 \u0000 end';

/** Every file under `dir` (relative path → content); {} when it does not exist. */
function treeOf(dir: string, prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  if (!fs.existsSync(dir)) return files;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(files, treeOf(full, `${prefix}${e.name}/`));
    else files[`${prefix}${e.name}`] = fs.readFileSync(full, 'utf8');
  }
  return files;
}

/** A trx that fails the test if the migration touches it at all. */
const untouchableTrx = new Proxy(
  {},
  {
    get: (_target, key) => expect.fail(`the template must not use trx (read ${String(key)})`),
  },
) as unknown as Knex.Transaction;

/** Rejections of `promise`, as a value (undefined if it resolved). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return undefined;
}

const REPO_MIGRATIONS = path.join(REPO_ROOT, 'migrations');
const repoMigrationsAtStart = treeOf(REPO_MIGRATIONS);

describe('generator (lib/cli/make.ts, migrate.ts make)', () => {
  let root: string;
  let cleanup: () => void;
  let count = 0;

  /** A fresh folder under the temporary root, holding `files`; `language` adds that project's marker file. */
  function project(language?: MigrationLanguage, files: Record<string, string> = {}): string {
    const dir = path.join(root, `${language ?? 'plain'}-${++count}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries({ ...(language ? PROJECT_FILES[language] : {}), ...files })) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    return dir;
  }

  before(() => {
    ({ dir: root, cleanup } = tempDir('ksm-gen-'));
    expect(path.relative(REPO_ROOT, root).startsWith('..'), `${root} must be outside the repo`).to.equal(true);
  });
  after(() => cleanup());

  describe('nextVersion', () => {
    it('bumps the newest version, minor by default', () => {
      expect(DEFAULT_BUMP).to.equal('minor');
      expect(BUMPS).to.deep.equal(['major', 'minor', 'patch']);
      expect(nextVersion('1.0.0')).to.equal('1.1.0');
      expect(nextVersion('1.0.0', 'minor')).to.equal('1.1.0');
      expect(nextVersion('1.0.0', 'major')).to.equal('2.0.0');
      expect(nextVersion('1.0.0', 'patch')).to.equal('1.0.1');
      expect(nextVersion('1.9.3')).to.equal('1.10.0');
    });

    it('from the empty database (0.0.0): 0.1.0 by default, 1.0.0 and 0.0.1 for major and patch', () => {
      expect(INITIAL_VERSION).to.equal('0.0.0');
      expect(nextVersion(INITIAL_VERSION)).to.equal('0.1.0');
      expect(nextVersion(INITIAL_VERSION, 'minor')).to.equal('0.1.0');
      expect(nextVersion(INITIAL_VERSION, 'major')).to.equal('1.0.0');
      expect(nextVersion(INITIAL_VERSION, 'patch')).to.equal('0.0.1');
    });

    // newest, then the result for major, minor, patch.
    const PRERELEASES: [string, string, string, string][] = [
      ['1.2.0-rc.1', '2.0.0', '1.2.0', '1.2.0'],
      ['1.2.3-rc.1', '2.0.0', '1.3.0', '1.2.3'],
      ['2.0.0-rc.1', '2.0.0', '2.0.0', '2.0.0'],
    ];
    for (const [newest, ...expected] of PRERELEASES) {
      it(`after the pre-release ${newest}, graduates to its release where the bump does not go past it`, () => {
        const got = (['major', 'minor', 'patch'] as Bump[]).map((bump) => nextVersion(newest, bump));
        expect(got).to.deep.equal(expected);
      });
    }

    it('refuses a newest version that is not canonical semver, and an unknown bump', () => {
      for (const bad of ['v1.0.0', '1.0', '1.0.0+build', '']) expect(() => nextVersion(bad), bad).to.throw(InvalidVersionError);
      expect(() => nextVersion('1.0.0', 'prerelease' as Bump)).to.throw(GeneratorError, /unknown bump "prerelease"/);
    });
  });

  describe('slugify, migrationFileStem', () => {
    it('lowercases, joins words with underscores and folds accents', () => {
      expect(slugify('add avatar to users')).to.equal('add_avatar_to_users');
      expect(slugify('  Add  Avatar -> Users!! ')).to.equal('add_avatar_users');
      expect(slugify('users.is_admin, user_logins (v2)')).to.equal('users_is_admin_user_logins_v2');
      expect(slugify('Ajouter l’âge des utilisateurs')).to.equal('ajouter_l_age_des_utilisateurs');
    });

    it(`keeps whole words up to ${MAX_SLUG_LENGTH} characters, and cuts a single longer word`, () => {
      expect(MAX_SLUG_LENGTH).to.equal(50);
      const slug = slugify('split the legacy address column into street, city, postal code and country');
      expect(slug).to.equal('split_the_legacy_address_column_into_street_city');
      expect(slug.length).to.be.at.most(MAX_SLUG_LENGTH);
      expect(slugify('x'.repeat(80))).to.equal('x'.repeat(MAX_SLUG_LENGTH));
    });

    it('refuses a description without letters or digits', () => {
      for (const bad of ['', '   ', '!!!', '日本語']) expect(() => slugify(bad), bad).to.throw(GeneratorError, /no letters or digits/);
    });

    it('names files v<major>_<minor>_<patch>_<slug>, a pre-release after a hyphen', () => {
      expect(migrationFileStem('1.1.0', 'add_avatar')).to.equal('v1_1_0_add_avatar');
      expect(migrationFileStem('1.2.0-rc.1', 'x')).to.equal('v1_2_0-rc_1_x');
      expect(migrationFileStem('0.10.2', 'x')).to.equal('v0_10_2_x');
      for (const bad of ['1.2', 'v1.2.0', '1.2.0+build']) expect(() => migrationFileStem(bad, 'x'), bad).to.throw(InvalidVersionError);
    });
  });

  describe('renderMigration', () => {
    it('TypeScript: a Migration typed from the package, exported by default, with up, down, a TODO and an example through trx.schema', () => {
      const source = renderMigration({ version: '1.1.0', description: 'add avatar to users', language: 'ts' });
      expect(source.startsWith('/**\n * 1.1.0 — add avatar to users\n */\n')).to.equal(true);
      expect(source).to.include("import type { Migration } from 'knex-semver-migrate';");
      expect(source).to.include('const migration: Migration = {');
      expect(source.trimEnd().endsWith('export default migration;')).to.equal(true);
      expect(source).to.include("version: '1.1.0',");
      expect(source).to.include("description: 'add avatar to users',");
      expect(source).to.match(/async up\(trx\) \{\n\s+\/\/ TODO/);
      expect(source).to.match(/async down\(trx\) \{\n\s+\/\/ TODO/);
      expect(source).to.match(/\/\/ await trx\.schema\./);
      expect(source).to.not.match(/\brequire\(|module\.exports|@type/);
    });

    it('ESM and CommonJS: the same object typed by JSDoc, with no import at run time', () => {
      const esm = renderMigration({ version: '1.1.0', description: 'add avatar to users', language: 'esm' });
      const cjs = renderMigration({ version: '1.1.0', description: 'add avatar to users', language: 'cjs' });
      const typed = "/** @type {import('knex-semver-migrate').Migration} */\n";
      expect(esm).to.include(`${typed}export default {\n  version: '1.1.0',`);
      expect(cjs).to.include(`${typed}module.exports = {\n  version: '1.1.0',`);
      for (const source of [esm, cjs]) {
        expect(source).to.match(/async up\(trx\) \{\n\s+\/\/ TODO/);
        expect(source).to.match(/async down\(trx\) \{\n\s+\/\/ TODO/);
        expect(source).to.not.match(/^import |\brequire\(|: Migration/m);
      }
      expect(esm).to.not.include('module.exports');
      expect(cjs).to.not.include('export default');
    });

    it('refuses a version that is not canonical semver', () => {
      for (const language of LANGUAGES) {
        for (const bad of ['1.1', 'v1.1.0', '1.1.0+build', '']) {
          expect(() => renderMigration({ version: bad, description: 'x', language }), `${language} ${bad}`).to.throw(InvalidVersionError);
        }
      }
    });

    it('typechecks as generated (strict, noUnusedParameters; JS with checkJs), and the check does catch mistakes', function () {
      this.timeout(120_000);
      const dir = project();
      const files: Record<string, { language: MigrationLanguage; broken: string }> = {};
      for (const language of LANGUAGES) {
        const source = renderMigration({ version: '1.1.0', description: AWKWARD, language });
        // Mistakes the check must catch: up no longer uses trx (TS: noUnusedParameters), and a call trx does not
        // have (all three: proves trx is typed as the package's Knex.Transaction, so the JSDoc type applies).
        const broken = language === 'ts' ? source.replace('void trx;', '') : source.replace('void trx;', 'trx.notAMethod();');
        expect(broken).to.not.equal(source);
        const sub = path.join(dir, language);
        fs.mkdirSync(sub);
        if (language === 'esm') fs.writeFileSync(path.join(sub, 'package.json'), PROJECT_FILES.esm['package.json']);
        const good = path.join(sub, `good${EXTENSION[language]}`);
        const bad = path.join(sub, `broken${EXTENSION[language]}`);
        fs.writeFileSync(good, source);
        fs.writeFileSync(bad, broken);
        files[good] = { language, broken: '' };
        files[bad] = { language, broken: language === 'ts' ? 'TS6133' : 'TS2339' };
      }
      const program = ts.createProgram(Object.keys(files), {
        strict: true,
        noUnusedLocals: true,
        noUnusedParameters: true,
        noImplicitReturns: true,
        allowJs: true,
        checkJs: true,
        noEmit: true,
        skipLibCheck: true,
        esModuleInterop: true,
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2022.d.ts'],
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        types: ['node'],
        typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
        paths: { 'knex-semver-migrate': [path.join(REPO_ROOT, 'lib', 'index.ts')] },
      });
      const show = (d: ts.Diagnostic) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      expect([...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map(show)).to.deep.equal([]);
      expect(program.getSourceFile(path.join(REPO_ROOT, 'lib', 'index.ts')), 'knex-semver-migrate resolved to lib/index.ts').to.not.equal(undefined);
      for (const [file, { language, broken }] of Object.entries(files)) {
        const sourceFile = program.getSourceFile(file);
        expect(sourceFile, file).to.not.equal(undefined);
        const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map(show);
        if (broken === '') expect(diagnostics, `${language}: ${path.basename(file)}`).to.deep.equal([]);
        else expect(diagnostics.map((d) => d.split(':')[0]), `${language}: ${path.basename(file)}`).to.deep.equal([broken]);
      }
    });

    for (const language of LANGUAGES) {
      it(`${language}: loads through loadMigrations with the exact version and description; up and down run without touching trx`, async () => {
        const dir = path.join(project(language), 'migrations');
        fs.mkdirSync(dir);
        const file = path.join(dir, `${migrationFileStem('2.0.0-rc.1', 'awkward')}${EXTENSION[language]}`);
        fs.writeFileSync(file, renderMigration({ version: '2.0.0-rc.1', description: AWKWARD, language }));
        const [migration, ...others] = await loadMigrations(dir);
        expect(others).to.have.length(0);
        expect(migration.version).to.equal('2.0.0-rc.1');
        expect(migration.description).to.equal(AWKWARD);
        expect(await migration.up(untouchableTrx)).to.equal(undefined);
        expect(migration.down, 'down').to.be.a('function');
        expect(await migration.down?.(untouchableTrx)).to.equal(undefined);
      });
    }
  });

  describe('languageOf', () => {
    it('a project root with tsconfig.json: ts, whatever its package.json says', () => {
      expect(languageOf(project('ts'))).to.equal('ts');
      expect(languageOf(project('ts', PROJECT_FILES.esm))).to.equal('ts');
    });

    it('a migrations folder below a TypeScript project root (src/migrations): ts, found walking up', () => {
      const dir = project('ts');
      fs.mkdirSync(path.join(dir, 'src', 'migrations'), { recursive: true });
      expect(languageOf(path.join(dir, 'src', 'migrations'))).to.equal('ts');
    });

    it('the nearest package.json with "type": "module": esm, also from a folder below it', () => {
      const dir = project('esm');
      expect(languageOf(dir)).to.equal('esm');
      fs.mkdirSync(path.join(dir, 'db'));
      expect(languageOf(path.join(dir, 'db'))).to.equal('esm');
    });

    it('a nearest package.json without "type": "module": cjs, even below an ESM one; an unreadable one too', () => {
      expect(languageOf(project('cjs'))).to.equal('cjs');
      expect(languageOf(project(undefined, { 'package.json': '{ "type": "commonjs" }' }))).to.equal('cjs');
      const esm = project('esm', { 'sub/package.json': '{ "name": "sub" }' });
      expect(languageOf(path.join(esm, 'sub'))).to.equal('cjs');
      expect(languageOf(project(undefined, { 'package.json': '{ not json' }))).to.equal('cjs');
    });

    it('neither a tsconfig.json nor any package.json up to the file-system root: cjs', () => {
      const dir = project();
      const manifests: string[] = [];
      for (let d = dir; ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, 'package.json'))) manifests.push(d);
        if (path.dirname(d) === d) break;
      }
      expect(manifests, 'precondition: no package.json above the temporary folder').to.deep.equal([]);
      expect(languageOf(dir)).to.equal('cjs');
    });
  });

  describe('makeMigration (temporary projects)', () => {
    it('the first migration, in a missing folder, is nextVersion(0.0.0) = 0.1.0; the folder is created', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      const made = await makeMigration({ description: 'add avatar to users', migrationsDir });
      const file = path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.js');
      expect(made).to.deep.equal({ version: nextVersion(INITIAL_VERSION), file, language: 'cjs' });
      expect(made.version).to.equal('0.1.0');
      expect(treeOf(migrationsDir)).to.deep.equal({
        'v0_1_0_add_avatar_to_users.js': renderMigration({ version: '0.1.0', description: 'add avatar to users', language: 'cjs' }),
      });
    });

    it('in an empty folder, --patch and --major bump 0.0.0 too', async () => {
      const patchDir = path.join(project('cjs'), 'migrations');
      fs.mkdirSync(patchDir);
      expect((await makeMigration({ description: 'first', bump: 'patch', migrationsDir: patchDir })).version).to.equal('0.0.1');
      const majorDir = path.join(project('cjs'), 'migrations');
      fs.mkdirSync(majorDir);
      expect((await makeMigration({ description: 'first', bump: 'major', migrationsDir: majorDir })).version).to.equal('1.0.0');
    });

    for (const language of LANGUAGES) {
      it(`${language} project: writes ${EXTENSION[language]} files, bumps from the newest each time, and the files load and run`, async () => {
        const migrationsDir = path.join(project(language), 'migrations');
        const first = await makeMigration({ description: 'add avatar to users', migrationsDir });
        expect(first).to.deep.equal({ version: '0.1.0', file: path.join(migrationsDir, `v0_1_0_add_avatar_to_users${EXTENSION[language]}`), language });
        // The second make must see the first file (loaded in this same process) to give 0.2.0.
        const second = await makeMigration({ description: '  Fix   avatar\nlength ', migrationsDir });
        expect(second).to.deep.equal({ version: '0.2.0', file: path.join(migrationsDir, `v0_2_0_fix_avatar_length${EXTENSION[language]}`), language });
        expect(fs.readFileSync(second.file, 'utf8')).to.equal(renderMigration({ version: '0.2.0', description: 'Fix avatar length', language }));
        expect((await makeMigration({ description: 'patch', bump: 'patch', migrationsDir })).version).to.equal('0.2.1');
        expect((await makeMigration({ description: 'major', bump: 'major', migrationsDir })).version).to.equal('1.0.0');

        const loaded = await loadMigrations(migrationsDir);
        expect(loaded.map((m) => [m.version, m.description])).to.deep.equal([
          ['0.1.0', 'add avatar to users'],
          ['0.2.0', 'Fix avatar length'],
          ['0.2.1', 'patch'],
          ['1.0.0', 'major'],
        ]);
        for (const m of loaded) {
          expect(await m.up(untouchableTrx), m.version).to.equal(undefined);
          expect(await m.down?.(untouchableTrx), m.version).to.equal(undefined);
        }
      });
    }

    it('an explicit language wins over the project: esm in a CommonJS project', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      const made = await makeMigration({ description: 'add avatar to users', language: 'esm', migrationsDir });
      expect(made).to.deep.equal({ version: '0.1.0', file: path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.js'), language: 'esm' });
      expect(fs.readFileSync(made.file, 'utf8')).to.include('export default {');
    });

    it('writes an explicit pre-release, and the next bump graduates it', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      await makeMigration({ description: 'baseline', migrationsDir });
      const rc = await makeMigration({ description: 'try avatars', version: '1.0.0-rc.1', migrationsDir });
      expect(rc).to.deep.equal({ version: '1.0.0-rc.1', file: path.join(migrationsDir, 'v1_0_0-rc_1_try_avatars.js'), language: 'cjs' });
      expect((await makeMigration({ description: 'try avatars again', version: '1.0.0-rc.2', migrationsDir })).version).to.equal('1.0.0-rc.2');
      expect((await makeMigration({ description: 'avatars', migrationsDir })).version).to.equal('1.0.0');
      expect((await makeMigration({ description: 'more', migrationsDir })).version).to.equal('1.1.0');
      expect((await loadMigrations(migrationsDir)).map((m) => m.version).sort()).to.deep.equal(['0.1.0', '1.0.0', '1.0.0-rc.1', '1.0.0-rc.2', '1.1.0']);
    });

    it('refuses, writing nothing: a bump with a version, a taken version, a version not above the newest, 0.0.0, a bad version or description', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      await makeMigration({ description: 'baseline', migrationsDir });
      await makeMigration({ description: 'users and feedback', bump: 'major', migrationsDir });
      const before = treeOf(migrationsDir);
      expect(Object.keys(before)).to.deep.equal(['v0_1_0_baseline.js', 'v1_0_0_users_and_feedback.js']);

      const refusals: [Partial<Parameters<typeof makeMigration>[0]>, new (...args: never[]) => Error, RegExp][] = [
        [{ bump: 'major', version: '3.0.0' }, GeneratorError, /^give either a bump or an explicit version, not both$/],
        [{ version: '1.0.0' }, GeneratorError, /^version 1\.0\.0 already exists \(users and feedback\); nothing was written$/],
        [{ version: '1.0.0', force: true }, GeneratorError, /^version 1\.0\.0 already exists/],
        [{ version: '0.9.0' }, GeneratorError, /^version 0\.9\.0 is not greater than the newest registered version 1\.0\.0: .*--force/],
        [{ version: '1.0.0-rc.1' }, GeneratorError, /^version 1\.0\.0-rc\.1 is not greater than the newest registered version 1\.0\.0/],
        [{ version: '0.0.0', force: true }, GeneratorError, /^version 0\.0\.0 must be greater than 0\.0\.0/],
        [{ version: '1.2' }, InvalidVersionError, /"1\.2" is not a valid semver version/],
        [{ description: '!!!' }, GeneratorError, /no letters or digits/],
        [{ bump: 'prerelease' as Bump }, GeneratorError, /unknown bump "prerelease"/],
      ];
      for (const [options, type, reason] of refusals) {
        const error = await rejectionOf(makeMigration({ description: 'late hotfix', migrationsDir, ...options }));
        expect(error, JSON.stringify(options)).to.be.instanceOf(type).with.property('message').that.matches(reason);
        expect(treeOf(migrationsDir), JSON.stringify(options)).to.deep.equal(before);
      }

      // --force: a late hotfix below the newest is written, and does not move the newest.
      const forced = await makeMigration({ description: 'late hotfix', version: '0.9.0', force: true, migrationsDir });
      expect(forced).to.deep.equal({ version: '0.9.0', file: path.join(migrationsDir, 'v0_9_0_late_hotfix.js'), language: 'cjs' });
      expect(Object.keys(treeOf(migrationsDir))).to.deep.equal([...Object.keys(before), 'v0_9_0_late_hotfix.js'].sort());
      expect((await makeMigration({ description: 'next', migrationsDir })).version).to.equal('1.1.0');
    });

    it('never overwrites an existing file of the same name', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      await makeMigration({ description: 'baseline', migrationsDir });
      // A file named for 0.2.0 that holds a 0.1.1 migration: the next make (0.2.0, "avatars") is this name.
      const taken = "module.exports = { version: '0.1.1', description: 'misnamed', async up() {} };\n";
      fs.writeFileSync(path.join(migrationsDir, 'v0_2_0_avatars.js'), taken);
      const before = treeOf(migrationsDir);
      const error = await rejectionOf(makeMigration({ description: 'avatars', migrationsDir }));
      expect(error).to.be.instanceOf(GeneratorError).with.property('message').that.matches(/v0_2_0_avatars\.js already exists; it was not overwritten$/);
      expect(treeOf(migrationsDir)).to.deep.equal(before);
      expect(treeOf(migrationsDir)['v0_2_0_avatars.js']).to.equal(taken);
    });

    it('refuses a folder whose migrations do not load or do not validate, writing nothing', async () => {
      const broken = path.join(project('cjs', { 'migrations/v0_1_0_x.js': 'module.exports = { version: "0.1.0" };\n' }), 'migrations');
      const duplicate = path.join(
        project('cjs', {
          'migrations/a.js': "module.exports = { version: '0.1.0', description: 'a', async up() {} };\n",
          'migrations/b.js': "module.exports = { version: '0.1.0', description: 'b', async up() {} };\n",
        }),
        'migrations',
      );
      for (const migrationsDir of [broken, duplicate]) {
        const before = treeOf(migrationsDir);
        const error = await rejectionOf(makeMigration({ description: 'next', migrationsDir }));
        expect(error, migrationsDir).to.be.instanceOf(GeneratorError).with.property('message').that.matches(/^cannot read the existing migrations in /);
        expect(treeOf(migrationsDir)).to.deep.equal(before);
      }
    });
  });

  describe('scripts/migrate.ts make (child processes)', function () {
    // Each child starts ts-node and loads the knexfile (seconds each on a busy machine); tests run up to nine.
    this.timeout(180_000);
    const PROGRAM = 'npx ts-node scripts/migrate.ts';

    /** The sample app's CLI from the repo root (its knexfile), without the caller's NODE_ENV or DATABASE_URL. */
    const migrate = (args: string[]): Promise<ProcessResult> => runTs('scripts/migrate.ts', args, { NODE_ENV: undefined, DATABASE_URL: undefined });

    /** `latest` on the knexfile's in-memory `test` database must apply exactly `versions`. */
    async function expectLatestApplies(migrationsDir: string, versions: string[]): Promise<void> {
      const run = await migrate(['latest', '--migrations-dir', migrationsDir, '--env', 'test']);
      expect(run.code, run.stderr).to.equal(0);
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines.slice(0, -1).map((l) => l.replace(/^applied (\S+) .*$/, '$1'))).to.deep.equal(versions);
      expect(lines.at(-1)).to.equal(`database is at ${versions.at(-1)}`);
    }

    it('a TypeScript project (tsconfig.json) gets a .ts file, and `latest` applies it with no other edit', async () => {
      const migrationsDir = path.join(project('ts'), 'migrations');
      const file = path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.ts');
      const made = await migrate(['make', 'add avatar to users', '--migrations-dir', migrationsDir]);
      expect(made).to.deep.include({ code: 0, stdout: `created ${file} (0.1.0)\n`, stderr: '' });
      expect(treeOf(migrationsDir)).to.deep.equal({
        'v0_1_0_add_avatar_to_users.ts': renderMigration({ version: '0.1.0', description: 'add avatar to users', language: 'ts' }),
      });
      const latest = await migrate(['latest', '--migrations-dir', migrationsDir, '--env', 'test']);
      expect(latest.code, latest.stderr).to.equal(0);
      expect(latest.stdout).to.match(/^applied 0\.1\.0 {2}add avatar to users {2}\(/m);
      expect(latest.stdout.trimEnd().split('\n').at(-1)).to.equal('database is at 0.1.0');
    });

    it('a project without tsconfig.json gets .js (--migrations-dir relative to the knexfile folder); --json prints {version, file, language}', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      const relative = path.relative(REPO_ROOT, migrationsDir);
      expect(path.isAbsolute(relative)).to.equal(false);
      const first = await migrate(['make', 'add avatar to users', '--migrations-dir', relative, '--json']);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stderr).to.equal('');
      expect(JSON.parse(first.stdout)).to.deep.equal({ version: '0.1.0', file: path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.js'), language: 'cjs' });
      const second = await migrate(['make', 'fix avatar length', '--patch', '--migrations-dir', relative, '--json']);
      expect(second.code, second.stderr).to.equal(0);
      expect(JSON.parse(second.stdout)).to.deep.equal({ version: '0.1.1', file: path.join(migrationsDir, 'v0_1_1_fix_avatar_length.js'), language: 'cjs' });
      expect(fs.readFileSync(path.join(migrationsDir, 'v0_1_1_fix_avatar_length.js'), 'utf8')).to.include('module.exports = {');
      await expectLatestApplies(migrationsDir, ['0.1.0', '0.1.1']);
    });

    it('an ESM project ("type": "module") gets an ESM .js file that `latest` applies', async () => {
      const migrationsDir = path.join(project('esm'), 'migrations');
      const made = await migrate(['make', 'add avatar to users', '--minor', '--migrations-dir', migrationsDir, '--json']);
      expect(made.code, made.stderr).to.equal(0);
      expect(JSON.parse(made.stdout)).to.deep.equal({ version: '0.1.0', file: path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.js'), language: 'esm' });
      expect(fs.readFileSync(path.join(migrationsDir, 'v0_1_0_add_avatar_to_users.js'), 'utf8')).to.include('export default {');
      await expectLatestApplies(migrationsDir, ['0.1.0']);
    });

    it('refusals exit 1 with one stderr line and write nothing (--json: {ok: false, error}); --force writes a lower version', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      await makeMigration({ description: 'baseline', migrationsDir });
      await makeMigration({ description: 'users and feedback', bump: 'major', migrationsDir });
      const before = treeOf(migrationsDir);
      const refusals: [string, string[], RegExp][] = [
        ['late hotfix', ['--version', '1.0.0'], /^error: version 1\.0\.0 already exists \(users and feedback\); nothing was written$/],
        ['late hotfix', ['--version', '1.0.0', '--force'], /^error: version 1\.0\.0 already exists/],
        ['late hotfix', ['--version', '0.9.0'], /^error: version 0\.9\.0 is not greater than the newest registered version 1\.0\.0: .*--force/],
        ['late hotfix', ['--version', '1.2'], /^error \[INVALID_VERSION\]: "1\.2" is not a valid semver version/],
        ['late hotfix', ['--version', '0.0.0', '--force'], /^error: version 0\.0\.0 must be greater than 0\.0\.0/],
        ['!!!', [], /^error: description "!!!" has no letters or digits/],
      ];
      for (const [text, options, reason] of refusals) {
        const run = await migrate(['make', text, ...options, '--migrations-dir', migrationsDir]);
        const what = `${text} ${options.join(' ')}`;
        expect(run.code, `${what}: ${run.stderr}`).to.equal(1);
        expect(run.stdout, what).to.equal('');
        expect(run.stderr.trimEnd().split('\n'), what).to.have.length(1);
        expect(run.stderr.trimEnd(), what).to.match(reason);
        expect(treeOf(migrationsDir), what).to.deep.equal(before);
      }

      const json = await migrate(['make', 'late hotfix', '--version', '0.9.0', '--json', '--migrations-dir', migrationsDir]);
      expect(json.code).to.equal(1);
      expect(JSON.parse(json.stdout)).to.deep.include({ ok: false });
      expect(JSON.parse(json.stdout).error).to.deep.include({ name: 'GeneratorError' });
      expect(JSON.parse(json.stdout).error.message).to.match(/^version 0\.9\.0 is not greater than the newest registered version 1\.0\.0/);
      expect(json.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(treeOf(migrationsDir)).to.deep.equal(before);

      const file = path.join(migrationsDir, 'v0_9_0_late_hotfix.js');
      const forced = await migrate(['make', 'late hotfix', '--version', '0.9.0', '--force', '--migrations-dir', migrationsDir]);
      expect(forced).to.deep.include({ code: 0, stdout: `created ${file} (0.9.0)\n`, stderr: '' });
      expect(Object.keys(treeOf(migrationsDir))).to.deep.equal([...Object.keys(before), 'v0_9_0_late_hotfix.js'].sort());
      expect((await loadMigrations(migrationsDir)).map((m) => m.version)).to.deep.equal(['0.1.0', '0.9.0', '1.0.0']);
    });

    it('usage errors exit 2 with the usage on stderr, and write nothing', async () => {
      const migrationsDir = path.join(project('cjs'), 'migrations');
      const usage: [string[], RegExp][] = [
        [['make'], /^error: make needs TEXT$/],
        [['make', '  '], /^error: make needs a non-empty TEXT/],
        [['make', 'x', '--major', '--patch'], /^error: make takes one of --major, --minor, --patch, --version$/],
        [['make', 'x', '--minor', '--version', '2.0.0'], /^error: make takes one of --major, --minor, --patch, --version$/],
        [['make', 'add', 'avatar'], /^error: too many arguments: make add avatar$/],
        [['make', 'x', '--dry-run'], /^error: --dry-run goes with latest, down, to, adopt-knex$/],
        [['latest', '--major'], /^error: --major goes with make$/],
        [['status', '--version', '1.0.0'], /^error: --version goes with make$/],
      ];
      for (const [args, reason] of usage) {
        // --env test: were the usage check to pass, nothing would touch the development database either.
        const run = await migrate([...args, '--migrations-dir', migrationsDir, '--env', 'test']);
        expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(2);
        expect(run.stdout, args.join(' ')).to.equal('');
        expect(run.stderr.split('\n')[0], args.join(' ')).to.match(reason);
        expect(run.stderr, args.join(' ')).to.include(`Usage: ${PROGRAM} [command [ARG]] [options]`);
      }
      expect(fs.existsSync(migrationsDir), 'the migrations folder was not even created').to.equal(false);
    });
  });

  describe("the repo's own migrations/", () => {
    it('was never written by these tests', () => {
      expect(Object.keys(repoMigrationsAtStart)).to.include('v0_1_0_baseline.ts');
      expect(treeOf(REPO_MIGRATIONS)).to.deep.equal(repoMigrationsAtStart);
    });
  });
});
