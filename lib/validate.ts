/**
 * validateDatabase: does the database still match the code? Reports applied migrations whose source
 * changed since they ran, registered versions at or below db_version that never ran, and applied
 * versions the code no longer knows. Read-only.
 */
import type { Knex } from 'knex';
import { checksumOf } from './checksum';
import { appliedFromHistory, readHistory } from './history';
import { validateMigrations } from './plan';
import { getDatabaseVersion, type SettingsOptions } from './settings';
import type { Migration } from './types';
import { isNewer } from './version';

export type ProblemKind = 'changed' | 'not_applied' | 'unknown';

export interface ValidationProblem {
  readonly kind: ProblemKind;
  readonly version: string;
  readonly message: string;
}

export interface ValidationReport {
  readonly ok: boolean;
  readonly version: string;
  readonly problems: ValidationProblem[];
}

export async function validateDatabase(
  db: Knex | Knex.Transaction,
  migrations?: readonly Migration[],
  options: SettingsOptions = {},
): Promise<ValidationReport> {
  migrations ??= (await import('../migrations')).migrations;
  const sorted = validateMigrations(migrations);
  const version = await getDatabaseVersion(db, options);
  const applied = appliedFromHistory(await readHistory(db, options));
  const known = new Set(sorted.map((m) => m.version));
  const problems: ValidationProblem[] = [];
  for (const m of sorted) {
    const row = applied.get(m.version);
    if (row && row.checksum !== checksumOf(m)) {
      problems.push({ kind: 'changed', version: m.version, message: `${m.version} (${m.description}) changed since it ran on ${String(row.finished_at)}` });
    } else if (!row && !isNewer(m.version, version) && applied.size > 0) {
      problems.push({ kind: 'not_applied', version: m.version, message: `${m.version} (${m.description}) is registered, at or below db_version ${version}, but never ran` });
    }
  }
  for (const [v, row] of applied) {
    if (!known.has(v)) problems.push({ kind: 'unknown', version: v, message: `${v} (${row.description}) is applied but no longer in the code` });
  }
  return { ok: problems.length === 0, version, problems };
}
