/**
 * The migration lock as a lease: a row of system_settings (key `migration_lock`) naming its holder
 * and until when it holds it, by the database's clock. Unlike a session lock it does not need one
 * connection for the whole run, so it works through transaction-pooling poolers (PgBouncer, RDS
 * Proxy) and across the nodes of a cluster: every transaction of the holder re-writes its own row
 * (a write that conflicts with any taker), and a holder that dies stops renewing, so its lease runs
 * out and the next runner takes over. Released, the row is deleted. Engine specifics (the clock, how a row lock wait is bounded)
 * stay in the adapters; this module only reads and writes the row.
 */
import { randomBytes } from 'crypto';
import type { Knex } from 'knex';
import { RUN_BY } from './history';
import { LOCK_KEY, settingsTable, type SettingsOptions } from './settings';

export { LOCK_KEY };

/** How long a lease lasts without renewal: a dead holder blocks others at most this long. */
export const DEFAULT_LEASE_MS = 10_000;

export interface LeaseHolder {
  readonly owner: string;
  /** Epoch milliseconds, database clock. */
  readonly until: number;
}

/** A new owner name, unique per lock taken: host/pid plus randomness (a pid is reused). */
export function newLeaseOwner(): string {
  return `${RUN_BY.slice(0, 200)}/${randomBytes(6).toString('hex')}`;
}

export function encodeLease(holder: LeaseHolder): string {
  return JSON.stringify(holder);
}

/** The holder stored in `value`; undefined for an unreadable value (then the lease counts as run out). */
export function decodeLease(value: string | undefined): LeaseHolder | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<LeaseHolder>;
    return typeof parsed.owner === 'string' && typeof parsed.until === 'number' ? { owner: parsed.owner, until: parsed.until } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the lease row with a row lock (FOR UPDATE) and the database clock, inside the caller's
 * transaction; `exists` is false when the row was never created.
 */
export async function lockLeaseRow(
  trx: Knex.Transaction,
  settings: SettingsOptions,
  clockMsSql: string,
): Promise<{ exists: boolean; value: string | undefined; now: number }> {
  const row = (await settingsTable(trx, settings)
    .select('value', trx.raw(`${clockMsSql} AS now`))
    .where({ key: LOCK_KEY })
    .forUpdate()
    .first()) as { value: string; now: number | string } | undefined;
  if (row) return { exists: true, value: row.value, now: Number(row.now) };
  const [clock] = (await trx.select(trx.raw(`${clockMsSql} AS now`))) as { now: number | string }[];
  return { exists: false, value: undefined, now: Number(clock.now) };
}

/** Writes a new lease row; a concurrent writer's row wins silently (the caller re-reads to see whose it is). */
export async function insertLease(db: Knex | Knex.Transaction, settings: SettingsOptions, value: string): Promise<void> {
  await settingsTable(db, settings).insert({ key: LOCK_KEY, value }).onConflict('key').ignore();
}

/** Frees the lease by deleting its row if it still is `expected`: no trace is left of a lock nobody holds. False when it was lost. */
export async function deleteLease(db: Knex | Knex.Transaction, settings: SettingsOptions, expected: string): Promise<boolean> {
  const deleted = (await settingsTable(db, settings).where({ key: LOCK_KEY, value: expected }).del()) as number;
  return deleted === 1;
}

/**
 * Replaces the lease value if it still is `expected` (compare-and-set); false when someone else
 * changed it, i.e. the lease was lost.
 */
export async function swapLease(db: Knex | Knex.Transaction, settings: SettingsOptions, expected: string, next: string): Promise<boolean> {
  const changed = (await settingsTable(db, settings)
    .where({ key: LOCK_KEY, value: expected })
    .update({ value: next, updated_at: db.fn.now() })) as number;
  return changed === 1;
}

/**
 * The database clock as seen from here: read once from the database, then advanced by this
 * process's monotonic clock, so renewals need no clock query and app servers' clocks never count.
 */
export class LeaseClock {
  private readonly base = performance.now();

  constructor(private readonly databaseNow: number) {}

  now(): number {
    return Math.round(this.databaseNow + (performance.now() - this.base));
  }
}
