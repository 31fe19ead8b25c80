/** Dry runs: the statements a migration sends, as knex emits them. */
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
