/**
 * One app instance in the start-up race. It loads its modules, prints "@@loaded", and waits for "go"
 * on stdin (so that node's own start-up, which is CPU-bound and the same for every migrator, is not
 * what is measured; its knex instance is created before, knex connects on first use); then it runs
 * runMigrations and reports when it was ready. Migration i creates race_<i> with `rowsPerMigration` rows and logs
 * (version, pid) in migration_log, so the parent can check that each ran exactly once.
 * Payload: { url, migrations, rowsPerMigration }.
 */
import { createKnex } from '../../lib/bootstrap';
import { configFromUrl } from '../../lib/database-url';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { emit, input, main } from './protocol';
import { LOADED, raceMigrations, type RaceInput, type RaceOutput } from './race-migrations';

const now = () => performance.timeOrigin + performance.now();

function waitForGo(): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    process.stdin.on('data', (d: Buffer) => {
      buffered += d.toString();
      if (buffered.includes('go')) resolve(now());
    });
    process.stdin.on('end', () => reject(new Error('stdin closed before "go"')));
  });
}

main(module, async () => {
  const p = input<RaceInput>();
  const migrations = raceMigrations(p.migrations, p.rowsPerMigration);
  // The instance (and with it the driver module knex requires lazily) exists before "go"; knex
  // connects on first use, so connecting is part of the race.
  const db = createKnex(configFromUrl(p.url));
  let statements = 0;
  db.on('query', () => statements++);
  const go = waitForGo();
  process.stdout.write(`${LOADED}\n`);
  const goAt = await go;
  const cpu = process.cpuUsage();
  try {
    const report = await runMigrations(db, migrations, { logger: silentLogger, lockTimeoutMs: 120_000 });
    const readyAt = now();
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    const out: RaceOutput = { pid: process.pid, goAt, readyAt, cpuMs, statements, applied: report.applied.map((a) => a.version), to: report.to };
    emit(out);
  } finally {
    await db.destroy();
    process.stdin.destroy();
  }
});
