/**
 * The migration CLI: `npx ts-node scripts/migrate.ts [latest|status|seed|repair] [--env NAME] [--to VERSION] [--verbose] [--help]`.
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
import { runMigrations } from '../lib/runner';
import { migrationStatus } from '../lib/status';
import type { Logger, MigrationReport } from '../lib/types';

interface Command {
  readonly summary: string;
  run(db: Knex, invocation: Invocation): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  latest: {
    summary: 'apply every pending migration (the default)',
    run: async (db) => printReport(await migrate(db)),
  },
  status: {
    summary: "show the database's version, the code's version and each migration (read-only)",
    async run(db) {
      const status = await migrationStatus(db);
      out(`current version  ${status.current}`);
      out(`target version   ${status.target}`);
      for (const m of status.migrations) out(`  ${m.state.padEnd(7)}  ${m.version}  ${m.description}`);
      const pending = status.migrations.filter((m) => m.state === 'pending').length;
      out(pending > 0 ? `${pending} pending: run \`latest\` to apply` : 'nothing pending');
    },
  },
  repair: {
    summary: 'clear the dirty marker after fixing a failed migration by hand (--to VERSION: also set db_version)',
    async run(db, { to }) {
      const report = await repairDatabase(db, { to });
      out(
        report.cleared
          ? `cleared the dirty marker of ${report.cleared.version} (${report.cleared.description}, failed at ${report.cleared.failedAt})`
          : 'the database was not marked dirty',
      );
      out(report.to === report.from ? `db_version stays at ${report.to}` : `db_version set from ${report.from} to ${report.to}`);
    },
  },
  seed: {
    summary: 'migrate to latest, then run the seed files of the environment',
    async run(db) {
      printReport(await migrate(db));
      const [files] = await db.seed.run();
      for (const file of files) out(`seeded ${path.relative(process.cwd(), file)}`);
      if (files.length === 0) out('no seed files found');
    },
  },
};

const DEFAULT_COMMAND = 'latest';
const DEFAULT_ENV = 'development';

/** The runner's own progress lines are silenced (we print its report); warnings go to stderr. */
const logger: Logger = { info: () => undefined, warn: (message) => err(`warning: ${message}`) };

function migrate(db: Knex): Promise<MigrationReport> {
  return runMigrations(db, undefined, { logger });
}

function printReport(report: MigrationReport): void {
  for (const a of report.applied) out(`applied ${a.version}  ${a.description}  (${a.durationMs} ms)`);
  out(report.applied.length > 0 ? `database is at ${report.to}` : `database is up to date at ${report.to}`);
}

function usage(): string {
  const commands = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'Usage: npx ts-node scripts/migrate.ts [command] [--env NAME] [--to VERSION] [--verbose] [--help]',
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    `  --env NAME    knexfile environment: ${Object.keys(knexConfig).join(', ')}`,
    `                (default: NODE_ENV when it names one, else ${DEFAULT_ENV}; production reads DATABASE_URL)`,
    '  --to VERSION  with repair: the version db_version should hold',
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
  readonly to?: string;
}

function parseArgv(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        env: { type: 'string' },
        to: { type: 'string' },
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
  const help = values.help === true;
  const verbose = values.verbose === true;
  if (help) return { command: DEFAULT_COMMAND, env: DEFAULT_ENV, verbose, help };

  if (positionals.length > 1) throw new UsageError(`expected one command, got ${positionals.length}: ${positionals.join(' ')}`);
  const command = positionals[0] ?? DEFAULT_COMMAND;
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);

  if (values.env === '') throw new UsageError('--env needs an environment name');
  const env = values.env ?? (nodeEnv !== undefined && Object.hasOwn(knexConfig, nodeEnv) ? nodeEnv : DEFAULT_ENV);
  if (!Object.hasOwn(knexConfig, env)) {
    throw new UsageError(`unknown environment "${env}" (knexfile has: ${Object.keys(knexConfig).join(', ')})`);
  }
  if (values.to !== undefined && command !== 'repair') throw new UsageError('--to goes with the repair command');
  return { command, env, verbose, help, to: values.to };
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
    const db = createKnex({ ...knexConfig[invocation.env], log: knexLog(invocation.verbose) });
    try {
      await COMMANDS[invocation.command].run(db, invocation);
    } finally {
      await db.destroy();
    }
    return 0;
  } catch (e) {
    reportError(e, invocation.verbose);
    return 1;
  }
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
