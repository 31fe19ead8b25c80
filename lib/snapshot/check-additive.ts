/**
 * The additive-only check (`lint`): applies the pending migrations in a transaction that is rolled
 * back, snapshotting the schema around each, and reports every minor or patch migration that breaks
 * the additive-only rule (lib/snapshot/additive.ts). The database is left exactly as it was. Needs
 * transactional DDL.
 */
import type { Knex } from 'knex';
import { validateMigrations } from '../plan/plan';
import { execute, type RunOptions } from '../run/execute';
import type { Migration } from '../types';
import { additiveGuard, type AdditiveReport, type AdditiveViolation } from './additive';

export async function checkAdditiveOf(db: Knex, migrations: readonly Migration[], options: RunOptions): Promise<AdditiveReport> {
  const sorted = validateMigrations(migrations);
  const violations: AdditiveViolation[] = [];
  const checked: { version: string; major: boolean }[] = [];
  const around = additiveGuard(sorted, { schema: options.schema }, (found, migration, major) => {
    checked.push({ version: migration.version, major });
    violations.push(...found);
  });
  await execute(db, sorted, { ...options, dryRun: true }, { kind: 'latest' }, around);
  return { ok: violations.length === 0, checked, violations };
}
