/**
 * Pure planning, no database: validate a migration list, order it by semver, and decide what is
 * pending for a given database version (the start gate).
 */
import { InvalidMigrationError, SchemaTooNewError, showValue } from './errors';
import { INITIAL_VERSION } from './settings';
import type { Migration } from './types';
import { compareVersions, isCanonicalSemver, isNewer, majorOf } from './version';

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
      const twin = [...seen.entries()].find(([v]) => compareVersions(v, m.version) === 0);
      if (twin) problems.push(`${label}: duplicate version (same precedence as ${twin[0]} at index ${twin[1]})`);
      else seen.set(m.version, index);
    }
    if (typeof m.description !== 'string' || m.description.trim() === '') {
      problems.push(`${label}: description must be a non-empty string`);
    }
    if (typeof m.up !== 'function') problems.push(`${label}: up must be a function`);
    if (m.down !== undefined && typeof m.down !== 'function') problems.push(`${label}: down must be a function when given`);
  });

  if (problems.length > 0) {
    throw new InvalidMigrationError(`Invalid migration list: ${problems.join('; ')}`);
  }
  return [...migrations].sort((a, b) => compareVersions(a.version, b.version));
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
  if (isNewer(current, codeVersion)) {
    if (majorOf(current) !== majorOf(codeVersion)) throw new SchemaTooNewError(current, codeVersion);
    return { kind: 'newer', codeVersion };
  }
  const pending = sorted.filter((m) => isNewer(m.version, current));
  return pending.length > 0 ? { kind: 'pending', pending } : { kind: 'current' };
}

function describe(m: Migration | null | undefined, index: number): string {
  const version = m && typeof m === 'object' ? m.version : undefined;
  return isCanonicalSemver(version) ? `migration ${version}` : `migration at index ${index}`;
}
