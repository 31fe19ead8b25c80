/**
 * migrationStatus: where a database stands against a migration list. Read-only: it never creates
 * `system_settings` or writes anything, so it is safe on any database, including production.
 */
import { newestVersion, planFrom, validateMigrations } from './plan';
import { getDatabaseVersion, type SettingsOptions } from './settings';
import type { Migration, Queryable } from './types';

export interface MigrationStatusEntry {
  readonly version: string;
  readonly description: string;
  readonly state: 'applied' | 'pending';
}

export interface MigrationStatus {
  /** `db_version` of the database (0.0.0 when version tracking was never initialised). */
  readonly current: string;
  /** The newest version in the migration list: what `runMigrations` would bring the database to. */
  readonly target: string;
  /** Every migration, sorted by semver. */
  readonly migrations: MigrationStatusEntry[];
}

/**
 * The database's version, the code's version and each migration as applied or pending
 * (default list: the app's registered migrations). Rejects with InvalidMigrationError,
 * CorruptVersionError, or SchemaTooNewError when the database is a major version ahead of the code.
 */
export async function migrationStatus(
  db: Queryable,
  migrations?: readonly Migration[],
  options: SettingsOptions = {},
): Promise<MigrationStatus> {
  // Loaded only when asked for, as in the runner, so this module does not depend on the app's list.
  migrations ??= (await import('../migrations')).migrations;
  const sorted = validateMigrations(migrations);
  const current = await getDatabaseVersion(db, options);
  const gate = planFrom(current, sorted);
  const pending = new Set(gate.kind === 'pending' ? gate.pending : []);
  return {
    current,
    target: newestVersion(sorted),
    migrations: sorted.map((m) => ({
      version: m.version,
      description: m.description,
      state: pending.has(m) ? 'pending' : 'applied',
    })),
  };
}
