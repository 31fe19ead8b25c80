/**
 * A runner that takes the migration lock and never lets go (its migration waits forever), for the
 * "killed while holding the lock" test. Prints "LOCKED" once it holds the lock.
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
        // Hangs before any DDL: on MySQL, DDL would commit on its own and leave the database dirty.
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
