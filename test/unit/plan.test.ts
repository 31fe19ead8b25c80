import { expect } from 'chai';
import { CorruptVersionError, InvalidMigrationError, SchemaTooNewError } from '../../lib/errors';
import { newestVersion, planFrom, validateMigrations } from '../../lib/plan/plan';
import type { Migration } from '../../lib/types';

const noop = async () => undefined;
const m = (version: string, description = `m ${version}`): Migration => ({ version, description, up: noop });

describe('plan: validating and ordering migrations (no database)', () => {
  it('orders by semver, not by array position or string order', () => {
    const sorted = validateMigrations([m('1.10.0'), m('1.9.0'), m('0.2.0'), m('1.0.0'), m('1.0.0-beta.2'), m('1.0.0-beta.10'), m('1.0.0-alpha')]);
    expect(sorted.map((x) => x.version)).to.deep.equal([
      '0.2.0', '1.0.0-alpha', '1.0.0-beta.2', '1.0.0-beta.10', '1.0.0', '1.9.0', '1.10.0',
    ]);
  });

  it('does not reorder the caller’s array', () => {
    const list = [m('2.0.0'), m('1.0.0')];
    validateMigrations(list);
    expect(list.map((x) => x.version)).to.deep.equal(['2.0.0', '1.0.0']);
  });

  for (const bad of ['1.0', 'v1.0.0', ' 1.0.0', '1.0.0 ', '01.0.0', 'latest', '', '1.0.0.0']) {
    it(`rejects the non-canonical version ${JSON.stringify(bad)} naming it`, () => {
      expect(() => validateMigrations([m('0.1.0'), m(bad)])).to.throw(InvalidMigrationError, JSON.stringify(bad));
    });
  }

  it('rejects a non-string version', () => {
    const broken = { version: 100, description: 'x', up: noop } as unknown as Migration;
    expect(() => validateMigrations([broken])).to.throw(InvalidMigrationError, 'migration at index 0: version 100');
  });

  it('rejects duplicates', () => {
    expect(() => validateMigrations([m('1.0.0'), m('0.5.0'), m('1.0.0')])).to.throw(
      InvalidMigrationError,
      'migration 1.0.0: duplicate version (same precedence as 1.0.0 at index 0)',
    );
  });

  it('rejects build metadata, which semver ignores when ordering', () => {
    expect(() => validateMigrations([m('1.0.0+build.7')])).to.throw(InvalidMigrationError, '"1.0.0+build.7" has build metadata');
  });

  it('rejects 0.0.0 and its pre-releases: an empty database is already there', () => {
    expect(() => validateMigrations([m('0.0.0')])).to.throw(InvalidMigrationError, 'greater than 0.0.0');
    expect(() => validateMigrations([m('0.0.0-rc.1')])).to.throw(InvalidMigrationError, 'greater than 0.0.0');
  });

  it('rejects an empty description, a missing up and a non-function down, all in one error', () => {
    const list = [
      { version: '1.0.0', description: '  ', up: noop },
      { version: '1.1.0', description: 'x' },
      { version: '1.2.0', description: 'y', up: noop, down: 'nope' },
    ] as unknown as Migration[];
    try {
      validateMigrations(list);
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(InvalidMigrationError);
      const { message, code } = err as InvalidMigrationError;
      expect(code).to.equal('INVALID_MIGRATION');
      expect(message).to.include('migration 1.0.0: description must be a non-empty string');
      expect(message).to.include('migration 1.1.0: up must be a function');
      expect(message).to.include('migration 1.2.0: down must be a function');
    }
  });

  it('newestVersion is 0.0.0 for no migrations and the top version otherwise', () => {
    expect(newestVersion([])).to.equal('0.0.0');
    expect(newestVersion(validateMigrations([m('1.10.0'), m('1.9.0')]))).to.equal('1.10.0');
  });
});

describe('plan: the start gate', () => {
  const list = validateMigrations([m('0.1.0'), m('1.0.0'), m('1.1.0')]);

  it('everything is pending on a fresh database', () => {
    const gate = planFrom('0.0.0', list);
    expect(gate.kind).to.equal('pending');
    expect(gate.kind === 'pending' && gate.pending.map((x) => x.version)).to.deep.equal(['0.1.0', '1.0.0', '1.1.0']);
  });

  it('only versions above the database version are pending', () => {
    const gate = planFrom('1.0.0', list);
    expect(gate.kind === 'pending' && gate.pending.map((x) => x.version)).to.deep.equal(['1.1.0']);
  });

  it('a pre-release of a registered version leaves that version pending', () => {
    const gate = planFrom('1.1.0-rc.1', list);
    expect(gate.kind === 'pending' && gate.pending.map((x) => x.version)).to.deep.equal(['1.1.0']);
  });

  it('current when at the newest version', () => {
    expect(planFrom('1.1.0', list).kind).to.equal('current');
  });

  it('newer within the same major: allowed (additive), nothing to run', () => {
    expect(planFrom('1.7.3', list)).to.deep.equal({ kind: 'newer', codeVersion: '1.1.0' });
  });

  it('newer with a different major: SchemaTooNewError naming both versions', () => {
    expect(() => planFrom('2.0.0', list)).to.throw(SchemaTooNewError, 'Database schema is at 2.0.0, but this code only knows up to 1.1.0');
  });

  it('CorruptVersionError shows the stored value, truncated', () => {
    const err = new CorruptVersionError('x'.repeat(500));
    expect(err.code).to.equal('CORRUPT_VERSION');
    expect(err.message.length).to.be.lessThan(400);
  });
});
