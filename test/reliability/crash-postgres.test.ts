/**
 * Crash at any point (PostgreSQL): a child process migrates a database at 1.0.0 holding data with a
 * list whose two last migrations are slow (many short statements with pauses between them), and is
 * SIGKILLed mid-migration: frozen at markers inside each migration and between them, and at random
 * moments. After every kill: db_version is a valid version, the schema is exactly that version's,
 * no half-applied table exists, no row of the app's tables changed, no dirty marker, and a following
 * run completes.
 *
 * Default: ~14 kills, 2 at a time (each in its own schema). KSM_SLOW=1: more rows, ~40 kills.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import semver from 'semver';
import { DIRTY_KEY } from '../../lib/store/dirty';
import { silentLogger } from '../../lib/logger';
import { runMigrations } from '../../lib/functions';
import { getDatabaseVersion, getSystemSetting } from '../../lib/store/settings';
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
import { slowMigrations } from '../helpers/crash-migrations';
import { DIALECTS, describeDialect, type TestDatabase } from '../helpers/dialects';
import { schemaSnapshot } from '../helpers/fuzz-snapshot';

const quiet = { logger: silentLogger };
const USERS = SLOW ? 200_000 : 20_000;
const RANDOM_KILLS = SLOW ? 30 : 4;
const CONCURRENCY = 2;
const MIN_KILLS = 10;

const MARKERS = [
  'START',
  'MARK 1.1.0 begin',
  'MARK 1.1.0 table',
  'MARK 1.1.0 batch 3',
  'MARK 1.1.0 end',
  'LOG applied 1.1.0',
  'MARK 1.2.0 column',
  'MARK 1.2.0 batch 5',
  'MARK 1.2.0 end',
  'LOG applied 1.2.0',
  'LOG database is at',
];
/** The tables each slow migration creates: present exactly from that version on. */
const CREATED_BY: Record<string, string> = { audit_log: '1.1.0', tags: '1.2.0' };

function place(run: CrashRun): string {
  const last = landedAt(run);
  return MARKERS.find((m) => last.startsWith(m)) ?? last.replace(/ \(.*$/, '');
}

/** The app's migrations (to 1.0.0) and rows in every table. */
async function prepare(db: Knex): Promise<void> {
  await runMigrations(db, slowMigrations().filter((m) => !semver.gt(m.version, '1.0.0')), quiet);
  await db.raw(
    `INSERT INTO users (username, email, password_hash, created_at, is_admin)
     SELECT 'user' || i || CASE WHEN i % 97 = 0 THEN ' ünï ''q''' ELSE '' END, 'user' || i || '@example.test', md5(i::text),
            timestamp '2020-01-01' + i * interval '1 minute', i = 1
       FROM generate_series(1, ?) AS i`,
    [USERS],
  );
  await db.raw(`INSERT INTO posts (user_id, body, created_at) SELECT id, 'post by ' || id || ' — "quoted"', timestamp '2021-01-01' FROM users`);
  await db.raw(`INSERT INTO posts (user_id, body, created_at) SELECT id, 'second post by ' || id, timestamp '2021-02-01' FROM users`);
  await db.raw(`INSERT INTO user_logins (user_id, ip_address, user_agent) SELECT id, '10.0.0.1', 'test' FROM users WHERE id % 10 = 0`);
  await db('feedback').insert([
    { user_id: 1, kind: 'bug', message: 'broken' },
    { user_id: null, kind: 'feedback', message: 'anonymous' },
  ]);
}

/** Row counts and an md5 of the app's four tables (their 1.0.0 columns, in id order). */
async function dataFacts(db: Knex): Promise<Record<string, { n: number; md5: string }>> {
  const tables: Record<string, string[]> = {
    users: ['id', 'username', 'email', 'password_hash', 'created_at', 'is_admin'],
    posts: ['id', 'user_id', 'body', 'created_at'],
    user_logins: ['id', 'user_id', 'ip_address', 'user_agent', 'created_at'],
    feedback: ['id', 'user_id', 'kind', 'message', 'created_at'],
  };
  const facts: Record<string, { n: number; md5: string }> = {};
  for (const [table, columns] of Object.entries(tables)) {
    const row = columns.map((c) => `coalesce(${c}::text, chr(21))`).join(` || chr(31) || `);
    const { rows } = (await db.raw(`SELECT count(*)::int AS n, md5(coalesce(string_agg(${row}, chr(30) ORDER BY id), '')) AS md5 FROM ${table}`)) as {
      rows: { n: number; md5: string }[];
    };
    facts[table] = rows[0];
  }
  return facts;
}

for (const dialect of DIALECTS.filter((d) => d.engine === 'postgres')) {
  describeDialect(dialect, 'crash at any point: SIGKILL mid-migration', ({ database }) => {
    it(`≥ ${MIN_KILLS} kills inside and between slow migrations: a valid version with its exact schema, no half-applied table, no row lost, a following run completes`, async function () {
      this.timeout(SLOW ? 1_800_000 : 300_000);

      // The exact schema of each version, from a reference database migrated step by step.
      const reference = database().db;
      await prepare(reference);
      const schemas = new Map<string, unknown>([['1.0.0', await schemaSnapshot(reference)]]);
      for (const version of ['1.1.0', '1.2.0']) {
        await runMigrations(reference, slowMigrations().filter((m) => !semver.gt(m.version, version)), quiet);
        schemas.set(version, await schemaSnapshot(reference));
      }

      async function verifyAfterKill(db: Knex, facts: unknown, label: string): Promise<string> {
        const version = await getDatabaseVersion(db);
        expect([...schemas.keys()], `${label}: db_version`).to.include(version);
        for (const [table, from] of Object.entries(CREATED_BY)) {
          expect(await db.schema.hasTable(table), `${label}: ${table} exists only from ${from} on (no half-applied table)`).to.equal(
            !semver.lt(version, from),
          );
        }
        expect(await schemaSnapshot(db), `${label}: exactly the schema of ${version}`).to.deep.equal(schemas.get(version));
        expect(await dataFacts(db), `${label}: every row of the app's tables`).to.deep.equal(facts);
        expect(await getSystemSetting(db, DIRTY_KEY), `${label}: no dirty marker`).to.equal(undefined);
        if (!semver.lt(version, '1.1.0')) expect(await db('audit_log').count({ n: '*' }).first()).to.deep.equal({ n: String(USERS) });

        // A following run completes (waiting, if need be, for the dead client's backend to notice and let go).
        const report = await runMigrations(db, slowMigrations(), { ...quiet, lockTimeoutMs: 60_000 });
        expect(report, `${label}: the following run`).to.include({ from: version, to: '1.2.0' });
        expect(await schemaSnapshot(db), `${label}: schema after the following run`).to.deep.equal(schemas.get('1.2.0'));
        expect(await dataFacts(db), `${label}: rows after the following run`).to.deep.equal(facts);
        expect(await db('audit_log').count({ n: '*' }).first()).to.deep.equal({ n: String(USERS) });
        expect(await db('posts').whereNull('tag_id').count({ n: '*' }).first()).to.deep.equal({ n: '0' });
        return version;
      }

      /** One run on a database of its own: prepare, spawn, kill as planned, verify. */
      async function attempt(plan: KillPlan, i: number): Promise<{ record: KillRecord; run: CrashRun }> {
        const test: TestDatabase = await dialect.create();
        try {
          await prepare(test.db);
          const facts = await dataFacts(test.db);
          const run = await runCrashChild({ DATABASE_URL: test.url, CRASH_LIST: 'slow' }, plan);
          const label = `kill #${i} (${describePlan(plan)}, last marker "${landedAt(run)}")`;
          expect(run.stderr, label).to.not.match(/crash-harness|crash-child/);
          if (plan.kind === 'atMarker') expect(run.killed, `${label}: killed while frozen`).to.equal(true);
          if (!run.killed) expect(run.code, `${label}: ${run.stderr}`).to.equal(0);
          const after = await verifyAfterKill(test.db, facts, label);
          return { run, record: { plan, landedAt: run.killed ? place(run) : 'DONE', before: '1.0.0', after, killed: run.killed } };
        } finally {
          await test.cleanup();
        }
      }

      const calibration = await attempt({ kind: 'none' }, 0);
      expect(calibration.record.after, 'an uninterrupted child reaches 1.2.0').to.equal('1.2.0');
      for (const m of MARKERS) expect(calibration.run.markers.some((l) => l.startsWith(m)), `the child prints ${m}`).to.equal(true);
      const migrateMs = calibration.run.markerMs[calibration.run.markers.findIndex((l) => l.startsWith('LOG database is at'))];

      const plans: KillPlan[] = [
        ...MARKERS.map((marker): KillPlan => ({ kind: 'atMarker', marker })),
        ...spreadDelays(RANDOM_KILLS, migrateMs * 1.3).map((delayMs): KillPlan => ({ kind: 'afterStart', delayMs })),
      ];
      const records = (await inPool(plans, CONCURRENCY, (plan, i) => attempt(plan, i + 1))).map((r) => r.record);
      console.log(
        `\n      ${formatKillStats(`crash [postgres, ${USERS} users]`, records, MARKERS).split('\n').join('\n      ')}` +
          `\n        (migration ≈ ${Math.round(migrateMs)} ms after START)\n`,
      );
      const kills = records.filter((r) => r.killed);
      expect(kills.length, 'kills').to.be.at.least(MIN_KILLS);
      expect(kills.filter((r) => r.landedAt.startsWith('MARK')).length, 'kills inside a migration').to.be.at.least(
        MARKERS.filter((m) => m.startsWith('MARK')).length,
      );
      expect(kills.some((r) => r.after === '1.0.0') && kills.some((r) => r.after === '1.2.0'), 'both outcomes seen').to.equal(true);
    });
  });
}
