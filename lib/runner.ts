/**
 * runMigrations: validate → read version (no lock, no write when current) → lock → re-read →
 * apply each pending migration in its own nested transaction (a savepoint) with the db_version
 * update inside it → commit → report.
 *
 * All pending migrations share one outer transaction that holds the lock, so a batch costs one
 * commit, while each migration stays atomic on its own: when migration k fails, its savepoint is
 * rolled back, 1…k−1 are committed, and db_version ends at k−1.
 */
import type { Knex } from 'knex';
import { adapterFor, type DialectAdapter, type LockedSession } from './dialects';
import { assertClean, markDirty, readRunnerState } from './dirty';
import { MigrationFailedError, UnsupportedDialectError } from './errors';
import { consoleLogger } from './logger';
import { planFrom, validateMigrations } from './plan';
import {
  getDatabaseVersion,
  initializeVersionTracking,
  parseStoredVersion,
  updateDatabaseVersion,
  type SettingsOptions,
} from './settings';
import type { AppliedMigration, Logger, Migration, MigrationReport } from './types';

/** Default for `lockTimeoutMs`: long enough for another instance to finish a big table rebuild. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

export interface RunOptions extends SettingsOptions {
  /** Where progress goes. Default: `consoleLogger`. */
  readonly logger?: Logger;
  /** How long to wait for another runner's lock before LockTimeoutError. Default: DEFAULT_LOCK_TIMEOUT_MS. */
  readonly lockTimeoutMs?: number;
}

/**
 * Brings the database to the newest version in `migrations` (default: the app's registered list).
 * Rejects with InvalidMigrationError, SchemaTooNewError, CorruptVersionError, LockTimeoutError or
 * MigrationFailedError; in each case nothing that failed is left behind.
 */
export async function runMigrations(
  db: Knex,
  migrations?: readonly Migration[],
  options: RunOptions = {},
): Promise<MigrationReport> {
  // The app's list is loaded only when asked for, so the runner itself does not depend on it.
  migrations ??= (await import('../migrations')).migrations;
  const logger = options.logger ?? consoleLogger;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const sorted = validateMigrations(migrations);
  const adapter = adapterFor(db);
  const settings = settingsOptionsFor(adapter, options);

  // Fast path for every app start: one read, no lock, no write when nothing is pending.
  // A missing table just means "not initialised yet".
  const seen = await readRunnerState(db, settings).catch(() => undefined);
  if (seen?.version !== undefined) {
    assertClean(seen.dirty);
    const version = parseStoredVersion(seen.version);
    if (planFrom(version, sorted).kind !== 'pending') return upToDate(version, sorted, logger);
  }

  const outcome = await adapter.withMigrationLock(db, { lockTimeoutMs, schema: settings.schema }, async (session) => {
    // Re-read under the lock: another process may have migrated (or failed) while we waited.
    const from = await session.transaction(async (trx) => {
      await prepareSettings(trx, adapter, settings);
      assertClean((await readRunnerState(trx, settings)).dirty);
      return getDatabaseVersion(trx, settings);
    });
    const gate = planFrom(from, sorted);
    const applied: AppliedMigration[] = [];
    if (gate.kind !== 'pending') return { from, applied };
    for (const migration of gate.pending) {
      const started = performance.now();
      const lastGood = applied.at(-1)?.version ?? from;
      try {
        await applyOne(session, adapter, migration, settings);
      } catch (cause) {
        const dirty = !adapter.transactionalDdl || (migration.transaction === false && adapter.runsOutsideTransactions);
        if (dirty) await session.transaction((trx) => markDirty(trx, migration, cause, lastGood, settings));
        return { from, applied, failed: { migration, cause, dirty } };
      }
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      applied.push({ version: migration.version, description: migration.description, durationMs });
      logger.info(`applied ${migration.version} ${migration.description} (${durationMs} ms)`);
    }
    return { from, applied };
  });

  const to = outcome.applied.length > 0 ? outcome.applied[outcome.applied.length - 1].version : outcome.from;
  if (outcome.failed) {
    const { migration, cause, dirty } = outcome.failed;
    throw new MigrationFailedError(migration.version, migration.description, to, cause, dirty);
  }
  if (outcome.applied.length === 0) return upToDate(outcome.from, sorted, logger);
  logger.info(`database is at ${to}`);
  return { from: outcome.from, to, applied: outcome.applied };
}

/** The settings location, refused up front where the engine has no schemas to put it in. */
export function settingsOptionsFor(adapter: DialectAdapter, options: SettingsOptions): SettingsOptions {
  if (options.schema !== undefined && !adapter.ensureSchema) {
    throw new UnsupportedDialectError(`the schema option is for PostgreSQL; ${adapter.name} keeps system_settings in the database it connects to`);
  }
  return { schema: options.schema };
}

/** Under the lock: the settings schema (if any) and table exist, and db_version has a value. */
export async function prepareSettings(trx: Knex.Transaction, adapter: DialectAdapter, settings: SettingsOptions): Promise<void> {
  if (settings.schema !== undefined) await adapter.ensureSchema?.(trx, settings.schema);
  await initializeVersionTracking(trx, settings);
}

/** Runs `up` and moves db_version, atomically where the engine allows. */
async function applyOne(
  session: LockedSession,
  adapter: DialectAdapter,
  migration: Migration,
  settings: SettingsOptions,
): Promise<void> {
  const finish = async (trx: Knex.Transaction) => {
    await updateDatabaseVersion(trx, migration.version, settings);
    await adapter.verifyMigration(trx, `Migration ${migration.version}`);
  };
  if (migration.transaction === false) {
    // Without a transaction `up` receives the knex instance; typed as a transaction for one signature.
    await session.withoutTransaction((db) => migration.up(db as Knex.Transaction));
    await session.transaction(finish);
    return;
  }
  await session.transaction(async (trx) => {
    await migration.up(trx);
    await finish(trx);
  });
}

function upToDate(version: string, sorted: readonly Migration[], logger: Logger): MigrationReport {
  const gate = planFrom(version, sorted);
  if (gate.kind === 'newer') {
    logger.warn(
      `database is at ${version}, newer than this code's ${gate.codeVersion} (same major, so additive): running nothing`,
    );
  } else {
    logger.info(`database is up to date at ${version}`);
  }
  return { from: version, to: version, applied: [] };
}
