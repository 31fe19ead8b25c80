// Only the SemVer class: loading all of `semver` (ranges, coercion…) costs every app start a few ms.
import SemVer from 'semver/classes/semver';

/**
 * Parsed versions, by string. A migration list is compared many times per run (validation, sorting,
 * planning); parsing each string once keeps all of that linear. Only valid versions are kept, and the
 * cache is emptied when it grows past a bound, so hostile input cannot make it grow without limit.
 */
const parsed = new Map<string, SemVer>();
const MAX_CACHED = 10_000;

function parse(version: string): SemVer | undefined {
  let v = parsed.get(version);
  if (v !== undefined) return v;
  try {
    v = new SemVer(version);
  } catch {
    return undefined;
  }
  if (parsed.size >= MAX_CACHED) parsed.clear();
  parsed.set(version, v);
  return v;
}

function parseOrThrow(version: string): SemVer {
  const v = parse(version);
  if (v === undefined) throw new TypeError(`Invalid Version: ${version}`);
  return v;
}

/** True for a strict, canonical semver string: "1.2.3", "1.0.0-beta.1"; not "v1.2.3", " 1.2.3" or "1.2". */
export function isCanonicalSemver(version: unknown): version is string {
  return typeof version === 'string' && parse(version)?.version === version;
}

/** Semver precedence (build metadata ignored), for sorting ascending. */
export function compareVersions(a: string, b: string): number {
  return parseOrThrow(a).compare(parseOrThrow(b));
}

export function isNewer(a: string, than: string): boolean {
  return compareVersions(a, than) > 0;
}

export function majorOf(version: string): number {
  return parseOrThrow(version).major;
}
