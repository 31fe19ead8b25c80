/**
 * Switching from knex's migrator, on every engine, with the 24-file history of
 * test/fixtures/knex-history: (a) applied whole by this module = knex's own result; (b) half by knex
 * with data, then switched; (c) refusals that leave the database as it was; (d) rollback of adopted
 * migrations through their knex `down`; many instances switching at once; a 500-file history, timed.
 */
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import knexFactory, { type Knex } from 'knex';
import { configFromUrl } from '../../lib/database-url';
import { KnexHistoryError } from '../../lib/errors';
import { rollback, runMigrations } from '../../lib/functions';
import { schemaSnapshot } from '../../lib/lazy';
import { silentLogger } from '../../lib/logger';
import { Migrator } from '../../lib/migrator';
import { readHistory } from '../../lib/store/history';
import { getDatabaseVersion } from '../../lib/store/settings';
import { tempDir } from '../helpers/db';
import { DIALECTS, describeDialect, type TestDialect } from '../helpers/dialects';
import {
  FIRST_HALF,
  KNEX_FILES,
  KNEX_HISTORY,
  copyHistory,
  dumpDatabase,
  knexFirst,
  knexLatest,
  seedFirstHalf,
  tableContents,
} from '../helpers/knex-history';

const quiet = { logger: silentLogger };

/** A second private database of the same engine, for knex's migrator to produce the reference. */
async function withReference<T>(dialect: TestDialect, fn: (ref: Knex) => Promise<T>): Promise<T> {
  const ref = await dialect.create();
  // SQLite: knex's migrator with foreign keys not enforced (one pooled connection), so its rebuilds
  // cannot cascade and the reference keeps every row; on the servers knex's alters are in place.
  const db = dialect.engine === 'sqlite' ? knexFactory({ ...configFromUrl(ref.url), useNullAsDefault: true, pool: { min: 1, max: 1 } }) : ref.db;
  try {
    if (dialect.engine === 'sqlite') await db.raw('PRAGMA foreign_keys = OFF');
    return await fn(db);
  } finally {
    if (db !== ref.db) await db.destroy();
    await ref.cleanup();
  }
}

async function knexNames(db: Knex): Promise<string[]> {
  return ((await db('knex_migrations').select('name').orderBy('id')) as { name: string }[]).map((r) => r.name);
}

for (const dialect of DIALECTS) {
  describeDialect(dialect, 'switching from knex migrate', ({ database }) => {
    it('(a) the whole knex history applied by this module from an empty database gives the schema knex’s migrator gives', async () => {
      const { db } = database();
      const report = await runMigrations(db, KNEX_HISTORY, quiet);
      expect(report.to).to.equal(`0.0.${KNEX_FILES.length}`);
      expect(report.applied.map((a) => a.description)).to.deep.equal(KNEX_FILES);
      const history = await readHistory(db);
      expect(history.map((r) => [r.version, r.description, r.direction])).to.deep.equal(KNEX_FILES.map((f, i) => [`0.0.${i + 1}`, f, 'up']));
      expect(await db.schema.hasTable('knex_migrations')).to.equal(false);

      await withReference(dialect, async (ref) => {
        expect(await knexLatest(ref, KNEX_HISTORY)).to.deep.equal(KNEX_FILES);
        const ours = await schemaSnapshot(db);
        expect(ours.tables.map((t) => t.name)).to.deep.equal(['audit_log', 'authors', 'book_tags', 'books', 'loans', 'publishers', 'reviews', 'tags']);
        expect(ours).to.deep.equal(await schemaSnapshot(ref));
      });
    });

    it('(b) knex ran the first half with data in parent and child tables; the switch adopts it, applies the rest; schema = (a), every row kept', async () => {
      const { db } = database();
      await knexFirst(db);
      await seedFirstHalf(db);
      const before = await tableContents(db);
      const knexBefore = await dumpDatabase(db).then((d) => ({ migrations: d.rows.knex_migrations, lock: d.rows.knex_migrations_lock }));

      const started = performance.now();
      const report = await runMigrations(db, KNEX_HISTORY, quiet);
      const ms = performance.now() - started;
      expect(report.from).to.equal(`0.0.${FIRST_HALF}`);
      expect(report.to).to.equal(`0.0.${KNEX_FILES.length}`);
      expect(report.applied.map((a) => a.description)).to.deep.equal(KNEX_FILES.slice(FIRST_HALF));
      const history = await readHistory(db);
      expect(history.filter((r) => r.direction === 'adopt').map((r) => r.description)).to.deep.equal(KNEX_FILES.slice(0, FIRST_HALF));
      expect(history.filter((r) => r.direction === 'up').map((r) => r.description)).to.deep.equal(KNEX_FILES.slice(FIRST_HALF));
      // knex's tables are left exactly as they were: going back to knex stays possible.
      const knexAfter = await dumpDatabase(db).then((d) => ({ migrations: d.rows.knex_migrations, lock: d.rows.knex_migrations_lock }));
      expect(knexAfter).to.deep.equal(knexBefore);

      const after = await tableContents(db);
      await withReference(dialect, async (ref) => {
        // Schema: the same as knex's migrator applying everything to an empty database (test a).
        await knexLatest(ref, KNEX_HISTORY);
        expect(await schemaSnapshot(db)).to.deep.equal(await schemaSnapshot(ref));
      });
      await withReference(dialect, async (ref) => {
        // Rows: the same as knex's migrator (unable to cascade) taking the same data through the second half.
        await knexFirst(ref);
        await seedFirstHalf(ref);
        await knexLatest(ref, KNEX_HISTORY);
        expect(after).to.deep.equal(await tableContents(ref));
      });
      // And directly: every row of before is still there, its surviving columns unchanged
      // (titles the second half filled in excepted, as file 18 says).
      for (const [table, rows] of Object.entries(before)) {
        const columns = Object.keys((after[table][0] ?? {}) as object).filter((c) => c in ((rows[0] ?? {}) as object));
        const project = (r: unknown) => JSON.stringify(columns.map((c) => ((r as Record<string, unknown>)[c] ?? (table === 'books' && c === 'title' ? 'Untitled' : null))));
        expect(after[table].map(project).sort(), table).to.deep.equal(rows.map(project).sort());
        expect(after[table].length, table).to.equal(rows.length);
      }
      const rowsChecked = Object.values(before).reduce((n, rows) => n + rows.length, 0);
      console.log(`      switch [${dialect.name}]: ${FIRST_HALF} files adopted + ${KNEX_FILES.length - FIRST_HALF} applied in ${ms.toFixed(0)} ms; ${rowsChecked} rows checked`);
    });

    it('(c) refuses a knex_migrations listing a file missing from the folder: KnexHistoryError naming it, the database untouched', async () => {
      const { db } = database();
      await knexFirst(db);
      await seedFirstHalf(db);
      const missing = KNEX_FILES[4];
      const folder = copyHistory(KNEX_FILES.map((_f, i) => i).filter((i) => i !== 4));
      try {
        const before = await dumpDatabase(db);
        for (const attempt of [
          () => runMigrations(db, folder.dir, quiet),
          () => new Migrator({ db, migrations: folder.dir, ...quiet }).adoptKnex(),
          () => new Migrator({ db, migrations: folder.dir, ...quiet }).adoptKnex({ dryRun: true }),
          () => new Migrator({ db, migrations: folder.dir, ...quiet }).status(),
        ]) {
          const err = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).to.be.instanceOf(KnexHistoryError);
          const e = err as KnexHistoryError;
          expect(e.code).to.equal('KNEX_HISTORY_MISMATCH');
          expect(e.missing).to.deep.equal([missing]);
          expect(e.outOfOrder).to.deep.equal([]);
          expect(e.message).to.include(missing);
        }
        expect(await dumpDatabase(db)).to.deep.equal(before);
        expect(await db.schema.hasTable('system_settings')).to.equal(false);
      } finally {
        folder.cleanup();
      }
    });

    it('(c) refuses a history knex recorded out of the folder’s order (a late-merged file), the database untouched', async () => {
      const { db } = database();
      // knex ran 1–8 and 10–12, then file 9 (merged late, older name) in a later batch: knex does not mind.
      const late = 8;
      const without = copyHistory([...Array(FIRST_HALF).keys()].filter((i) => i !== late));
      const all = copyHistory([...Array(FIRST_HALF).keys()]);
      try {
        await knexLatest(db, without.dir);
        expect(await knexLatest(db, all.dir)).to.deep.equal([KNEX_FILES[late]]);
      } finally {
        without.cleanup();
        all.cleanup();
      }
      expect((await knexNames(db)).slice(-2)).to.deep.equal([KNEX_FILES[FIRST_HALF - 1], KNEX_FILES[late]]);
      await seedFirstHalf(db);
      const before = await dumpDatabase(db);
      const err = await runMigrations(db, KNEX_HISTORY, quiet).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(KnexHistoryError);
      expect((err as KnexHistoryError).outOfOrder).to.deep.equal([KNEX_FILES[late]]);
      expect((err as KnexHistoryError).missing).to.deep.equal([]);
      expect((err as Error).message).to.include(KNEX_FILES[late]);
      expect(await dumpDatabase(db)).to.deep.equal(before);
    });

    it('(d) adopted migrations roll back through their knex down: the schema of knex’s first half, rows of the kept tables intact', async () => {
      const { db } = database();
      await knexLatest(db, KNEX_HISTORY);
      const adopted = await new Migrator({ db, migrations: KNEX_HISTORY, ...quiet }).adoptKnex();
      expect(adopted.adopted.map((a) => a.name)).to.deep.equal(KNEX_FILES);
      expect(adopted.to).to.equal(`0.0.${KNEX_FILES.length}`);
      await db('authors').insert({ id: 7, name: 'Kept', email: 'kept@example.org' });

      const report = await rollback(db, { to: `0.0.${FIRST_HALF}`, migrations: KNEX_HISTORY, ...quiet });
      expect(report.applied.map((a) => [a.direction, a.description])).to.deep.equal(KNEX_FILES.slice(FIRST_HALF).reverse().map((f) => ['down', f]));
      expect(await getDatabaseVersion(db)).to.equal(`0.0.${FIRST_HALF}`);
      expect((await db('authors').select('id', 'name', 'email')).map((r: { id: number }) => ({ ...r, id: Number(r.id) }))).to.deep.equal([
        { id: 7, name: 'Kept', email: 'kept@example.org' },
      ]);
      // knex_migrations is never written: it still lists all 24 (see README: going back to knex).
      expect(await knexNames(db)).to.deep.equal(KNEX_FILES);
      await withReference(dialect, async (ref) => {
        await knexFirst(ref);
        expect(await schemaSnapshot(db)).to.deep.equal(await schemaSnapshot(ref));
      });
      // And forward again through this module.
      const again = await runMigrations(db, KNEX_HISTORY, quiet);
      expect(again.applied.map((a) => a.description)).to.deep.equal(KNEX_FILES.slice(FIRST_HALF));
    });

    it('adopt-knex --dry-run reports and writes nothing; four instances switching at once adopt once and apply each file once', async () => {
      const { db, open } = database();
      await knexFirst(db);
      await seedFirstHalf(db);
      const before = await dumpDatabase(db);
      const preview = await new Migrator({ db, migrations: KNEX_HISTORY, ...quiet }).adoptKnex({ dryRun: true });
      expect(preview).to.deep.equal({
        from: '0.0.0',
        to: `0.0.${FIRST_HALF}`,
        adopted: KNEX_FILES.slice(0, FIRST_HALF).map((name, i) => ({ version: `0.0.${i + 1}`, name })),
        dryRun: true,
      });
      expect(await dumpDatabase(db)).to.deep.equal(before);

      const instances = [open(), open(), open(), open()];
      try {
        const reports = await Promise.all(instances.map((i) => runMigrations(i, KNEX_HISTORY, quiet)));
        expect(reports.flatMap((r) => r.applied.map((a) => a.description)).sort()).to.deep.equal(KNEX_FILES.slice(FIRST_HALF));
      } finally {
        await Promise.all(instances.map((i) => i.destroy()));
      }
      const history = await readHistory(db);
      expect(history.map((r) => [r.direction, r.description])).to.deep.equal([
        ...KNEX_FILES.slice(0, FIRST_HALF).map((f) => ['adopt', f]),
        ...KNEX_FILES.slice(FIRST_HALF).map((f) => ['up', f]),
      ]);
      // Already switched: nothing to adopt any more.
      const later = await new Migrator({ db, migrations: KNEX_HISTORY, ...quiet }).adoptKnex();
      expect(later).to.deep.equal({ from: `0.0.${KNEX_FILES.length}`, to: `0.0.${KNEX_FILES.length}`, adopted: [] });
    });
    it('a long history: the switch of 500 knex files, timed (adoption, then a start with nothing pending)', async () => {
      const { db } = database();
      const n = 500;
      const folder = tempDir('ksm-knex-long-');
      try {
        for (let i = 1; i <= n; i++) {
          const name = `2015${String(i).padStart(10, '0')}_step_${i}.js`;
          fs.writeFileSync(path.join(folder.dir, name), `exports.up = async (knex) => { await knex.raw('SELECT ${i}'); };\nexports.down = async () => {};\n`);
        }
        expect(await knexLatest(db, folder.dir)).to.have.length(n);
        let started = performance.now();
        const report = await runMigrations(db, folder.dir, quiet);
        const switchMs = performance.now() - started;
        expect(report).to.deep.include({ from: `0.0.${n}`, to: `0.0.${n}`, applied: [] });
        expect((await readHistory(db)).filter((r) => r.direction === 'adopt')).to.have.length(n);
        started = performance.now();
        await runMigrations(db, folder.dir, quiet);
        const bootMs = performance.now() - started;
        console.log(`      [${dialect.name}] ${n} knex files: switch (load, check, adopt) ${switchMs.toFixed(0)} ms; next start ${bootMs.toFixed(0)} ms`);
      } finally {
        folder.cleanup();
      }
    });
  });
}
