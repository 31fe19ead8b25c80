/**
 * The files of the temporary projects the packaging suite installs the tarball into. Each project
 * has its OWN schema (accounts, invoices; audit_events in a second database): nothing of this
 * repository's sample app (users, posts, user_logins, feedback) may ever appear in them.
 */

export type Language = 'cjs' | 'esm' | 'ts';

export interface MigrationSpec {
  readonly version: string;
  readonly description: string;
  /** Body of `async up(trx)`, JavaScript that is also valid TypeScript. */
  readonly up: string;
  readonly down?: string;
}

const indent = (body: string, spaces: number): string =>
  body
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(spaces)}${l}`)
    .join('\n');

/** One migration file in the given language: module.exports, export default, or a typed TypeScript module. */
export function migrationSource(language: Language, spec: MigrationSpec): string {
  const object = [
    '{',
    `  version: ${JSON.stringify(spec.version)},`,
    `  description: ${JSON.stringify(spec.description)},`,
    '  async up(trx) {',
    indent(spec.up, 4),
    '  },',
    ...(spec.down === undefined ? [] : ['  async down(trx) {', indent(spec.down, 4), '  },']),
    '}',
  ].join('\n');
  if (language === 'ts') {
    return `import type { Migration } from 'knex-semver-migrate';\n\nconst migration: Migration = ${object};\n\nexport default migration;\n`;
  }
  const typed = "/** @type {import('knex-semver-migrate').Migration} */\n";
  return language === 'esm' ? `${typed}export default ${object};\n` : `${typed}module.exports = ${object};\n`;
}

export const EXTENSION: Record<Language, string> = { cjs: '.js', esm: '.js', ts: '.ts' };

export const ACCOUNTS: MigrationSpec = {
  version: '1.0.0',
  description: 'accounts',
  up: `
await trx.schema.createTable('accounts', (t) => {
  t.increments('id');
  t.string('name', 100).notNullable();
  t.string('email', 200);
});`,
  down: "await trx.schema.dropTable('accounts');",
};

export const INVOICES: MigrationSpec = {
  version: '1.1.0',
  description: 'invoices',
  up: `
await trx.schema.createTable('invoices', (t) => {
  t.increments('id');
  t.integer('account_id').unsigned().notNullable().references('id').inTable('accounts');
  t.integer('amount_cents').notNullable().defaultTo(0);
});`,
  down: "await trx.schema.dropTable('invoices');",
};

/** A data migration: a new column filled from the existing rows. */
export const DISPLAY_NAMES: MigrationSpec = {
  version: '1.2.0',
  description: 'display names',
  up: `
await trx.schema.alterTable('accounts', (t) => {
  t.string('display_name', 100);
});
await trx('accounts').update({ display_name: trx.raw('upper(name)') });`,
  down: "await trx.raw('ALTER TABLE accounts DROP COLUMN display_name');",
};

export const BASE_MIGRATIONS = [ACCOUNTS, INVOICES, DISPLAY_NAMES];
export const BASE_FILES = ['v1_0_0_accounts', 'v1_1_0_invoices', 'v1_2_0_display_names'];
export const OWN_TABLES = ['accounts', 'invoices'];
export const BOOKKEEPING = ['system_migrations', 'system_settings'];
export const SAMPLE_APP_TABLES = ['users', 'posts', 'user_logins', 'feedback'];
export const SEEDED = [
  { name: 'ada', email: 'ada@example.com' },
  { name: 'grace', email: 'grace@example.com' },
];

/** What `make` writes gets these bodies (replacing the template's `void trx;`): an additive change. */
export const NOTES_UP = "await trx.schema.alterTable('accounts', (t) => { t.string('notes', 500); });";
export const NOTES_DOWN = "await trx.raw('ALTER TABLE accounts DROP COLUMN notes');";
export const MADE = { version: '1.3.0', description: 'Add account notes', stem: 'v1_3_0_add_account_notes' };

/** Not additive (drops a column) in a minor version: lint must refuse it. */
export const DROPS_EMAIL: MigrationSpec = {
  version: '1.4.0',
  description: 'drops email',
  up: "await trx.raw('ALTER TABLE accounts DROP COLUMN email');",
};

/** Creates a table, then throws: the table must be rolled back with it. */
export const FAILING: MigrationSpec = {
  version: '1.4.0',
  description: 'breaks on purpose',
  up: `
await trx.schema.createTable('failing_tmp', (t) => {
  t.increments('id');
});
throw new Error('deliberate failure');`,
};

const seedRows = JSON.stringify(SEEDED);

export function seedSource(language: Language): string {
  if (language === 'ts') {
    return `import type { Knex } from 'knex';\n\nexport async function seed(knex: Knex): Promise<void> {\n  await knex('accounts').insert(${seedRows});\n}\n`;
  }
  if (language === 'esm') return `export async function seed(knex) {\n  await knex('accounts').insert(${seedRows});\n}\n`;
  return `exports.seed = async function seed(knex) {\n  await knex('accounts').insert(${seedRows});\n};\n`;
}

function baseMigrations(dir: string, language: Language, extensions: readonly string[] = []): Record<string, string> {
  const files: Record<string, string> = {};
  BASE_MIGRATIONS.forEach((spec, i) => {
    files[`${dir}/${BASE_FILES[i]}${extensions[i] ?? EXTENSION[language]}`] = migrationSource(language, spec);
  });
  return files;
}

/** Prints `{ status, version, sameStatus }` after migrating through initializeDatabase. */
const CJS_APP = `'use strict';
const path = require('path');
const { initializeDatabase, Migrator, migrationStatus, getDatabaseVersion, silentLogger } = require('knex-semver-migrate');
const knexfile = require('./knexfile');

async function main() {
  const env = process.argv[2] || 'development';
  const migrations = path.join(__dirname, 'migrations');
  const db = await initializeDatabase(knexfile[env], { migrations, logger: silentLogger });
  try {
    const status = await new Migrator({ db, migrations, logger: silentLogger }).status();
    const viaFunction = await migrationStatus(db, migrations);
    console.log(JSON.stringify({ status, viaFunction, version: await getDatabaseVersion(db) }));
  } finally {
    await db.destroy();
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;

/**
 * A start-up with nothing pending, then the package's modules in require.cache; then a snapshot,
 * which must load the snapshot modules (proving the list can show them).
 */
const CJS_BOOT = `'use strict';
const path = require('path');
const knex = require('knex');
const { runMigrations, schemaSnapshot, silentLogger } = require('knex-semver-migrate');

const ours = () => Object.keys(require.cache).filter((p) => p.includes(path.join('node_modules', 'knex-semver-migrate')));

async function main() {
  const db = knex({ client: 'sqlite3', connection: { filename: path.join(__dirname, 'data', 'app.sqlite') }, useNullAsDefault: true });
  try {
    const report = await runMigrations(db, path.join(__dirname, 'migrations'), { logger: silentLogger });
    const afterBoot = ours();
    await schemaSnapshot(db);
    console.log(JSON.stringify({ report, afterBoot, afterSnapshot: ours() }));
  } finally {
    await db.destroy();
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;

export function cjsProject(): Record<string, string> {
  return {
    'knexfile.js': `'use strict';
// Relative paths: the CLI runs from this file's folder, as knex's does.
const sqlite = (filename) => ({ client: 'sqlite3', connection: { filename }, useNullAsDefault: true });

module.exports = {
  development: { ...sqlite('./data/app.sqlite'), migrations: { directory: './migrations' }, seeds: { directory: './seeds' } },
  audit: sqlite('./data/audit.sqlite'),
  ...(process.env.PACKAGING_PG_URL
    ? { postgres: { client: 'pg', connection: process.env.PACKAGING_PG_URL, pool: { min: 0, max: 2 } } }
    : {}),
};
`,
    ...baseMigrations('migrations', 'cjs'),
    'seeds/01.js': seedSource('cjs'),
    'audit-migrations/v1_0_0_audit_events.cjs': migrationSource('cjs', {
      version: '1.0.0',
      description: 'audit events',
      up: "await trx.schema.createTable('audit_events', (t) => {\n  t.increments('id');\n  t.string('kind', 50).notNullable();\n});",
      down: "await trx.schema.dropTable('audit_events');",
    }),
    'app.js': CJS_APP,
    'boot.js': CJS_BOOT,
  };
}

export function esmProject(): Record<string, string> {
  return {
    'package.json': `${JSON.stringify({ name: 'ksm-esm-project', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    'knexfile.js': `export default {
  development: { client: 'sqlite3', connection: { filename: './data/app.sqlite' }, useNullAsDefault: true },
};
`,
    // .js (ESM by "type": "module") and .mjs side by side.
    ...baseMigrations('migrations', 'esm', ['.js', '.mjs', '.js']),
    'seeds/01.js': seedSource('esm'),
    'start.mjs': `import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import library, { initializeDatabase, createKnex, Migrator, MigrationError, MigrationFailedError, getDatabaseVersion, silentLogger } from 'knex-semver-migrate';
import knexfile from './knexfile.js';

const require = createRequire(import.meta.url);
const cjs = require('knex-semver-migrate');
const migrations = fileURLToPath(new URL('./migrations', import.meta.url));

const db = await initializeDatabase(knexfile.development, { migrations, logger: silentLogger });
try {
  const status = await new Migrator({ db, migrations, logger: silentLogger }).status();
  // A failing migration on a throwaway database: the error is the package's class, whichever entry loaded it.
  const scratch = createKnex({ client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  let failure;
  try {
    await new Migrator({ db: scratch, migrations: [{ version: '1.0.0', description: 'throws', async up() { throw new Error('nope'); } }], logger: silentLogger }).latest();
  } catch (e) {
    failure = e;
  } finally {
    await scratch.destroy();
  }
  console.log(JSON.stringify({
    status,
    version: await getDatabaseVersion(db),
    resolved: { import: import.meta.resolve('knex-semver-migrate'), require: require.resolve('knex-semver-migrate') },
    oneInstance: cjs.Migrator === Migrator && cjs.MigrationError === MigrationError && library.Migrator === Migrator,
    names: {
      import: Object.keys(await import('knex-semver-migrate')).filter((n) => n !== 'default').sort(),
      require: Object.keys(cjs).filter((n) => n !== '__esModule').sort(),
    },
    failure: { failed: failure instanceof MigrationFailedError, migrationError: failure instanceof MigrationError, cjsClass: failure instanceof cjs.MigrationFailedError, code: failure?.code, version: failure?.version },
  }));
} finally {
  await db.destroy();
}
`,
  };
}

const STRICT_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'node16',
    moduleResolution: 'node16',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noImplicitReturns: true,
    noImplicitOverride: true,
    forceConsistentCasingInFileNames: true,
    outDir: 'dist',
    rootDir: 'src',
    // Later compiles (after make) recheck only what changed; the first one checks everything.
    incremental: true,
    tsBuildInfoFile: '.tsbuild/app.tsbuildinfo',
  },
  include: ['src'],
};

export function tsCompiledProject(): Record<string, string> {
  return {
    'tsconfig.json': `${JSON.stringify(STRICT_TSCONFIG, null, 2)}\n`,
    'knexfile.js': `'use strict';
const path = require('path');

module.exports = {
  development: {
    client: 'sqlite3',
    connection: { filename: path.join(__dirname, 'data', 'app.sqlite') },
    useNullAsDefault: true,
    migrations: { directory: './dist/migrations' },
    seeds: { directory: './dist/seeds' },
  },
};
`,
    ...baseMigrations('src/migrations', 'ts'),
    'src/seeds/01.ts': seedSource('ts'),
    'src/app.ts': `import path from 'node:path';
import type { Knex } from 'knex';
import {
  Migrator,
  MigrationError,
  MigrationFailedError,
  createKnex,
  getDatabaseVersion,
  initializeDatabase,
  migrationStatus,
  runMigrations,
  silentLogger,
  type InitializeOptions,
  type Logger,
  type Migration,
  type MigrationReport,
  type MigrationStatus,
  type MigratorOptions,
} from 'knex-semver-migrate';

const migrations = path.join(__dirname, 'migrations');
const config: Knex.Config = { client: 'sqlite3', connection: { filename: path.join(__dirname, '..', 'data', 'app.sqlite') }, useNullAsDefault: true };
const messages: string[] = [];

// The package's types are enforced, not \`any\`: were they, this directive would be unused and tsc would fail (TS2578).
// @ts-expect-error a number is no version
export const broken: Migration = { version: 1, description: 'a number is no version', async up() {} };
const logger: Logger = { info: (m) => void messages.push(m), warn: (m) => void messages.push(m) };

async function main(): Promise<void> {
  const options: InitializeOptions = { migrations, logger };
  const db = await initializeDatabase(config, options);
  try {
    const migratorOptions: MigratorOptions = { db, migrations, logger: silentLogger };
    const status: MigrationStatus = await new Migrator(migratorOptions).status();
    const again: MigrationReport = await runMigrations(db, migrations, { logger: silentLogger });
    const first = status.migrations[0]; // noUncheckedIndexedAccess: possibly undefined
    const failure = await failOnPurpose();
    console.log(JSON.stringify({
      status,
      viaFunction: await migrationStatus(db, migrations),
      version: await getDatabaseVersion(db),
      again: { from: again.from, to: again.to, applied: again.applied.length },
      first: first?.version ?? null,
      logged: messages.length > 0,
      failure,
    }));
  } finally {
    await db.destroy();
  }
}

async function failOnPurpose(): Promise<{ failed: boolean; code: string | null; version: string | null; lastGood: string | null }> {
  const throws: Migration = {
    version: '1.0.0',
    description: 'throws',
    async up(trx: Knex.Transaction): Promise<void> {
      await trx.schema.createTable('never_kept', (t) => {
        t.increments('id');
      });
      throw new Error('nope');
    },
  };
  const scratch = createKnex({ client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  try {
    await new Migrator({ db: scratch, migrations: [throws], logger: silentLogger }).latest();
    return { failed: false, code: null, version: null, lastGood: null };
  } catch (e: unknown) {
    if (e instanceof MigrationFailedError) return { failed: e instanceof MigrationError, code: e.code, version: e.version, lastGood: e.lastGoodVersion };
    throw e;
  } finally {
    await scratch.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
`,
    // ESM TypeScript (.mts → .mjs): the package's \`import\` entry, typed by the same declarations.
    'src/esm-check.mts': `import { Migrator, createKnex, silentLogger, type Migration, type MigrationReport } from 'knex-semver-migrate';

const list: Migration[] = [
  {
    version: '1.0.0',
    description: 'esm probe',
    async up(trx) {
      await trx.schema.createTable('esm_probe', (t) => {
        t.increments('id');
      });
    },
  },
];
const db = createKnex({ client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
try {
  const report: MigrationReport = await new Migrator({ db, migrations: list, logger: silentLogger }).latest();
  console.log(JSON.stringify({ to: report.to, applied: report.applied.map((a) => a.version) }));
} finally {
  await db.destroy();
}
`,
  };
}

export function tsJitiProject(): Record<string, string> {
  const files = baseMigrations('migrations', 'ts');
  // The invoices migration imports a helper (jiti resolves the relative TypeScript import).
  files['migrations/v1_1_0_invoices.ts'] = `import type { Knex } from 'knex';
import type { Migration } from 'knex-semver-migrate';
import { accountReference } from './lib/columns';

const migration: Migration = {
  version: '1.1.0',
  description: 'invoices',
  async up(trx: Knex.Transaction): Promise<void> {
    await trx.schema.createTable('invoices', (t: Knex.CreateTableBuilder) => {
      t.increments('id');
      accountReference(t);
      t.integer('amount_cents').notNullable().defaultTo(0);
    });
  },
  async down(trx: Knex.Transaction): Promise<void> {
    await trx.schema.dropTable('invoices');
  },
};

export default migration;
`;
  return {
    // Editors' settings only: nothing here compiles TypeScript (no typescript, no ts-node installed).
    'tsconfig.json': `${JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', esModuleInterop: true } }, null, 2)}\n`,
    'knexfile.ts': `import type { Knex } from 'knex';
import { withSqliteDefaults } from 'knex-semver-migrate';

const config: { [env: string]: Knex.Config } = {
  development: withSqliteDefaults({ client: 'sqlite3', connection: { filename: './data/app.sqlite' }, useNullAsDefault: true, migrations: { directory: './migrations' } }),
};

export default config;
`,
    ...files,
    'migrations/lib/columns.ts': `import type { Knex } from 'knex';

export function accountReference(t: Knex.CreateTableBuilder): void {
  t.integer('account_id').unsigned().notNullable().references('id').inTable('accounts');
}
`,
    'seeds/01.ts': seedSource('ts'),
    'app.js': `'use strict';
const path = require('path');
const { initializeDatabase, Migrator, silentLogger } = require('knex-semver-migrate');

async function main() {
  const migrations = path.join(__dirname, 'migrations');
  const config = { client: 'sqlite3', connection: { filename: path.join(__dirname, 'data', 'app.sqlite') }, useNullAsDefault: true };
  const db = await initializeDatabase(config, { migrations, logger: silentLogger });
  try {
    console.log(JSON.stringify({ status: await new Migrator({ db, migrations, logger: silentLogger }).status() }));
  } finally {
    await db.destroy();
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`,
  };
}

/** Loaded with NODE_OPTIONS=--require: writes every CommonJS module the process loaded to $KSM_TRACE_OUT at exit. */
export const MODULE_TRACER = `'use strict';
process.on('exit', () => {
  require('fs').writeFileSync(process.env.KSM_TRACE_OUT, JSON.stringify(Object.keys(require.cache)));
});
`;
