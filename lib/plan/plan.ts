/**
 * Pure planning, no database: validate a migration list, order it by semver, and decide what is
 * pending for a given database version (the start gate).
 */
import { DependencyError, InvalidMigrationError, RollbackError, SchemaTooNewError, showValue } from '../errors';
import { INITIAL_VERSION } from '../store/settings';
import type { Migration } from '../types';
import { compareVersions, isCanonicalSemver, isNewer, majorOf, sortByVersion } from '../version';

/**
 * Checks every migration and returns them sorted by semver. Reports every problem at once in one
 * InvalidMigrationError, each naming the migration (by version, or by position when the version is bad).
 */
export function validateMigrations(migrations: readonly Migration[]): Migration[] {
  if (!Array.isArray(migrations)) throw new InvalidMigrationError('migrations must be an array');
  const problems: string[] = [];
  const seen = new Map<string, number>();

  migrations.forEach((m, index) => {
    const label = describe(m, index);
    if (m === null || typeof m !== 'object') {
      problems.push(`${label}: not an object`);
      return;
    }
    if (typeof m.version === 'string' && /^[^+]+\+/.test(m.version) && isCanonicalSemver(m.version.split('+')[0])) {
      problems.push(`${label}: version ${showValue(m.version)} has build metadata, which semver ignores when ordering: drop the "+…" part`);
    } else if (!isCanonicalSemver(m.version)) {
      problems.push(`${label}: version ${showValue(m.version)} is not a canonical semver version like "1.2.3"`);
    } else if (!isNewer(m.version, INITIAL_VERSION)) {
      problems.push(`${label}: version must be greater than ${INITIAL_VERSION}, the version of an empty database`);
    } else {
      // Canonical versions without build metadata have equal precedence only when they are equal strings.
      const twin = seen.get(m.version);
      if (twin !== undefined) problems.push(`${label}: duplicate version (same precedence as ${m.version} at index ${twin})`);
      else seen.set(m.version, index);
    }
    if (typeof m.description !== 'string' || m.description.trim() === '') {
      problems.push(`${label}: description must be a non-empty string`);
    }
    if (typeof m.up !== 'function') problems.push(`${label}: up must be a function`);
    if (m.down !== undefined && typeof m.down !== 'function') problems.push(`${label}: down must be a function when given`);
    if (m.requires !== undefined && (!Array.isArray(m.requires) || !(m.requires as unknown[]).every((r) => typeof r === 'string'))) {
      problems.push(`${label}: requires must be an array of version strings`);
    }
  });
  // Requirements name registered versions, never the migration itself.
  for (const m of migrations) {
    if (!m || typeof m !== 'object' || !Array.isArray(m.requires)) continue;
    for (const required of m.requires) {
      if (required === m.version) problems.push(`migration ${m.version}: requires itself`);
      else if (!seen.has(required)) problems.push(`migration ${m.version}: requires ${showValue(required)}, which is not registered`);
    }
  }

  if (problems.length > 0) {
    throw new InvalidMigrationError(`Invalid migration list: ${problems.join('; ')}`);
  }
  // Lists usually come in order: one pass confirms it, and only an unsorted list pays for a sort.
  const inOrder = migrations.every((m, i) => i === 0 || isNewer(m.version, migrations[i - 1].version));
  return inOrder ? [...migrations] : sortByVersion(migrations);
}

/** The newest version in a validated, sorted list (0.0.0 for an empty list). */
export function newestVersion(sorted: readonly Migration[]): string {
  return sorted.length > 0 ? sorted[sorted.length - 1].version : INITIAL_VERSION;
}

export type Gate =
  | { readonly kind: 'pending'; readonly pending: Migration[] }
  | { readonly kind: 'current' }
  /** The database is newer than the code within the same major: additive, so older code may run on it. */
  | { readonly kind: 'newer'; readonly codeVersion: string };

/**
 * Decides what to do for a database at `current`. A database newer than the code in a different
 * major is refused: the schema may have changed incompatibly.
 */
export function planFrom(current: string, sorted: readonly Migration[]): Gate {
  const codeVersion = newestVersion(sorted);
  if (isAheadOfCode(current, codeVersion)) return { kind: 'newer', codeVersion };
  const pending = sorted.filter((m) => isNewer(m.version, current));
  return pending.length > 0 ? { kind: 'pending', pending } : { kind: 'current' };
}

/**
 * True when the database is newer than the code within the same major (additive: older code may run);
 * SchemaTooNewError when it is newer in another major.
 */
export function isAheadOfCode(current: string, codeVersion: string): boolean {
  if (!isNewer(current, codeVersion)) return false;
  if (majorOf(current) !== majorOf(codeVersion)) throw new SchemaTooNewError(current, codeVersion);
  return true;
}

function describe(m: Migration | null | undefined, index: number): string {
  const version = m && typeof m === 'object' ? m.version : undefined;
  return isCanonicalSemver(version) ? `migration ${version}` : `migration at index ${index}`;
}

/** What an upward run will do. */
export interface UpPlan {
  /** To apply, in semver order. */
  readonly steps: Migration[];
  /** Registered, never applied, below db_version: left alone unless out-of-order runs are allowed. */
  readonly missing: Migration[];
}

/**
 * The migrations to apply to reach `target`: every registered version up to it that has not been
 * applied. Versions below the current one (a hotfix that arrived late) run only with
 * `allowOutOfOrder`. Refuses a plan that would apply a migration before one it requires.
 */
export function planUp(
  current: string,
  applied: ReadonlySet<string>,
  sorted: readonly Migration[],
  target: string,
  allowOutOfOrder: boolean,
): UpPlan {
  const candidates = sorted.filter((m) => !applied.has(m.version) && !isNewer(m.version, target));
  const late = candidates.filter((m) => !isNewer(m.version, current));
  const steps = allowOutOfOrder ? candidates : candidates.filter((m) => isNewer(m.version, current));
  const have = new Set(applied);
  for (const m of steps) {
    const unmet = (m.requires ?? []).filter((r) => !have.has(r));
    if (unmet.length > 0) {
      throw new DependencyError(
        `Migration ${m.version} requires ${unmet.join(', ')}, which would not be applied before it` +
          (unmet.some((r) => isNewer(r, m.version)) ? ' (a requirement with a higher version runs later)' : ''),
      );
    }
    have.add(m.version);
  }
  return { steps, missing: allowOutOfOrder ? [] : late };
}

/**
 * The migrations to roll back to reach `target`, newest first: every applied version above it.
 * Refuses, running nothing, when one of them is unknown to the code or has no `down`, or when a
 * migration that stays applied requires one of them.
 */
export function planDown(applied: ReadonlySet<string>, sorted: readonly Migration[], target: string): Migration[] {
  if (target !== INITIAL_VERSION && !sorted.some((m) => m.version === target)) {
    throw new RollbackError(`Cannot roll back to ${target}: it is not a registered version (nor ${INITIAL_VERSION})`);
  }
  const byVersion = new Map(sorted.map((m) => [m.version, m]));
  const range = [...applied].filter((v) => isNewer(v, target)).sort((a, b) => compareVersions(b, a));
  const unknown = range.filter((v) => !byVersion.has(v));
  if (unknown.length > 0) {
    throw new RollbackError(`Cannot roll back to ${target}: applied version(s) ${unknown.join(', ')} are not in the code, so their down is unknown`);
  }
  const steps = range.map((v) => byVersion.get(v) as Migration);
  const noDown = steps.filter((m) => typeof m.down !== 'function');
  if (noDown.length > 0) {
    throw new RollbackError(
      `Cannot roll back to ${target}: no down for ${noDown.map((m) => `${m.version} (${m.description})`).join(', ')}; nothing was run`,
    );
  }
  const leaving = new Set(range);
  for (const m of sorted) {
    if (!applied.has(m.version) || leaving.has(m.version)) continue;
    const broken = (m.requires ?? []).filter((r) => leaving.has(r));
    if (broken.length > 0) {
      throw new DependencyError(`Cannot roll back ${broken.join(', ')}: migration ${m.version} stays applied and requires it`);
    }
  }
  return steps;
}
