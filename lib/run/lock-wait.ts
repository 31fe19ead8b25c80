/**
 * Waiting for the migration lock without queueing behind work that is already done: when many
 * instances start at once, those that arrive second leave as soon as the first commits.
 */
import type { Knex } from 'knex';
import type { DialectAdapter, LockedSession, LockOptions } from '../dialects';
import { LockTimeoutError } from '../errors';

/** The first wait for the lock, in ms; each later one doubles, up to LOCK_POLL_MAX_MS. */
const LOCK_POLL_FIRST_MS = 10;
const LOCK_POLL_MAX_MS = 100;

/**
 * Tries the lock in short slices, and between them asks `upToDate` whether the holder already did
 * the work (then returns its answer without ever taking the lock). Gives up with LockTimeoutError
 * after `lockTimeoutMs` in all.
 */
export async function lockUnlessCurrent<T, R>(
  db: Knex,
  adapter: DialectAdapter,
  options: LockOptions,
  work: (session: LockedSession) => Promise<T>,
  upToDate: () => Promise<R | undefined>,
): Promise<{ outcome: T } | { report: R }> {
  const deadline = performance.now() + options.lockTimeoutMs;
  for (let slice = LOCK_POLL_FIRST_MS; ; slice = Math.min(slice * 2, LOCK_POLL_MAX_MS)) {
    const left = deadline - performance.now();
    try {
      return { outcome: await adapter.withMigrationLock(db, { ...options, lockTimeoutMs: Math.max(1, Math.min(slice, left)) }, work) };
    } catch (err) {
      if (!(err instanceof LockTimeoutError)) throw err;
      if (left <= slice) throw new LockTimeoutError(err.database, options.lockTimeoutMs, err.cause);
    }
    const report = await upToDate();
    if (report) return { report };
    // Let timers and I/O run: with a synchronous driver (better-sqlite3) this loop would otherwise
    // starve the event loop, and with it a lock holder in the same process.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
