/**
 * Crash at any point (SQLite file): a child process runs the app's migrations on a copy of a legacy
 * database holding many users and posts, and is SIGKILLed — frozen at every progress marker (each
 * step of the users rebuild included), at random moments after it starts, during the copy of the
 * users table, and while it is still loading. After every kill the file must open, pass
 * integrity_check and foreign_key_check, hold a valid db_version whose schema matches it, have lost
 * no user and no post (checksums of all their content), hold no leftover rebuild table, and a
 * following run must complete with the same users and posts.
 *
 * Default: 200k users, ≥ 30 kills, 2 children at a time. KSM_SLOW=1: 1M users, ~120 kills.
 * The kill statistics are printed (where the kills landed; db_version before → after).
 * Note: SIGKILL tests a process crash, not a power loss (the OS still writes out what it cached), so
 * the files live on tmpfs (/dev/shm) where there is one.
 */
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Knex } from 'knex';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { APP_MIGRATIONS_DIR, CURRENT_DB_VERSION } from '../helpers/app';
import { createLargeLegacyFixture, dataFacts, type LegacyFixture } from '../helpers/crash-fixtures';
import {
  SLOW,
  describePlan,
  formatKillStats,
  inPool,
  landedAt,
  runCrashChild,
  spreadDelays,
  type CrashRun,
  type KillPlan,
  type KillRecord,
} from '../helpers/crash-harness';
import { fileDb, memoryDb } from '../helpers/db';
import { schemaOf } from '../helpers/legacy';

const USERS = SLOW ? 1_000_000 : 200_000;
const RANDOM_KILLS = SLOW ? 80 : 15;
const COPY_KILLS = SLOW ? 20 : 5;
const LOADING_KILLS = SLOW ? 5 : 2;
const CONCURRENCY = 2;
const MIN_KILLS = 30;

/** Every marker the child prints on this run, in order: a kill frozen at each. */
const MARKERS = [
  'START',
  'LOG applied 0.1.0',
  'STEP renameColumns',
  'STEP createTemp',
  'STEP copyRows',
  'STEP carrySequence',
  'STEP dropOld',
  'STEP renameTemp',
  'STEP restoreIndexes',
  'STEP restoreTriggers',
  'STEP verify',
  'LOG applied 1.0.0',
  'LOG database is at',
];
const SYSTEM_TABLES = new Set(['system_settings', 'system_migrations']);

/** A marker line without its variable part (timings, descriptions), for the statistics. */
function place(run: CrashRun): string {
  const last = landedAt(run);
  return MARKERS.find((m) => last.startsWith(m)) ?? last;
}

async function storedVersion(db: Knex): Promise<string> {
  if (!(await db.schema.hasTable('system_settings'))) return '0.0.0';
  const row = (await db('system_settings').where({ key: 'db_version' }).first('value')) as { value: string } | undefined;
  return row?.value ?? '0.0.0';
}

describe('crash at any point: SIGKILL while migrating a legacy SQLite file', function () {
  this.timeout(SLOW ? 3_600_000 : 600_000);
  let dir: string;
  let fixtureFile: string;
  let fixture: LegacyFixture;
  let currentSchema: Awaited<ReturnType<typeof schemaOf>>;

  before(async () => {
    // In memory (tmpfs) where the machine has one: a SIGKILL crash is the same there (the page cache
    // survives a killed process either way), and ~70 copies of the file cost no disk writes.
    const base = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : os.tmpdir();
    dir = fs.mkdtempSync(path.join(base, 'ksm-crash-sqlite-'));
    fixtureFile = path.join(dir, 'legacy.sqlite');
    fixture = await createLargeLegacyFixture(fixtureFile, USERS);
    // The schema at CURRENT_DB_VERSION: a fresh database migrated by the same list (the app tests
    // show a migrated legacy database ends with exactly this schema).
    const fresh = memoryDb();
    try {
      await runMigrations(fresh, APP_MIGRATIONS_DIR, { logger: silentLogger });
      currentSchema = await schemaOf(fresh);
    } finally {
      await fresh.destroy();
    }
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What must hold after a kill; then a following run. Returns the version the kill left. */
  async function verifyAfterKill(file: string, label: string): Promise<string> {
    const db = fileDb(file);
    try {
      expect(await db.raw('PRAGMA integrity_check'), `${label}: integrity_check`).to.deep.equal([{ integrity_check: 'ok' }]);
      expect(await db.raw('PRAGMA foreign_key_check'), `${label}: foreign_key_check`).to.deep.equal([]);
      const version = await storedVersion(db);
      expect(['0.0.0', '0.1.0', CURRENT_DB_VERSION], `${label}: db_version`).to.include(version);
      const schema = await schemaOf(db);
      expect(schema.filter((o) => o.name.startsWith('_ksm_rebuild_')), `${label}: no leftover rebuild table`).to.deep.equal([]);
      if (version === CURRENT_DB_VERSION) {
        expect(schema, `${label}: the schema of ${version}`).to.deep.equal(currentSchema);
        expect(await db('users').where('is_admin', '<>', 0).count({ n: '*' }), `${label}: is_admin defaults`).to.deep.equal([{ n: 0 }]);
      } else {
        // 0.0.0 and 0.1.0 (the baseline creates nothing on a legacy database): the legacy schema, plus at most the bookkeeping tables.
        expect(schema.filter((o) => !SYSTEM_TABLES.has(o.tbl_name)), `${label}: the legacy schema`).to.deep.equal(fixture.schema);
      }
      expect(await dataFacts(db), `${label}: every user and post, unchanged`).to.deep.equal(fixture.data);

      // A following run completes, with the same users and posts.
      const report = await runMigrations(db, APP_MIGRATIONS_DIR, { logger: silentLogger });
      expect(report, `${label}: the following run`).to.include({ from: version, to: CURRENT_DB_VERSION });
      expect(await schemaOf(db), `${label}: schema after the following run`).to.deep.equal(currentSchema);
      expect(await dataFacts(db), `${label}: users and posts after the following run`).to.deep.equal(fixture.data);
      expect(await db.raw('PRAGMA foreign_key_check')).to.deep.equal([]);
      return version;
    } finally {
      await db.destroy();
    }
  }

  it(`≥ ${MIN_KILLS} kills (at every marker, during the users copy, at random moments): the file is intact, nothing is lost, a following run completes`, async () => {
    // Calibration, and the uninterrupted case: a child that is not killed reaches CURRENT_DB_VERSION.
    const calibrationFile = path.join(dir, 'calibration.sqlite');
    fs.copyFileSync(fixtureFile, calibrationFile);
    const calibration = await runCrashChild({ DATABASE_URL: `sqlite://${calibrationFile}` }, { kind: 'none' });
    expect(calibration.code, calibration.stderr).to.equal(0);
    expect(calibration.markers.at(-1)).to.equal('DONE');
    for (const m of MARKERS) expect(calibration.markers.some((line) => line.startsWith(m)), `the child prints ${m}`).to.equal(true);
    expect(await verifyAfterKill(calibrationFile, 'calibration')).to.equal(CURRENT_DB_VERSION);
    const at = (m: string) => calibration.markerMs[calibration.markers.findIndex((line) => line.startsWith(m))];
    const migrateMs = at('LOG database is at');
    const copyMs = Math.max(1, at('STEP copyRows') - at('STEP createTemp'));
    const loadMs = calibration.loadMs ?? 500;

    const plans: KillPlan[] = [
      ...MARKERS.map((marker): KillPlan => ({ kind: 'atMarker', marker })),
      ...spreadDelays(COPY_KILLS, copyMs * 0.9).map((delayMs): KillPlan => ({ kind: 'afterMarker', marker: 'STEP createTemp', delayMs })),
      ...spreadDelays(LOADING_KILLS, loadMs * 0.8).map((delayMs): KillPlan => ({ kind: 'afterSpawn', delayMs })),
      // Past the calibrated end too: under load the migration runs slower, and a late kill must land after the commit.
      ...spreadDelays(RANDOM_KILLS, migrateMs * 1.4).map((delayMs): KillPlan => ({ kind: 'afterStart', delayMs })),
    ];

    let hotJournals = 0;
    const attempt = async (plan: KillPlan, i: number): Promise<KillRecord> => {
      const file = path.join(dir, `crash-${i}.sqlite`);
      fs.copyFileSync(fixtureFile, file);
      try {
        const run = await runCrashChild({ DATABASE_URL: `sqlite://${file}` }, plan);
        const label = `kill #${i} (${describePlan(plan)}, last marker "${landedAt(run)}")`;
        expect(run.stderr, label).to.not.match(/crash-harness|crash-child/);
        if (plan.kind === 'atMarker') expect(run.killed, `${label}: killed while frozen`).to.equal(true);
        if (!run.killed) expect(run.code, `${label}: ${run.stderr}`).to.equal(0);
        if (fs.existsSync(`${file}-journal`)) hotJournals++;
        const after = await verifyAfterKill(file, label);
        return { plan, landedAt: run.killed ? place(run) : 'DONE', before: '0.0.0', after, killed: run.killed };
      } finally {
        for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
      }
    };
    const records = await inPool(plans, CONCURRENCY, attempt);
    // Top up with more random kills if runs finished before their kill left fewer than MIN_KILLS.
    for (let extra = 0; records.filter((r) => r.killed).length < MIN_KILLS && extra < 20; extra++) {
      records.push(await attempt({ kind: 'afterStart', delayMs: Math.random() * migrateMs }, plans.length + extra));
    }

    console.log(
      `\n      ${formatKillStats(`crash [sqlite, ${USERS} users]`, records, ['(loading)', ...MARKERS]).split('\n').join('\n      ')}` +
        `\n        (migration ≈ ${Math.round(migrateMs)} ms after START, users copy ≈ ${Math.round(copyMs)} ms, child load ≈ ${Math.round(loadMs)} ms; ` +
        `${hotJournals} kill(s) left a hot journal, rolled back on open)\n`,
    );
    const kills = records.filter((r) => r.killed);
    expect(kills.length, 'kills').to.be.at.least(MIN_KILLS);
    const inRebuild = kills.filter((r) => r.landedAt.startsWith('STEP') && r.landedAt !== 'STEP verify');
    expect(inRebuild.length, 'kills inside the rebuild of users').to.be.at.least(MARKERS.filter((m) => m.startsWith('STEP') && m !== 'STEP verify').length);
    expect(
      kills.filter((r) => r.landedAt === 'STEP createTemp' && r.plan.kind !== 'atMarker').length,
      'kills while the users rows were being copied',
    ).to.be.greaterThan(0);
    expect(kills.some((r) => r.after === '0.0.0') && kills.some((r) => r.after === CURRENT_DB_VERSION), 'both outcomes seen').to.equal(true);
  });
});
