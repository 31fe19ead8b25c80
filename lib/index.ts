/** knex-semver-migrate: the public API (re-exports only). */
export { Migrator, resolveMigrations, DEFAULT_SNAPSHOTS_FOLDER, type MigratorOptions, type MigrationSource, type DryRunOption, type DatabaseValidation } from './migrator';
export { runMigrations, migrateTo, rollback, migrationStatus, validateDatabase, checkAdditive, type TargetOptions } from './functions';
export { loadMigrations } from './load/load-migrations';
export { loadKnexMigrations, defaultKnexVersion, KNEX_LOAD_EXTENSIONS, type KnexMigrationsOptions } from './load/knex-migrations';
export { KNEX_MIGRATIONS_TABLE, readKnexMigrationNames, type KnexTableOptions } from './store/knex-adoption';
export type { KnexAdoptionReport } from './run/adopt-knex';
export {
  initializeVersionTracking,
  getDatabaseVersion,
  updateDatabaseVersion,
  getSystemSetting,
  setSystemSetting,
  SETTINGS_TABLE,
  DB_VERSION_KEY,
  INITIAL_VERSION,
  type SettingsOptions,
} from './store/settings';
export type { RunOptions } from './run/execute';
export { DEFAULT_LOCK_TIMEOUT_MS, adapterFor, isSqlite, type DialectAdapter } from './dialects';
export { HISTORY_TABLE, readHistory, type HistoryRow } from './store/history';
export { checksumOf } from './store/checksum';
export type { MigrationStatus, MigrationStatusEntry } from './plan/status';
export { repairDatabase, type RepairOptions, type RepairReport } from './store/repair';
export { DIRTY_KEY, type DirtyState } from './store/dirty';
export type { ValidationReport, ValidationProblem } from './plan/validate-database';
export type { AdditiveReport, AdditiveViolation, AdditiveRule } from './snapshot/additive';
export type { SchemaSnapshot, SnapshotDifference } from './snapshot/snapshot';
export { BOOKKEEPING_TABLES } from './store/history';
// Loaded on first call: a start with nothing to do loads neither snapshots nor the rebuild.
export { rebuildTable, schemaSnapshot, diffSnapshots, formatDiff, readExpectedSnapshot, writeExpectedSnapshot, validateSchema, isWidening } from './lazy';
export { validateMigrations, planFrom, newestVersion } from './plan/plan';
export { initializeDatabase, createKnex, type InitializeOptions } from './bootstrap';
export { configFromUrl, databaseUrlFromEnv } from './database-url';
export type { RebuildSpec, RebuildResult } from './sqlite/rebuild';
export { withSqliteDefaults, DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from './sqlite/connection';
export { consoleLogger, silentLogger } from './logger';
export * from './errors';
export type { Migration, MigrationReport, AppliedMigration, Logger, Queryable, StepWrapper } from './types';
