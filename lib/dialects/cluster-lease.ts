/**
 * The migration lock on a MariaDB Galera cluster. GET_LOCK and row locks are node-local there (two
 * nodes hold "the" lock at once), but a committed write is certified cluster-wide: of two nodes writing
 * the same row at once, one commit wins and the other fails with a certification conflict
 * (ER_LOCK_DEADLOCK). So the lock is the lease row of system_settings (lib/store/lease.ts), taken by a
 * committed write, renewed by a timer, and re-written in every transaction of the runner just before
 * it commits — a runner whose lease was taken over cannot commit anything. `wsrep_sync_wait` makes every
 * transaction on the runner's connection start with what the whole cluster has committed, so the state
 * read under the lease cannot miss a migration another node just ran.
 */
import type { Knex } from 'knex';
import { LockLostError, LockTimeoutError } from '../errors';
import { retryWhile } from '../retry';
import { DEFAULT_LEASE_MS, LOCK_KEY, LeaseClock, decodeLease, encodeLease, insertLease, lockLeaseRow, newLeaseOwner, swapLease } from '../store/lease';
import { initializeVersionTracking, settingsTable } from '../store/settings';
import type { RawConnection } from './connection';
import type { LockedSession, LockOptions } from './types';

/** The database clock in epoch milliseconds (SYSDATE: real time, not the statement's start). */
const CLOCK_MS = 'CAST(UNIX_TIMESTAMP(SYSDATE(3)) * 1000 AS SIGNED)';
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;
const ER_TABLE_DEF_CHANGED = 1412;

/** Whether `err` is Galera's certification conflict (or a brute-force abort by a replicated write): try again. */
export function isCertificationConflict(err: unknown): boolean {
  const errno = (err as { errno?: number }).errno;
  return errno === ER_LOCK_DEADLOCK || errno === ER_TABLE_DEF_CHANGED;
}

/** Whether the connection is a node of a Galera cluster (`wsrep_on`; MySQL has no such variable). */
export async function isGaleraNode(db: Knex, conn: RawConnection): Promise<boolean> {
  try {
    const [[row]] = (await db.raw('SELECT @@SESSION.wsrep_on AS wsrep').connection(conn)) as [{ wsrep: number | string }[]];
    return Number(row.wsrep) === 1 || String(row.wsrep).toUpperCase() === 'ON';
  } catch {
    return false;
  }
}

export async function withClusterLease<T>(db: Knex, conn: RawConnection, options: LockOptions, work: (session: LockedSession) => Promise<T>): Promise<T> {
  const [[previous]] = (await db.raw('SELECT @@SESSION.wsrep_sync_wait AS syncWait').connection(conn)) as [{ syncWait: number }[]];
  // 1: reads, SHOW and BEGIN wait until this node has applied everything the cluster committed before them.
  await db.raw('SET SESSION wsrep_sync_wait = 1').connection(conn);
  try {
    await retryConflicts(() => db.transaction((trx) => initializeVersionTracking(trx), { connection: conn }));
    const lease = await takeLease(db, conn, options);
    let result: T;
    try {
      result = await lease.whileRenewing(() =>
        work({
          transaction: (fn) => db.transaction(async (trx) => lease.claimedBy(trx, await fn(trx)), { connection: conn }),
          withoutTransaction: (fn) => fn(db),
        }),
      );
    } catch (err) {
      await lease.release(conn).catch(() => undefined); // the work's error is the one to report; an unreleased lease runs out
      throw err;
    }
    await lease.release(conn);
    return result;
  } finally {
    await db
      .raw('SET SESSION wsrep_sync_wait = ?', [previous.syncWait])
      .connection(conn)
      .catch(() => undefined); // the connection may be gone: then so are its settings
  }
}

/** Polls for the lease until `lockTimeoutMs`: free or run out, it is ours once our write to it commits. */
async function takeLease(db: Knex, conn: RawConnection, options: LockOptions): Promise<ClusterLease> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const owner = newLeaseOwner();
  const started = performance.now();
  for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
    let taken: ClusterLease | undefined;
    try {
      taken = await db.transaction(
        async (trx) => {
          const row = await lockLeaseRow(trx, {}, CLOCK_MS);
          const value = encodeLease({ owner, until: row.now + leaseMs });
          if (row.exists) {
            const holder = decodeLease(row.value);
            if (holder && holder.until > row.now) return undefined; // held, and not run out
            await swapLease(trx, {}, row.value ?? '', value);
          } else {
            await insertLease(trx, {}, value);
            if ((await lockLeaseRow(trx, {}, CLOCK_MS)).value !== value) return undefined;
          }
          return new ClusterLease(db, owner, leaseMs, new LeaseClock(row.now), row.now + leaseMs);
        },
        { connection: conn },
      );
    } catch (err) {
      // Another node's write to the lease committed first (certification), or a local one holds the row.
      if (!isCertificationConflict(err) && (err as { errno?: number }).errno !== ER_LOCK_WAIT_TIMEOUT) throw err;
    }
    if (taken) return taken;
    const left = options.lockTimeoutMs - (performance.now() - started);
    if (left <= pause) throw new LockTimeoutError('the Galera cluster (lease row migration_lock in system_settings)', options.lockTimeoutMs);
    await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random() / 2)));
  }
}

/** The lease while we hold it; its row is matched by owner, whatever expiry the last renewal wrote. */
class ClusterLease {
  private lost: unknown;

  constructor(
    private readonly db: Knex,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly clock: LeaseClock,
    private until: number,
  ) {}

  /**
   * Re-writes the lease in `trx` just before it commits and returns `result`: the write joins the
   * transaction's write set, so if another runner took the lease over, certification fails our commit.
   */
  async claimedBy<R>(trx: Knex.Transaction, result: R): Promise<R> {
    if (this.lost !== undefined || !(await this.renew(trx))) throw new LockLostError('the Galera cluster', this.leaseMs, this.lost);
    return result;
  }

  /** Runs `fn` while a timer (on another connection) keeps the lease alive. */
  async whileRenewing<R>(fn: () => Promise<R>): Promise<R> {
    let pending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      pending = pending.then(() =>
        this.renew(this.db).then(
          (renewed) => void (renewed ? undefined : (this.lost ??= new Error('the lease row no longer names this runner'))),
          // Not fatal (no free connection, a conflict): the claim before each commit is the real check.
          () => undefined,
        ),
      );
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await pending;
    }
  }

  /** Frees the lease (deletes its row while it still names us). */
  async release(conn: RawConnection): Promise<void> {
    await retryConflicts(() => this.ours(settingsTable(this.db, {}).connection(conn)).del());
  }

  /** A new expiry, always different from the last (a write that changes nothing would not be certified). */
  private async renew(db: Knex | Knex.Transaction): Promise<boolean> {
    this.until = Math.max(this.clock.now() + this.leaseMs, this.until + 1);
    const changed = (await this.ours(settingsTable(db, {})).update({ value: encodeLease({ owner: this.owner, until: this.until }), updated_at: db.fn.now() })) as number;
    return changed === 1;
  }

  /** Restricts `query` to the lease row while it names us as owner. */
  private ours(query: Knex.QueryBuilder): Knex.QueryBuilder {
    const prefix = encodeLease({ owner: this.owner, until: 0 }).replace(/0\}$/, '');
    return query.where({ key: LOCK_KEY }).whereRaw('LEFT(`value`, CHAR_LENGTH(?)) = ?', [prefix, prefix]);
  }
}

/** Runs `fn` again while it fails on a certification conflict. */
function retryConflicts<R>(fn: () => Promise<R>): Promise<R> {
  return retryWhile(isCertificationConflict, fn);
}
