/**
 * Property tests for rebuildTable (lib/sqlite/rebuild.ts) on random SQLite schemas built around one target
 * table (test/helpers/rebuild-arbitraries.ts): every key kind of lang_createtable.html#rowid, children with
 * every ON DELETE/ON UPDATE action, a self reference, CHECKs, generated columns, partial/expression/UNIQUE
 * indexes, views over the table, over views and joining a table with same-named columns, triggers on the table
 * and on other tables reading it or its views, FTS5 external-content tables with their sync triggers,
 * sqlite_stat1, rows with NULLs and rowid gaps. Each generated spec runs on a fresh database (memory or file,
 * sqlite3 or better-sqlite3, foreign keys ON through withSqliteDefaults), with the knex instance or inside
 * runMigrations as a migration's `up`. Then EITHER it succeeded and every invariant holds, OR it failed with a
 * RebuildError (MigrationFailedError wrapping one from the runner) and a full dump of the database is
 * byte-for-byte what it was. The model says which of the two SQLite's rules require; an oracle replays the
 * intended change on a separate database to get the expected rows and column definitions.
 *
 * The same writes (delete, update, key update, insert, inserts into other tables and views) run before and after
 * the rebuild, each time in a transaction that is rolled back: their effects elsewhere (trigger output,
 * cascades, FTS5 shadow tables, foreign_key_check) must be identical, which checks that triggers and foreign
 * keys still fire as they did.
 *
 * Runs: 225 cases by default (~20 s), 2300 under KSM_SLOW=1. A failure prints the seed, the case (schema
 * script, spec, entry point, driver) and every broken invariant; it is not shrunk unless KSM_SHRINK=1 (each
 * run costs ~0.1 s). KSM_REBUILD_SURVEY=1 collects every failing case and prints a summary by kind instead of
 * stopping at the first (to survey defects, not for CI).
 */
import fc from 'fast-check';
import fs from 'fs';
import knexFactory, { type Knex } from 'knex';
import os from 'os';
import path from 'path';
import { isDeepStrictEqual } from 'util';
import { ForeignKeyViolationError, MigrationFailedError, RebuildError } from '../../lib/errors';
import { runMigrations } from '../../lib/functions';
import { silentLogger } from '../../lib/logger';
import { withSqliteDefaults } from '../../lib/sqlite/connection';
import { rebuildTable, type RebuildSpec } from '../../lib/sqlite/rebuild';
import type { Migration } from '../../lib/types';
import { fuzzParams, fuzzRuns } from '../helpers/fuzz-arbitraries';
import {
  LOG,
  OTHER,
  SNAP,
  buildSchema,
  buildSpec,
  dump,
  expectedCreate,
  firstDifference,
  newAlias,
  q,
  rebuildSpecOf,
  sameName,
  schemaRecipe,
  specRecipe,
  sqlValue,
  tableRows,
  type Dump,
  type Namer,
  type SchemaModel,
  type SchemaRecipe,
  type SpecFamily,
  type SpecModel,
  type SpecRecipe,
} from '../helpers/rebuild-arbitraries';

type Row = Record<string, unknown>;
type Driver = 'sqlite3' | 'better-sqlite3';
type Entry = 'knex' | 'runner';
interface Case {
  schema: SchemaRecipe;
  spec: SpecRecipe;
  entry: Entry;
  driver: Driver;
  storage: 'memory' | 'file';
}

const SURVEY = process.env.KSM_REBUILD_SURVEY === '1';
const BOOKKEEPING = ['system_settings', 'system_migrations'];
const BASE: Migration = { version: '0.1.0', description: 'baseline', up: async () => undefined };

const stats = { cases: 0, succeeded: 0, refused: 0, knex: 0, runner: 0, files: 0, betterSqlite3: 0, expectedRefusals: 0, judgmentCalls: 0 };
const survey = new Map<string, { count: number; example: string }>();

// ---------------------------------------------------------------------------------------------------------------
// Databases

function openDb(driver: Driver, filename: string): Knex {
  return knexFactory(withSqliteDefaults({ client: driver, connection: { filename }, useNullAsDefault: true, pool: { min: 1, max: 1 } }));
}

/** A plain database for the oracle: no foreign keys, nothing but the target (and `other`). */
function openOracle(driver: Driver): Knex {
  return knexFactory({
    client: driver,
    connection: { filename: ':memory:' },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { run?: (sql: string, cb: (err: Error | null) => void) => void; pragma?: (sql: string) => unknown }, done: (err: Error | null, c: unknown) => void) {
        if (conn.pragma) {
          conn.pragma('foreign_keys = OFF');
          done(null, conn);
        } else conn.run?.('PRAGMA foreign_keys = OFF', (err) => done(err, conn));
      },
    },
  });
}

async function all<T = Row>(db: Knex | Knex.Transaction, sql: string, bindings?: readonly (string | number)[]): Promise<T[]> {
  return (await (bindings ? db.raw(sql, bindings as (string | number)[]) : db.raw(sql))) as T[];
}

async function pragma(db: Knex, name: string): Promise<unknown> {
  return Object.values((await all(db, `PRAGMA ${name}`))[0] ?? {})[0];
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: the intended change replayed on a database that holds only the target (and `other`)

interface Oracle {
  /** Why SQLite refuses the intended table or its data (empty: it takes them). */
  refusals: string[];
  fkViolation: boolean;
  /** Only when the oracle built the table. */
  rows?: string[][];
  xinfo?: Row[];
  foreignKeys?: Row[];
  autoIndexes?: Row[];
  flags?: Row[];
  autoincrement?: boolean;
}

async function runOracle(driver: Driver, schema: SchemaModel, spec: SpecModel): Promise<Oracle> {
  const db = openOracle(driver);
  const T = q(schema.table);
  const refusals: string[] = [];
  try {
    for (const sql of [...schema.otherSql, schema.targetSql, ...schema.targetRowsSql, ...schema.childSql]) await db.raw(sql);
    try {
      for (const [id, to] of spec.renames) await db.raw(`ALTER TABLE ${T} RENAME COLUMN ${q(spec.before(id))} TO ${q(to)}`);
    } catch (err) {
      return { refusals: [`oracle rename: ${(err as Error).message}`], fkViolation: false };
    }
    const NEW = '_oracle_new';
    const createSql = expectedCreate(schema, spec, NEW);
    try {
      await db.raw(createSql);
    } catch (err) {
      return { refusals: [`SQLite refuses the intended table: ${(err as Error).message}`], fkViolation: false };
    }
    const n: Namer = spec.after;
    const targets: string[] = [];
    const exprs: string[] = [];
    const newCols = await all<{ name: string; hidden: number }>(db, 'SELECT name, hidden FROM pragma_table_xinfo(?)', [NEW]);
    const copyFor = (col: string) => [...spec.copies].find(([target]) => sameName(target.startsWith('add:') ? target.slice(4) : n(target), col));
    for (const c of newCols) {
      if (c.hidden !== 0) continue;
      const copy = copyFor(c.name);
      const old = schema.columns.find((x) => !spec.drops.includes(x.id) && sameName(n(x.id), c.name) && !x.generated);
      if (copy) {
        targets.push(q(c.name));
        exprs.push(`(${copy[1](n)})`);
      } else if (old) {
        targets.push(q(c.name));
        exprs.push(q(n(old.id)));
      }
    }
    if (schema.hasRowids) {
      const alias = newAlias(schema, spec);
      if (alias === undefined) {
        targets.unshift('rowid');
        exprs.unshift('rowid');
      } else if (alias.startsWith('add:') && !copyFor(alias.slice(4))) {
        targets.unshift(q(alias.slice(4)));
        exprs.unshift('rowid');
      }
    }
    try {
      await db.raw(`INSERT INTO ${q(NEW)} (${targets.join(', ')}) SELECT ${exprs.join(', ')} FROM ${T}${schema.hasRowids ? ' ORDER BY rowid' : ''}`);
    } catch (err) {
      refusals.push(`the rows do not fit the intended table: ${(err as Error).message}`);
      return { refusals, fkViolation: false };
    }
    const [{ before, after }] = await all<{ before: number; after: number }>(db, `SELECT (SELECT count(*) FROM ${T}) AS before, (SELECT count(*) FROM ${q(NEW)}) AS after`);
    if (before !== after) refusals.push(`only ${after} of ${before} rows fit`);
    await db.raw(`DROP TABLE ${T}`);
    await db.raw('PRAGMA legacy_alter_table = ON');
    await db.raw(`ALTER TABLE ${q(NEW)} RENAME TO ${T}`);
    // The explicit indexes come back too (a UNIQUE one refuses duplicates the copy made).
    for (const ix of schema.indexDefs) {
      if (ix.cols.some((id) => spec.drops.includes(id))) continue;
      try {
        await db.raw(ix.sql(n));
      } catch (err) {
        refusals.push(`index ${q(ix.name)} cannot be rebuilt: ${(err as Error).message}`);
      }
    }
    let fkViolation = false;
    try {
      // The whole database: the target's own keys and the children's keys pointing at it.
      const violations = await all(db, 'PRAGMA foreign_key_check');
      if (violations.length > 0) {
        fkViolation = true;
        refusals.push(`${violations.length} row(s) would violate a foreign key`);
      }
    } catch (err) {
      refusals.push(`foreign key check: ${(err as Error).message}`);
    }
    return {
      refusals,
      fkViolation,
      rows: await tableRows(db, schema.table, schema.hasRowids),
      xinfo: await all(db, 'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid', [schema.table]),
      foreignKeys: await foreignKeysOf(db, schema.table),
      autoIndexes: await autoIndexesOf(db, schema.table),
      flags: await all(db, `SELECT type, ncol, wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?`, [schema.table]),
      autoincrement: /\bAUTOINCREMENT\b/i.test(createSql),
    };
  } finally {
    await db.destroy();
  }
}

async function foreignKeysOf(db: Knex, table: string): Promise<Row[]> {
  const rows = await all<Row>(db, 'SELECT "table", "from", "to", on_update, on_delete, "match" FROM pragma_foreign_key_list(?) ORDER BY id, seq', [table]);
  return rows.map((r) => ({ ...r, table: String(r.table).toLowerCase() }));
}

/** The indexes SQLite makes for PRIMARY KEY and UNIQUE constraints: kind and columns (names are numbered, so left out). */
async function autoIndexesOf(db: Knex, table: string): Promise<Row[]> {
  return all(
    db,
    `SELECT l."unique", l.origin, l.partial,
            (SELECT group_concat(coalesce(i.name, '<expr>'), ',') FROM pragma_index_info(l.name) AS i) AS cols
       FROM pragma_index_list(?) AS l WHERE l.origin <> 'c' ORDER BY l.origin, cols`,
    [table],
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Expectation

interface Expectation {
  outcome: 'success' | 'refuse' | 'either';
  why: string[];
  fkViolation: boolean;
}

/** Old rowids, in order, are the new ones (the oracle's rows start with the rowid). */
function rowidsKeptBy(schema: SchemaModel, oracle: Oracle): boolean {
  if (!schema.hasRowids || !oracle.rows) return true;
  return isDeepStrictEqual(
    oracle.rows.map((r) => r[0]),
    schema.rows.map((r) => String(r.rowid)),
  );
}

/** FTS5 columns (and its content_rowid column) whose values the spec's copy rewrites. */
function ftsValuesChanged(schema: SchemaModel, spec: SpecModel): boolean {
  const fts = schema.fts;
  return !!fts && [...spec.copies.keys()].some((k) => fts.cols.includes(k) || fts.rid === k);
}

function expectationOf(schema: SchemaModel, spec: SpecModel, oracle: Oracle, rowidsKept: boolean): Expectation {
  if (!schema.callMatches) return { outcome: 'refuse', why: [`${JSON.stringify(schema.callName)} does not name ${JSON.stringify(schema.table)} for SQLite`], fkViolation: false };
  if (spec.refusals.length > 0) return { outcome: 'refuse', why: spec.refusals.slice(), fkViolation: oracle.fkViolation };
  const judgment = spec.judgment.slice();
  // An external-content FTS5 index is keyed by the content's rowids and holds its values: when the intended
  // change moves either, the rebuild must refuse or re-synchronise the index (FTS integrity-check decides).
  if (schema.fts && schema.fts.rid === null && !rowidsKept) judgment.push('the rowids an FTS5 index is keyed by change');
  if (ftsValuesChanged(schema, spec)) judgment.push('copy rewrites values an FTS5 index holds');
  if (judgment.length > 0) return { outcome: 'either', why: judgment, fkViolation: oracle.fkViolation };
  if (oracle.refusals.length > 0) return { outcome: 'refuse', why: oracle.refusals, fkViolation: oracle.fkViolation };
  return { outcome: 'success', why: [], fkViolation: false };
}

// ---------------------------------------------------------------------------------------------------------------
// Probes: the same writes before and after the rebuild, each time in a transaction that is rolled back. Their
// effects on everything but the target (triggers' writes, cascades, FTS, foreign_key_check) must be identical.

interface ProbePlan {
  statements: (n: Namer) => string[];
  /** Target columns whose values must survive unchanged (projection compared too). */
  stableCols: string[];
  rowidsKept: boolean;
  /** Tables whose probe effects legitimately differ: triggers write values of changed columns there. */
  skipTables: string[];
}

/** Target columns whose values (or presence) the spec changes: dropped, altered, copied, and generated columns over them. */
function changedCols(schema: SchemaModel, spec: SpecModel): Set<string> {
  const changed = new Set<string>([...spec.drops, ...spec.alters.keys(), ...[...spec.copies.keys()].filter((k) => !k.includes(':'))]);
  for (const c of schema.columns) if (c.source && changed.has(c.source)) changed.add(c.id);
  return changed;
}

function probePlan(schema: SchemaModel, spec: SpecModel, rowidsKept: boolean): ProbePlan {
  const changed = changedCols(schema, spec);
  const stableCols = schema.columns.map((c) => c.id).filter((id) => !changed.has(id));
  const skipTables: string[] = [];
  // An FTS5 index whose content the copy rewrites: whether the rebuild refuses or re-syncs, its shadow
  // tables and answers differ (its integrity-check against the content decides instead).
  if (schema.fts && ftsValuesChanged(schema, spec)) skipTables.push(...['data', 'idx', 'docsize', 'config'].map((t) => `${schema.fts?.name}_${t}`));
  if (schema.uses.some((u) => u.kind === 'trigger' && [...u.cols, ...(u.reads ?? [])].some((id) => changed.has(id)))) skipTables.push(LOG);
  // A key that becomes the rowid alias moves the rowids (as intended): a trigger keyed by rowid logs other rows.
  else if (!rowidsKept && schema.uses.some((u) => u.kind === 'trigger' && u.rowids)) skipTables.push(LOG);
  if (changed.size > 0) skipTables.push(SNAP);
  const T = q(schema.table);
  const rows = schema.rows;
  const singleKey = schema.keyCols.length === 1 && schema.keyCols[0] === 'k' && stableCols.includes('k') && schema.columns.some((c) => c.id === 'k');
  const select = (row: (typeof rows)[number], n: Namer): string | undefined => {
    if (singleKey) return `${q(n('k'))} = ${sqlValue(row.values.k ?? null)}`;
    if (schema.key === 'withoutComposite' && stableCols.includes('k') && stableCols.includes('k2')) {
      return `${q(n('k'))} = ${sqlValue(row.values.k ?? null)} AND ${q(n('k2'))} = ${sqlValue(row.values.k2 ?? null)}`;
    }
    if (schema.hasRowids && rowidsKept) return `rowid = ${row.rowid}`;
    return undefined;
  };
  const insertSafe =
    spec.alters.size === 0 &&
    spec.constraints.length === 0 &&
    spec.adds.every((a) => a.generated || !a.notNull || a.hasDefault) &&
    spec.drops.every((id) => {
      const c = schema.columns.find((x) => x.id === id);
      return !c || !c.notNull || c.hasDefault;
    });
  /** A value for a new row (the i-th probe insert) that every original constraint accepts; keys and c distinct per i. */
  const probeValue = (id: string, i: number): string => {
    switch (id) {
      case 'k':
        return schema.key === 'textpk' ? `'key-probe-${i}'` : schema.key === 'withoutComposite' ? String(7 + i) : String(5000 + i);
      case 'k2':
        return `'probe'`;
      case 'a':
        return `'probe insert omega'`;
      case 'b':
        return '7';
      case 'c':
        return `'probe-code-${i}'`;
      case 'd':
        return `'probe d'`;
      default:
        return 'NULL';
    }
  };
  return {
    stableCols,
    rowidsKept,
    skipTables,
    statements(n) {
      const out: string[] = [];
      const first = rows[0];
      const last = rows[rows.length - 1];
      // A changed self reference, or a changed key it points at, changes what a delete or a key update
      // cascades to: leave those out then.
      const fkColumnChanged = changed.has('p') || schema.keyCols.some((k) => changed.has(k));
      if (first && !fkColumnChanged) {
        const sel = select(first, n);
        if (sel) out.push(`DELETE FROM ${T} WHERE ${sel}`);
      }
      if (last) {
        const sel = select(last, n);
        const upd = ['a', 'c', 'b', 'd'].find((id) => stableCols.includes(id) && schema.columns.some((c) => c.id === id));
        if (sel && upd) {
          const value = upd === 'a' ? `'probe update zeta'` : upd === 'c' ? `${q(n('c'))} || '-u'` : upd === 'b' ? `abs(${q(n('b'))}) + 1` : `'probe'`;
          out.push(`UPDATE ${T} SET ${q(n(upd))} = ${value} WHERE ${sel}`);
        }
        if (sel && singleKey && !fkColumnChanged) {
          out.push(`UPDATE ${T} SET ${q(n('k'))} = ${schema.key === 'textpk' ? `${q(n('k'))} || '-moved'` : `${q(n('k'))} + 5000`} WHERE ${sel}`);
        }
        const cIsKey = schema.keyCols.includes('c');
        if (sel && schema.columns.some((c) => c.id === 'c') && stableCols.includes('c') && !(cIsKey && fkColumnChanged)) out.push(`UPDATE ${T} SET ${q(n('c'))} = NULL WHERE ${sel}`);
      }
      if (insertSafe) {
        const aliasKey = schema.key === 'alias' || schema.key === 'aliasTc' || schema.key === 'autoinc';
        const cols = schema.writable.filter((id) => !spec.drops.includes(id) && !(id === 'k' && aliasKey));
        for (const i of [0, 1]) out.push(`INSERT INTO ${T} (${cols.map((id) => q(n(id))).join(', ')}) VALUES (${cols.map((id) => probeValue(id, i)).join(', ')})`);
        for (const v of schema.views) {
          if (v.kind !== 'cols' || v.outputs === 'star') continue;
          if (!schema.script.some((s) => s.includes(`INSTEAD OF INSERT ON ${q(v.name)}`))) continue;
          const outs = v.outputs.map((o) => (o.followsRename && o.from ? n(o.from) : o.name));
          out.push(`INSERT INTO ${q(v.name)} (${outs.map(q).join(', ')}) VALUES (${v.outputs.map((o) => probeValue(o.from ?? '', 2)).join(', ')})`);
        }
      }
      if (schema.other) out.push(`INSERT INTO ${q(OTHER)} (id, ref) VALUES (101, ${first ? (schema.withoutRowid ? sqlValue(first.values.k ?? null) : first.rowid) : 1})`);
      return out;
    },
  };
}

/** The SQLite message without the statement knex puts in front, and without names after the colon. */
function normaliseError(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  const dash = message.lastIndexOf(' - ');
  if (dash >= 0) message = message.slice(dash + 3);
  return message.replace(/^SQLITE_[A-Z_]+: /, '').split(':')[0].trim();
}

interface Effects {
  outcomes: string[];
  tables: Record<string, string[][]>;
  target: string[][];
  fts: Record<string, number[]>;
  fkCheck: Row[];
}

async function probeEffects(db: Knex, schema: SchemaModel, spec: SpecModel, plan: ProbePlan, n: Namer): Promise<Effects> {
  const ROLLBACK = new Error('probe rollback');
  let effects: Effects | undefined;
  await db
    .transaction(async (trx) => {
      const outcomes: string[] = [];
      for (const sql of plan.statements(n)) {
        await trx.raw('SAVEPOINT probe');
        try {
          await trx.raw(sql);
          outcomes.push('ok');
        } catch (err) {
          outcomes.push(normaliseError(err));
          await trx.raw('ROLLBACK TO probe');
        }
        await trx.raw('RELEASE probe');
      }
      const list = await all<{ name: string; wr: number }>(
        trx,
        `SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name NOT IN ('sqlite_schema', 'sqlite_temp_schema', 'sqlite_stat1', 'sqlite_stat4') ORDER BY name`,
      );
      const tables: Record<string, string[][]> = {};
      for (const t of list) {
        if (sameName(t.name, schema.table) || BOOKKEEPING.includes(t.name) || plan.skipTables.includes(t.name)) continue;
        const rows = await tableRows(trx, t.name, t.wr === 0 && t.name !== 'sqlite_sequence');
        tables[t.name] =
          t.name === 'sqlite_sequence'
            ? rows.filter((r) => !sameName(unquote(r[0]), schema.table) && !BOOKKEEPING.includes(unquote(r[0])) && !plan.skipTables.includes(unquote(r[0])))
            : rows;
      }
      const proj = plan.stableCols.map((id) => `quote(${q(n(id))})`);
      const withRowid = schema.hasRowids && plan.rowidsKept;
      const targetRows = proj.length
        ? await all<Row>(trx, `SELECT ${[...(withRowid ? ['rowid'] : []), ...proj].map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${q(schema.table)}`)
        : [];
      const target = targetRows.map((r) => Object.values(r).map(String)).sort((x, y) => (x.join('\u0001') < y.join('\u0001') ? -1 : 1));
      const fts: Record<string, number[]> = {};
      if (schema.fts && !ftsValuesChanged(schema, spec)) {
        for (const term of ['probe', 'omega', 'zeta', ...schema.terms]) {
          fts[term] = (await all<{ r: number }>(trx, `SELECT rowid AS r FROM ${q(schema.fts.name)} WHERE ${q(schema.fts.name)} MATCH ? ORDER BY rowid`, [term])).map((r) => r.r);
        }
      }
      const fkCheck = await all(trx, 'PRAGMA foreign_key_check');
      effects = { outcomes, tables, target, fts, fkCheck };
      throw ROLLBACK;
    })
    .catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  if (!effects) throw new Error('probes did not run');
  return effects;
}

// ---------------------------------------------------------------------------------------------------------------
// One case

interface Before {
  dump: Dump;
  views: Record<string, string[]>;
  fts?: { all: string[][]; terms: Record<string, number[]> };
  effects: Effects;
}

async function viewContents(db: Knex, names: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of names) {
    const rows = await all<Row>(db, `SELECT * FROM ${q(name)}`);
    out[name] = rows.map((r) => JSON.stringify(Object.values(r))).sort();
  }
  return out;
}

async function ftsState(db: Knex, schema: SchemaModel): Promise<Before['fts']> {
  if (!schema.fts) return undefined;
  const F = q(schema.fts.name);
  const rows = await all<Row>(db, `SELECT rowid AS r, * FROM ${F} ORDER BY rowid`);
  const terms: Record<string, number[]> = {};
  for (const term of schema.terms) terms[term] = (await all<{ r: number }>(db, `SELECT rowid AS r FROM ${F} WHERE ${F} MATCH ? ORDER BY rowid`, [term])).map((r) => r.r);
  return { all: rows.map((r) => Object.values(r).map((v) => JSON.stringify(v))), terms };
}

function describeCase(c: Case, family: SpecFamily, schema: SchemaModel, spec: SpecModel, expectation: Expectation): string {
  const rs = rebuildSpecOf(spec);
  return [
    `family ${family}, entry ${c.entry}, driver ${c.driver}, ${c.storage} database; rebuildTable(${JSON.stringify(schema.callName)}, ${JSON.stringify({ ...rs, ...(spec.transform ? { transformSql: '(sql) => sql' } : {}) })})`,
    `expected: ${expectation.outcome}${expectation.why.length ? ` (${expectation.why.join('; ')})` : ''}`,
    'schema:',
    ...schema.script.map((s) => `  ${s.replace(/\n\s*/g, ' ')};`),
  ].join('\n');
}

async function checkCase(c: Case, family: SpecFamily): Promise<string | undefined> {
  const schema = buildSchema(c.schema);
  const spec = buildSpec(schema, c.spec);
  const rebuildSpec: RebuildSpec = { ...rebuildSpecOf(spec), ...(spec.transform ? { transformSql: (sql: string) => sql } : {}) };
  let dir: string | undefined;
  if (c.storage === 'file') dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksm-rebuild-prop-'));
  const db = openDb(c.driver, dir ? path.join(dir, 'db.sqlite') : ':memory:');
  try {
    await db.transaction(async (trx) => {
      for (const sql of schema.script) await trx.raw(sql);
    });
    if (c.entry === 'runner') await runMigrations(db, [BASE], { logger: silentLogger });
    const oracle = await runOracle(c.driver, schema, spec);
    const expectation = expectationOf(schema, spec, oracle, rowidsKeptBy(schema, oracle));
    const context = () => describeCase(c, family, schema, spec, expectation);
    const plan = probePlan(schema, spec, rowidsKeptBy(schema, oracle));
    const before: Before = {
      dump: await dump(db),
      views: await viewContents(db, schema.views.map((v) => v.name)),
      fts: await ftsState(db, schema),
      effects: await probeEffects(db, schema, spec, plan, spec.before),
    };
    const pragmas = [await pragma(db, 'foreign_keys'), await pragma(db, 'legacy_alter_table')];

    let error: unknown;
    try {
      if (c.entry === 'knex') {
        await rebuildTable(db, schema.callName, rebuildSpec);
      } else {
        const migration: Migration = { version: '0.2.0', description: 'rebuild', up: (trx) => rebuildTable(trx, schema.callName, rebuildSpec).then(() => undefined) };
        await runMigrations(db, [BASE, migration], { logger: silentLogger });
      }
    } catch (err) {
      error = err;
    }
    stats.cases++;
    stats[c.entry]++;
    if (c.storage === 'file') stats.files++;
    if (c.driver === 'better-sqlite3') stats.betterSqlite3++;
    if (expectation.outcome === 'refuse') stats.expectedRefusals++;
    if (expectation.outcome === 'either') stats.judgmentCalls++;

    const problems: string[] = [];
    const after = await dump(db);
    const pragmasAfter = [await pragma(db, 'foreign_keys'), await pragma(db, 'legacy_alter_table')];
    if (!isDeepStrictEqual(pragmasAfter, pragmas)) problems.push(`connection pragmas (foreign_keys, legacy_alter_table) ${JSON.stringify(pragmas)} became ${JSON.stringify(pragmasAfter)}`);
    if (after.master.some((r) => /_ksm_rebuild_/.test(String(r.name)))) problems.push('a temporary table was left behind');

    if (error !== undefined) {
      stats.refused++;
      const cause = c.entry === 'runner' && error instanceof MigrationFailedError ? (error as { cause?: unknown }).cause : error;
      const rightType = (c.entry === 'knex' || error instanceof MigrationFailedError) && (cause instanceof RebuildError || (expectation.fkViolation && cause instanceof ForeignKeyViolationError));
      if (!rightType) problems.push(`failed with ${describeError(error)} (cause ${describeError(cause)}), not a RebuildError`);
      if (expectation.outcome === 'success') problems.push(`refused a rebuild that SQLite's rules allow: ${describeError(cause)}`);
      const d = firstDifference(before.dump, after);
      if (d) problems.push(`the failed rebuild changed the database: ${d}`);
    } else {
      stats.succeeded++;
      if (expectation.outcome === 'refuse') problems.push(`succeeded although it must be refused: ${expectation.why.join('; ')}`);
      problems.push(...(await checkSuccess(db, schema, spec, oracle, before, after, plan)));
    }
    if (problems.length === 0) return undefined;
    return `${problems.join('\n')}\n${context()}`;
  } finally {
    await db.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.split('\n')[0].slice(0, 400)}`;
  return String(err);
}

const unquote = (s: string) => (s.startsWith("'") ? s.slice(1, -1).replace(/''/g, "'") : s);

async function checkSuccess(db: Knex, schema: SchemaModel, spec: SpecModel, oracle: Oracle, before: Before, after: Dump, plan: ProbePlan): Promise<string[]> {
  const problems: string[] = [];
  const target = schema.table;
  const isTarget = (name: string) => sameName(name, target);

  // Every other table's full contents unchanged (bookkeeping aside; the target's own sequence and statistics below).
  for (const [name, rows] of Object.entries(before.dump.tables)) {
    if (isTarget(name) || BOOKKEEPING.includes(name)) continue;
    let a = rows;
    let b = after.tables[name];
    if (name === 'sqlite_sequence') {
      const other = (r: string[]) => !isTarget(unquote(r[0])) && !BOOKKEEPING.includes(unquote(r[0]));
      a = a.filter(other);
      b = (b ?? []).filter(other);
    }
    if (name === 'sqlite_stat1' || name === 'sqlite_stat4') {
      // Statistics of the other tables, without rowids (the target's own are checked below; sqlite_stat4 is not kept).
      const other = (r: string[]) => !isTarget(unquote(r[1]));
      a = a.filter(other).map((r) => r.slice(1)).sort();
      b = (b ?? []).filter(other).map((r) => r.slice(1)).sort();
    }
    if (!isDeepStrictEqual(a, b)) problems.push(`table ${q(name)} changed: ${firstDifference(a, b)}`);
  }
  for (const name of Object.keys(after.tables)) {
    if (!(name in before.dump.tables) && !BOOKKEEPING.includes(name)) problems.push(`new table ${q(name)} appeared`);
  }

  // The target: rows (rowids included), columns, keys, constraints' indexes, kind — as the oracle built them.
  if (oracle.rows) {
    const rows = await tableRows(db, target, schema.hasRowids);
    if (!isDeepStrictEqual(rows, oracle.rows)) problems.push(`target rows differ from the intended transformation: ${firstDifference(oracle.rows, rows)}`);
    const xinfo = await all(db, 'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid', [target]);
    if (!isDeepStrictEqual(xinfo, oracle.xinfo)) problems.push(`target columns differ: ${firstDifference(oracle.xinfo, xinfo)}`);
    const fks = await foreignKeysOf(db, target);
    if (!isDeepStrictEqual(fks, oracle.foreignKeys)) problems.push(`target foreign keys differ: ${firstDifference(oracle.foreignKeys, fks)}`);
    const auto = await autoIndexesOf(db, target);
    if (!isDeepStrictEqual(auto, oracle.autoIndexes)) problems.push(`PRIMARY KEY/UNIQUE indexes differ: ${firstDifference(oracle.autoIndexes, auto)}`);
    const flags = await all(db, `SELECT type, ncol, wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?`, [target]);
    if (!isDeepStrictEqual(flags, oracle.flags)) problems.push(`table kind differs: ${firstDifference(oracle.flags, flags)}`);
    if (oracle.autoincrement) {
      const seqOf = (d: Dump) => d.tables.sqlite_sequence?.find((r) => isTarget(unquote(r[0])))?.[1];
      const [was, now] = [Number(seqOf(before.dump) ?? 0), Number(seqOf(after) ?? -1)];
      const maxKey = Math.max(0, ...schema.rows.map((r) => r.rowid));
      if (now < was || now < (was === 0 ? 0 : maxKey)) problems.push(`sqlite_sequence for the target went from ${was} to ${now}`);
    }
  }

  const integrity = await all<{ integrity_check: string }>(db, 'PRAGMA integrity_check');
  if (integrity.length !== 1 || integrity[0].integrity_check !== 'ok') problems.push(`integrity_check: ${JSON.stringify(integrity).slice(0, 300)}`);
  try {
    const fk = await all(db, 'PRAGMA foreign_key_check');
    if (fk.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(fk).slice(0, 300)}`);
  } catch (err) {
    problems.push(`foreign_key_check fails: ${describeError(err)}`);
  }

  // Every object still there (except indexes legitimately dropped), with its SQL as written unless a rename rewrote it.
  const droppedIndexes = new Set(
    spec.dropDependentIndexes ? schema.uses.filter((u) => u.kind === 'index' && u.cols.some((id) => spec.drops.includes(id))).map((u) => u.index ?? '') : [],
  );
  const objects = (d: Dump, all: boolean) =>
    d.master
      .filter((r) => all || !(r.type === 'index' && droppedIndexes.has(String(r.name))))
      .filter((r) => !(r.type === 'index' && String(r.name).startsWith('sqlite_autoindex_') && isTarget(String(r.tbl_name))))
      .map((r) => `${r.type} ${r.name}`)
      .sort();
  const [was, now] = [objects(before.dump, false), objects(after, true)];
  if (!isDeepStrictEqual(was, now)) problems.push(`schema objects differ: ${firstDifference(was, now)}`);
  if (spec.renames.size === 0) {
    for (const r of before.dump.master) {
      if ((r.type === 'table' && isTarget(String(r.name))) || String(r.name).startsWith('sqlite_autoindex_')) continue;
      const now2 = after.master.find((x) => x.type === r.type && x.name === r.name);
      if (now2 && now2.sql !== r.sql) problems.push(`${r.type} ${q(String(r.name))} SQL changed: ${JSON.stringify(r.sql)} -> ${JSON.stringify(now2.sql)}`);
    }
  }

  // Every view runs; a view over nothing that changed shows the same rows.
  const changed = changedCols(schema, spec);
  const shapeChanged = spec.adds.length > 0 || spec.drops.length > 0;
  const rowidsMoved = !plan.rowidsKept;
  for (const r of after.master.filter((x) => x.type === 'view')) {
    const name = String(r.name);
    try {
      const rows = (await all<Row>(db, `SELECT * FROM ${q(name)}`)).map((x) => JSON.stringify(Object.values(x))).sort();
      const v = schema.views.find((x) => x.name === name);
      const stable = v && !v.shows.some((id) => changed.has(id)) && !(v.starShaped && shapeChanged) && !rowidsMoved;
      if (stable && !isDeepStrictEqual(rows, before.views[name])) problems.push(`view ${q(name)} shows other rows: ${firstDifference(before.views[name], rows)}`);
    } catch (err) {
      problems.push(`view ${q(name)} no longer works: ${describeError(err)}`);
    }
  }

  // FTS5: the index still matches its content table, answers the same rowids, reads every row.
  if (schema.fts && before.fts) {
    const F = q(schema.fts.name);
    try {
      await db.raw(`INSERT INTO ${F} (${F}, rank) VALUES ('integrity-check', 1)`);
    } catch (err) {
      problems.push(`FTS5 ${F} integrity-check against its content fails: ${describeError(err)}`);
    }
    try {
      const nowFts = await ftsState(db, schema);
      const sameContent = plan.rowidsKept && !ftsValuesChanged(schema, spec);
      if (sameContent && !isDeepStrictEqual(nowFts, before.fts)) problems.push(`FTS5 ${F} answers differently: ${firstDifference(before.fts, nowFts)}`);
    } catch (err) {
      problems.push(`FTS5 ${F} no longer works: ${describeError(err)}`);
    }
  }

  // The target's planner statistics: every row of a surviving explicit index (and the table's own row) kept.
  const statsOf = (d: Dump) => (d.tables.sqlite_stat1 ?? []).filter((r) => isTarget(unquote(r[1] ?? ''))).map((r) => r.slice(1));
  const nowStats = statsOf(after);
  for (const row of statsOf(before.dump)) {
    const idx = row[1];
    const explicit = idx !== 'NULL' && schema.indexes.includes(unquote(idx)) && !droppedIndexes.has(unquote(idx));
    if ((idx === 'NULL' || explicit) && !nowStats.some((x) => isDeepStrictEqual(x, row))) problems.push(`sqlite_stat1 row ${JSON.stringify(row)} lost`);
  }

  // Triggers fire as before: the same writes have the same effects everywhere else.
  try {
    const effects = await probeEffects(db, schema, spec, plan, spec.after);
    const d = firstDifference(before.effects, effects);
    if (d) problems.push(`the same writes behave differently after the rebuild (triggers, cascades, FTS sync): ${d}\n  probes: ${plan.statements(spec.after).join('; ')}`);
  } catch (err) {
    problems.push(`probing after the rebuild failed: ${describeError(err)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The properties

const caseArb = (family: SpecFamily): fc.Arbitrary<Case> =>
  fc.record({
    schema: schemaRecipe,
    spec: specRecipe(family),
    entry: fc.constantFrom<Entry>('knex', 'runner'),
    driver: fc.oneof({ weight: 3, arbitrary: fc.constant<Driver>('sqlite3') }, { weight: 1, arbitrary: fc.constant<Driver>('better-sqlite3') }),
    storage: fc.oneof({ weight: 3, arbitrary: fc.constant('memory' as const) }, { weight: 1, arbitrary: fc.constant('file' as const) }),
  });

async function property(family: SpecFamily, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(caseArb(family), async (c) => {
      const failure = await checkCase(c, family);
      if (!failure) return;
      if (!SURVEY) throw new Error(failure);
      const kind = `${family}: ${failure.split('\n')[0].replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 160)}`;
      const entry = survey.get(kind) ?? { count: 0, example: failure };
      entry.count++;
      if (failure.length < entry.example.length) entry.example = failure;
      survey.set(kind, entry);
    }),
    { ...fuzzParams<[Case]>(numRuns), endOnFailure: !process.env.KSM_SHRINK },
  );
}

describe('rebuildTable properties (random SQLite schemas and specs)', function () {
  this.timeout(0);

  after(() => {
    console.log(
      `rebuildTable properties: ${stats.cases} generated schemas/specs checked (${stats.succeeded} rebuilt, ${stats.refused} refused; ` +
        `${stats.expectedRefusals} required refusals, ${stats.judgmentCalls} judgment calls; knex instance ${stats.knex}, runMigrations ${stats.runner}; ` +
        `${stats.files} on files, ${stats.betterSqlite3} on better-sqlite3)`,
    );
    if (SURVEY) {
      for (const [kind, { count, example }] of [...survey].sort((a, b) => b[1].count - a[1].count)) {
        console.log(`\n=== ${count}x ${kind}\n${example}`);
      }
    }
  });

  it('adding, altering and copying columns and adding constraints: rebuilt exactly, or refused with nothing changed', async () => {
    await property('additive', fuzzRuns(60, 600));
  });

  it('dropping columns (with dropDependentIndexes or not): rebuilt exactly, or refused with nothing changed', async () => {
    await property('drop', fuzzRuns(60, 600));
  });

  it('renaming columns: rebuilt exactly, or refused with nothing changed', async () => {
    await property('rename', fuzzRuns(45, 500));
  });

  it('mixed specs (rename, drop, add, alter, copy, constraints at once): rebuilt exactly, or refused with nothing changed', async () => {
    await property('mixed', fuzzRuns(60, 600));
  });
});
