import semver from 'semver';

/** True for a strict, canonical semver string: "1.2.3", "1.0.0-beta.1"; not "v1.2.3", " 1.2.3" or "1.2". */
export function isCanonicalSemver(version: unknown): version is string {
  return typeof version === 'string' && semver.valid(version) === version;
}

/** Semver precedence (build metadata ignored), for sorting ascending. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

export function isNewer(a: string, than: string): boolean {
  return semver.gt(a, than);
}

export function majorOf(version: string): number {
  return semver.major(version);
}
