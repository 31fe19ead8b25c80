/**
 * fast-check generators for the property tests, and an oracle for "canonical semver" written from
 * the SemVer 2.0.0 grammar (semver.org), independent of the `semver` package the library uses.
 *
 * KSM_SLOW=1 scales the number of runs (fuzzRuns) and the size of long strings up.
 */
import fc from 'fast-check';

export const SLOW = process.env.KSM_SLOW === '1';

/** numRuns for a property: `normal` by default, `slow` under KSM_SLOW=1. */
export function fuzzRuns(normal: number, slow: number): number {
  return SLOW ? slow : normal;
}

// ---------------------------------------------------------------------------------------------
// The oracle

const NUM = '(?:0|[1-9][0-9]*)';
const ALNUM_ID = '[0-9]*[A-Za-z-][0-9A-Za-z-]*';
const PRE_ID = `(?:${NUM}|${ALNUM_ID})`;
const BUILD_ID = '[0-9A-Za-z-]+';
/** SemVer 2.0.0's <valid semver>, core + optional pre-release + optional build. */
const SEMVER_2 = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:-${PRE_ID}(?:\\.${PRE_ID})*)?(?:\\+${BUILD_ID}(?:\\.${BUILD_ID})*)?$`);

/** What the library documents as a canonical version: valid SemVer 2.0.0 without build metadata. */
export function oracleIsCanonical(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 256 || value.includes('+')) return false;
  const m = SEMVER_2.exec(value);
  // The `semver` package (and JavaScript numbers) stop at Number.MAX_SAFE_INTEGER per component.
  return m !== null && [m[1], m[2], m[3]].every((n) => Number(n) <= Number.MAX_SAFE_INTEGER);
}

/** Valid SemVer 2.0.0 whose core is canonical but which carries build metadata ("1.0.0+x"). */
export function oracleHasBuildMetadata(value: unknown): boolean {
  return typeof value === 'string' && value.includes('+') && SEMVER_2.test(value) && oracleIsCanonical(value.split('+')[0]);
}

// ---------------------------------------------------------------------------------------------
// Versions

const smallNat = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 3 }) }, { weight: 1, arbitrary: fc.nat({ max: 1_000_000 }) });
const preId = fc.oneof(
  fc.constantFrom('alpha', 'beta', 'rc', 'x-y', '0a', '-', 'RC', 'z9'),
  fc.nat({ max: 12 }).map(String),
);

/** Canonical versions from small ranges, so duplicates and pre-release/release pairs are frequent. */
export const canonicalVersion: fc.Arbitrary<string> = fc
  .tuple(smallNat, smallNat, smallNat, fc.option(fc.array(preId, { minLength: 1, maxLength: 3 }), { freq: 3 }))
  .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre ? `-${pre.join('.')}` : ''}`);

/** A canonical version that is above 0.0.0 (every migration version must be). */
export const migrationVersion: fc.Arbitrary<string> = canonicalVersion.filter((v) => v !== '0.0.0' && !v.startsWith('0.0.0-'));

export const buildMetadataVersion: fc.Arbitrary<string> = fc
  .tuple(canonicalVersion, fc.constantFrom('build', '001', 'sha.5114f85', 'x-y', 'exp.sha.1'))
  .map(([v, b]) => `${v}+${b}`);

/** Fixed near-misses and junk that a hand-written list or a corrupted row might hold. */
export const JUNK_VERSIONS: readonly string[] = [
  '', ' ', '1', '1.0', '1.0.0.0', 'v1.0.0', 'V1.0.0', '=1.0.0', ' 1.0.0', '1.0.0 ', '1.0.0\n', '\t1.0.0',
  '01.0.0', '1.01.0', '1.0.00', '1.0.0-', '1.0.0-01', '1.0.0-rc..1', '1.0.0-rc.', '1.0.0+', '1.0.0++x', '0.0.0',
  '0.0.0-rc.1', 'latest', '*', '^1.0.0', '~1.0.0', '>=1.0.0', '1.x', '1.0.x', 'x.y.z', 'NaN.NaN.NaN', '-1.0.0',
  '1.-1.0', '9007199254740992.0.0', '1.0.0-ü', '１.０.０', '1.0.0-rc.1 ', '1.0.0_rc', '1,0,0', '1.0.0;',
  "1.0.0'; DROP TABLE system_settings; --", 'null', 'undefined', 'true', '1e3.0.0', '0x1.0.0', '1.0.0-α',
  `${'9'.repeat(300)}.0.0`, `1.0.0-${'a'.repeat(300)}`,
];

/** A canonical version bent slightly: the oracle decides whether the result is still valid. */
export const nearMissVersion: fc.Arbitrary<string> = fc
  .tuple(
    canonicalVersion,
    fc.constantFrom<(v: string) => string>(
      (v) => `v${v}`,
      (v) => ` ${v}`,
      (v) => `${v} `,
      (v) => `${v}\n`,
      (v) => `${v}.0`,
      (v) => v.replace(/^(\d+)/, '0$1'),
      (v) => v.split('.').slice(0, 2).join('.'),
      (v) => v.replace(/\./g, ','),
      (v) => `${v}-`,
      (v) => `${v}+`,
      (v) => v.toUpperCase(),
      (v) => v.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))),
    ),
  )
  .map(([v, bend]) => bend(v));

/** Anything a version field might hold: canonical, pre-release, build metadata, near misses, junk. */
export const anyVersionString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: canonicalVersion },
  { weight: 1, arbitrary: buildMetadataVersion },
  { weight: 2, arbitrary: nearMissVersion },
  { weight: 2, arbitrary: fc.constantFrom(...JUNK_VERSIONS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

// ---------------------------------------------------------------------------------------------
// Hostile text (settings keys and values)

/** SQL fragments, quoting and escaping characters, placeholders of every driver. */
export const SQL_FRAGMENTS: readonly string[] = [
  "'", "''", '"', '`', '\\', "\\'", ';', '--', '/*', '*/', '%', '_', '?', '??', ':name', '$1', '@var', '${x}',
  "'; DROP TABLE system_settings; --", '" OR 1=1 --', "' OR ''='", "' UNION SELECT value FROM system_settings --",
  "x'); DELETE FROM system_settings; --", 'NULL', 'null', 'undefined', '0x00', '\\0', '\\x00', 'CHAR(0)',
];

/** Unicode that breaks naive code: case and accent folding, combining marks, RTL, astral planes, separators. */
export const TRICKY_UNICODE: readonly string[] = [
  'ä', 'a\u0308', 'Ä', 'ß', 'SS', 'ẞ', 'İ', 'ı', 'ﬃ', 'é', 'e\u0301', 'Ω', 'Ω', '日本語', '🚀', '👩‍👩‍👧', '🏳️‍🌈',
  '\u200b', '\u200d', '\u202e', '\ufeff', '\u2028', '\u2029', '\u00a0', '\t', '\r\n', '\n', ' ', '\u0085', '\uffff',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '\u{10ffff}',
];

function withoutNul(s: string): string {
  return s.replace(/\0/g, '');
}

/** NUL-free text: any code point, printable graphemes, or SQL fragments and tricky unicode glued together. */
export function hostileText(maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength }).map(withoutNul) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    {
      weight: 3,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...SQL_FRAGMENTS, ...TRICKY_UNICODE), fc.string({ maxLength: 4 })), { maxLength: 8 })
        .map((parts) => parts.join('')),
    },
  );
}

/** A long string of `min`…`max` UTF-16 units, built by repeating a hostile piece (never cut mid surrogate pair). */
export function longText(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(hostileText(12).filter((s) => s.length > 0), fc.integer({ min, max }))
    .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)));
}

/** Values for settings: mostly short hostile text, sometimes long or very long. */
export const settingValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: hostileText(64) },
  { weight: 1, arbitrary: longText(1_000, SLOW ? 2_000_000 : 100_000) },
);

/** A string the oracle says is not canonical semver (for corrupting db_version). */
export const corruptVersion: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: anyVersionString },
    { weight: 2, arbitrary: hostileText(40) },
    { weight: 1, arbitrary: longText(5_000, 200_000) },
  )
  .filter((v) => !oracleIsCanonical(v));

// ---------------------------------------------------------------------------------------------
// Reporting

/** Cuts long strings inside a printed counterexample so a megabyte value cannot flood the report. */
function shorten(text: string, max = 160): string {
  return text.replace(/"((?:[^"\\]|\\.)*)"/g, (whole, inner: string) =>
    inner.length > max ? `"${inner.slice(0, max)}…" (${inner.length} chars printed)` : whole,
  );
}

/**
 * fc.assert parameters with a reporter that prints the seed, the path, a shortened counterexample
 * and the cause, so a failing run with long strings stays readable. Re-run it with KSM_SEED=<seed> and
 * KSM_PATH=<path> (and mocha's -g for the one property).
 */
export function fuzzParams<Ts>(numRuns: number): fc.Parameters<Ts> {
  const replay = process.env.KSM_SEED ? { seed: Number(process.env.KSM_SEED), ...(process.env.KSM_PATH ? { path: process.env.KSM_PATH } : {}) } : {};
  return {
    numRuns,
    ...replay,
    reporter(details) {
      if (!details.failed) return;
      const cause = details.errorInstance instanceof Error ? details.errorInstance : new Error(String(details.errorInstance));
      const error = new Error(
        `Property failed after ${details.numRuns} run(s) (seed ${details.seed}, path "${String(details.counterexamplePath)}", ` +
          `shrunk ${details.numShrinks} time(s))\nCounterexample: ${shorten(fc.stringify(details.counterexample))}\n` +
          `Caused by: ${cause.name}: ${shorten(cause.message, 600)}`,
        { cause },
      );
      throw error;
    },
  };
}
