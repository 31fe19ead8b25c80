/**
 * The package's command line: `knex-semver-migrate [command [ARG]] [options]`. It parses the arguments
 * (args.ts), finds the user's knexfile and migrations (project.ts), builds one Migrator and runs one
 * command (commands.ts); only output.ts prints. Exit codes: 0 done, 1 the command failed, 2 bad usage.
 */
import type { Knex } from 'knex';
import { createKnex } from '../bootstrap';
import { knexSettingsOf } from '../load/knex-config';
import { Migrator } from '../migrator';
import type { RunOptions } from '../run/execute';
import { parseInvocation, usage, UsageError, type Invocation } from './args';
import { COMMANDS } from './commands';
import { cliLogger, err, errorJson, knexLog, out, reportError, type Output } from './output';
import { openProject, ProjectError, type Project } from './project';

/** Defaults a wrapper may set (the sample app's scripts/migrate.ts): the program name in usage. */
export interface CliDefaults {
  readonly program?: string;
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
      // The knexfile's migrations settings: knex-style files in the folder load as knex loads them.
      const knex = knexSettingsOf(project.config);
      const migrator = db && new Migrator({ db, migrations: project.migrationsDir, snapshotsDirectory: project.snapshotsDir, ...knex, ...runOptions(inv) });
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
