/**
 * Statements a contender sent, by kind (the first keyword: begin, create, insert, …), and the time
 * spent waiting for the server to answer them. Statements are sequential in every contender, so the
 * sum of their waits is wall time spent in the database (round trip, execution, commit's flush); the
 * rest of a run is client-side work: query building, the migrator's own logic, connecting.
 */
import type { Knex } from 'knex';

export function kindOf(sql: string): string {
  const word = /^[\s(]*([a-z_]+)/i.exec(sql)?.[1]?.toLowerCase() ?? '?';
  if (word === 'start') return 'begin'; // START TRANSACTION
  if (word === 'select' && /\bfor\s+(update|share)\b/i.test(sql)) return 'select…for update';
  return word;
}

export class StatementTally {
  count = 0;
  /** ms spent awaiting the driver. */
  ms = 0;
  readonly kinds: Record<string, number> = {};
  /** ms spent awaiting the driver, by kind of statement. */
  readonly kindMs: Record<string, number> = {};

  note(sql: string): void {
    this.count++;
    const kind = kindOf(sql);
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
  }

  /** Awaits `fn` (the statement `sql`), adding its duration to `ms` and to its kind's; counts it unless `counted` elsewhere. */
  async time<T>(sql: string, fn: () => Promise<T>, counted = false): Promise<T> {
    if (!counted) this.note(sql);
    const started = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - started;
      const kind = kindOf(sql);
      this.ms += ms;
      this.kindMs[kind] = (this.kindMs[kind] ?? 0) + ms;
    }
  }
}

type DriverCall = (this: unknown, connection: unknown, query: unknown) => Promise<unknown>;

/**
 * Counts the statements of a knex instance (its `query` event, which includes knex's BEGIN, SAVEPOINT
 * and COMMIT) and times every driver call (`client._query`, which every statement goes through,
 * transactions' too: their clients share the dialect's prototype). Returns a function that undoes it.
 */
export function tallyKnex(db: Knex, tally: StatementTally): () => void {
  db.on('query', (q: { sql: string }) => tally.note(q.sql));
  const proto = Object.getPrototypeOf(db.client) as { _query: DriverCall };
  const hadOwn = Object.prototype.hasOwnProperty.call(proto, '_query');
  const original = proto._query;
  proto._query = function (connection, query) {
    // The query event has counted it already; `query` is knex's query object ({ sql, bindings, … }).
    return tally.time((query as { sql?: string }).sql ?? '?', () => original.call(this, connection, query), true);
  };
  return () => {
    if (hadOwn) proto._query = original;
    else delete (proto as { _query?: DriverCall })._query;
  };
}
