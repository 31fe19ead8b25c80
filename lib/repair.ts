/**
 * repairDatabase: the operator's way out of a dirty database, after fixing the schema by hand.
 * Clears the dirty marker and, with `to`, sets db_version (when the failed migration was completed
 * by hand). Runs under the migration lock so it cannot interleave with a runner.
 */
import type { Knex } from 'knex';
import { adapterFor } from './dialects';
import { DIRTY_KEY, readRunnerState, type DirtyState } from './dirty';
import { InvalidVersionError } from './errors';
import { DEFAULT_LOCK_TIMEOUT_MS } from './runner';
import { getDatabaseVersion, initializeVersionTracking, SETTINGS_TABLE, updateDatabaseVersion } from './settings';
import { isCanonicalSemver } from './version';

export interface RepairOptions {
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
  return adapterFor(db).withMigrationLock(db, { lockTimeoutMs }, (session) =>
    session.transaction(async (trx) => {
      await initializeVersionTracking(trx);
      const { dirty } = await readRunnerState(trx);
      let from: string;
      try {
        from = await getDatabaseVersion(trx);
      } catch (err) {
        // A corrupt db_version can be repaired only by saying what it should be.
        if (options.to === undefined) throw err;
        from = '(corrupt)';
      }
      if (dirty) await trx(SETTINGS_TABLE).where({ key: DIRTY_KEY }).del();
      if (options.to !== undefined) await updateDatabaseVersion(trx, options.to);
      return { from, to: options.to ?? from, cleared: dirty };
    }),
  );
}

