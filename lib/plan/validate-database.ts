/**
 * validateDatabase: does the database still match the code? Reports applied migrations whose source
 * changed since they ran, registered versions at or below db_version that never ran, and applied
 * versions the code no longer knows. Read-only; plans through the same reader as the runner.
 */
import type { Knex } from 'knex';
import { checksumOf } from '../store/checksum';
import type { KnexTableOptions } from '../store/knex-adoption';
import type { SettingsOptions } from '../store/settings';
import type { Migration } from '../types';
import { readMigrationState, statusFromState } from './status';

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

/** `sorted` is a validated list. */
export async function validateAgainst(
  db: Knex | Knex.Transaction,
  sorted: readonly Migration[],
  settings: SettingsOptions,
  knex?: KnexTableOptions,
): Promise<ValidationReport> {
  const { state } = await readMigrationState(db, sorted, settings, knex);
  const status = statusFromState(state, sorted, false);
  const problems: ValidationProblem[] = [];
  for (const m of sorted) {
    const row = state.applied.get(m.version);
    if (row && 'checksum' in row && row.checksum !== checksumOf(m)) {
      problems.push({ kind: 'changed', version: m.version, message: `${m.version} (${m.description}) changed since it ran on ${String(row.finished_at)}` });
    }
  }
  for (const m of status.migrations.filter((e) => e.state === 'missing')) {
    problems.push({ kind: 'not_applied', version: m.version, message: `${m.version} (${m.description}) is registered, at or below db_version ${status.current}, but never ran` });
  }
  for (const v of status.unknown) {
    const row = state.applied.get(v);
    const description = row && 'description' in row ? ` (${row.description})` : '';
    problems.push({ kind: 'unknown', version: v, message: `${v}${description} is applied but no longer in the code` });
  }
  return { ok: problems.length === 0, version: status.current, problems };
}
