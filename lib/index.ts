/** knex-semver-migrate: the public API (re-exports only). */
export {
  initializeVersionTracking,
  getDatabaseVersion,
  updateDatabaseVersion,
  getSystemSetting,
  setSystemSetting,
  SETTINGS_TABLE,
  DB_VERSION_KEY,
  INITIAL_VERSION,
} from './settings';
export { runMigrations, migrateTo, rollback, DEFAULT_LOCK_TIMEOUT_MS, type RunOptions, type TargetOptions } from './runner';
export { HISTORY_TABLE, readHistory, type HistoryRow } from './history';
export { checksumOf } from './checksum';
export { migrationStatus, type MigrationStatus, type MigrationStatusEntry } from './status';
export { repairDatabase, type RepairOptions, type RepairReport } from './repair';
export { DIRTY_KEY, type DirtyState } from './dirty';
export { validateDatabase, type ValidationReport, type ValidationProblem } from './validate';
export { checkAdditive } from './check';
export { AdditiveViolationError, isWidening, type AdditiveReport, type AdditiveViolation, type AdditiveRule } from './additive';
export {
  schemaSnapshot,
  diffSnapshots,
  formatDiff,
  readExpectedSnapshot,
  writeExpectedSnapshot,
  validateSchema,
  BOOKKEEPING_TABLES,
  type SchemaSnapshot,
  type SnapshotDifference,
} from './snapshot';
export { validateMigrations, planFrom, newestVersion } from './plan';
export { initializeDatabase, createKnex, type InitializeOptions } from './bootstrap';
export { rebuildTable, type RebuildSpec, type RebuildResult } from './sqlite/rebuild';
export { withSqliteDefaults, DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from './sqlite/connection';
export { adapterFor, isSqlite, type DialectAdapter } from './dialects';
export { consoleLogger, silentLogger } from './logger';
export * from './errors';
export type { Migration, MigrationReport, AppliedMigration, Logger, Queryable, StepWrapper } from './types';
export { CURRENT_DB_VERSION } from '../migrations';
