/**
 * The package's command line: `knex-semver-migrate [command [ARG]] [options]`. It finds the user's
 * knexfile and migrations (lib/cli/project.ts), builds one Migrator and calls one verb; only this
 * module and output.ts print. Exit codes: 0 done, 1 the command failed, 2 bad usage.
 */
import path from 'path';
import { parseArgs } from 'util';
import type { Knex } from 'knex';
import { createKnex } from '../bootstrap';
import { Migrator } from '../migrator';
import type { RunOptions } from '../run/execute';
import { cliLogger, err, errorJson, knexLog, oneLine, out, reportError, reportOutput, type Output } from './output';
import { DEFAULT_ENV, openProject, ProjectError, type Project } from './project';

/** Defaults a wrapper may set (the sample app's scripts/migrate.ts): the program name in usage. */
export interface CliDefaults {
  readonly program?: string;
}

interface Invocation {
  readonly command: string;
  readonly argument?: string;
  readonly verbose: boolean;
  readonly help: boolean;
  readonly json: boolean;
  readonly dryRun: boolean;
  readonly allowOutOfOrder: boolean;
  readonly ignoreChecksums: boolean;
  readonly to?: string;
  readonly cwd?: string;
  readonly knexfile?: string;
  readonly env?: string;
  readonly migrationsDir?: string;
  readonly snapshotsDir?: string;
  readonly bump?: 'major' | 'minor' | 'patch';
  readonly version?: string;
  readonly force?: boolean;
}

interface Context {
  readonly migrator: Migrator;
  readonly db: Knex;
  readonly project: Project;
  readonly inv: Invocation;
}

interface Command {
  readonly summary: string;
  /** Name of the one positional argument after the command, if it takes one. */
  readonly argument?: string;
  /** True for commands that never touch the database (make): no connection is opened. */
  readonly offline?: boolean;
  run(ctx: Context): Promise<Output>;
}

/** A path as the user would type it: relative inside the project, absolute outside. */
const show = (file: string) => {
  const relative = path.relative(process.cwd(), file);
  return relative === '' ? '.' : relative.startsWith('..') ? file : relative;
};

const COMMANDS: Record<string, Command> = {
  latest: {
    summary: 'apply every pending migration (the default); --dry-run prints the SQL and changes nothing',
    run: async ({ migrator, inv }) => reportOutput(await migrator.latest({ dryRun: inv.dryRun })),
  },
  down: {
    summary: 'roll back to --to VERSION: run down of each newer migration, newest first',
    run: async ({ migrator, inv }) => reportOutput(await migrator.rollback(inv.to as string, { dryRun: inv.dryRun })),
  },
  to: {
    summary: 'migrate up or down to VERSION',
    argument: 'VERSION',
    run: async ({ migrator, inv }) => reportOutput(await migrator.to(inv.argument as string, { dryRun: inv.dryRun })),
  },
  status: {
    summary: "show the database's version, the code's version and each migration (read-only)",
    async run({ migrator }) {
      const status = await migrator.status();
      const pending = status.migrations.filter((m) => m.state === 'pending').length;
      return {
        json: status,
        text: [
          `current version  ${status.current}`,
          `target version   ${status.target}`,
          ...status.migrations.map((m) => `  ${m.state.padEnd(7)}  ${m.version}  ${m.description}`),
          ...status.unknown.map((v) => `  unknown  ${v}  (applied, no longer in the code)`),
          ...(status.dirty ? [`dirty: ${status.dirty.version} (${status.dirty.description}) failed at ${status.dirty.failedAt}; run \`repair\` once fixed`] : []),
          pending > 0 ? `${pending} pending: run \`latest\` to apply` : 'nothing pending',
        ],
      };
    },
  },
  validate: {
    summary: 'compare history and schema with the code and the expected snapshot (read-only); exit 1 on problems',
    async run({ migrator, project }) {
      const report = await migrator.validate();
      const drift = report.schema?.differences ?? [];
      const { formatDiff } = await import('../snapshot/snapshot');
      return {
        json: { ok: report.ok, version: report.version, problems: report.problems, drift, snapshot: report.schema?.path ?? null },
        text: [
          ...report.problems.map((p) => `${p.kind.padEnd(11)}  ${p.message}`),
          ...(drift.length > 0 ? [`schema differs from ${show(report.schema?.path as string)}:`, ...formatDiff(drift).split('\n').map((l) => `  ${l}`)] : []),
          ...(report.schema ? [] : [`no expected snapshot in ${show(project.snapshotsDir)}: schema not compared (write one with \`snapshot\`)`]),
          report.ok ? `ok: database at ${report.version} matches the code${report.schema ? ' and its snapshot' : ''}` : 'validation failed',
        ],
        exitCode: report.ok ? 0 : 1,
      };
    },
  },
  snapshot: {
    summary: "migrate, then write the schema to <snapshots-dir>/<engine>.json (commit it)",
    async run({ migrator }) {
      const { report, path: file, snapshot } = await migrator.snapshot();
      return {
        json: { version: report.to, path: file, tables: snapshot.tables.length },
        text: [...reportOutput(report).text, `wrote ${show(file)} (${snapshot.tables.length} tables)`],
      };
    },
  },
  lint: {
    summary: 'check pending minor/patch migrations are additive (run and rolled back); exit 1 on violations',
    async run({ migrator }) {
      const report = await migrator.lint();
      return {
        json: report,
        text: [
          ...report.checked.map((c) => `checked  ${c.version}${c.major ? '  (major: may break compatibility)' : ''}`),
          ...report.violations.map((v) => `violation  ${v.version} (${v.description}): ${v.rule}: ${v.change}`),
          report.ok ? `ok: ${report.checked.length} pending migration(s) are additive where they must be` : 'lint failed',
        ],
        exitCode: report.ok ? 0 : 1,
      };
    },
  },
  repair: {
    summary: 'clear the dirty marker after fixing a failed migration by hand (--to VERSION: also set db_version)',
    async run({ migrator, inv }) {
      const report = await migrator.repair({ to: inv.to });
      return {
        json: report,
        text: [
          report.cleared
            ? `cleared the dirty marker of ${report.cleared.version} (${report.cleared.description}, failed at ${report.cleared.failedAt})`
            : 'the database was not marked dirty',
          report.to === report.from ? `db_version stays at ${report.to}` : `db_version set from ${report.from} to ${report.to}`,
        ],
      };
    },
  },
  seed: {
    summary: "migrate to latest, then run the environment's seed files (each exports seed(knex))",
    async run({ migrator, db, project }) {
      const migrated = reportOutput(await migrator.latest());
      const { runSeeds } = await import('./seed');
      const seeded = (await runSeeds(db, project.seedsDir)).map(show);
      return {
        json: { migration: migrated.json, seeded },
        text: [...migrated.text, ...seeded.map((f) => `seeded ${f}`), ...(seeded.length === 0 ? [`no seed files in ${show(project.seedsDir)}`] : [])],
      };
    },
  },
  make: {
    summary: 'write <migrations-dir>/v<version>_<slug>.ts|.js described by TEXT (default: next minor)',
    argument: 'TEXT',
    offline: true,
    async run({ project, inv }) {
      const { makeMigration } = await import('./make');
      const made = await makeMigration({
        description: inv.argument as string,
        bump: inv.bump,
        version: inv.version,
        force: inv.force,
        migrationsDir: project.migrationsDir,
      });
      return { json: made, text: [`created ${show(made.file)} (${made.version})`] };
    },
  },
};

const DEFAULT_COMMAND = 'latest';
const DRY_RUN_COMMANDS = ['latest', 'down', 'to'];

class UsageError extends Error {}

function usage(program: string): string {
  const commands = Object.entries(COMMANDS).map(([name, c]) => `  ${`${name} ${c.argument ?? ''}`.padEnd(12)} ${c.summary}`);
  return [
    `Usage: ${program} [command [ARG]] [options]`,
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    '  --knexfile PATH        the knexfile (default: knexfile.{js,cjs,mjs,ts,cts,mts} here or in a parent folder);',
    '                         its folder becomes the working directory, as with knex',
    '  --cwd DIR              change to DIR first',
    `  --env NAME             knexfile environment (default: NODE_ENV when the knexfile has it, else ${DEFAULT_ENV})`,
    "  --migrations-dir DIR   the migrations folder (default: the environment's migrations.directory, else ./migrations)",
    '  --snapshots-dir DIR    expected schema snapshots (default: <migrations-dir>/snapshots)',
    '  --to VERSION           down: the version to roll back to; repair: the version db_version should hold',
    '  --dry-run              latest, down, to: run in a transaction that is rolled back, print the SQL',
    '  --json                 print one JSON document on stdout (errors too: {"ok": false, "error": {...}})',
    '  --allow-out-of-order   apply registered versions below db_version that never ran (late hotfixes)',
    '  --ignore-checksums     run even if an applied migration changed since it ran',
    '  --major, --minor, --patch  make: the part of the newest version to bump (default --minor)',
    '  --version X.Y.Z        make: this version instead; --force: even when not above the newest',
    "  --verbose              print the stack trace of an error, and knex's own warnings",
    '  --help                 show this help',
    '',
    'Exit codes: 0 done, 1 the command failed, 2 bad usage.',
  ].join('\n');
}

function parseArgv(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        knexfile: { type: 'string' },
        cwd: { type: 'string' },
        env: { type: 'string' },
        'migrations-dir': { type: 'string' },
        'snapshots-dir': { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        'allow-out-of-order': { type: 'boolean', default: false },
        'ignore-checksums': { type: 'boolean', default: false },
        major: { type: 'boolean' },
        minor: { type: 'boolean' },
        patch: { type: 'boolean' },
        version: { type: 'string' },
        force: { type: 'boolean' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    // Node's message names the offending option; some span several lines.
    throw new UsageError(oneLine(e instanceof Error ? e.message : String(e)));
  }
}

function parseInvocation(argv: readonly string[]): Invocation {
  const { values, positionals } = parseArgv(argv);
  const flags = {
    help: values.help === true,
    verbose: values.verbose === true,
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    allowOutOfOrder: values['allow-out-of-order'] === true,
    ignoreChecksums: values['ignore-checksums'] === true,
  };
  if (flags.help) return { command: DEFAULT_COMMAND, ...flags };

  const command = positionals[0] ?? DEFAULT_COMMAND;
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
  const wanted = COMMANDS[command].argument;
  const argument = positionals[1];
  if (positionals.length > (wanted ? 2 : 1)) throw new UsageError(`too many arguments: ${positionals.join(' ')}`);
  if (wanted && argument === undefined) throw new UsageError(`${command} needs ${wanted}`);
  for (const option of ['knexfile', 'cwd', 'migrations-dir', 'snapshots-dir'] as const) {
    if (values[option] === '') throw new UsageError(`--${option} needs a path`);
  }
  if (values.to !== undefined && command !== 'repair' && command !== 'down') throw new UsageError('--to goes with down or repair');
  if (command === 'down' && values.to === undefined) throw new UsageError('down needs --to VERSION');
  if (flags.dryRun && !DRY_RUN_COMMANDS.includes(command)) throw new UsageError(`--dry-run goes with ${DRY_RUN_COMMANDS.join(', ')}`);
  const makeOnly = (['major', 'minor', 'patch', 'version', 'force'] as const).filter((o) => values[o] !== undefined);
  if (command !== 'make' && makeOnly.length > 0) throw new UsageError(`--${makeOnly[0]} goes with make`);
  const bumps = (['major', 'minor', 'patch'] as const).filter((o) => values[o] === true);
  if (bumps.length + (values.version === undefined ? 0 : 1) > 1) throw new UsageError('make takes one of --major, --minor, --patch, --version');
  if (command === 'make' && argument?.trim() === '') throw new UsageError('make needs a non-empty TEXT (the description)');
  if (values.force !== undefined && values.version === undefined) throw new UsageError('--force goes with make --version X.Y.Z');
  return {
    command,
    ...flags,
    argument,
    to: values.to,
    cwd: values.cwd,
    knexfile: values.knexfile,
    env: values.env,
    migrationsDir: values['migrations-dir'],
    snapshotsDir: values['snapshots-dir'],
    bump: bumps[0],
    version: values.version,
    force: values.force,
  };
}

/** Runs one command; resolves to the exit code (never rejects, never calls process.exit). */
export async function runCli(argv: readonly string[], defaults: CliDefaults = {}): Promise<number> {
  const program = defaults.program ?? 'knex-semver-migrate';
  let inv: Invocation;
  try {
    inv = parseInvocation(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageFailure(e.message, program, argv.includes('--json'));
  }
  if (inv.help) {
    out(usage(program));
    return 0;
  }
  const command = COMMANDS[inv.command];
  try {
    let project: Project;
    try {
      project = await openProject(inv, process.env.NODE_ENV, !command.offline);
    } catch (e) {
      if (e instanceof ProjectError) return usageFailure(e.message, program, inv.json);
      throw e;
    }
    // Reading the config can fail on its own (production: DATABASE_URL missing or unsupported).
    const db = command.offline ? undefined : createKnex({ ...(project.config as Knex.Config), log: knexLog(inv.verbose) });
    let output: Output;
    try {
      // Offline commands (make) get neither a connection nor a Migrator, and use neither.
      const migrator = db && new Migrator({ db, migrations: project.migrationsDir, snapshotsDirectory: project.snapshotsDir, ...runOptions(inv) });
      output = await command.run({ migrator: migrator as Migrator, db: db as Knex, project, inv });
    } finally {
      await db?.destroy();
    }
    if (inv.json) out(JSON.stringify(output.json));
    else for (const line of output.text) out(line);
    return output.exitCode ?? 0;
  } catch (e) {
    if (inv.json) out(JSON.stringify({ ok: false, error: errorJson(e) }));
    reportError(e, inv.verbose);
    return 1;
  }
}

function runOptions(inv: Invocation): RunOptions {
  return { logger: cliLogger, allowOutOfOrder: inv.allowOutOfOrder, ignoreChecksums: inv.ignoreChecksums };
}

/** Bad usage: exit 2, the reason and the usage on stderr (and with --json, the error document on stdout). */
function usageFailure(message: string, program: string, json: boolean): number {
  if (json) out(JSON.stringify({ ok: false, error: { code: 'USAGE', name: 'UsageError', message } }));
  err(`error: ${message}`);
  err('');
  err(usage(program));
  return 2;
}
