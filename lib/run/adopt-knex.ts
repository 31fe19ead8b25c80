/**
 * The explicit switch from knex's migrator (`adopt-knex`): adopt knex_migrations under the migration
 * lock and apply nothing else. `latest` does the same adoption on its own first run; this verb lets
 * an operator do (or, with dryRun, preview) just that step.
 */
import type { Knex } from 'knex';
import { DEFAULT_LOCK_TIMEOUT_MS, adapterFor } from '../dialects';
import { prepareBookkeeping, settingsOptionsFor } from '../store/bookkeeping';
import { findKnexAdoption, type KnexAdoption } from '../store/knex-adoption';
import { getDatabaseVersion } from '../store/settings';
import type { Migration } from '../types';
import type { RunOptions } from './execute';

export interface KnexAdoptionReport {
  /** db_version before. */
  readonly from: string;
  /** db_version after (with dryRun: what it would be). */
  readonly to: string;
  /** The files adopted (with dryRun: that would be), in the order knex ran them. Empty: nothing to adopt. */
  readonly adopted: { readonly version: string; readonly name: string }[];
  readonly dryRun?: boolean;
}

/**
 * Adopts a knex-managed database: every file knex_migrations lists is recorded as `adopt` and
 * db_version set to the last one's version, atomically, under the migration lock. Nothing to adopt
 * (already versioned, or no knex history): an empty report. Rejects with KnexHistoryError, having
 * changed nothing, when knex_migrations and the folder disagree. `sorted`: a validated list.
 */
export async function adoptKnex(db: Knex, sorted: readonly Migration[], options: RunOptions, dryRun: boolean): Promise<KnexAdoptionReport> {
  const adapter = adapterFor(db);
  const settings = settingsOptionsFor(adapter, options);
  const from = await getDatabaseVersion(db, settings);
  // Read first, without the lock: a refusal or a dry run writes nothing (taking the lock may).
  const found = await findKnexAdoption(db, settings, sorted, options.knexTable);
  if (!found || dryRun) return reportOf(from, found, dryRun);
  const lockOptions = { lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, schema: settings.schema, leaseMs: options.leaseMs };
  // Under the lock the database is read again: another instance may have adopted it meanwhile.
  const adopted = await adapter.withMigrationLock(db, lockOptions, (session) =>
    session.transaction((trx) => prepareBookkeeping(trx, adapter, settings, sorted, options.knexTable ?? {})),
  );
  return reportOf(adopted ? from : await getDatabaseVersion(db, settings), adopted, false);
}

function reportOf(from: string, adoption: KnexAdoption | undefined, dryRun: boolean): KnexAdoptionReport {
  return {
    from,
    to: adoption?.version ?? from,
    adopted: (adoption?.migrations ?? []).map((m) => ({ version: m.version, name: m.knexName ?? m.description })),
    ...(dryRun ? { dryRun: true } : {}),
  };
}
