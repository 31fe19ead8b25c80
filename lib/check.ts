/**
 * checkAdditive: applies the pending migrations in a transaction that is rolled back, snapshotting
 * the schema around each, and reports every minor or patch migration that breaks the additive-only
 * rule (lib/additive.ts). The database is left exactly as it was. Needs transactional DDL.
 */
import type { Knex } from 'knex';
import { additiveGuard, type AdditiveReport, type AdditiveViolation } from './additive';
import { validateMigrations } from './plan';
import { runMigrations, type RunOptions } from './runner';
import type { Migration } from './types';

export async function checkAdditive(db: Knex, migrations?: readonly Migration[], options: RunOptions = {}): Promise<AdditiveReport> {
  migrations ??= (await import('../migrations')).migrations;
  const sorted = validateMigrations(migrations);
  const violations: AdditiveViolation[] = [];
  const checked: { version: string; major: boolean }[] = [];
  const around = additiveGuard(sorted, { schema: options.schema }, (found, migration, major) => {
    checked.push({ version: migration.version, major });
    violations.push(...found);
  });
  await runMigrations(db, sorted, { ...options, dryRun: true, around });
  return { ok: violations.length === 0, checked, violations };
}
