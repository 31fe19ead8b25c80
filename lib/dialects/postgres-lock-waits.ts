/**
 * PostgreSQL's lock_timeout error does not say which lock it gave up on. While a migration's
 * transaction runs longer than a moment, we look from another connection at what its backend waits
 * for (pg_locks) and who blocks it (pg_blocking_pids), so a TableBusyError can name both.
 */
import type { Knex } from 'knex';

export interface LockWait {
  /** The relation waited for, e.g. "users" or "app.users". */
  readonly table?: string;
  /** The blocking sessions: pid, state and the start of their query. */
  readonly blockers: string[];
}

export interface LockWaitWatch {
  /** Stops watching; the last wait seen, if any. */
  stop(): Promise<LockWait | undefined>;
}

/** Looks at backend `pid` after `firstMs`, then every `everyMs`, until stopped. */
export function watchLockWaits(db: Knex, pid: number, firstMs: number, everyMs: number): LockWaitWatch {
  let seen: LockWait | undefined;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const look = async () => {
    const { rows } = (await db.raw(
      `SELECT l.relation::regclass::text AS "table",
              (SELECT array_agg(format('pid %s (%s: %s)', a.pid, a.state, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80)))
                 FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids(l.pid))) AS blockers
         FROM pg_locks l
        WHERE l.pid = ? AND NOT l.granted
        LIMIT 1`,
      [pid],
    )) as { rows: { table: string | null; blockers: string[] | null }[] };
    if (rows[0]) seen = { table: rows[0].table ?? undefined, blockers: rows[0].blockers ?? [] };
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(function tick() {
    inFlight = look()
      .catch(() => undefined) // only a diagnostic: never let it fail the migration
      .then(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  }, firstMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
      return seen;
    },
  };
}
