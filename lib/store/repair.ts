/**
 * repairDatabase: the operator's way out of a dirty database, after fixing the schema by hand.
 * Clears the dirty marker and, with `to`, sets db_version (when the failed migration was completed
 * by hand). Runs under the migration lock so it cannot interleave with a runner.
 */
import type { Knex } from 'knex';
import { DEFAULT_LOCK_TIMEOUT_MS, adapterFor } from '../dialects';
import { clearDirty, readRunnerState, type DirtyState } from './dirty';
import { InvalidVersionError } from '../errors';
import { prepareSettings, settingsOptionsFor } from './bookkeeping';
import { getDatabaseVersion, updateDatabaseVersion, type SettingsOptions } from './settings';
import { isCanonicalSemver } from '../version';

export interface RepairOptions extends SettingsOptions {
  /** Set db_version to this version (e.g. the failed migration's, once completed by hand). */
  readonly to?: string;
  readonly lockTimeoutMs?: number;
}

export interface RepairReport {
  readonly from: string;
  readonly to: string;
  /** The marker that was cleared, or undefined when the database was not dirty. */
  readonly cleared?: DirtyState;
}

export async function repairDatabase(db: Knex, options: RepairOptions = {}): Promise<RepairReport> {
  if (options.to !== undefined && !isCanonicalSemver(options.to)) throw new InvalidVersionError(options.to);
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const adapter = adapterFor(db);
  const settings = settingsOptionsFor(adapter, options);
  return adapter.withMigrationLock(db, { lockTimeoutMs, schema: settings.schema }, (session) =>
    session.transaction(async (trx) => {
      await prepareSettings(trx, adapter, settings);
      const { dirty } = await readRunnerState(trx, settings);
      let from: string;
      try {
        from = await getDatabaseVersion(trx, settings);
      } catch (err) {
        // A corrupt db_version can be repaired only by saying what it should be.
        if (options.to === undefined) throw err;
        from = '(corrupt)';
      }
      if (dirty) await clearDirty(trx, settings);
      if (options.to !== undefined) await updateDatabaseVersion(trx, options.to, settings);
      return { from, to: options.to ?? from, cleared: dirty };
    }),
  );
}

