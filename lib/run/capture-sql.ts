/** The statements a migration sends, as knex emits them: for dry runs, and to tell whether a failed one wrote anything. */
import type { Queryable } from '../types';

/** Statements a dry run does not list: savepoints, and reads (SELECTs, PRAGMAs that only ask). */
const NOT_A_CHANGE = /^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|SELECT|WITH|PRAGMA\s+[\w.]+\s*(\(.*\))?\s*;?\s*$)/i;

/** The statements that change something, as `fn` sends them through `q`'s knex instance. */
export async function captureQueries(q: Queryable, fn: () => Promise<void>): Promise<string[]> {
  const sql: string[] = [];
  const listener = (query: { sql: string }) => {
    if (!NOT_A_CHANGE.test(query.sql)) sql.push(query.sql);
  };
  const emitter = q.client as unknown as { on(e: string, l: typeof listener): void; off(e: string, l: typeof listener): void };
  emitter.on('query', listener);
  try {
    await fn();
  } finally {
    emitter.off('query', listener);
  }
  return sql;
}

/** What a migration's statements did, as far as the runner can tell without asking the database. */
export interface StatementLog {
  /** Statements that succeeded and may have written something (anything but a read). */
  readonly writes: string[];
  /** The statement the database rejected, if the migration failed on one. */
  failed?: string;
}

const READ_ONLY = /^\s*(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\b/i;

/**
 * Runs `fn`, logging the statements sent through `q`'s client: a failed non-atomic migration whose log
 * shows no write changed nothing (its failed statement aside), so it need not mark the database dirty.
 */
export async function logStatements<T>(q: Queryable, fn: () => Promise<T>, log: StatementLog): Promise<T> {
  const succeeded = (_response: unknown, query: { sql?: string }) => {
    if (query?.sql && !READ_ONLY.test(query.sql)) log.writes.push(query.sql);
  };
  const rejected = (_err: unknown, query: { sql?: string }) => {
    log.failed = query?.sql ?? '(unknown statement)';
  };
  const emitter = q.client as unknown as { on(e: string, l: (...args: never[]) => void): void; off(e: string, l: (...args: never[]) => void): void };
  emitter.on('query-response', succeeded);
  emitter.on('query-error', rejected);
  try {
    return await fn();
  } finally {
    emitter.off('query-response', succeeded);
    emitter.off('query-error', rejected);
  }
}
