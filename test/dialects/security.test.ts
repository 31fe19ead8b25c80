/**
 * A password in DATABASE_URL never reaches any output, even when the server refuses it and even
 * with --verbose stacks; values always travel as bound parameters (see the settings round-trips).
 */
import { expect } from 'chai';
import { configFromUrl } from '../../lib/database-url';
import { createKnex } from '../../lib/bootstrap';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { postgres, mysql, describeDialect } from '../helpers/dialects';
import { runTs } from '../helpers/processes';

const SECRET = 'S3cret-Passw0rd-%21x';

const refusingUrls = {
  // Trust auth accepts any password for a real role, so name a role that does not exist.
  postgres: `postgres://no_such_role_ksm:${SECRET}@127.0.0.1:5432/test`,
  mysql: `mysql://root:${SECRET}@127.0.0.1:3306/test`,
};

for (const dialect of [postgres, mysql]) {
  describeDialect(dialect, 'a server that refuses the credentials', () => {
    const url = refusingUrls[dialect.engine as 'postgres' | 'mysql'];

    for (const verbose of [false, true]) {
      it(`CLI latest${verbose ? ' --verbose' : ''}: exit 1, the refusal reported, the password nowhere`, async () => {
        const args = ['latest', '--env', 'production', ...(verbose ? ['--verbose'] : [])];
        const r = await runTs('scripts/migrate.ts', args, { DATABASE_URL: url, NODE_ENV: '' });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.match(/^error: .*(does not exist|Access denied)/m);
        if (!verbose) expect(r.stderr.trim().split('\n')).to.have.length(1);
        for (const text of [r.stdout, r.stderr]) {
          expect(text).to.not.include(SECRET);
          expect(text).to.not.include(decodeURIComponent(SECRET));
        }
      });
    }

    it('API: the rejection carries no password in message, stack or properties', async () => {
      const quietKnex = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };
      const db = createKnex({ ...configFromUrl(url), acquireConnectionTimeout: 5000, log: quietKnex });
      try {
        const err = await runMigrations(db, [], { logger: silentLogger }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(Error);
        const everything = [String((err as Error).message), String((err as Error).stack), JSON.stringify(err)].join('\n');
        expect(everything).to.not.include(decodeURIComponent(SECRET));
      } finally {
        await db.destroy();
      }
    });
  });
}
