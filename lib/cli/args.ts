/** The command line parsed and checked: which command, its argument and its options, or a UsageError. */
import { parseArgs } from 'util';
import { COMMANDS } from './commands';
import { oneLine } from './output';
import { DEFAULT_ENV } from './project';

export interface Invocation {
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

const DEFAULT_COMMAND = 'latest';
const DRY_RUN_COMMANDS = ['latest', 'down', 'to', 'adopt-knex'];

/** Bad usage: exit code 2, with the usage. */
export class UsageError extends Error {}

export function usage(program: string): string {
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
    '  --dry-run              latest, down, to: run in a transaction that is rolled back, print the SQL;',
    '                         adopt-knex: print what would be adopted, change nothing',
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

export function parseInvocation(argv: readonly string[]): Invocation {
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
