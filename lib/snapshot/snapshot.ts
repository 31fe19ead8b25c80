/**
 * Schema validation and drift detection. `schemaSnapshot` describes the database's tables in one normalised,
 * engine-aware JSON shape (columns, primary key, indexes, UNIQUE, foreign keys, CHECKs), stable across runs
 * and identical for a fresh database and an upgraded one. The snapshot the app's migrations produce is kept
 * in migrations/snapshots/<engine>.json, so a schema changed by hand — or a migration changed without
 * regenerating the file — shows up as a readable diff instead of a surprise in production.
 *
 * Per-engine introspection lives in lib/snapshot/{sqlite,postgres,mysql}.ts, reached through the dialect
 * adapter's describeTables; this module owns the comparison and the file format.
 */
import fs from 'fs';
import path from 'path';
import { adapterFor } from '../dialects';
import { BOOKKEEPING_TABLES } from '../store/history';
import { byText, checkKey, foreignKeyKey, sortTable, uniqueKey } from './normalise';
import type { Db, SchemaSnapshot, SnapshotOptions, TableSnapshot } from './types';

export type {
  CheckSnapshot,
  ColumnSnapshot,
  ForeignKeySnapshot,
  IndexSnapshot,
  ReferentialAction,
  SchemaSnapshot,
  SnapshotOptions,
  TableSnapshot,
  UniqueSnapshot,
} from './types';

/** The migration machinery's own tables (ours and knex's): their shape is not the app's schema. */
export { BOOKKEEPING_TABLES };

/** Describes the database's tables (minus `options.exclude`, default BOOKKEEPING_TABLES), sorted by name. */
export async function schemaSnapshot(db: Db, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  const adapter = adapterFor(db);
  const tables = await adapter.describeTables(db, { schema: options.schema, exclude: new Set(options.exclude ?? BOOKKEEPING_TABLES) });
  return { dialect: adapter.name, tables: tables.map(sortTable).sort((a, b) => byText(a.name, b.name)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison

export interface SnapshotDifference {
  readonly kind: 'added' | 'removed' | 'changed';
  /** Where: "feedback" (a table), "users.columns.is_admin", "users.columns.is_admin.nullable", "users.primaryKey". */
  readonly path: string;
  /** The value in the expected snapshot (absent for `added`). */
  readonly expected?: unknown;
  /** The value in the actual snapshot (absent for `removed`). */
  readonly actual?: unknown;
}

type Out = SnapshotDifference[];

/**
 * What changed from `expected` to `actual`, in a stable order (tables by name; within a table: columns, primary
 * key, indexes, uniques, foreign keys, checks). Columns and indexes are matched by name, UNIQUE constraints and
 * foreign keys by their columns, CHECKs by name (or expression when unnamed), so a renamed constraint reads as
 * a changed `name` rather than a removal plus an addition. Empty when the schemas are the same.
 */
export function diffSnapshots(expected: SchemaSnapshot, actual: SchemaSnapshot): SnapshotDifference[] {
  const out: Out = [];
  if (expected.dialect !== actual.dialect) out.push({ kind: 'changed', path: 'dialect', expected: expected.dialect, actual: actual.dialect });
  diffKeyed(out, '', expected.tables, actual.tables, (t) => t.name, diffTable);
  return out;
}

function diffTable(out: Out, table: string, e: TableSnapshot, a: TableSnapshot): void {
  diffKeyed(out, `${table}.columns`, e.columns, a.columns, (c) => c.name, diffFields);
  diffValue(out, `${table}.primaryKey`, e.primaryKey, a.primaryKey);
  diffKeyed(out, `${table}.indexes`, e.indexes, a.indexes, (i) => i.name, diffFields);
  diffKeyed(out, `${table}.uniques`, e.uniques, a.uniques, uniqueKey, diffFields);
  diffKeyed(out, `${table}.foreignKeys`, e.foreignKeys, a.foreignKeys, foreignKeyKey, diffFields);
  diffKeyed(out, `${table}.checks`, e.checks, a.checks, checkKey, diffFields);
}

function diffKeyed<T>(out: Out, prefix: string, expected: readonly T[], actual: readonly T[], key: (item: T) => string, inner: (out: Out, path: string, e: T, a: T) => void): void {
  const e = keyed(expected, key);
  const a = keyed(actual, key);
  for (const k of [...new Set([...e.keys(), ...a.keys()])].sort(byText)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const x = e.get(k);
    const y = a.get(k);
    if (x === undefined) out.push({ kind: 'added', path, actual: y });
    else if (y === undefined) out.push({ kind: 'removed', path, expected: x });
    else inner(out, path, x, y);
  }
}

/** Items by key; a repeated key (two constraints on the same columns) becomes "key#2", "key#3" in list order. */
function keyed<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  const out = new Map<string, T>();
  for (const item of items) {
    const base = key(item);
    let k = base;
    for (let n = 2; out.has(k); n++) k = `${base}#${n}`;
    out.set(k, item);
  }
  return out;
}

function diffFields<T extends object>(out: Out, path: string, e: T, a: T): void {
  const fields = [...new Set([...Object.keys(e), ...Object.keys(a)])];
  const get = (o: T, f: string): unknown => (o as Record<string, unknown>)[f];
  for (const field of fields) diffValue(out, `${path}.${field}`, get(e, field), get(a, field));
}

function diffValue(out: Out, path: string, e: unknown, a: unknown): void {
  if (JSON.stringify(e) !== JSON.stringify(a)) out.push({ kind: 'changed', path, expected: e, actual: a });
}

const isTable = (v: unknown): boolean => typeof v === 'object' && v !== null && 'columns' in v && 'primaryKey' in v;

/** A value as it reads in a diff line: strings bare, lists as "(a, b)", null as "null". */
function show(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `(${v.map(show).join(', ')})`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * One line per difference: "+ table feedback", "- users.columns.is_admin",
 * "~ users.columns.email.type: text -> varchar(255)". An empty string when there are none.
 */
export function formatDiff(diffs: readonly SnapshotDifference[]): string {
  return diffs
    .map((d) => {
      if (d.kind === 'changed') return `~ ${d.path}: ${show(d.expected)} -> ${show(d.actual)}`;
      const sign = d.kind === 'added' ? '+' : '-';
      return isTable(d.kind === 'added' ? d.actual : d.expected) ? `${sign} table ${d.path}` : `${sign} ${d.path}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The committed expected snapshots

/** The file holding the expected snapshot for `engine` ("sqlite", "postgres", "mysql"). */
export function snapshotPath(engine: string, dir: string): string {
  // The engine becomes a file name: refuse anything that could climb out of `dir`.
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(engine)) throw new Error(`invalid snapshot engine name ${JSON.stringify(engine)}`);
  return path.join(dir, `${engine}.json`);
}

/** The file format: pretty JSON with a final newline, so diffs of the committed file stay small. */
export function serializeSnapshot(snapshot: SchemaSnapshot): string {
  return JSON.stringify(snapshot, null, 2) + '\n';
}

/** Reads the committed expected snapshot; a clear error if it is missing or not a snapshot. */
export function readExpectedSnapshot(engine: string, dir: string): SchemaSnapshot {
  const file = snapshotPath(engine, dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`no expected schema snapshot for ${engine} at ${file}: migrate a fresh ${engine} database and write one with writeExpectedSnapshot`);
    }
    throw err;
  }
  const parsed = JSON.parse(text) as unknown;
  const ok =
    typeof parsed === 'object' && parsed !== null &&
    (parsed as { dialect?: unknown }).dialect === engine &&
    Array.isArray((parsed as { tables?: unknown }).tables);
  if (!ok) throw new Error(`${file} is not a ${engine} schema snapshot`);
  return parsed as SchemaSnapshot;
}

/**
 * Snapshots `db` and writes it as the expected snapshot of its engine (through a temporary file and a rename,
 * so a crash never leaves half a file). Run it on a fresh database migrated by the app's migrations.
 */
export async function writeExpectedSnapshot(db: Db, options: SnapshotOptions & { readonly dir: string }): Promise<{ path: string; snapshot: SchemaSnapshot }> {
  const snapshot = await schemaSnapshot(db, options);
  const file = snapshotPath(snapshot.dialect, options.dir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, serializeSnapshot(snapshot));
  fs.renameSync(tmp, file);
  return { path: file, snapshot };
}

/** Compares `db` with its engine's committed snapshot: the differences (empty when the schema is as expected). */
export async function validateSchema(db: Db, options: SnapshotOptions & { readonly dir: string }): Promise<{ path: string; differences: SnapshotDifference[] }> {
  const actual = await schemaSnapshot(db, options);
  const file = snapshotPath(actual.dialect, options.dir);
  return { path: file, differences: diffSnapshots(readExpectedSnapshot(actual.dialect, options.dir), actual) };
}
