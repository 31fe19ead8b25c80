/**
 * A runner that takes the migration lock and never lets go (its migration waits forever), for the
 * "killed while holding the lock" tests. Prints "LOCKED" once it holds the lock.
 * Usage: DATABASE_URL=... node -r ts-node/register/transpile-only lock-holder.ts
 */
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl, databaseUrlFromEnv } from '../../lib/database-url';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';

const db = createKnex(configFromUrl(databaseUrlFromEnv()));
runMigrations(
  db,
  [
    {
      version: '9.0.0',
      description: 'hangs while holding the lock',
      async up(trx) {
        // Hangs before any DDL, unless HOLDER_DDL=1 (on MySQL the DDL commits on its own: a half-done migration).
        if (process.env.HOLDER_DDL === '1') await trx.schema.createTable('holder_made', (t) => t.integer('id'));
        await trx.raw('SELECT 1');
        console.log('LOCKED');
        await new Promise(() => undefined);
      },
    },
  ],
  { logger: silentLogger },
).catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
