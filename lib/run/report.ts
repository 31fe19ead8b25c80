/** The report of a run, and its log lines. */
import { isAheadOfCode, newestVersion } from '../plan/plan';
import type { AppliedMigration, Logger, Migration, MigrationReport } from '../types';

export function logApplied(logger: Logger, a: AppliedMigration): void {
  logger.info(`${a.direction === 'up' ? 'applied' : 'rolled back'} ${a.version} ${a.description} (${a.durationMs} ms)`);
}

/** The report of a finished run, after logging where the database stands. */
export function finished(
  from: string,
  to: string,
  applied: AppliedMigration[],
  missing: readonly Migration[],
  sorted: readonly Migration[],
  logger: Logger,
): MigrationReport {
  if (missing.length > 0) {
    logger.warn(
      `registered but never applied, below db_version ${to}: ${missing.map((m) => m.version).join(', ')} ` +
        `(a late hotfix?); run with allowOutOfOrder to apply them`,
    );
  }
  if (applied.length > 0) {
    logger.info(`database is at ${to}`);
  } else {
    const codeVersion = newestVersion(sorted);
    if (isAheadOfCode(to, codeVersion)) {
      logger.warn(`database is at ${to}, newer than this code's ${codeVersion} (same major, so additive): running nothing`);
    } else {
      logger.info(`database is up to date at ${to}`);
    }
  }
  return { from, to, applied, ...(missing.length > 0 ? { missing: missing.map((m) => m.version) } : {}) };
}
