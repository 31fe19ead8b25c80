/**
 * The seed's functions, kept as the simplest way in: each builds a Migrator for one call.
 * `migrations` is a list, or the path of a migrations folder.
 */
import type { Knex } from 'knex';
import { adapterFor } from './dialects';
import { Migrator, type MigrationSource } from './migrator';
import type { MigrationStatus } from './plan/status';
import { validateAgainst, type ValidationReport } from './plan/validate-database';
import type { RunOptions } from './run/execute';
import type { AdditiveReport } from './snapshot/additive';
import { settingsOptionsFor } from './store/bookkeeping';
import type { SettingsOptions } from './store/settings';
import type { MigrationReport } from './types';

export interface TargetOptions extends RunOptions {
  /** The migrations: a list, or the path of a migrations folder. */
  readonly migrations: MigrationSource;
}

/**
 * Brings the database to the newest version in `migrations`. Rejects with InvalidMigrationError,
 * SchemaTooNewError, CorruptVersionError, DirtyDatabaseError, ChecksumMismatchError, DependencyError,
 * LockTimeoutError or MigrationFailedError; in each case nothing that failed is left behind.
 */
export function runMigrations(db: Knex, migrations: MigrationSource, options: RunOptions = {}): Promise<MigrationReport> {
  const { dryRun, ...config } = options;
  return new Migrator({ ...config, db, migrations }).latest({ dryRun });
}

/** Moves the database up or down to `version` (a registered version, or 0.0.0 to undo everything). */
export function migrateTo(db: Knex, version: string, options: TargetOptions): Promise<MigrationReport> {
  const { dryRun, ...config } = options;
  return new Migrator({ ...config, db }).to(version, { dryRun });
}

/**
 * Runs `down` of each applied migration above `to`, newest first, each in its own transaction,
 * moving db_version back. If any of them has no `down`, nothing runs (RollbackError lists them).
 */
export function rollback(db: Knex, options: TargetOptions & { readonly to: string }): Promise<MigrationReport> {
  const { dryRun, to, ...config } = options;
  return new Migrator({ ...config, db }).rollback(to, { dryRun });
}

/** Read-only: the database's version, the code's version and each migration as applied, pending or missing. */
export function migrationStatus(db: Knex, migrations: MigrationSource, options: SettingsOptions = {}): Promise<MigrationStatus> {
  return new Migrator({ db, migrations, schema: options.schema }).status();
}

/** Read-only: applied migrations whose source changed, registered ones that never ran below db_version, unknown applied ones. */
export async function validateDatabase(db: Knex, migrations: MigrationSource, options: SettingsOptions = {}): Promise<ValidationReport> {
  const sorted = await new Migrator({ db, migrations }).migrations();
  return validateAgainst(db, sorted, settingsOptionsFor(adapterFor(db), options));
}

/** Runs the pending migrations in a rolled-back transaction; reports minor/patch migrations that are not additive. */
export function checkAdditive(db: Knex, migrations: MigrationSource, options: RunOptions = {}): Promise<AdditiveReport> {
  return new Migrator({ ...options, db, migrations }).lint();
}
