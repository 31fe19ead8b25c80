/**
 * The migration CLI: `npx ts-node scripts/migrate.ts [command [ARG]] [--env NAME] [--to VERSION] [--dry-run] [--json] [--verbose] [--help]`,
 * commands latest, down, to, status, validate, snapshot, lint, repair, seed, make.
 * The library returns data; only this file prints. Every line goes through redact(), so a
 * connection string's password never reaches the terminal or a CI log.
 * Exit codes: 0 done, 1 the command failed, 2 bad usage.
 */
import path from 'path';
import { inspect, parseArgs } from 'util';
import type { Knex } from 'knex';
import knexConfig from '../knexfile';
import { createKnex } from '../lib/bootstrap';
import { MigrationError, redact } from '../lib/errors';
import { repairDatabase } from '../lib/repair';
import { checkAdditive } from '../lib/check';
import { migrateTo, rollback, runMigrations, type RunOptions } from '../lib/runner';
import { formatDiff, validateSchema, writeExpectedSnapshot } from '../lib/snapshot';
import { migrationStatus } from '../lib/status';
import type { Logger, MigrationReport } from '../lib/types';
import { validateDatabase } from '../lib/validate';

/** What a command produced: a JSON document for --json, lines of text otherwise, and its exit code. */
interface Output {
  readonly json: unknown;
  readonly text: readonly string[];
  /** 1 when the command found problems (validate, lint), without an error being thrown. */
  readonly exitCode?: number;
}

interface Command {
  readonly summary: string;
  /** Name of the one positional argument after the command, if it takes one. */
  readonly argument?: string;
  /** True for commands that never touch the database (make): no connection is opened. */
  readonly offline?: boolean;
  /** `db` is undefined for offline commands. */
  run(db: Knex, invocation: Invocation): Promise<Output>;
}

const COMMANDS: Record<string, Command> = {
  latest: {
    summary: 'apply every pending migration (the default); --dry-run prints the SQL and changes nothing',
    run: async (db, inv) => reportOutput(await runMigrations(db, undefined, runOptions(inv))),
  },
  down: {
    summary: 'roll back to --to VERSION: run down of each newer migration, newest first',
    run: async (db, inv) => reportOutput(await rollback(db, { ...runOptions(inv), to: inv.to as string })),
  },
  to: {
    summary: 'migrate up or down to VERSION',
    argument: 'VERSION',
    run: async (db, inv) => reportOutput(await migrateTo(db, inv.argument as string, runOptions(inv))),
  },
  status: {
    summary: "show the database's version, the code's version and each migration (read-only)",
    async run(db) {
      const status = await migrationStatus(db);
      const pending = status.migrations.filter((m) => m.state === 'pending').length;
      return {
        json: status,
        text: [
          `current version  ${status.current}`,
          `target version   ${status.target}`,
          ...status.migrations.map((m) => `  ${m.state.padEnd(7)}  ${m.version}  ${m.description}`),
          pending > 0 ? `${pending} pending: run \`latest\` to apply` : 'nothing pending',
        ],
      };
    },
  },
  validate: {
    summary: 'compare history and schema with the code and migrations/snapshots (read-only); exit 1 on problems',
    async run(db) {
      const history = await validateDatabase(db);
      const schema = await validateSchema(db);
      const ok = history.ok && schema.differences.length === 0;
      return {
        json: { ok, version: history.version, problems: history.problems, drift: schema.differences, snapshot: schema.path },
        text: [
          ...history.problems.map((p) => `${p.kind.padEnd(11)}  ${p.message}`),
          ...(schema.differences.length > 0
            ? [`schema differs from ${path.relative(process.cwd(), schema.path)}:`, ...formatDiff(schema.differences).split('\n').map((l) => `  ${l}`)]
            : []),
          ok ? `ok: database at ${history.version} matches the code and its snapshot` : 'validation failed',
        ],
        exitCode: ok ? 0 : 1,
      };
    },
  },
  snapshot: {
    summary: "write the database's schema to migrations/snapshots/<engine>.json (after migrating)",
    async run(db, inv) {
      const report = await runMigrations(db, undefined, runOptions(inv));
      const { path: file, snapshot } = await writeExpectedSnapshot(db);
      return {
        json: { version: report.to, path: file, tables: snapshot.tables.length },
        text: [...reportOutput(report).text, `wrote ${path.relative(process.cwd(), file)} (${snapshot.tables.length} tables)`],
      };
    },
  },
  lint: {
    summary: 'check pending minor/patch migrations are additive (run and rolled back); exit 1 on violations',
    async run(db, inv) {
      const report = await checkAdditive(db, undefined, runOptions(inv));
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
    async run(db, { to }) {
      const report = await repairDatabase(db, { to });
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
    summary: 'migrate to latest, then run the seed files of the environment',
    async run(db, inv) {
      const migrated = reportOutput(await runMigrations(db, undefined, runOptions(inv)));
      const [files] = await db.seed.run();
      const seeded = files.map((file) => path.relative(process.cwd(), file));
      return {
        json: { migration: migrated.json, seeded },
        text: [...migrated.text, ...seeded.map((f) => `seeded ${f}`), ...(seeded.length === 0 ? ['no seed files found'] : [])],
      };
    },
  },
  make: {
    summary: 'write migrations/v<version>_<slug>.ts described by TEXT and register it (default: next minor)',
    argument: 'TEXT',
    offline: true,
    // Only writes files. KSM_MIGRATIONS_DIR points it at another migrations/ (tests); loaded on demand
    // since the generator pulls in the TypeScript parser.
    async run(_db, inv) {
      const { makeMigration } = await import('../lib/generator');
      const dir = process.env.KSM_MIGRATIONS_DIR || path.join(__dirname, '..', 'migrations');
      const made = await makeMigration({ description: inv.argument as string, bump: inv.bump, version: inv.version, force: inv.force, migrationsDir: dir });
      const show = (file: string) => path.relative(process.cwd(), file);
      return { json: made, text: [`created ${show(made.file)} (${made.version})`, `registered in ${show(path.join(dir, 'index.ts'))}`] };
    },
  },
};

const DEFAULT_COMMAND = 'latest';
const DRY_RUN_COMMANDS = ['latest', 'down', 'to'];
const DEFAULT_ENV = 'development';

/** The runner's own progress lines are silenced (we print its report); warnings go to stderr. */
const logger: Logger = { info: () => undefined, warn: (message) => err(`warning: ${message}`) };

function runOptions(inv: Invocation): RunOptions {
  return { logger, dryRun: inv.dryRun, allowOutOfOrder: inv.allowOutOfOrder, ignoreChecksums: inv.ignoreChecksums };
}

function reportOutput(report: MigrationReport): Output {
  const lines: string[] = [];
  for (const a of report.applied) {
    lines.push(`${a.direction === 'down' ? 'rolled back' : 'applied'} ${a.version}  ${a.description}  (${a.durationMs} ms)`);
    for (const statement of a.sql ?? []) lines.push(`    ${oneLine(statement)};`);
  }
  if (report.dryRun) {
    lines.push(`dry run: would go from ${report.from} to ${report.planned}; nothing was changed`);
  } else {
    lines.push(report.applied.length > 0 ? `database is at ${report.to}` : `database is up to date at ${report.to}`);
  }
  return { json: report, text: lines };
}

function usage(): string {
  const commands = Object.entries(COMMANDS).map(([name, c]) => `  ${`${name} ${c.argument ?? ''}`.padEnd(12)} ${c.summary}`);
  return [
    'Usage: npx ts-node scripts/migrate.ts [command [ARG]] [--env NAME] [--to VERSION] [--dry-run] [--json] [--verbose] [--help]',
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    `  --env NAME    knexfile environment: ${Object.keys(knexConfig).join(', ')}`,
    `                (default: NODE_ENV when it names one, else ${DEFAULT_ENV}; production reads DATABASE_URL)`,
    '  --to VERSION  down: the version to roll back to; repair: the version db_version should hold',
    '  --dry-run     latest, down, to: run in a transaction that is rolled back, print the SQL',
    '  --json        print one JSON document on stdout (errors too: {"ok": false, "error": {...}})',
    '  --allow-out-of-order  apply registered versions below db_version that never ran (late hotfixes)',
    '  --ignore-checksums    run even if an applied migration changed since it ran',
    '  --major, --minor, --patch  make: the part of the newest version to bump (default --minor)',
    '  --version X.Y.Z  make: this version instead; --force: even when not above the newest',
    "  --verbose     print the stack trace of an error, and knex's own warnings",
    '  --help        show this help',
    '',
    'Exit codes: 0 done, 1 the command failed, 2 bad usage.',
  ].join('\n');
}

class UsageError extends Error {}

interface Invocation {
  readonly command: string;
  readonly env: string;
  readonly verbose: boolean;
  readonly help: boolean;
  readonly json: boolean;
  readonly dryRun: boolean;
  readonly allowOutOfOrder: boolean;
  readonly ignoreChecksums: boolean;
  readonly to?: string;
  /** The command's positional argument (e.g. the VERSION of `to`). */
  readonly argument?: string;
  /** make: --major/--minor/--patch, --version, --force. */
  readonly bump?: 'major' | 'minor' | 'patch';
  readonly version?: string;
  readonly force?: boolean;
}

function parseArgv(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        env: { type: 'string' },
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

function parseInvocation(argv: string[], nodeEnv: string | undefined): Invocation {
  const { values, positionals } = parseArgv(argv);
  const flags = {
    help: values.help === true,
    verbose: values.verbose === true,
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    allowOutOfOrder: values['allow-out-of-order'] === true,
    ignoreChecksums: values['ignore-checksums'] === true,
  };
  if (flags.help) return { command: DEFAULT_COMMAND, env: DEFAULT_ENV, ...flags };

  const command = positionals[0] ?? DEFAULT_COMMAND;
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
  const wanted = COMMANDS[command].argument;
  const argument = positionals[1];
  if (positionals.length > (wanted ? 2 : 1)) throw new UsageError(`too many arguments: ${positionals.join(' ')}`);
  if (wanted && argument === undefined) throw new UsageError(`${command} needs ${wanted}`);

  if (values.env === '') throw new UsageError('--env needs an environment name');
  const env = values.env ?? (nodeEnv !== undefined && Object.hasOwn(knexConfig, nodeEnv) ? nodeEnv : DEFAULT_ENV);
  if (!Object.hasOwn(knexConfig, env)) {
    throw new UsageError(`unknown environment "${env}" (knexfile has: ${Object.keys(knexConfig).join(', ')})`);
  }
  if (values.to !== undefined && command !== 'repair' && command !== 'down') throw new UsageError('--to goes with down or repair');
  if (command === 'down' && values.to === undefined) throw new UsageError('down needs --to VERSION');
  if (flags.dryRun && !DRY_RUN_COMMANDS.includes(command)) throw new UsageError(`--dry-run goes with ${DRY_RUN_COMMANDS.join(', ')}`);
  const makeOnly = (['major', 'minor', 'patch', 'version', 'force'] as const).filter((o) => values[o] !== undefined);
  if (command !== 'make' && makeOnly.length > 0) throw new UsageError(`--${makeOnly[0]} goes with make`);
  const bumps = (['major', 'minor', 'patch'] as const).filter((o) => values[o] === true);
  if (bumps.length + (values.version === undefined ? 0 : 1) > 1) throw new UsageError('make takes one of --major, --minor, --patch, --version');
  if (command === 'make' && argument?.trim() === '') throw new UsageError('make needs a non-empty TEXT (the description)');
  return { command, env, ...flags, to: values.to, argument, bump: bumps[0], version: values.version, force: values.force };
}

async function main(argv: string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv, process.env.NODE_ENV);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`error: ${e.message}`);
    err('');
    err(usage());
    return 2;
  }
  if (invocation.help) {
    out(usage());
    return 0;
  }

  try {
    // Reading the config can fail on its own (production: DATABASE_URL missing or unsupported).
    const command = COMMANDS[invocation.command];
    const db = command.offline ? undefined : createKnex({ ...knexConfig[invocation.env], log: knexLog(invocation.verbose) });
    let output: Output;
    try {
      output = await command.run(db as Knex, invocation);
    } finally {
      await db?.destroy();
    }
    if (invocation.json) out(JSON.stringify(output.json));
    else for (const line of output.text) out(line);
    return output.exitCode ?? 0;
  } catch (e) {
    if (invocation.json) out(JSON.stringify({ ok: false, error: errorJson(e) }));
    reportError(e, invocation.verbose);
    return 1;
  }
}

function errorJson(e: unknown): { code?: string; name: string; message: string } {
  const message = oneLine(e instanceof Error ? e.message : String(e));
  return { ...(e instanceof MigrationError ? { code: e.code } : {}), name: e instanceof Error ? e.name : 'Error', message };
}

/** One line (`error [CODE]: message`), then with --verbose the stack and the cause's stack. */
function reportError(e: unknown, verbose: boolean): void {
  const code = e instanceof MigrationError ? ` [${e.code}]` : '';
  const message = e instanceof Error ? e.message : String(e);
  err(`error${code}: ${oneLine(message)}`);
  if (!verbose) return;
  let cause: unknown = e;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    err((depth > 0 ? 'caused by: ' : '') + (cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
}

/**
 * knex's own log (which would go to stdout): redacted, on stderr, and only with --verbose. Without
 * it, a failure is the one error line, not also knex's "Acquire connection error" and its stack.
 */
function knexLog(verbose: boolean): Knex.Logger {
  const print = (message: unknown) => {
    if (verbose) err(`knex: ${typeof message === 'string' ? message : inspect(message)}`);
  };
  return {
    warn: print,
    error: print,
    debug: print,
    deprecate: (method, alternative) => print(`${method} is deprecated, please use ${alternative}`),
  };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function out(text: string): void {
  console.log(redact(text));
}

function err(text: string): void {
  console.error(redact(text));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    reportError(e, true);
    process.exitCode = 1;
  },
);
