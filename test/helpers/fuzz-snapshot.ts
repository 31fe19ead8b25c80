/**
 * Full snapshots of a database — its schema and every row of every table — for "exactly as before"
 * assertions in the reliability tests. One shape for every engine:
 *
 *   { schema: { <category>: entries[] }, rows: { <table>: rows[] } }
 *
 * SQLite: every sqlite_master entry (sql included) plus every row of every table, sqlite_sequence
 * (the AUTOINCREMENT counters) included, in rowid order with the rowid.
 * PostgreSQL: relations, columns, constraints, indexes, views, triggers and functions of the current
 * schema (catalog queries restricted to it; the schema's own name is stripped so snapshots of two
 * private schemas compare equal), plus every row as JSON. Sequence *positions* are left out on
 * purpose: nextval() is not transactional in PostgreSQL, so a rolled-back INSERT still advances them.
 * MySQL/MariaDB: tables, columns, indexes and constraints of DATABASE(), plus every row.
 *
 * Every schema entry carries the table it belongs to in `table`, so withoutTable() can drop one.
 */
import type { Knex } from 'knex';
import { isDeepStrictEqual } from 'util';
import { HISTORY_TABLE } from '../../lib/store/history';

type Db = Knex | Knex.Transaction;
type Row = Record<string, unknown>;

export interface DbSnapshot {
  readonly schema: Record<string, Row[]>;
  readonly rows: Record<string, Row[]>;
}

/** The engine behind a knex instance or transaction (knex's client.dialect). */
export function engineOf(db: Db): 'sqlite' | 'postgres' | 'mysql' {
  const dialect = (db.client as { dialect?: string }).dialect;
  if (dialect === 'sqlite3') return 'sqlite';
  if (dialect === 'postgresql') return 'postgres';
  if (dialect === 'mysql') return 'mysql';
  throw new Error(`no snapshot support for the ${String(dialect)} dialect`);
}

export async function snapshot(db: Db): Promise<DbSnapshot> {
  switch (engineOf(db)) {
    case 'sqlite':
      return sqliteSnapshot(db);
    case 'postgres':
      return postgresSnapshot(db);
    case 'mysql':
      return mysqlSnapshot(db);
  }
}

/** The schema half only (cheap on large tables). */
export async function schemaSnapshot(db: Db): Promise<Record<string, Row[]>> {
  switch (engineOf(db)) {
    case 'sqlite':
      return sqliteSchema(db);
    case 'postgres':
      return postgresSchema(db);
    case 'mysql':
      return mysqlSchema(db);
  }
}

/** A snapshot without one table: its schema entries, its rows and its sqlite_sequence row. */
export function withoutTable(snap: DbSnapshot, table: string): DbSnapshot {
  const schema = Object.fromEntries(
    Object.entries(snap.schema).map(([category, entries]) => [category, entries.filter((e) => e.table !== table)]),
  );
  const rows = Object.fromEntries(
    Object.entries(snap.rows)
      .filter(([t]) => t !== table)
      .map(([t, r]) => [t, t === 'sqlite_sequence' ? r.filter((row) => row.name !== table) : r]),
  );
  return { schema, rows };
}

/** A snapshot without one system_settings row (e.g. db_version, which a successful migration moves). */
export function withoutSetting(snap: DbSnapshot, key: string): DbSnapshot {
  const settings = snap.rows.system_settings;
  if (!settings) return snap;
  return { schema: snap.schema, rows: { ...snap.rows, system_settings: settings.filter((r) => r.key !== key) } };
}

/**
 * A snapshot without the history rows of one version, and without the AUTOINCREMENT counter of the
 * history table (which any recorded run moves).
 */
export function withoutHistoryOf(snap: DbSnapshot, version: string): DbSnapshot {
  const rows = { ...snap.rows };
  if (rows[HISTORY_TABLE]) rows[HISTORY_TABLE] = rows[HISTORY_TABLE].filter((r) => r.version !== version);
  if (rows.sqlite_sequence) rows.sqlite_sequence = rows.sqlite_sequence.filter((r) => r.name !== HISTORY_TABLE);
  return { schema: snap.schema, rows };
}

/** Which parts differ between two snapshots, e.g. "schema.tables (+system_migrations), rows.users" — for assertion messages. */
export function snapshotDiff(before: DbSnapshot, after: DbSnapshot): string {
  const parts: string[] = [];
  for (const category of new Set([...Object.keys(before.schema), ...Object.keys(after.schema)])) {
    const [a, b] = [before.schema[category] ?? [], after.schema[category] ?? []];
    if (isDeepStrictEqual(a, b)) continue;
    const names = (entries: Row[]) => new Set(entries.map((e) => String(e.name ?? e.table)));
    const [na, nb] = [names(a), names(b)];
    const added = [...nb].filter((n) => !na.has(n)).map((n) => `+${n}`);
    const removed = [...na].filter((n) => !nb.has(n)).map((n) => `-${n}`);
    parts.push(`schema.${category}${added.length + removed.length > 0 ? ` (${[...added, ...removed].join(', ')})` : ''}`);
  }
  for (const table of new Set([...Object.keys(before.rows), ...Object.keys(after.rows)])) {
    if (!isDeepStrictEqual(before.rows[table], after.rows[table])) parts.push(`rows.${table}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'no difference';
}

// ---------------------------------------------------------------------------------------------
// SQLite

async function sqliteSchema(db: Db): Promise<Record<string, Row[]>> {
  const master = (await db.raw(`SELECT type, name, tbl_name AS "table", sql FROM sqlite_master ORDER BY type, name`)) as Row[];
  const [{ user_version: userVersion }] = (await db.raw('PRAGMA user_version')) as { user_version: number }[];
  return { master, meta: [{ table: null, user_version: userVersion }] };
}

async function sqliteSnapshot(db: Db): Promise<DbSnapshot> {
  const schema = await sqliteSchema(db);
  const rows: Record<string, Row[]> = {};
  for (const entry of schema.master) {
    if (entry.type !== 'table') continue;
    const name = String(entry.name);
    const ident = `"${name.replace(/"/g, '""')}"`;
    const withoutRowid = /\bWITHOUT\s+ROWID\b/i.test(String(entry.sql ?? ''));
    rows[name] = (await db.raw(
      withoutRowid ? `SELECT * FROM ${ident}` : `SELECT rowid AS "(rowid)", * FROM ${ident} ORDER BY rowid`,
    )) as Row[];
    if (withoutRowid) rows[name] = sortRows(rows[name]);
  }
  return { schema, rows };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function pgRows(db: Db, sql: string): Promise<Row[]> {
  return ((await db.raw(sql)) as { rows: Row[] }).rows;
}

async function postgresSchema(db: Db): Promise<Record<string, Row[]>> {
  const [{ schema }] = await pgRows(db, 'SELECT current_schema() AS schema');
  const strip = (rows: Row[]) => rows.map((row) => stripSchema(row, String(schema)));
  const ns = `(SELECT oid FROM pg_namespace WHERE nspname = current_schema())`;
  return {
    relations: strip(
      await pgRows(
        db,
        // A sequence owned by a column (serial) is listed under its table.
        `SELECT coalesce(owner.relname, c.relname) AS "table", c.relname AS name, c.relkind::text AS kind
           FROM pg_class c
           LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
           LEFT JOIN pg_class owner ON owner.oid = d.refobjid
          WHERE c.relnamespace = ${ns} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY c.relname`,
      ),
    ),
    columns: strip(
      await pgRows(
        db,
        `SELECT table_name AS "table", column_name, ordinal_position, data_type, character_maximum_length,
                numeric_precision, is_nullable, column_default, collation_name
           FROM information_schema.columns WHERE table_schema = current_schema()
          ORDER BY table_name, ordinal_position`,
      ),
    ),
    constraints: strip(
      await pgRows(
        db,
        `SELECT cl.relname AS "table", co.conname AS name, co.contype::text AS type, pg_get_constraintdef(co.oid) AS def
           FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
          WHERE co.connamespace = ${ns} ORDER BY cl.relname, co.conname`,
      ),
    ),
    indexes: strip(
      await pgRows(
        db,
        `SELECT tablename AS "table", indexname AS name, indexdef AS def FROM pg_indexes
          WHERE schemaname = current_schema() ORDER BY tablename, indexname`,
      ),
    ),
    views: strip(
      await pgRows(db, `SELECT viewname AS "table", definition FROM pg_views WHERE schemaname = current_schema() ORDER BY viewname`),
    ),
    triggers: strip(
      await pgRows(
        db,
        `SELECT event_object_table AS "table", trigger_name AS name, event_manipulation AS event, action_timing AS timing,
                action_statement AS statement
           FROM information_schema.triggers WHERE trigger_schema = current_schema()
          ORDER BY event_object_table, trigger_name, event_manipulation`,
      ),
    ),
    functions: strip(
      await pgRows(
        db,
        `SELECT NULL AS "table", p.proname AS name, pg_get_functiondef(p.oid) AS def FROM pg_proc p
          WHERE p.pronamespace = ${ns} ORDER BY p.proname, def`,
      ),
    ),
  };
}

async function postgresSnapshot(db: Db): Promise<DbSnapshot> {
  const schema = await postgresSchema(db);
  const rows: Record<string, Row[]> = {};
  for (const rel of schema.relations) {
    if (rel.kind !== 'r' && rel.kind !== 'p') continue;
    const name = String(rel.name);
    const data = await pgRows(db, `SELECT row_to_json(t) AS r FROM "${name.replace(/"/g, '""')}" AS t`);
    rows[name] = sortRows(data.map((d) => d.r as Row));
  }
  return { schema, rows };
}

function stripSchema(row: Row, schema: string): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'string' ? v.split(`"${schema}".`).join('').split(`${schema}.`).join('') : v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

async function myRows(db: Db, sql: string): Promise<Row[]> {
  return ((await db.raw(sql)) as [Row[]])[0];
}

async function mysqlSchema(db: Db): Promise<Record<string, Row[]>> {
  return {
    tables: await myRows(
      db,
      `SELECT TABLE_NAME AS \`table\`, TABLE_TYPE AS type, TABLE_COLLATION AS collation FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME`,
    ),
    columns: await myRows(
      db,
      `SELECT TABLE_NAME AS \`table\`, COLUMN_NAME AS name, ORDINAL_POSITION AS position, COLUMN_TYPE AS type,
              IS_NULLABLE AS nullable, COLUMN_DEFAULT AS \`default\`, COLLATION_NAME AS collation, EXTRA AS extra
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    ),
    indexes: await myRows(
      db,
      `SELECT TABLE_NAME AS \`table\`, INDEX_NAME AS name, SEQ_IN_INDEX AS seq, COLUMN_NAME AS \`column\`, NON_UNIQUE AS non_unique
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    ),
    constraints: await myRows(
      db,
      `SELECT TABLE_NAME AS \`table\`, CONSTRAINT_NAME AS name, CONSTRAINT_TYPE AS type FROM information_schema.TABLE_CONSTRAINTS
        WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
    ),
  };
}

async function mysqlSnapshot(db: Db): Promise<DbSnapshot> {
  const schema = await mysqlSchema(db);
  const rows: Record<string, Row[]> = {};
  for (const t of schema.tables) {
    if (t.type !== 'BASE TABLE') continue;
    const name = String(t.table);
    rows[name] = sortRows(await myRows(db, `SELECT * FROM \`${name.replace(/`/g, '``')}\``));
  }
  return { schema, rows };
}

// ---------------------------------------------------------------------------------------------

function sortRows(rows: Row[]): Row[] {
  const keyed = rows.map((r) => [JSON.stringify(r), r] as const);
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return keyed.map(([, r]) => r);
}
