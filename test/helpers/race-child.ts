/**
 * One app instance in the start-up race: waits for a shared start time, runs migrations that each
 * log one row, prints a JSON line with its report, exits 0 (or 1 with the error).
 * Usage: DATABASE_URL=... RACE_START_AT=<epoch ms> RACE_MIGRATIONS=<n> [RACE_DATA=<m>] node -r ts-node/register/transpile-only race-child.ts
 */
import type { Knex } from 'knex';
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl, databaseUrlFromEnv } from '../../lib/database-url';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import type { Migration } from '../../lib/types';

export function loggingMigrations(count: number): Migration[] {
  return Array.from({ length: count }, (_, i) => ({
    version: `1.${i}.0`,
    description: `logged step ${i}`,
    async up(trx: Knex.Transaction) {
      if (i === 0) {
        await trx.schema.createTable('migration_log', (t) => {
          t.increments('id');
          t.string('version', 32).notNullable();
          t.integer('pid').notNullable();
        });
      }
      await trx.schema.createTable(`race_${i}`, (t) => {
        t.increments('id');
        t.string('v', 32);
      });
      // Some work inside the lock, so the others really have to wait.
      await trx.batchInsert('race_' + i, Array.from({ length: 500 }, (_, k) => ({ v: `${i}-${k}` })), 250);
      await trx('migration_log').insert({ version: `1.${i}.0`, pid: process.pid });
    },
  }));
}

/** Data-only migrations 2.<i>.0 (after loggingMigrations): each logs one row and changes one, no DDL. */
export function dataMigrations(count: number): Migration[] {
  return Array.from({ length: count }, (_, i) => ({
    version: `2.${i}.0`,
    description: `data step ${i}`,
    async up(trx: Knex.Transaction) {
      await trx('race_0').where({ id: 1 }).update({ v: `data ${i}` });
      await trx('migration_log').insert({ version: `2.${i}.0`, pid: process.pid });
    },
  }));
}

async function main(): Promise<void> {
  const startAt = Number(process.env.RACE_START_AT ?? Date.now());
  const count = Number(process.env.RACE_MIGRATIONS ?? 5);
  const db = createKnex(configFromUrl(databaseUrlFromEnv()));
  try {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
    const started = Date.now();
    const migrations = [...loggingMigrations(count), ...dataMigrations(Number(process.env.RACE_DATA ?? 0))];
    const report = await runMigrations(db, migrations, { logger: silentLogger, lockTimeoutMs: 120_000 });
    console.log(JSON.stringify({ pid: process.pid, ...report, ms: Date.now() - started }));
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`${err.name}: ${err.message}`);
    process.exitCode = 1;
  });
}
