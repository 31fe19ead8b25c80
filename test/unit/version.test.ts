/**
 * lib/version.ts reads plain releases itself (the up-to-date check parses the whole list at every app
 * start) and leaves everything else to the `semver` package. These properties hold it to semver's
 * answers and to the SemVer 2.0.0 oracle, on random, near-miss and junk input.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import semver from 'semver';
import { compareVersions, isCanonicalSemver, isNewer, majorOf, sortByVersion } from '../../lib/version';
import { JUNK_VERSIONS, buildMetadataVersion, canonicalVersion, fuzzRuns, nearMissVersion, oracleIsCanonical } from '../helpers/fuzz-arbitraries';

/** Plain releases with numbers of every size up to 16 digits (past the 15 the fast path reads itself). */
const plainVersion = fc
  .tuple(...[0, 1, 2].map(() => fc.oneof(fc.nat({ max: 20 }), fc.nat(), fc.constantFrom(999_999_999_999_999, 1_000_000_000_000_000, Number.MAX_SAFE_INTEGER))))
  .map((parts) => parts.join('.'));
const anyVersion = fc.oneof(plainVersion, canonicalVersion);

describe('version: our parse agrees with semver', () => {
  it('isCanonicalSemver matches the SemVer 2.0.0 oracle on canonical, near-miss, build-metadata and junk strings', () => {
    fc.assert(
      fc.property(fc.oneof(anyVersion, nearMissVersion, buildMetadataVersion, fc.constantFrom(...JUNK_VERSIONS), fc.string()), (v) => {
        expect(isCanonicalSemver(v), JSON.stringify(v)).to.equal(oracleIsCanonical(v));
        expect(isCanonicalSemver(v), JSON.stringify(v)).to.equal(semver.valid(v) === v);
      }),
      { numRuns: fuzzRuns(2000, 20000) },
    );
  });

  it('compareVersions, isNewer and majorOf give semver.compare, semver.gt and semver.major', () => {
    fc.assert(
      fc.property(anyVersion, anyVersion, (a, b) => {
        expect(compareVersions(a, b), `${a} vs ${b}`).to.equal(semver.compare(a, b));
        expect(isNewer(a, b)).to.equal(semver.gt(a, b));
        expect(majorOf(a)).to.equal(semver.major(a));
      }),
      { numRuns: fuzzRuns(3000, 30000) },
    );
  });

  it('sortByVersion orders a list as semver.sort does, keeping every item', () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyVersion, { maxLength: 40, selector: (v) => semver.parse(v)?.version }), (versions) => {
        const sorted = sortByVersion(versions.map((version) => ({ version })));
        expect(sorted.map((m) => m.version)).to.deep.equal(semver.sort([...versions]));
      }),
      { numRuns: fuzzRuns(500, 5000) },
    );
  });

  it('a pre-release sorts below its release and a plain release; build metadata does not count', () => {
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).to.equal(-1);
    expect(compareVersions('1.0.0', '1.0.0-rc.1')).to.equal(1);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).to.equal(-1);
    expect(compareVersions('1.0.0+build.1', '1.0.0')).to.equal(0);
    expect(compareVersions('1.10.0', '1.9.0')).to.equal(1);
    expect(() => compareVersions('1.0', '1.0.0')).to.throw(TypeError, 'Invalid Version: 1.0');
  });
});
