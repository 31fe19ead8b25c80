/**
 * Everything the CLI prints goes through here: one line per fact, redacted, so a connection
 * string's password never reaches the terminal or a CI log.
 */
import { inspect } from 'util';
import type { Knex } from 'knex';
import { MigrationError, redact } from '../errors';
import type { Logger, MigrationReport } from '../types';

/** What a command produced: a JSON document for --json, lines of text otherwise, and its exit code. */
export interface Output {
  readonly json: unknown;
  readonly text: readonly string[];
  /** 1 when the command found problems (validate, lint), without an error being thrown. */
  readonly exitCode?: number;
}

export function out(text: string): void {
  console.log(redact(text));
}

export function err(text: string): void {
  console.error(redact(text));
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The runner's own progress lines are silenced (the CLI prints its report); warnings go to stderr. */
export const cliLogger: Logger = { info: () => undefined, warn: (message) => err(`warning: ${message}`) };

export function reportOutput(report: MigrationReport): Output {
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

export function errorJson(e: unknown): { code?: string; name: string; message: string } {
  const message = oneLine(e instanceof Error ? e.message : String(e));
  return { ...(e instanceof MigrationError ? { code: e.code } : {}), name: e instanceof Error ? e.name : 'Error', message };
}

/** One line (`error [CODE]: message`), then with --verbose the stack and the cause's stack. */
export function reportError(e: unknown, verbose: boolean): void {
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
export function knexLog(verbose: boolean): Knex.Logger {
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
