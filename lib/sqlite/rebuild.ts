/**
 * `rebuildTable`: SQLite's documented 12-step ALTER TABLE procedure (lang_altertable.html#otheralter), done so
 * that no row is lost, altered or cascade-deleted.
 *
 * 1. Foreign keys. `PRAGMA foreign_keys` is a silent no-op inside a transaction, and with it ON, dropping the old
 *    table cascades, nulls or fails the child rows. Given a Knex instance, we take one pooled connection, turn
 *    foreign keys OFF before BEGIN and restore them afterwards. Given a transaction, the caller (runMigrations)
 *    must have turned them off before BEGIN; if they are ON and any table references this one, we refuse.
 * 2. Inside that transaction (a SAVEPOINT when given one), so any failure rolls everything back:
 *    a. column renames use ALTER TABLE RENAME COLUMN, so SQLite itself rewrites indexes, triggers, views and
 *       children's REFERENCES;
 *    b. the table's own SQL from sqlite_master is edited token by token (never regenerated), after refusing
 *       drops that an index, a constraint or a child foreign key still uses (parsed: these can only name this
 *       table's columns);
 *    c. the new table is created under a temporary name and filled by one INSERT … SELECT inside SQLite
 *       (rowids kept), and the row count is verified;
 *    d. the sqlite_sequence value is carried over, the old table dropped, and the new one renamed into place
 *       (never the old one first, or children would end up REFERENCES "old_name") with legacy_alter_table ON
 *       so views and triggers naming the missing table do not abort the rename;
 *    e. indexes and triggers are recreated from their saved SQL, then the whole schema is verified by SQLite
 *       itself, which resolves every name exactly: every view runs, every trigger compiles, every virtual table
 *       answers (an FTS index over the table reads its columns). Whatever worked before and fails now is
 *       refused, all of it named in one error. foreign_key_check runs on the table and its children before
 *       COMMIT (inside runMigrations, the runner's whole-database check before COMMIT does it, so the children
 *       are not scanned twice).
 */
import { randomBytes } from 'crypto';
import type { Knex } from 'knex';
import { isSqlite } from '../dialects';
import { ForeignKeyViolationError, MigrationError, RebuildError, UnsupportedDialectError, describeCause } from '../errors';
import { identValue, quoteIdent as q, sameIdent, significant, tokenize } from '../sql/lexer';
import { foreignKeysCheckedByRunner } from './foreign-key-check';
import { query, type MasterRow } from './query';
import { schemaHealth, verifySchema } from './schema-check';
import {
  columnNames,
  editCreateTable,
  hasKeywords,
  hasTopLevelKeywords,
  indexColumnRefs,
  itemColumnRefs,
  parseCreateTable,
  renameCreateTable,
  type ParsedTable,
} from './ddl';

export interface RebuildSpec {
  /** Column definitions to add, in order, e.g. `{ is_admin: 'BOOLEAN NOT NULL DEFAULT 0' }`. */
  addColumns?: Record<string, string>;
  /**
   * Columns to remove. If an index, CHECK, other constraint or child foreign key still uses one, or a view,
   * trigger or virtual table anywhere in the schema would stop working without it, the call fails with a
   * RebuildError naming them (nothing changed), unless the user is an index and `dropDependentIndexes` is
   * true, in which case that index is dropped.
   */
  dropColumns?: string[];
  dropDependentIndexes?: boolean;
  /** Replace a column's whole definition (type and constraints, without the name), e.g. `{ email: 'TEXT NOT NULL COLLATE NOCASE' }`. */
  alterColumns?: Record<string, string>;
  /**
   * Rename columns `{ old: new }`. Applied first, with ALTER TABLE RENAME COLUMN (SQLite rewrites indexes,
   * triggers, views and children's REFERENCES, or fails): every other option uses the NEW names.
   */
  renameColumns?: Record<string, string>;
  /** Table constraints appended to the definition, e.g. `"CHECK (kind IN ('feedback','bug'))"`. */
  addConstraints?: string[];
  /**
   * Last resort: receives the edited CREATE TABLE statement (under the table's real name) and returns the final
   * one. It must stay one CREATE TABLE statement; its table name is replaced by the temporary one.
   */
  transformSql?: (createSql: string) => string;
  /**
   * Copy mapping: new column -> SQL expression over the old table's columns (renamed columns under their new
   * names). Default: each column of the new table that exists in the old one is copied as is; new columns not
   * mapped take their DEFAULT.
   */
  copy?: Record<string, string>;
}

export interface RebuildResult {
  table: string;
  rowsCopied: number;
  indexesRestored: number;
  triggersRestored: number;
}

/** The points between steps, in order; `setRebuildStepHook` lets tests fail the rebuild at each. */
export const REBUILD_STEPS = [
  'renameColumns',
  'createTemp',
  'copyRows',
  'carrySequence',
  'dropOld',
  'renameTemp',
  'restoreIndexes',
  'restoreTriggers',
  'verify',
] as const;
export type RebuildStep = (typeof REBUILD_STEPS)[number];
type StepHook = (step: RebuildStep) => void | Promise<void>;
let stepHook: StepHook | undefined;

/** Test seam: `hook` runs after each step, inside the transaction; if it throws, the rebuild must roll back. */
export function setRebuildStepHook(hook: StepHook | undefined): void {
  stepHook = hook;
}

type Db = Knex | Knex.Transaction;

/** The part of knex's (untyped) client we use. */
interface KnexClient {
  readonly dialect?: string;
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): unknown;
}

interface ColumnInfo {
  name: string;
  type: string;
  pk: number;
  hidden: number;
}

/** Rebuilds `table` according to `spec`. See the module comment for the procedure and its guarantees. */
export async function rebuildTable(db: Db, table: string, spec: RebuildSpec): Promise<RebuildResult> {
  if (!isSqlite(db)) {
    const dialect = (db.client as KnexClient | undefined)?.dialect;
    throw new UnsupportedDialectError(
      `rebuildTable(${table}) is SQLite-only (other databases have a real ALTER TABLE); this knex uses ${dialect ?? 'an unknown client'}`,
    );
  }
  return db.isTransaction ? rebuildInTransaction(db as Knex.Transaction, table, spec) : rebuildOnOwnConnection(db, db.client as KnexClient, table, spec);
}

async function rebuildOnOwnConnection(db: Knex, client: KnexClient, table: string, spec: RebuildSpec): Promise<RebuildResult> {
  // One connection for the pragma and the transaction: foreign_keys is per connection.
  const conn = await client.acquireConnection();
  const run = async <T>(sql: string) => (await db.raw(sql).connection(conn)) as T[];
  const foreignKeys = async () => (await run<{ foreign_keys: number }>('PRAGMA foreign_keys'))[0].foreign_keys === 1;
  try {
    const wasOn = await foreignKeys();
    try {
      if (wasOn) {
        await run('PRAGMA foreign_keys = OFF');
        if (await foreignKeys()) {
          throw new RebuildError(table, 'PRAGMA foreign_keys = OFF did not take effect (is this connection inside a transaction?); nothing was changed');
        }
      }
      return await db.transaction((trx) => rebuildSteps(trx, table, spec, false, true), { connection: conn });
    } finally {
      if (wasOn) await run('PRAGMA foreign_keys = ON');
    }
  } finally {
    client.releaseConnection(conn);
  }
}

async function rebuildInTransaction(trx: Knex.Transaction, table: string, spec: RebuildSpec): Promise<RebuildResult> {
  const [{ foreign_keys: fk }] = await query<{ foreign_keys: number }>(trx, 'PRAGMA foreign_keys');
  if (fk === 1) {
    const { name } = await findTable(trx, table);
    const children = [...new Set((await foreignKeysTo(trx, name)).map((r) => r.child))];
    if (children.length > 0) {
      throw new RebuildError(
        name,
        `foreign keys are ON inside this transaction and ${children.map(q).join(', ')} reference(s) it: dropping the old ` +
          `table would cascade-delete, set NULL or fail those rows (a self-reference would hit the new copy), and ` +
          `PRAGMA foreign_keys cannot be turned off inside a transaction. Run it through runMigrations (which suspends ` +
          `foreign keys before BEGIN) or call rebuildTable with the knex instance instead of a transaction; nothing was changed`,
      );
    }
  }
  // A SAVEPOINT, so a failure rolls back just the rebuild. Inside runMigrations the runner checks
  // foreign keys over the whole database before committing: checking here too would scan twice.
  return trx.transaction((sp) => rebuildSteps(sp, table, spec, fk === 1, !foreignKeysCheckedByRunner(trx)));
}

async function findTable(db: Db, requested: string): Promise<{ name: string; sql: string }> {
  const [row] = await query<{ name: string; sql: string | null }>(
    db,
    `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
    [requested],
  );
  if (!row?.sql) throw new RebuildError(requested, 'no such table');
  if (/^sqlite_/i.test(row.name)) throw new RebuildError(requested, 'SQLite internal tables cannot be rebuilt');
  if (/^\s*CREATE\s+VIRTUAL\b/i.test(row.sql)) throw new RebuildError(requested, 'virtual tables cannot be rebuilt');
  return { name: row.name, sql: row.sql };
}

/** Foreign keys in any table (including `table` itself) that reference `table`. */
async function foreignKeysTo(db: Db, table: string): Promise<{ child: string; from: string; to: string | null }[]> {
  return query(
    db,
    `SELECT m.name AS child, f."from" AS "from", f."to" AS "to"
       FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f
      WHERE m.type = 'table' AND f."table" = ? COLLATE NOCASE`,
    [table],
  );
}

/** foreign_key_check of the table's own keys and of the children's keys pointing at it. */
async function foreignKeyViolations(db: Db, table: string): Promise<{ table: string; rowid: number | null; parent: string }[]> {
  const children = [...new Set((await foreignKeysTo(db, table)).map((r) => r.child))].filter((c) => c !== table);
  const out: { table: string; rowid: number | null; parent: string }[] = [];
  for (const t of [table, ...children]) {
    const rows = await query<{ table: string; rowid: number | null; parent: string }>(db, 'SELECT * FROM pragma_foreign_key_check(?)', [t]);
    out.push(...rows.filter((r) => t === table || sameIdent(r.parent, table)).map(({ table: tb, rowid, parent }) => ({ table: tb, rowid, parent })));
  }
  return out;
}

async function rebuildSteps(
  trx: Knex.Transaction,
  requested: string,
  spec: RebuildSpec,
  foreignKeysOn: boolean,
  checkForeignKeys: boolean,
): Promise<RebuildResult> {
  const { name: table, sql: originalSql } = await findTable(trx, requested);
  const tmp = `_ksm_rebuild_${randomBytes(6).toString('hex')}`;
  const [{ legacy_alter_table: legacy }] = await query<{ legacy_alter_table: number }>(trx, 'PRAGMA legacy_alter_table');
  const step = async (s: RebuildStep) => stepHook?.(s);
  try {
    // Names that will no longer be columns: a double-quoted one in a view or trigger could turn into a string.
    const goneColumns = [...(spec.dropColumns ?? []), ...Object.keys(spec.renameColumns ?? {})];
    const healthBefore = await schemaHealth(trx, requested, goneColumns);
    // a. Renames first: SQLite knows every place a column name appears.
    const renames = Object.entries(spec.renameColumns ?? {});
    if (renames.length > 0) {
      const known = columnNames(parseCreateTable(originalSql));
      const missing = renames.filter(([from]) => !known.some((c) => sameIdent(c, from)));
      if (missing.length > 0) throw new RebuildError(table, `renameColumns: no column ${missing.map(([from]) => q(from)).join(', ')}`);
      await trx.raw('PRAGMA legacy_alter_table = OFF');
      for (const [from, to] of renames) await trx.raw(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(from)} TO ${q(to)}`);
      // Checked now, not only at the end: a column the spec adds under an old name would make an object that
      // could not follow the rename (one reading it through a SELECT * view) silently read the new column.
      await verifySchema(trx, table, healthBefore, goneColumns);
    }
    await step('renameColumns');

    // b. Read the (renamed) schema, refuse unsafe drops, edit the SQL.
    const master = await query<MasterRow>(trx, 'SELECT type, name, tbl_name, sql FROM sqlite_master');
    const parsed = parseCreateTable(master.find((r) => r.type === 'table' && r.name === table)?.sql ?? originalSql);
    const ownIndexes = master.filter((r) => r.type === 'index' && r.sql !== null && sameIdent(r.tbl_name, table));
    const triggers = master.filter((r) => r.type === 'trigger' && sameIdent(r.tbl_name, table));
    const drops = spec.dropColumns ?? [];
    const skippedIndexes = await checkDrops(trx, table, parsed, drops, master, spec.dropDependentIndexes === true);
    const indexes = ownIndexes.filter((r) => !skippedIndexes.has(r.name));

    const edited = editCreateTable(
      parsed,
      { drop: drops, alter: spec.alterColumns, add: spec.addColumns, addConstraints: spec.addConstraints },
      table,
    );
    const finalSql = spec.transformSql ? spec.transformSql(edited) : edited;
    const createSql = renameCreateTable(finalSql, tmp);
    await checkNotNull(trx, table, spec);
    if (foreignKeysOn) await assertForeignKeys(trx, table, 'existing rows already violate foreign keys');

    // c. New table under a temporary name, one INSERT … SELECT, same row count.
    await trx.raw(createSql);
    await step('createTemp');
    const rowsCopied = await copyRows(trx, table, tmp, parsed, parseCreateTable(createSql), spec.copy ?? {});
    await step('copyRows');

    // d. Keep "next id > any id ever used": copying resets sqlite_sequence to max(id). RENAME carries the row over.
    if (hasKeywords(createSql, 'AUTOINCREMENT')) {
      await trx.raw('UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence WHERE name IN (?, ?)) WHERE name = ?', [table, tmp, tmp]);
      await trx.raw(
        'INSERT INTO sqlite_sequence (name, seq) SELECT ?, seq FROM sqlite_sequence WHERE name = ? AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)',
        [tmp, table, tmp],
      );
    }
    await step('carrySequence');
    const stats = await readStats(trx, table, master);
    await trx.raw(`DROP TABLE ${q(table)}`);
    await step('dropOld');
    await trx.raw('PRAGMA legacy_alter_table = ON');
    await trx.raw(`ALTER TABLE ${q(tmp)} RENAME TO ${q(table)}`);
    await trx.raw(`PRAGMA legacy_alter_table = ${legacy ? 'ON' : 'OFF'}`);
    await step('renameTemp');

    // e. Everything DROP TABLE took with it, then checks.
    for (const index of indexes) await trx.raw(index.sql ?? '');
    await step('restoreIndexes');
    for (const trigger of triggers) await trx.raw(trigger.sql ?? '');
    await step('restoreTriggers');
    await restoreStats(trx, table, stats);
    await verifySchema(trx, table, healthBefore, goneColumns);
    if (checkForeignKeys) await assertForeignKeys(trx, table, 'rows would violate foreign keys after the rebuild');
    await step('verify');
    return { table, rowsCopied, indexesRestored: indexes.length, triggersRestored: triggers.length };
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new RebuildError(table, `${describeCause(err).split(tmp).join(table)}; the rebuild was rolled back, nothing was changed`, err);
  } finally {
    await trx.raw(`PRAGMA legacy_alter_table = ${legacy ? 'ON' : 'OFF'}`);
  }
}

/** The table's query-planner statistics (ANALYZE's sqlite_stat1 rows; sqlite_stat4 is not kept) and, per index, its columns. */
interface TableStats {
  readonly rows: { idx: string | null; stat: string }[];
  readonly indexColumns: ReadonlyMap<string, string>;
}

/** DROP TABLE deletes the table's sqlite_stat1 rows: read them first (none when ANALYZE never ran). */
async function readStats(trx: Knex.Transaction, table: string, master: readonly MasterRow[]): Promise<TableStats | undefined> {
  if (!master.some((r) => r.type === 'table' && r.name === 'sqlite_stat1')) return undefined;
  const rows = await query<{ idx: string | null; stat: string }>(trx, 'SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?', [table]);
  if (rows.length === 0) return undefined;
  return { rows, indexColumns: await indexColumnsOf(trx, table) };
}

/**
 * Puts the statistics back for the table and for every index that still covers the same columns
 * (explicit indexes keep their names; a UNIQUE constraint's automatic index may be renumbered), then
 * reloads them, so query plans do not regress after a rebuild. Row counts are unchanged by a rebuild.
 */
async function restoreStats(trx: Knex.Transaction, table: string, stats: TableStats | undefined): Promise<void> {
  if (!stats) return;
  const now = await indexColumnsOf(trx, table);
  for (const { idx, stat } of stats.rows) {
    let target: string | null | undefined = idx;
    if (idx !== null && now.get(idx) !== stats.indexColumns.get(idx)) {
      target = [...now].find(([name, columns]) => /^sqlite_autoindex_/i.test(name) && columns === stats.indexColumns.get(idx))?.[0];
    }
    if (target === undefined) continue; // the index is gone (a dropped column) or changed: its statistics would mislead
    await trx.raw('INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)', [table, target, stat]);
  }
  await trx.raw('ANALYZE sqlite_master'); // reloads the statistics into the planner; scans nothing
}

/** Index name → its key columns (names, or "<expr>"), for matching indexes across the rebuild. */
async function indexColumnsOf(trx: Knex.Transaction, table: string): Promise<Map<string, string>> {
  const rows = await query<{ index: string; columns: string }>(
    trx,
    `SELECT l.name AS "index",
            (SELECT group_concat(c, ',') FROM (SELECT coalesce(i.name, '<expr>') AS c FROM pragma_index_info(l.name) AS i ORDER BY i.seqno)) AS columns
       FROM pragma_index_list(?) AS l`,
    [table],
  );
  return new Map(rows.map((r) => [r.index, r.columns]));
}

async function assertForeignKeys(trx: Knex.Transaction, table: string, what: string): Promise<void> {
  const violations = await foreignKeyViolations(trx, table);
  if (violations.length > 0) {
    throw new ForeignKeyViolationError(violations, `rebuildTable(${table}) rolled back, ${what}`);
  }
}

/** Refuses drops that something still uses; returns the indexes to leave out (dropDependentIndexes). */
async function checkDrops(
  trx: Knex.Transaction,
  table: string,
  parsed: ParsedTable,
  drops: readonly string[],
  master: readonly MasterRow[],
  dropDependentIndexes: boolean,
): Promise<Set<string>> {
  const skipped = new Set<string>();
  if (drops.length === 0) return skipped;
  const dropped = (name: string) => drops.some((d) => sameIdent(d, name));
  const users: string[] = [];
  for (const item of parsed.items) {
    if (item.kind === 'column' && item.name !== undefined && dropped(item.name)) continue;
    if (itemColumnRefs(item, table).some(dropped)) {
      users.push(`${item.kind === 'column' ? `column ${q(item.name ?? '')}` : 'table constraint'} ${snippet(item.text)}`);
    }
  }
  for (const r of master) {
    const sql = r.sql ?? '';
    if (r.type === 'index' && r.sql !== null && sameIdent(r.tbl_name, table) && indexColumnRefs(sql).some(dropped)) {
      if (dropDependentIndexes) skipped.add(r.name);
      else users.push(`index ${q(r.name)}`);
    }
  }
  // Views and triggers are not guessed from their text (a view joining another table may use a column of the
  // same name there): SQLite resolves them, here and again after the rebuild (verifySchema).
  users.push(...(await usersResolvedBySqlite(trx, table, drops)));
  const pk = (await query<{ name: string }>(trx, 'SELECT name FROM pragma_table_info(?) WHERE pk > 0', [table])).map((r) => r.name);
  for (const fk of await foreignKeysTo(trx, table)) {
    if (sameIdent(fk.child, table) && dropped(fk.from)) continue; // a self-reference that goes with its column
    if (fk.to === null ? pk.some(dropped) : dropped(fk.to)) users.push(`foreign key ${q(fk.child)}(${q(fk.from)})`);
  }
  if (users.length > 0) {
    throw new RebuildError(
      table,
      `cannot drop ${drops.map(q).join(', ')}: still used by ${users.join('; ')}. Change or remove ${users.length > 1 ? 'those' : 'it'} ` +
        `first${users.some((u) => u.startsWith('index')) ? ' (or pass dropDependentIndexes: true)' : ''}; nothing was changed`,
    );
  }
  return skipped;
}

/**
 * The views and triggers that use `table`'s columns `drops`, as SQLite itself resolves names: in a savepoint
 * that is always rolled back, each column is renamed (RENAME COLUMN, legacy_alter_table OFF, rewrites every
 * reference SQLite resolves to it and nothing else); the objects whose SQL changed use it. Where SQLite
 * cannot resolve the schema (an object already broken), this finds nothing and the check after the
 * rebuild decides.
 */
async function usersResolvedBySqlite(trx: Knex.Transaction, table: string, drops: readonly string[]): Promise<string[]> {
  const users = new Set<string>();
  const objects = async (db: Knex.Transaction) =>
    new Map(
      (await query<MasterRow>(db, `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('view', 'trigger')`)).map((r) => [
        `${r.type} ${q(r.name)}`,
        r.sql,
      ]),
    );
  const before = await objects(trx);
  if (before.size === 0) return [];
  const probe = `_ksm_probe_${randomBytes(6).toString('hex')}`;
  for (const column of drops) {
    await trx
      .transaction(async (sp) => {
        await sp.raw('PRAGMA legacy_alter_table = OFF');
        await sp.raw(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(column)} TO ${q(probe)}`);
        for (const [object, sql] of await objects(sp)) if (!sameButRowidOrStrings(before.get(object) ?? '', sql ?? '')) users.add(object);
        throw new ProbeDone();
      })
      // ProbeDone rolled the savepoint back; any other error: SQLite could not resolve the schema (verifySchema decides).
      .catch(() => undefined);
  }
  return [...users];
}

const ROWID_NAMES = new Set(['rowid', '_rowid_', 'oid']);

/**
 * Whether RENAME COLUMN changed nothing in `before` but what does not use the column: `rowid` (SQLite
 * rewrites it to the name of the column that is the rowid alias; the rowid itself stays) and a double-quoted
 * string it requotes as 'x'.
 */
function sameButRowidOrStrings(before: string, after: string): boolean {
  if (before === after) return true;
  const [a, b] = [significant(tokenize(before)), significant(tokenize(after))];
  return (
    a.length === b.length &&
    a.every((t, i) => {
      const u = b[i];
      if (t.text === u.text) return true;
      if (t.kind === 'quoted' && t.text.startsWith('"') && u.kind === 'string' && identValue(t) === identValue(u)) return true;
      return (t.kind === 'word' || t.kind === 'quoted') && ROWID_NAMES.has(identValue(t).toLowerCase());
    })
  );
}

/** Thrown to roll back a probe's savepoint. */
class ProbeDone extends Error {}

/** A clear error instead of "NOT NULL constraint failed" when NULLs would be copied into a NOT NULL column. */
async function checkNotNull(trx: Knex.Transaction, table: string, spec: RebuildSpec): Promise<void> {
  const mapped = (col: string) => Object.keys(spec.copy ?? {}).some((k) => sameIdent(k, col));
  for (const [col, def] of Object.entries(spec.alterColumns ?? {})) {
    if (!hasTopLevelKeywords(def, 'NOT', 'NULL') || mapped(col)) continue;
    const [{ n }] = await query<{ n: number }>(trx, `SELECT count(*) AS n FROM ${q(table)} WHERE ${q(col)} IS NULL`);
    if (n > 0) {
      throw new RebuildError(
        table,
        `column ${q(col)} would become NOT NULL but ${n} row(s) hold NULL; fill them during the copy, e.g. ` +
          `copy: { ${JSON.stringify(col)}: "coalesce(${q(col)}, <value>)" }; nothing was changed`,
      );
    }
  }
  for (const [col, def] of Object.entries(spec.addColumns ?? {})) {
    if (!hasTopLevelKeywords(def, 'NOT', 'NULL') || hasTopLevelKeywords(def, 'DEFAULT') || hasTopLevelKeywords(def, 'AS') || mapped(col)) continue;
    const [{ n }] = await query<{ n: number }>(trx, `SELECT count(*) AS n FROM ${q(table)}`);
    if (n > 0) {
      throw new RebuildError(table, `new column ${q(col)} is NOT NULL without a DEFAULT; give it one or a copy expression; nothing was changed`);
    }
  }
}

/**
 * The column that is the rowid itself (SQLite's rule: a rowid table's single-column PRIMARY KEY of
 * declared type exactly INTEGER) — except where SQLite made it a separate key, as it does for a column
 * declared `INTEGER PRIMARY KEY DESC`: such a key gets its own index (origin "pk"), an alias never does.
 */
async function rowidAliasOf(trx: Knex.Transaction, table: string, cols: readonly ColumnInfo[]): Promise<string | undefined> {
  const pk = cols.filter((c) => c.pk > 0);
  if (pk.length !== 1 || pk[0].type.toUpperCase() !== 'INTEGER') return undefined;
  const pkIndexes = await query<{ origin: string }>(trx, `SELECT origin FROM pragma_index_list(?) WHERE origin = 'pk'`, [table]);
  return pkIndexes.length === 0 ? pk[0].name : undefined;
}

/** INSERT INTO tmp (cols) SELECT exprs FROM table, in SQLite; returns the verified row count. */
async function copyRows(
  trx: Knex.Transaction,
  table: string,
  tmp: string,
  oldTable: ParsedTable,
  newTable: ParsedTable,
  copy: Record<string, string>,
): Promise<number> {
  const columns = (t: string) => query<ColumnInfo>(trx, 'SELECT name, type, pk, hidden FROM pragma_table_xinfo(?)', [t]);
  const [oldCols, newCols] = [await columns(table), await columns(tmp)];
  const insertable = newCols.filter((c) => c.hidden === 0); // generated columns cannot be written
  const mapping = new Map<string, string>();
  for (const [target, expr] of Object.entries(copy)) {
    const col = insertable.find((c) => sameIdent(c.name, target));
    if (!col) throw new RebuildError(table, `copy: ${q(target)} is not a writable column of the rebuilt table; nothing was changed`);
    mapping.set(col.name, `(${expr})`);
  }
  for (const col of insertable) {
    const old = oldCols.find((c) => sameIdent(c.name, col.name));
    if (old && !mapping.has(col.name)) mapping.set(col.name, q(old.name));
  }
  const targets = [...mapping.keys()].map(q);
  const exprs = [...mapping.values()];
  // Keep rowids (something may point at them: FTS external content, other tables). Where the new table
  // has a rowid alias, that column carries them: from the old column it maps, else from the old rowids
  // (an INTEGER PRIMARY KEY added to a rowid-only table takes the old rowids, not new numbers).
  const freeRowidName = (cols: ColumnInfo[]) => ['rowid', 'oid', '_rowid_'].find((n) => !cols.some((c) => sameIdent(c.name, n)));
  const [src, dst] = [freeRowidName(oldCols), freeRowidName(newCols)];
  if (!oldTable.withoutRowid && !newTable.withoutRowid && src) {
    const alias = await rowidAliasOf(trx, tmp, newCols);
    if (alias === undefined && dst) {
      targets.unshift(dst);
      exprs.unshift(src);
    } else if (alias !== undefined && !mapping.has(alias)) {
      targets.unshift(q(alias));
      exprs.unshift(src);
    }
  }
  if (targets.length === 0) throw new RebuildError(table, 'the rebuilt table shares no column with the old one and copy maps none');
  await trx.raw(`INSERT INTO ${q(tmp)} (${targets.join(', ')}) SELECT ${exprs.join(', ')} FROM ${q(table)}`);
  const [{ before, after }] = await query<{ before: number; after: number }>(
    trx,
    `SELECT (SELECT count(*) FROM ${q(table)}) AS before, (SELECT count(*) FROM ${q(tmp)}) AS after`,
  );
  if (before !== after) {
    throw new RebuildError(table, `the copy kept ${after} of ${before} rows (an ON CONFLICT IGNORE/REPLACE clause dropped some); nothing was changed`);
  }
  return after;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
