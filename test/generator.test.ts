/**
 * The migration generator: unit tests of its parts, then makeMigration and `migrate.ts make` in a
 * temporary copy of the project (lib/, migrations/, scripts/, knexfile.ts, tsconfig.json and a
 * node_modules symlink). The repo's own migrations/ is only ever read.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import vm from 'vm';
import { expect } from 'chai';
import ts from 'typescript';
import { InvalidVersionError } from '../lib/errors';
import {
  exportNameFor,
  GeneratorError,
  makeMigration,
  migrationFileStem,
  nextVersion,
  registerMigration,
  renderMigration,
  slugify,
  type Bump,
} from '../lib/generator';
import { getDatabaseVersion } from '../lib/settings';
import type { Migration } from '../lib/types';
import { fileDb, tempDir } from './helpers/db';
import { REPO_ROOT } from './helpers/processes';

/** An index.ts of the shape the app uses, as a fixture: the real one may gain migrations meanwhile. */
const INDEX = `/** The app's registered migrations. */
import { newestVersion, validateMigrations } from '../lib/plan';
import type { Migration } from '../lib/types';
import { baseline } from './v0_1_0_baseline';
import { adminLoginsFeedback } from './v1_0_0_admin_logins_feedback';

export const migrations: readonly Migration[] = [baseline, adminLoginsFeedback];

export const CURRENT_DB_VERSION: string = newestVersion(validateMigrations(migrations));
`;
const AVATAR = { exportName: 'addAvatarToUsers', importPath: './v1_1_0_add_avatar_to_users' };

describe('generator: nextVersion', () => {
  it('bumps the newest version, minor by default', () => {
    expect(nextVersion('1.0.0')).to.equal('1.1.0');
    expect(nextVersion('1.0.0', 'minor')).to.equal('1.1.0');
    expect(nextVersion('1.0.0', 'major')).to.equal('2.0.0');
    expect(nextVersion('1.0.0', 'patch')).to.equal('1.0.1');
    expect(nextVersion('1.9.3')).to.equal('1.10.0');
    expect(nextVersion('0.0.0')).to.equal('0.1.0');
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
    for (const bad of ['v1.0.0', '1.0', '1.0.0+build', '']) expect(() => nextVersion(bad)).to.throw(InvalidVersionError);
    expect(() => nextVersion('1.0.0', 'prerelease' as Bump)).to.throw(GeneratorError, /unknown bump "prerelease"/);
  });
});

describe('generator: slugify, exportNameFor, migrationFileStem', () => {
  it('lowercases, joins words with underscores and folds accents', () => {
    expect(slugify('add avatar to users')).to.equal('add_avatar_to_users');
    expect(slugify('  Add  Avatar -> Users!! ')).to.equal('add_avatar_users');
    expect(slugify('users.is_admin, user_logins (v2)')).to.equal('users_is_admin_user_logins_v2');
    expect(slugify('Ajouter l’âge des utilisateurs')).to.equal('ajouter_l_age_des_utilisateurs');
  });

  it('keeps whole words up to 50 characters, and cuts a single longer word', () => {
    const slug = slugify('split the legacy address column into street, city, postal code and country');
    expect(slug).to.equal('split_the_legacy_address_column_into_street_city');
    expect(slug.length).to.be.at.most(50);
    expect(slugify('x'.repeat(80))).to.equal('x'.repeat(50));
  });

  it('refuses a description without letters or digits', () => {
    for (const bad of ['', '   ', '!!!', '日本語']) expect(() => slugify(bad)).to.throw(GeneratorError, /no letters or digits/);
  });

  it('camelCases the slug, prefixes what is not an identifier, numbers what is taken', () => {
    expect(exportNameFor('add_avatar_to_users')).to.equal('addAvatarToUsers');
    expect(exportNameFor('2fa_for_admins')).to.equal('migration2faForAdmins');
    expect(exportNameFor('delete')).to.equal('migrationDelete');
    expect(exportNameFor('baseline', new Set(['baseline']))).to.equal('baseline2');
    expect(exportNameFor('x', new Set(['x', 'x2']))).to.equal('x3');
  });

  it('names files v<major>_<minor>_<patch>_<slug>, a pre-release after a hyphen', () => {
    expect(migrationFileStem('1.1.0', 'add_avatar')).to.equal('v1_1_0_add_avatar');
    expect(migrationFileStem('1.2.0-rc.1', 'x')).to.equal('v1_2_0-rc_1_x');
    expect(() => migrationFileStem('1.2', 'x')).to.throw(InvalidVersionError);
  });
});

/** Compiles a rendered migration the way ts-node does and evaluates it: its only import must be type-only. */
function evaluate(source: string): Record<string, Migration> {
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const exports: Record<string, Migration> = {};
  const requireStub = (id: string) => {
    throw new Error(`the template must not import ${id} at run time`);
  };
  vm.runInNewContext(outputText, { exports, require: requireStub });
  return exports;
}

describe('generator: renderMigration', () => {
  const source = renderMigration({ version: '1.1.0', description: 'add avatar to users', exportName: 'addAvatarToUsers' });

  it('is a typed Migration with up, down, a TODO and an example through trx.schema', () => {
    expect(source).to.include("import type { Migration } from '../lib/types';");
    expect(source).to.include('export const addAvatarToUsers: Migration = {');
    expect(source).to.include("version: '1.1.0',");
    expect(source).to.include("description: 'add avatar to users',");
    expect(source).to.match(/async up\(trx\) \{\n\s+\/\/ TODO/);
    expect(source).to.match(/async down\(trx\) \{\n\s+\/\/ TODO/);
    expect(source).to.match(/\/\/ await trx\.schema\./);
  });

  it('runs: up and down resolve without touching trx', async () => {
    const { addAvatarToUsers } = evaluate(source);
    expect(addAvatarToUsers.version).to.equal('1.1.0');
    const trx = new Proxy({}, { get: () => expect.fail('the template must not use trx') }) as never;
    expect(await addAvatarToUsers.up(trx)).to.equal(undefined);
    expect(await addAvatarToUsers.down?.(trx)).to.equal(undefined);
  });

  it('keeps any description exact in the string and harmless in the comment', () => {
    const description = 'it\'s "quoted" \\ */ done\nsecond line \u2028';
    const { m } = evaluate(renderMigration({ version: '2.0.0-rc.1', description, exportName: 'm' }));
    expect(m.description).to.equal(description);
    expect(m.version).to.equal('2.0.0-rc.1');
  });

  it('refuses a version or an export name that would not compile', () => {
    expect(() => renderMigration({ version: '1.1', description: 'x', exportName: 'x' })).to.throw(InvalidVersionError);
    expect(() => renderMigration({ version: '1.1.0', description: 'x', exportName: '2x' })).to.throw(GeneratorError);
    expect(() => renderMigration({ version: '1.1.0', description: 'x', exportName: 'delete' })).to.throw(GeneratorError);
  });
});

describe('generator: registerMigration', () => {
  it('imports after the last migration import and appends to the one-line array; nothing else changes', () => {
    const expected = INDEX.replace(
      "import { adminLoginsFeedback } from './v1_0_0_admin_logins_feedback';\n",
      "$&import { addAvatarToUsers } from './v1_1_0_add_avatar_to_users';\n",
    ).replace('[baseline, adminLoginsFeedback]', '[baseline, adminLoginsFeedback, addAvatarToUsers]');
    expect(registerMigration(INDEX, AVATAR)).to.equal(expected);
  });

  it('keeps a multi-line array one name per line, with or without its trailing comma', () => {
    const multi = INDEX.replace('[baseline, adminLoginsFeedback]', '[\n  baseline,\n  adminLoginsFeedback,\n]');
    expect(registerMigration(multi, AVATAR)).to.include('[\n  baseline,\n  adminLoginsFeedback,\n  addAvatarToUsers,\n]');
    const bare = INDEX.replace('[baseline, adminLoginsFeedback]', '[\n    baseline,\n    adminLoginsFeedback // newest\n]');
    expect(registerMigration(bare, AVATAR)).to.include('[\n    baseline,\n    adminLoginsFeedback,\n    addAvatarToUsers // newest\n]');
  });

  it('fills an empty list, importing after the last import; keeps CRLF line ends', () => {
    const empty = "import type { Migration } from '../lib/types';\r\n\r\nexport const migrations: Migration[] = [];\r\n";
    expect(registerMigration(empty, AVATAR)).to.equal(
      "import type { Migration } from '../lib/types';\r\nimport { addAvatarToUsers } from './v1_1_0_add_avatar_to_users';\r\n\r\n" +
        'export const migrations: Migration[] = [addAvatarToUsers];\r\n',
    );
  });

  it('sees through `satisfies` and `as` on the array', () => {
    const wrapped = INDEX.replace('[baseline, adminLoginsFeedback];', '[baseline, adminLoginsFeedback] satisfies Migration[];');
    expect(registerMigration(wrapped, AVATAR)).to.include('[baseline, adminLoginsFeedback, addAvatarToUsers] satisfies Migration[];');
    const cast = INDEX.replace('[baseline, adminLoginsFeedback];', '([baseline, adminLoginsFeedback] as Migration[]);');
    expect(registerMigration(cast, AVATAR)).to.include('([baseline, adminLoginsFeedback, addAvatarToUsers] as Migration[]);');
  });

  const REFUSED: [string, string, RegExp][] = [
    ['no migrations array', INDEX.replace(/export const migrations[^\n]*\n/, 'export const migrations = loadAll();\n'), /expected shape \(no `export const migrations/],
    ['an array that is not plain names', INDEX.replace('[baseline, adminLoginsFeedback]', '[baseline, ...older]'), /something other than plain names/],
    ['a migrations array that is not exported', INDEX.replace('export const migrations', 'const migrations'), /expected shape/],
    ['no imports', 'export const migrations = [];\n', /expected shape \(no import statements\)/],
    ['a syntax error', INDEX.replace('[baseline, adminLoginsFeedback]', '[baseline, adminLoginsFeedback'), /does not parse/],
    ['the module already imported', INDEX.replace("'./v1_0_0_admin_logins_feedback'", `'${AVATAR.importPath}'`), /already imports/],
    ['the name already taken', INDEX.replace('import { baseline }', 'import { baseline as addAvatarToUsers }'), /already has a name addAvatarToUsers/],
  ];
  for (const [what, source, reason] of REFUSED) {
    it(`refuses an index with ${what}`, () => {
      expect(() => registerMigration(source, AVATAR)).to.throw(GeneratorError, reason);
    });
  }
});

// ---- In a temporary copy of the project ----

/** A throwaway project: copies of what `make`, tsc and the runner need, and the repo's node_modules. */
function tempProject(): { dir: string; migrationsDir: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir('ksm-gen-');
  for (const entry of ['lib', 'migrations', 'scripts', 'knexfile.ts', 'tsconfig.json']) {
    fs.cpSync(path.join(REPO_ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return { dir, migrationsDir: path.join(dir, 'migrations'), cleanup };
}

/** Every file of a migrations directory with its content, to prove that nothing was written. */
function filesOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isFile()) files[e.name] = fs.readFileSync(path.join(dir, e.name), 'utf8');
  return files;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a node script in `cwd` through ts-node (transpile only), without the caller's NODE_ENV. */
function runNode(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const inherited = { ...process.env };
  delete inherited.NODE_ENV;
  delete inherited.KSM_MIGRATIONS_DIR;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd, env: { ...inherited, ...env }, timeout: 90_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(new Error(`${args.join(' ')} did not exit normally: ${error.message}\n${stderr}`));
      else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

const cliIn = (dir: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Run> =>
  runNode(dir, ['-r', 'ts-node/register/transpile-only', 'scripts/migrate.ts', ...args], env);

/** The temp project's registered list, loaded afresh (as the app would load it). */
async function loadIndex(migrationsDir: string): Promise<{ migrations: readonly Migration[]; CURRENT_DB_VERSION: string }> {
  for (const key of Object.keys(require.cache)) if (key.startsWith(migrationsDir + path.sep)) delete require.cache[key];
  return (await import(path.join(migrationsDir, 'index'))) as { migrations: readonly Migration[]; CURRENT_DB_VERSION: string };
}

describe('generator: makeMigration (temporary project)', () => {
  let project: ReturnType<typeof tempProject>;
  beforeEach(() => {
    project = tempProject();
  });
  afterEach(() => project.cleanup());

  it('bumps from the newest registered version each time, and numbers a name the index already has', async () => {
    const { migrationsDir } = project;
    const first = await makeMigration({ description: 'add avatar to users', migrationsDir });
    expect(first).to.deep.equal({ version: '1.1.0', file: path.join(migrationsDir, 'v1_1_0_add_avatar_to_users.ts'), exportName: 'addAvatarToUsers' });
    expect((await makeMigration({ description: 'fix avatar length', bump: 'patch', migrationsDir })).version).to.equal('1.1.1');
    const major = await makeMigration({ description: 'Baseline', bump: 'major', migrationsDir });
    expect(major).to.deep.include({ version: '2.0.0', exportName: 'baseline2' });
    expect(path.basename(major.file)).to.equal('v2_0_0_baseline.ts');

    const index = await loadIndex(migrationsDir);
    expect(index.CURRENT_DB_VERSION).to.equal('2.0.0');
    expect(index.migrations.map((m) => m.version)).to.deep.equal(['0.1.0', '1.0.0', '1.1.0', '1.1.1', '2.0.0']);
  });

  it('writes an explicit pre-release, and the next bump graduates it', async () => {
    const { migrationsDir } = project;
    const rc = await makeMigration({ description: 'try avatars', version: '1.1.0-rc.1', migrationsDir });
    expect(path.basename(rc.file)).to.equal('v1_1_0-rc_1_try_avatars.ts');
    expect((await makeMigration({ description: 'avatars', migrationsDir })).version).to.equal('1.1.0');
  });

  it('refuses, writing nothing: an index of another shape, a bump with a version, a taken file name', async () => {
    const { migrationsDir } = project;
    const indexFile = path.join(migrationsDir, 'index.ts');
    fs.writeFileSync(indexFile, fs.readFileSync(indexFile, 'utf8').replace(/= \[([^\]]*)\]/, '= [...[$1]]'));
    fs.writeFileSync(path.join(migrationsDir, 'v2_0_0_taken.ts'), '// someone else is writing this\n');
    const before = filesOf(migrationsDir);

    const refusals: [Parameters<typeof makeMigration>[0], RegExp][] = [
      [{ description: 'x', migrationsDir }, /expected shape/],
      [{ description: 'x', bump: 'major', version: '3.0.0', migrationsDir }, /either a bump or an explicit version/],
    ];
    for (const [options, reason] of refusals) {
      const error = await makeMigration(options).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(GeneratorError).with.property('message').that.matches(reason);
    }
    fs.writeFileSync(indexFile, fs.readFileSync(indexFile, 'utf8').replace(/= \[\.\.\.\[([^\]]*)\]\]/, '= [$1]'));
    const taken = await makeMigration({ description: 'taken', bump: 'major', migrationsDir }).catch((e: unknown) => e);
    expect(taken).to.be.instanceOf(GeneratorError).with.property('message').that.matches(/v2_0_0_taken\.ts already exists; it was not overwritten/);
    expect(filesOf(migrationsDir)['v2_0_0_taken.ts']).to.equal(before['v2_0_0_taken.ts']);
    expect(filesOf(migrationsDir)['index.ts']).to.not.include('taken');
    expect(Object.keys(filesOf(migrationsDir))).to.deep.equal(Object.keys(before));
  });
});

describe('scripts/migrate.ts make (child processes, temporary project)', () => {
  let project: ReturnType<typeof tempProject>;
  beforeEach(() => {
    project = tempProject();
  });
  afterEach(() => project.cleanup());

  it('make "add avatar to users" writes and registers 1.1.0; the project typechecks, migrates to it and CURRENT_DB_VERSION follows', async () => {
    const { dir, migrationsDir } = project;
    const made = await cliIn(dir, ['make', 'add avatar to users']);
    expect(made).to.deep.equal({
      code: 0,
      stdout: 'created migrations/v1_1_0_add_avatar_to_users.ts (1.1.0)\nregistered in migrations/index.ts\n',
      stderr: '',
    });

    const file = path.join(migrationsDir, 'v1_1_0_add_avatar_to_users.ts');
    const expected = renderMigration({ version: '1.1.0', description: 'add avatar to users', exportName: 'addAvatarToUsers' });
    expect(fs.readFileSync(file, 'utf8')).to.equal(expected);
    const index = fs.readFileSync(path.join(migrationsDir, 'index.ts'), 'utf8');
    expect(index).to.include("import { addAvatarToUsers } from './v1_1_0_add_avatar_to_users';");
    expect(index).to.match(/export const migrations: readonly Migration\[\] = \[[^\]]*, addAvatarToUsers\];/);

    const tsc = await runNode(dir, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', dir]);
    expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);

    const dbFile = path.join(dir, 'app.sqlite3');
    const migrated = await cliIn(dir, ['--env', 'production'], { DATABASE_URL: `sqlite://${dbFile}` });
    expect(migrated.code, migrated.stderr).to.equal(0);
    expect(migrated.stdout).to.match(/^applied 1\.1\.0 {2}add avatar to users {2}\(/m);
    expect(migrated.stdout.trimEnd().split('\n').at(-1)).to.equal('database is at 1.1.0');
    const db = fileDb(dbFile);
    try {
      expect(await getDatabaseVersion(db)).to.equal('1.1.0');
    } finally {
      await db.destroy();
    }
    expect((await loadIndex(migrationsDir)).CURRENT_DB_VERSION).to.equal('1.1.0');
  });

  it('refuses an existing version and a lower one with exit 1, writing nothing; --force writes the lower one', async () => {
    const { dir, migrationsDir } = project;
    const before = filesOf(migrationsDir);
    const refusals: [string[], RegExp][] = [
      [['--version', '1.0.0'], /^error: version 1\.0\.0 already exists \(users\.is_admin, user_logins and feedback\); nothing was written$/],
      [['--version', '1.0.0', '--force'], /^error: version 1\.0\.0 already exists/],
      [['--version', '0.9.0'], /^error: version 0\.9\.0 is not greater than the newest registered version 1\.0\.0: .*--force/],
      [['--version', '1.2'], /^error \[INVALID_VERSION\]: "1\.2" is not a valid semver version/],
      [['--version', '0.0.0', '--force'], /^error: version 0\.0\.0 must be greater than 0\.0\.0/],
    ];
    for (const [options, reason] of refusals) {
      const run = await cliIn(dir, ['make', 'late hotfix', ...options]);
      expect(run.code, `${options.join(' ')}: ${run.stderr}`).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(run.stderr.trimEnd()).to.match(reason);
      expect(filesOf(migrationsDir)).to.deep.equal(before);
    }

    const forced = await cliIn(dir, ['make', 'late hotfix', '--version', '0.9.0', '--force']);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stdout).to.equal('created migrations/v0_9_0_late_hotfix.ts (0.9.0)\nregistered in migrations/index.ts\n');
    const index = await loadIndex(migrationsDir);
    expect(index.migrations.map((m) => m.version)).to.include('0.9.0');
    expect(index.CURRENT_DB_VERSION).to.equal('1.0.0');
  });

  it('usage errors exit 2 and write nothing', async () => {
    const { dir, migrationsDir } = project;
    const before = filesOf(migrationsDir);
    const usage: [string[], RegExp][] = [
      [['make'], /^error: make needs TEXT$/],
      [['make', '  '], /^error: make needs a non-empty TEXT/],
      [['make', 'x', '--major', '--patch'], /^error: make takes one of --major, --minor, --patch, --version$/],
      [['make', 'x', '--minor', '--version', '2.0.0'], /^error: make takes one of/],
      [['make', 'add', 'avatar'], /^error: too many arguments/],
      [['latest', '--major'], /^error: --major goes with make$/],
      [['status', '--version', '1.0.0'], /^error: --version goes with make$/],
    ];
    for (const [args, reason] of usage) {
      const run = await cliIn(dir, args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr.split('\n')[0]).to.match(reason);
      expect(run.stderr).to.include('Usage: ');
    }
    expect(filesOf(migrationsDir)).to.deep.equal(before);
  });

  it('KSM_MIGRATIONS_DIR points make at another migrations/; --json prints what was made', async () => {
    const { dir, migrationsDir } = project;
    const other = path.join(dir, 'other-migrations');
    fs.cpSync(migrationsDir, other, { recursive: true });
    const before = filesOf(migrationsDir);

    const run = await cliIn(dir, ['make', 'add avatar to users', '--patch', '--json'], { KSM_MIGRATIONS_DIR: other });
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({
      version: '1.0.1',
      file: path.join(other, 'v1_0_1_add_avatar_to_users.ts'),
      exportName: 'addAvatarToUsers',
    });
    expect((await loadIndex(other)).CURRENT_DB_VERSION).to.equal('1.0.1');
    expect(filesOf(migrationsDir)).to.deep.equal(before);
  });
});
