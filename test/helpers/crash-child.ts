/**
 * The process the crash tests SIGKILL: opens DATABASE_URL (createKnex + configFromUrl), runs
 * migrations, and prints where it is on stdout, one marker per line, as it happens:
 *
 *   START                  just before runMigrations
 *   LOG <line>             the runner's logger ("applied 0.1.0 …", "database is at 1.0.0" = committed)
 *   STEP <step>            rebuildTable finished a step (lib/sqlite/rebuild.ts's test seam)
 *   MARK <text>            a crash-test migration reached a point (CRASH_LIST=slow)
 *   DONE                   runMigrations resolved
 *
 * Markers are written with a synchronous write to fd 1, so every marker printed before the kill
 * reaches the parent: the last one tells where the kill landed.
 *
 * Environment: DATABASE_URL; CRASH_LIST = "app" (default: runMigrations(db), the app's list) or
 * "slow" (crash-migrations.ts); CRASH_PAUSE_AT = the start of a marker line: after printing a line
 * that starts with it the process freezes (no further statement is sent) so the parent's SIGKILL
 * lands exactly there.
 *
 * Usage: DATABASE_URL=... node -r ts-node/register/transpile-only test/helpers/crash-child.ts
 */
import fs from 'fs';
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl, databaseUrlFromEnv } from '../../lib/database-url';
import { runMigrations } from '../../lib/functions';
import { setRebuildStepHook } from '../../lib/sqlite/rebuild';
import { APP_MIGRATIONS_DIR } from './app';
import { slowMigrations } from './crash-migrations';

/** How long a paused child waits for its kill before giving up (so a broken test cannot leave it behind). */
const PAUSE_LIMIT_MS = 60_000;

function marker(line: string): void {
  fs.writeSync(1, `${line}\n`);
  const pauseAt = process.env.CRASH_PAUSE_AT;
  if (pauseAt && line.startsWith(pauseAt)) {
    // Block the event loop: nothing more reaches the database until the SIGKILL arrives.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PAUSE_LIMIT_MS);
    fs.writeSync(2, `crash-child: paused at "${line}" for ${PAUSE_LIMIT_MS} ms and was not killed\n`);
    process.exit(3);
  }
}

async function main(): Promise<void> {
  const db = createKnex(configFromUrl(databaseUrlFromEnv()));
  setRebuildStepHook((step) => marker(`STEP ${step}`));
  const logger = { info: (m: string) => marker(`LOG ${m}`), warn: (m: string) => marker(`LOG warning: ${m}`) };
  try {
    const list = process.env.CRASH_LIST === 'slow' ? slowMigrations(marker) : APP_MIGRATIONS_DIR;
    marker('START');
    // A short lease: a killed runner's successor takes over after it instead of the default 10 s, kill after kill.
    await runMigrations(db, list, { logger, lockTimeoutMs: 120_000, leaseMs: 2000 });
    marker('DONE');
  } finally {
    await db.destroy();
  }
}

main().catch((err: Error) => {
  fs.writeSync(2, `${err.name}: ${err.message}\n`);
  process.exitCode = 1;
});
