/**
 * Generators for the rebuildTable property tests (test/sqlite/rebuild-properties.test.ts): random SQLite
 * schemas around one target table, random rebuild specs, and a MODEL of what each spec must do.
 *
 * fast-check generates plain recipes (easy to print and shrink); `buildSchema` and `buildSpec` turn them into
 * a SchemaModel / SpecModel that knows, for every object it generated, which target columns it uses and how
 * (by value, by name through a `SELECT *` view, by column count, as a foreign key's parent key, in an FTS5
 * index). From that model alone — never from lib/ — `buildSpec` lists the reasons SQLite's rules give to refuse
 * a spec (`refusals`) and the cases where refusing or succeeding are both defensible (`judgment`).
 * Data-dependent refusals (NOT NULL over NULLs, CHECK, UNIQUE, STRICT types, new foreign keys) are decided by
 * the oracle in the test file, which replays the intended change in a separate database.
 *
 * Every name is raw (unquoted) and always written double-quoted (`q`) in SQL, as many hand-written schemas are.
 * Also the dumps both rebuild test files compare (`dump`, `tableRows`).
 */
import fc from 'fast-check';
import type { Knex } from 'knex';
import { isDeepStrictEqual } from 'util';

export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const lit = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** SQLite folds identifier case for ASCII letters only. */
export const foldAscii = (s: string): string => s.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
export const sameName = (a: string, b: string): boolean => foldAscii(a) === foldAscii(b);

// ---------------------------------------------------------------------------------------------------------------
// Recipes

/**
 * How the target's key is declared (lang_createtable.html#rowid):
 * rowid     no PRIMARY KEY: rowids only;
 * alias     `k INTEGER PRIMARY KEY` (the rowid itself);
 * aliasTc   `k INTEGER, …, PRIMARY KEY (k DESC)` — still an alias (the DESC quirk is for the column form only);
 * desc      `k INTEGER PRIMARY KEY DESC` — NOT an alias: rowids and k differ;
 * intpk     `k INT PRIMARY KEY` — NOT an alias (type must be exactly INTEGER);
 * textpk    `k TEXT PRIMARY KEY` — a separate key, rowids separate;
 * autoinc   `k INTEGER PRIMARY KEY AUTOINCREMENT`;
 * without   `k INTEGER PRIMARY KEY` … WITHOUT ROWID;
 * withoutComposite `PRIMARY KEY (k, k2)` … WITHOUT ROWID.
 */
export type KeyKind = 'rowid' | 'alias' | 'aliasTc' | 'desc' | 'intpk' | 'textpk' | 'autoinc' | 'without' | 'withoutComposite';
export const KEY_KINDS: readonly KeyKind[] = ['rowid', 'alias', 'aliasTc', 'desc', 'intpk', 'textpk', 'autoinc', 'without', 'withoutComposite'];
export const FK_ACTIONS = ['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION'] as const;
export type FkAction = (typeof FK_ACTIONS)[number];

export interface RowRecipe {
  gap: number;
  a: number | null;
  b: number | null;
  c: number | null;
  d: number;
}

export interface ChildRecipe {
  onDelete: FkAction;
  onUpdate: FkAction;
  deferred: boolean;
  /** Which parent key: its PRIMARY KEY written out, the PRIMARY KEY implied (`REFERENCES t`), or the UNIQUE column c. */
  ref: 'pk' | 'implicit' | 'unique';
  /** SET DEFAULT's default: NULL, or the key of the last parent row. */
  defaultExisting: boolean;
  /** Parent row picks (modulo the row count) or null for a NULL reference. */
  rows: (number | null)[];
  index: boolean;
}

export type ViewRecipe =
  | { kind: 'cols'; pick: number; alias: boolean; where: boolean }
  | { kind: 'star' }
  | { kind: 'collist' }
  | { kind: 'over'; base: number; pick: number }
  | { kind: 'join'; pick: number }
  | { kind: 'agg'; pick: number }
  | { kind: 'sub'; pick: number };

export type TriggerRecipe =
  | { kind: 'logIns'; pick: number; before: boolean }
  | { kind: 'updOf'; of: number; body: number | null }
  | { kind: 'logDel'; before: boolean }
  | { kind: 'viaView'; view: number; pick: number }
  | { kind: 'lookup'; pick: number }
  | { kind: 'instead'; view: number }
  | { kind: 'strMention'; pick: number }
  | { kind: 'sameName'; pick: number }
  | { kind: 'starInsert' };

export type IndexRecipe =
  | { kind: 'plain'; pick: number; desc: boolean; nocase: boolean }
  | { kind: 'multi'; pick: number; pick2: number }
  | { kind: 'partial'; pick: number; pick2: number }
  | { kind: 'expr'; pick: number }
  | { kind: 'unique'; pick: number };

export interface SchemaRecipe {
  table: number;
  callCase: number;
  names: number;
  key: KeyKind;
  a: { type: number; notNull: boolean; nocase: boolean } | null;
  b: { type: number; check: boolean; dflt: boolean } | null;
  c: { type: number; unique: boolean; nocase: boolean } | null;
  d: { type: number } | null;
  gen: { on: 'a' | 'b'; stored: boolean } | null;
  selfRef: { onDelete: FkAction; onUpdate: FkAction } | null;
  tableCheck: boolean;
  tableUnique: boolean;
  strict: boolean;
  rows: RowRecipe[];
  children: ChildRecipe[];
  other: boolean;
  views: ViewRecipe[];
  triggers: TriggerRecipe[];
  indexes: IndexRecipe[];
  fts: { cols: number; onKey: boolean } | null;
  analyze: boolean;
}

const action = fc.constantFrom(...FK_ACTIONS);
const pick = fc.nat({ max: 50 });

const rowRecipe: fc.Arbitrary<RowRecipe> = fc.record({
  gap: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 9 }) }),
  a: fc.option(fc.nat({ max: 40 }), { freq: 4 }),
  b: fc.option(fc.integer({ min: -5, max: 60 }), { freq: 4 }),
  c: fc.option(fc.nat({ max: 1000 }), { freq: 4 }),
  d: fc.nat({ max: 60 }),
});

const viewRecipe: fc.Arbitrary<ViewRecipe> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('cols' as const), pick, alias: fc.boolean(), where: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('star' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('collist' as const) }) }, // breaks on any add or drop: keep rare
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('over' as const), base: pick, pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('agg' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sub' as const), pick }) },
);

const triggerRecipe: fc.Arbitrary<TriggerRecipe> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('logIns' as const), pick, before: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('updOf' as const), of: pick, body: fc.option(pick) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('logDel' as const), before: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('viaView' as const), view: pick, pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('lookup' as const), pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('instead' as const), view: pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('strMention' as const), pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sameName' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('starInsert' as const) }) }, // breaks on any add or drop: keep rare
);

const indexRecipe: fc.Arbitrary<IndexRecipe> = fc.oneof(
  fc.record({ kind: fc.constant('plain' as const), pick, desc: fc.boolean(), nocase: fc.boolean() }),
  fc.record({ kind: fc.constant('multi' as const), pick, pick2: pick }),
  fc.record({ kind: fc.constant('partial' as const), pick, pick2: pick }),
  fc.record({ kind: fc.constant('expr' as const), pick }),
  fc.record({ kind: fc.constant('unique' as const), pick }),
);

export const schemaRecipe: fc.Arbitrary<SchemaRecipe> = fc.record({
  table: fc.nat({ max: 5 }),
  callCase: fc.nat({ max: 5 }),
  names: fc.nat({ max: 3 }),
  key: fc.constantFrom(...KEY_KINDS),
  a: fc.option(fc.record({ type: fc.nat({ max: 3 }), notNull: fc.boolean(), nocase: fc.boolean() }), { freq: 5 }),
  b: fc.option(fc.record({ type: fc.nat({ max: 3 }), check: fc.boolean(), dflt: fc.boolean() }), { freq: 5 }),
  c: fc.option(fc.record({ type: fc.nat({ max: 2 }), unique: fc.boolean(), nocase: fc.boolean() }), { freq: 2 }),
  d: fc.option(fc.record({ type: fc.nat({ max: 2 }) }), { freq: 2 }),
  gen: fc.option(fc.record({ on: fc.constantFrom('a' as const, 'b' as const), stored: fc.boolean() }), { freq: 3 }),
  selfRef: fc.option(fc.record({ onDelete: action, onUpdate: action }), { freq: 4 }),
  tableCheck: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  tableUnique: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  strict: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  rows: fc.array(rowRecipe, { maxLength: 10 }),
  children: fc.array(
    fc.record({
      onDelete: action,
      onUpdate: action,
      deferred: fc.boolean(),
      ref: fc.constantFrom('pk' as const, 'implicit' as const, 'unique' as const),
      defaultExisting: fc.boolean(),
      rows: fc.array(fc.option(fc.nat({ max: 20 }), { freq: 5 }), { maxLength: 5 }),
      index: fc.boolean(),
    }),
    { maxLength: 3 },
  ),
  other: fc.boolean(),
  views: fc.array(viewRecipe, { maxLength: 5 }),
  triggers: fc.array(triggerRecipe, { maxLength: 5 }),
  indexes: fc.array(indexRecipe, { maxLength: 3 }),
  fts: fc.option(fc.record({ cols: fc.integer({ min: 1, max: 3 }), onKey: fc.boolean() }), { freq: 2 }),
  analyze: fc.boolean(),
});

// ---------------------------------------------------------------------------------------------------------------
// The schema model

/** Maps a column id to the name to write in SQL (original names before a rename, new names after). */
export type Namer = (id: string) => string;

export type Value = null | number | string | { hex: string };

export function sqlValue(v: Value): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (typeof v === 'string') return lit(v);
  return `X'${v.hex}'`;
}

export interface Column {
  readonly id: string;
  readonly name: string;
  /** Definition after the name, rendered with a namer (a CHECK or AS expression names columns). */
  readonly def: (n: Namer) => string;
  readonly type: string;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
  readonly generated: boolean;
  /** A generated column's source column. */
  readonly source?: string;
  /** The column's values are TEXT words (FTS can index it). */
  readonly text: boolean;
}

/** One thing in the schema that depends on target columns. */
export interface Use {
  readonly what: string;
  readonly kind: 'index' | 'table' | 'view' | 'trigger' | 'fts' | 'fk';
  /** Dropping any of these breaks it. */
  readonly cols: readonly string[];
  /** Columns whose values it reads or writes elsewhere (a trigger's log rows), beyond `cols`. */
  readonly reads?: readonly string[];
  /** Renaming any of these breaks it (SQLite's RENAME COLUMN refuses, or the object cannot follow). */
  readonly renameBreaks: readonly string[];
  /** Breaks when the table's column count changes (`v(x, y) AS SELECT *`, `INSERT … SELECT *`). */
  readonly countSensitive?: boolean;
  /** Columns that appear only in a trigger's `UPDATE OF` list: a drop leaves a trigger that never fires for them. */
  readonly updateOf?: readonly string[];
  /** Foreign keys: these parent columns must keep a PRIMARY KEY or UNIQUE constraint. */
  readonly parentKey?: readonly string[];
  /** The column that carries it (a generated column, the self reference): it goes away when that column is dropped. */
  readonly owner?: string;
  /** Indexes: the index name (dropped with dropDependentIndexes). */
  readonly index?: string;
  /** Uses the rowid identity (FTS5 content_rowid = rowid; a trigger that logs, looks up or joins by rowid). */
  readonly rowids?: boolean;
}

export interface ViewModel {
  readonly name: string;
  readonly kind: ViewRecipe['kind'];
  readonly sql: string;
  /** Output columns: name, and the target column it carries (if any), and whether its name follows a rename. */
  readonly outputs: readonly { name: string; from?: string; followsRename: boolean }[] | 'star';
  /** Target columns it names (directly or through other views): dropping one breaks it. */
  readonly needs: readonly string[];
  /** Target columns whose values it shows (transitively). */
  readonly shows: readonly string[];
  /** Its shape follows the table's column list (SELECT *), so adds and drops change its rows. */
  readonly starShaped: boolean;
  readonly countSensitive: boolean;
}

export interface SchemaModel {
  readonly recipe: SchemaRecipe;
  readonly table: string;
  readonly callName: string;
  /** True when `callName` names the table for SQLite (ASCII-only case folding). */
  readonly callMatches: boolean;
  readonly key: KeyKind;
  readonly columns: readonly Column[];
  readonly tableConstraints: readonly { sql: (n: Namer) => string; deps: readonly string[] }[];
  readonly withoutRowid: boolean;
  readonly strict: boolean;
  /** Parent-key columns that children (and the self reference) point at. */
  readonly keyCols: readonly string[];
  readonly hasRowids: boolean;
  readonly rows: readonly { rowid: number; values: Record<string, Value> }[];
  readonly other: boolean;
  readonly otherCols: readonly string[];
  readonly views: readonly ViewModel[];
  readonly uses: readonly Use[];
  readonly indexes: readonly string[];
  /** The explicit indexes on the target, renderable after renames (the oracle recreates them). */
  readonly indexDefs: readonly { name: string; cols: readonly string[]; unique: boolean; sql: (n: Namer) => string }[];
  readonly triggers: readonly string[];
  readonly fts?: { name: string; cols: readonly string[]; rid: string | null };
  readonly children: readonly string[];
  /** The whole script: tables, rows, then views, triggers, FTS, ANALYZE. */
  readonly script: readonly string[];
  /** The target's CREATE TABLE, and the `other` table with its rows (the oracle replays these). */
  readonly targetSql: string;
  readonly targetRowsSql: readonly string[];
  readonly otherSql: readonly string[];
  /** The children's tables and rows (without their indexes). */
  readonly childSql: readonly string[];
  /** Text words that occur in FTS-indexed columns. */
  readonly terms: readonly string[];
  /** For probes: a row selector per row index, and the key expressions. */
  readonly writable: readonly string[];
}

const TABLE_NAMES = ['items', 'Items', 'order items', 'select', 'Ünïcode Tab', 'say "hi"'];
const NAME_POOLS: Record<string, readonly string[]> = {
  k: ['id', 'ID', 'key id', 'Kéy'],
  k2: ['part', 'Part', 'sub part', 'part2'],
  a: ['title', 'Title', 'title text', 'order'],
  b: ['qty', 'QTY', 'qty count', 'group'],
  c: ['code', 'Code', 'code "x"', 'from'],
  d: ['payload', 'Payload', 'pay load', 'blob'],
  g: ['derived', 'Derived', 'derived col', 'as'],
  p: ['parent_id', 'Parent', 'parent ref', 'references'],
};
const A_TYPES = ['TEXT', 'VARCHAR(40)', 'CLOB', ''];
const B_TYPES = ['INTEGER', 'INT', 'BIGINT', 'NUMERIC'];
const C_TYPES = ['TEXT', '', 'NVARCHAR(12)'];
const D_TYPES = ['BLOB', '', 'ANYTHING'];
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'zeta', 'Alpha'];

export const OTHER = 'other side';
export const LOG = 'log';
export const SNAP = 'snap';

/** The name rebuildTable is called with: as created, ASCII letters upper-cased, or fully upper-cased (which names another table when the name has non-ASCII letters). */
function callNameOf(table: string, variant: number): string {
  if (variant === 1 || variant === 3) return table.replace(/[a-z]/g, (ch) => ch.toUpperCase());
  if (variant === 2) return table.toUpperCase();
  return table;
}

function words(n: number): string {
  return `${WORDS[n % WORDS.length]} ${WORDS[Math.floor(n / WORDS.length) % WORDS.length]}`;
}

function dValue(n: number): Value {
  switch (n % 6) {
    case 0:
      return null;
    case 1:
      return n - 30;
    case 2:
      return n / 4 + 0.5;
    case 3:
      return `d${n}`;
    case 4:
      return { hex: (n * 7919).toString(16).padStart(6, '0') };
    default:
      return String(n);
  }
}

/** Builds the schema model (and its SQL script) from a recipe. Never throws for any recipe. */
export function buildSchema(recipe: SchemaRecipe): SchemaModel {
  const table = TABLE_NAMES[recipe.table % TABLE_NAMES.length];
  const callName = callNameOf(table, recipe.callCase);
  const key = recipe.key;
  const strict = recipe.strict;
  const withoutRowid = key === 'without' || key === 'withoutComposite';
  const nameOf = (id: string) => NAME_POOLS[id][recipe.names % NAME_POOLS[id].length];
  const T = q(table);

  // Columns -------------------------------------------------------------------------------------------------
  let a = recipe.a;
  const b = recipe.b;
  if (!a && !b) a = { type: 0, notNull: false, nocase: false };
  const columns: Column[] = [];
  const tableConstraints: { sql: (n: Namer) => string; deps: string[] }[] = [];
  const col = (c: Omit<Column, 'name'> & { name?: string }) => columns.push({ name: nameOf(c.id), ...c });

  const hasKey = key !== 'rowid';
  const keyIsText = key === 'textpk';
  if (hasKey) {
    const keyDef: Record<Exclude<KeyKind, 'rowid'>, string> = {
      alias: 'INTEGER PRIMARY KEY',
      aliasTc: 'INTEGER',
      desc: 'INTEGER PRIMARY KEY DESC',
      intpk: 'INT PRIMARY KEY',
      textpk: 'TEXT PRIMARY KEY',
      autoinc: 'INTEGER PRIMARY KEY AUTOINCREMENT',
      without: 'INTEGER PRIMARY KEY',
      withoutComposite: 'INTEGER NOT NULL',
    };
    const def = keyDef[key];
    // A STRICT table's PRIMARY KEY is NOT NULL too, except the rowid alias (which is never NULL).
    const notNull = withoutRowid || (strict && !['alias', 'aliasTc', 'autoinc'].includes(key));
    col({ id: 'k', def: () => def, type: def.split(' ')[0], notNull, hasDefault: false, generated: false, text: false });
    if (key === 'withoutComposite') {
      col({ id: 'k2', def: () => 'TEXT NOT NULL', type: 'TEXT', notNull: true, hasDefault: false, generated: false, text: false });
      tableConstraints.push({ sql: (n) => `PRIMARY KEY (${q(n('k'))}, ${q(n('k2'))})`, deps: ['k', 'k2'] });
    }
    if (key === 'aliasTc') tableConstraints.push({ sql: (n) => `PRIMARY KEY (${q(n('k'))} DESC)`, deps: ['k'] });
  }
  const strictType = (t: string, fallback: string) => (strict ? fallback : t);
  if (a) {
    const type = strictType(A_TYPES[a.type % A_TYPES.length], 'TEXT');
    const notNull = a.notNull;
    const nocase = a.nocase;
    col({
      id: 'a',
      def: () => [type, notNull ? `NOT NULL DEFAULT 'none'` : '', nocase ? 'COLLATE NOCASE' : ''].filter(Boolean).join(' '),
      type,
      notNull,
      hasDefault: notNull,
      generated: false,
      text: true,
    });
  }
  if (b) {
    const type = strictType(B_TYPES[b.type % B_TYPES.length], b.type % 2 === 0 ? 'INTEGER' : 'INT');
    const check = b.check;
    const dflt = b.dflt;
    col({
      id: 'b',
      def: (n) => [type, dflt ? 'DEFAULT 0' : '', check ? `CHECK (${q(n('b'))} >= 0)` : ''].filter(Boolean).join(' '),
      type,
      notNull: false,
      hasDefault: dflt,
      generated: false,
      text: false,
    });
  }
  const genOn = recipe.gen && columns.some((c) => c.id === recipe.gen?.on) ? recipe.gen : null;
  if (genOn) {
    const stored = genOn.stored ? 'STORED' : 'VIRTUAL';
    if (genOn.on === 'b') {
      col({ id: 'g', def: (n) => `INTEGER AS (coalesce(${q(n('b'))}, 0) * 2) ${stored}`, type: 'INTEGER', notNull: false, hasDefault: false, generated: true, source: 'b', text: false });
    } else {
      col({ id: 'g', def: (n) => `TEXT AS (upper(${q(n('a'))})) ${stored}`, type: 'TEXT', notNull: false, hasDefault: false, generated: true, source: 'a', text: false });
    }
  }
  const c = recipe.c;
  if (c) {
    const type = strictType(C_TYPES[c.type % C_TYPES.length], 'TEXT');
    const unique = c.unique;
    const nocase = c.nocase;
    col({
      id: 'c',
      def: () => [type, unique ? 'UNIQUE' : '', nocase ? 'COLLATE NOCASE' : ''].filter(Boolean).join(' '),
      type,
      notNull: false,
      hasDefault: false,
      generated: false,
      text: true,
    });
  }
  if (recipe.d) {
    const type = strictType(D_TYPES[recipe.d.type % D_TYPES.length], 'ANY');
    col({ id: 'd', def: () => type, type, notNull: false, hasDefault: false, generated: false, text: false });
  }
  const has = (id: string) => columns.some((x) => x.id === id);
  const cUnique = c?.unique === true;

  // The parent key that children and the self reference use.
  const keyCols = key === 'rowid' ? (cUnique ? ['c'] : []) : key === 'withoutComposite' ? ['k', 'k2'] : ['k'];
  const keyType = keyCols[0] === 'c' ? 'TEXT' : keyIsText ? 'TEXT' : 'INTEGER';

  const selfRef = recipe.selfRef && keyCols.length === 1 ? recipe.selfRef : null;
  if (selfRef) {
    const { onDelete, onUpdate } = selfRef;
    const target = keyCols[0];
    col({
      id: 'p',
      def: (n) => `${strict ? (keyType === 'TEXT' ? 'TEXT' : 'INTEGER') : keyType} REFERENCES ${T} (${q(n(target))}) ON DELETE ${onDelete} ON UPDATE ${onUpdate}`,
      type: keyType,
      notNull: false,
      hasDefault: false,
      generated: false,
      text: false,
    });
  }
  if (recipe.tableCheck && has('a') && has('b')) {
    tableConstraints.push({ sql: (n) => `CHECK (${q(n('a'))} IS NOT NULL OR ${q(n('b'))} IS NOT NULL)`, deps: ['a', 'b'] });
  }
  if (recipe.tableUnique && has('a') && has('b')) {
    tableConstraints.push({ sql: (n) => `UNIQUE (${q(n('b'))}, ${q(n('a'))})`, deps: ['a', 'b'] });
  }

  const origNamer: Namer = (id) => columns.find((x) => x.id === id)?.name ?? id;
  const targetSql =
    `CREATE TABLE ${T} (\n  ` +
    [...columns.map((x) => `${q(x.name)} ${x.def(origNamer)}`.trimEnd()), ...tableConstraints.map((tc) => tc.sql(origNamer))].join(',\n  ') +
    `\n)${[withoutRowid ? ' WITHOUT ROWID' : '', strict ? (withoutRowid ? ', STRICT' : ' STRICT') : ''].join('')}`;

  // Rows ----------------------------------------------------------------------------------------------------
  const rows: { rowid: number; values: Record<string, Value> }[] = [];
  let rowid = 0;
  recipe.rows.forEach((r, i) => {
    rowid += r.gap;
    const v: Record<string, Value> = {};
    if (hasKey) {
      if (key === 'alias' || key === 'aliasTc' || key === 'autoinc') v.k = rowid;
      else if (keyIsText) v.k = `key-${1000 - i * 7}`;
      else if (key === 'withoutComposite') {
        v.k = i % 3;
        v.k2 = `p${i}`;
      } else v.k = 1000 - i * 10 - r.gap; // desc, intpk, without: distinct (gap < 10), unrelated to the rowid
    }
    if (has('a')) v.a = r.a === null ? (a?.notNull ? 'none' : null) : words(r.a);
    if (has('b')) {
      let bv = r.b;
      if (bv !== null && b?.check) bv = Math.abs(bv);
      if (bv !== null && recipe.tableUnique && has('a')) bv = bv * 100 + i;
      v.b = bv;
    }
    if (recipe.tableCheck && has('a') && has('b') && v.a === null && v.b === null) v.b = i;
    if (has('c')) v.c = r.c === null ? null : `${r.c % 2 === 0 ? 'code' : 'CODE'}-${i}-${r.c}`;
    if (has('d')) v.d = strict ? dValue(r.d) : dValue(r.d);
    if (selfRef) {
      const parent = i > 0 && r.d % 3 !== 0 ? rows[(r.d * 31) % i] : undefined;
      v.p = parent ? parent.values[keyCols[0]] ?? null : null;
    }
    rows.push({ rowid, values: v });
  });
  const writable = columns.filter((x) => !x.generated).map((x) => x.id);
  const insertCols = (withRowid: boolean) => [...(withRowid ? ['rowid'] : []), ...writable.map((id) => q(origNamer(id)))].join(', ');
  const targetRowsSql = rows.map((r) => {
    const withRowid = !withoutRowid && !(key === 'alias' || key === 'aliasTc' || key === 'autoinc');
    const vals = [...(withRowid ? [String(r.rowid)] : []), ...writable.map((id) => sqlValue(r.values[id] ?? null))];
    return `INSERT INTO ${T} (${insertCols(withRowid)}) VALUES (${vals.join(', ')})`;
  });

  const script: string[] = [targetSql, ...targetRowsSql];
  const uses: Use[] = [];
  for (const tc of tableConstraints) uses.push({ what: 'table constraint', kind: 'table', cols: tc.deps, renameBreaks: [] });
  if (genOn) uses.push({ what: `generated column ${q(nameOf('g'))}`, kind: 'table', cols: [genOn.on], renameBreaks: [], owner: 'g' });
  if (selfRef) uses.push({ what: 'self reference', kind: 'fk', cols: keyCols, renameBreaks: [], parentKey: keyCols, owner: 'p' });

  // Log and snap tables (trigger targets) ---------------------------------------------------------------------
  script.push(`CREATE TABLE ${q(LOG)} (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT, val)`);
  script.push(`INSERT INTO ${q(LOG)} (what, val) VALUES ('seed', 1), ('seed', 2)`);
  script.push(`DELETE FROM ${q(LOG)} WHERE val = 2`);

  // The other table, whose columns share names with the target's ------------------------------------------
  const dataIds = columns.filter((x) => ['a', 'b', 'c', 'd'].includes(x.id)).map((x) => x.id);
  const other = recipe.other;
  const otherCols = other ? dataIds.slice(0, 2) : [];
  const otherSql: string[] = [];
  const keyExpr = (alias: string, n: Namer) => (withoutRowid ? `${alias}.${q(n(keyCols[0]))}` : `${alias}.rowid`);
  const rowKey = (r: { rowid: number; values: Record<string, Value> }): Value => (withoutRowid ? r.values.k ?? null : r.rowid);
  if (other) {
    otherSql.push(`CREATE TABLE ${q(OTHER)} (id INTEGER PRIMARY KEY, ${otherCols.map((id) => `${q(origNamer(id))} TEXT`).join(', ')}${otherCols.length ? ', ' : ''}ref)`);
    const refs = rows.length === 0 ? [null, 5] : [rowKey(rows[0]), rowKey(rows[rows.length - 1]), 999];
    refs.forEach((ref, i) => {
      otherSql.push(
        `INSERT INTO ${q(OTHER)} (id, ${otherCols.map((id) => q(origNamer(id))).join(', ')}${otherCols.length ? ', ' : ''}ref) VALUES (${(i + 1) * 3}, ${otherCols.map((id) => lit(`other ${id} ${i}`)).join(', ')}${otherCols.length ? ', ' : ''}${sqlValue(ref)})`,
      );
    });
    script.push(...otherSql);
  }

  // Children ------------------------------------------------------------------------------------------------
  const children: string[] = [];
  const childSql: string[] = [];
  recipe.children.forEach((ch, i) => {
    if (keyCols.length === 0) return;
    let ref = ch.ref;
    if (ref === 'unique' && !(cUnique && key !== 'withoutComposite')) ref = 'pk';
    if ((ref === 'pk' || ref === 'implicit') && key === 'rowid') ref = 'unique';
    const parentCols = ref === 'unique' ? ['c'] : keyCols;
    if (parentCols.includes('c') && !cUnique) return;
    const name = `child ${i}`;
    children.push(name);
    const colType = parentCols.length === 2 ? ['INTEGER', 'TEXT'] : [parentCols[0] === 'c' || keyIsText ? 'TEXT' : 'INTEGER'];
    const parentRowValues = (pickN: number | null) => {
      if (pickN === null || rows.length === 0) return parentCols.map(() => null as Value);
      const r = rows[pickN % rows.length];
      return parentCols.map((id) => r.values[id] ?? null);
    };
    const last = rows.length > 0 ? parentRowValues(rows.length - 1) : parentCols.map(() => null as Value);
    const dflt = (j: number) => (ch.onDelete === 'SET DEFAULT' || ch.onUpdate === 'SET DEFAULT') && ch.defaultExisting ? ` DEFAULT ${sqlValue(last[j])}` : '';
    const fkCols = parentCols.map((_, j) => `fk${j}`);
    const refList = (n: Namer) => (ref === 'implicit' ? '' : ` (${parentCols.map((id) => q(n(id))).join(', ')})`);
    const defer = ch.deferred ? ' DEFERRABLE INITIALLY DEFERRED' : '';
    const sql = `CREATE TABLE ${q(name)} (id INTEGER PRIMARY KEY, ${fkCols.map((f, j) => `${f} ${colType[j]}${dflt(j)}`).join(', ')}, note TEXT, FOREIGN KEY (${fkCols.join(', ')}) REFERENCES ${T}${refList(origNamer)} ON DELETE ${ch.onDelete} ON UPDATE ${ch.onUpdate}${defer})`;
    childSql.push(sql);
    ch.rows.forEach((p, j) => {
      const vals = parentRowValues(p);
      childSql.push(`INSERT INTO ${q(name)} (id, ${fkCols.join(', ')}, note) VALUES (${j * 2 + 1}, ${vals.map(sqlValue).join(', ')}, ${lit(`child ${i}.${j}`)})`);
    });
    script.push(...childSql.slice(childSql.indexOf(sql)));
    if (ch.index) script.push(`CREATE INDEX ${q(`${name} fk`)} ON ${q(name)} (${fkCols.join(', ')})`);
    uses.push({ what: `foreign key of ${q(name)}`, kind: 'fk', cols: parentCols, renameBreaks: [], parentKey: parentCols });
  });

  // Indexes -------------------------------------------------------------------------------------------------
  const indexable = columns.filter((x) => x.id !== 'p').map((x) => x.id);
  const indexes: string[] = [];
  const indexDefs: { name: string; cols: string[]; unique: boolean; sql: (n: Namer) => string }[] = [];
  recipe.indexes.forEach((ix, i) => {
    const name = `${table} idx ${i}`;
    const p1 = indexable[ix.pick % indexable.length];
    let render: (n: Namer) => string;
    let cols: string[];
    let unique = false;
    switch (ix.kind) {
      case 'plain':
        render = (n) => `CREATE INDEX ${q(name)} ON ${T} (${q(n(p1))}${ix.nocase ? ' COLLATE NOCASE' : ''}${ix.desc ? ' DESC' : ''})`;
        cols = [p1];
        break;
      case 'multi': {
        const p2 = indexable[ix.pick2 % indexable.length];
        const both = p1 === p2 ? [p1] : [p1, p2];
        cols = both;
        render = (n) => `CREATE INDEX ${q(name)} ON ${T} (${both.map((id) => q(n(id))).join(', ')})`;
        break;
      }
      case 'partial': {
        const p2 = indexable[ix.pick2 % indexable.length];
        cols = [...new Set([p1, p2])];
        render = (n) => `CREATE INDEX ${q(name)} ON ${T} (${q(n(p1))}) WHERE ${q(n(p2))} IS NOT NULL`;
        break;
      }
      case 'expr': {
        const e = has('a') ? 'a' : has('c') ? 'c' : p1;
        cols = [e];
        render = (n) => `CREATE INDEX ${q(name)} ON ${T} (lower(${q(n(e))}), length(${q(n(e))}) DESC)`;
        break;
      }
      case 'unique': {
        // Only on columns whose values are distinct by construction.
        const u = has('c') ? 'c' : hasKey && key !== 'withoutComposite' ? 'k' : undefined;
        if (!u) return;
        cols = [u];
        unique = true;
        render = (n) => `CREATE UNIQUE INDEX ${q(name)} ON ${T} (${q(n(u))})`;
        break;
      }
    }
    indexes.push(name);
    indexDefs.push({ name, cols, unique, sql: render });
    script.push(render(origNamer));
    uses.push({ what: `index ${q(name)}`, kind: 'index', cols, renameBreaks: [], index: name });
  });

  // Views ---------------------------------------------------------------------------------------------------
  const views: ViewModel[] = [];
  const dataCols = columns.filter((x) => x.id !== 'p').map((x) => x.id);
  const allIds = columns.map((x) => x.id);
  recipe.views.forEach((v, i) => {
    const name = `view ${i}`;
    let model: Omit<ViewModel, 'name' | 'kind'> | undefined;
    switch (v.kind) {
      case 'cols': {
        const count = 1 + (v.pick % Math.min(3, dataCols.length));
        const chosen = [...new Set(Array.from({ length: count }, (_, j) => dataCols[(v.pick + j * 3) % dataCols.length]))];
        const outs = chosen.map((id) => ({ name: origNamer(id), from: id, followsRename: !v.alias }));
        const filter = v.where ? ` WHERE ${q(origNamer(chosen[0]))} IS NOT NULL OR ${q(origNamer(chosen[chosen.length - 1]))} IS NULL` : '';
        const select = chosen.map((id) => (v.alias ? `${q(origNamer(id))} AS ${q(origNamer(id))}` : q(origNamer(id)))).join(', ');
        model = { sql: `CREATE VIEW ${q(name)} AS SELECT ${select} FROM ${T}${filter}`, outputs: outs, needs: chosen, shows: chosen, starShaped: false, countSensitive: false };
        break;
      }
      case 'star':
        model = { sql: `CREATE VIEW ${q(name)} AS SELECT * FROM ${T}`, outputs: 'star', needs: [], shows: allIds, starShaped: true, countSensitive: false };
        break;
      case 'collist': {
        const outs = allIds.map((id, j) => ({ name: `x${j}`, from: id, followsRename: false }));
        model = {
          sql: `CREATE VIEW ${q(name)} (${outs.map((o) => o.name).join(', ')}) AS SELECT * FROM ${T}`,
          outputs: outs,
          needs: [],
          shows: allIds,
          starShaped: true,
          countSensitive: true,
        };
        break;
      }
      case 'over': {
        if (views.length === 0) return;
        const base = views[v.base % views.length];
        const baseOuts = base.outputs === 'star' ? allIds.map((id) => ({ name: origNamer(id), from: id, followsRename: true })) : base.outputs;
        if (baseOuts.length === 0) return;
        const o = baseOuts[v.pick % baseOuts.length];
        // Through a column-list view the column is chosen by position: the base's own count check covers it.
        const from = base.countSensitive ? undefined : o.from;
        const extra = from ? [from] : [];
        model = {
          sql: `CREATE VIEW ${q(name)} AS SELECT ${q(o.name)} AS ${q(`over ${o.name}`)} FROM ${q(base.name)}`,
          outputs: [{ name: `over ${o.name}`, from, followsRename: false }],
          needs: [...new Set([...base.needs, ...extra])],
          shows: [...new Set([...base.shows, ...extra])],
          starShaped: base.starShaped,
          countSensitive: false,
        };
        // Reading a column by name through a view whose output name follows the rename.
        uses.push({ what: `view ${q(name)}`, kind: 'view', cols: from ? [from] : [], renameBreaks: o.followsRename && from ? [from] : [] });
        break;
      }
      case 'join': {
        if (!other || otherCols.length === 0) return;
        const mine = dataCols.filter((id) => id !== 'k' && id !== 'k2');
        if (mine.length === 0) return;
        const x = mine[v.pick % mine.length];
        const same = otherCols[v.pick % otherCols.length];
        const ke = keyExpr('t', origNamer);
        model = {
          sql:
            `CREATE VIEW ${q(name)} AS SELECT t.${q(origNamer(x))} AS mine, o.${q(origNamer(same))} AS theirs, ${ke} AS tk ` +
            `FROM ${T} AS t JOIN ${q(OTHER)} AS o ON o.ref = ${ke}`,
          outputs: [
            { name: 'mine', from: x, followsRename: false },
            { name: 'theirs', followsRename: false },
            { name: 'tk', from: withoutRowid ? keyCols[0] : undefined, followsRename: false },
          ],
          needs: [x, ...(withoutRowid ? [keyCols[0]] : [])],
          shows: [x, ...(withoutRowid ? [keyCols[0]] : [])],
          starShaped: false,
          countSensitive: false,
        };
        break;
      }
      case 'agg': {
        const x = dataCols[v.pick % dataCols.length];
        model = {
          sql: `CREATE VIEW ${q(name)} AS SELECT count(*) AS n, max(${q(origNamer(x))}) AS mx, count(DISTINCT ${q(origNamer(x))}) AS nd FROM ${T}`,
          outputs: [
            { name: 'n', followsRename: false },
            { name: 'mx', from: x, followsRename: false },
            { name: 'nd', from: x, followsRename: false },
          ],
          needs: [x],
          shows: [x],
          starShaped: false,
          countSensitive: false,
        };
        break;
      }
      case 'sub': {
        if (!other) return;
        const x = dataCols[v.pick % dataCols.length];
        const inner = withoutRowid ? q(origNamer(keyCols[0])) : 'rowid';
        model = {
          sql: `CREATE VIEW ${q(name)} AS SELECT o.id AS oid FROM ${q(OTHER)} AS o WHERE o.ref IN (SELECT ${inner} FROM ${T} WHERE ${q(origNamer(x))} IS NOT NULL)`,
          outputs: [{ name: 'oid', followsRename: false }],
          needs: [x, ...(withoutRowid ? [keyCols[0]] : [])],
          shows: [x, ...(withoutRowid ? [keyCols[0]] : [])],
          starShaped: false,
          countSensitive: false,
        };
        break;
      }
    }
    if (!model) return;
    views.push({ name, kind: v.kind, ...model });
    script.push(model.sql);
    if (v.kind !== 'over') {
      uses.push({ what: `view ${q(name)}`, kind: 'view', cols: model.needs, renameBreaks: [], countSensitive: model.countSensitive });
    }
  });

  // Triggers ------------------------------------------------------------------------------------------------
  const triggers: string[] = [];
  const rowSel = (prefix: 'NEW' | 'OLD', n: Namer) => (withoutRowid ? `${prefix}.${q(n(keyCols[0]))}` : `${prefix}.rowid`);
  let snapMade = false;
  recipe.triggers.forEach((tr, i) => {
    const name = `trigger ${i}`;
    let sql: string | undefined;
    let use: Omit<Use, 'what' | 'kind'> | undefined;
    const anyCol = (n: number) => allIds[n % allIds.length];
    switch (tr.kind) {
      case 'logIns': {
        const x = anyCol(tr.pick);
        sql = `CREATE TRIGGER ${q(name)} ${tr.before ? 'BEFORE' : 'AFTER'} INSERT ON ${T} BEGIN INSERT INTO ${q(LOG)} (what, val) VALUES ('ins', NEW.${q(origNamer(x))}); END`;
        use = { cols: [x], reads: [x], renameBreaks: [] };
        break;
      }
      case 'updOf': {
        const of = anyCol(tr.of);
        if (columns.find((x) => x.id === of)?.generated) return; // UPDATE OF a generated column never fires
        const body = tr.body === null ? null : anyCol(tr.body);
        const val = body === null ? `'const'` : `NEW.${q(origNamer(body))}`;
        sql = `CREATE TRIGGER ${q(name)} AFTER UPDATE OF ${q(origNamer(of))} ON ${T} BEGIN INSERT INTO ${q(LOG)} (what, val) VALUES ('upd', ${val}); END`;
        use = { cols: body === null ? [] : [body], reads: body === null ? [] : [body], renameBreaks: [], updateOf: body === of ? [] : [of] };
        break;
      }
      case 'logDel':
        sql = `CREATE TRIGGER ${q(name)} ${tr.before ? 'BEFORE' : 'AFTER'} DELETE ON ${T} BEGIN INSERT INTO ${q(LOG)} (what, val) VALUES ('del', ${rowSel('OLD', origNamer)}); END`;
        use = { cols: withoutRowid ? [keyCols[0]] : [], reads: withoutRowid ? [keyCols[0]] : [], renameBreaks: [], rowids: !withoutRowid };
        break;
      case 'viaView': {
        if (!other || views.length === 0) return;
        const view = views[tr.view % views.length];
        const outs = view.outputs === 'star' ? allIds.map((id) => ({ name: origNamer(id), from: id, followsRename: true })) : view.outputs;
        if (outs.length === 0) return;
        const o = outs[tr.pick % outs.length];
        const from = view.countSensitive ? undefined : o.from;
        sql = `CREATE TRIGGER ${q(name)} AFTER INSERT ON ${q(OTHER)} BEGIN INSERT INTO ${q(LOG)} (what, val) SELECT 'via view', ${q(o.name)} FROM ${q(view.name)} ORDER BY quote(${q(o.name)}); END`;
        use = {
          cols: [...new Set([...view.needs, ...(from ? [from] : [])])],
          reads: view.shows,
          renameBreaks: o.followsRename && from ? [from] : [],
          rowids: /\browid\b/i.test(view.sql),
        };
        break;
      }
      case 'lookup': {
        if (!other) return;
        const x = anyCol(tr.pick);
        const ke = withoutRowid ? `t.${q(origNamer(keyCols[0]))}` : 't.rowid';
        sql = `CREATE TRIGGER ${q(name)} AFTER INSERT ON ${q(OTHER)} BEGIN INSERT INTO ${q(LOG)} (what, val) SELECT 'lookup', t.${q(origNamer(x))} FROM ${T} AS t WHERE ${ke} = NEW.ref; END`;
        use = { cols: [x, ...(withoutRowid ? [keyCols[0]] : [])], reads: [x, ...(withoutRowid ? [keyCols[0]] : [])], renameBreaks: [], rowids: !withoutRowid };
        break;
      }
      case 'instead': {
        const candidates = views.filter((v) => v.kind === 'cols');
        if (candidates.length === 0) return;
        const view = candidates[tr.view % candidates.length];
        const outs = view.outputs as { name: string; from?: string; followsRename: boolean }[];
        if (outs.some((o) => columns.find((x) => x.id === o.from)?.generated)) return;
        sql =
          `CREATE TRIGGER ${q(name)} INSTEAD OF INSERT ON ${q(view.name)} BEGIN INSERT INTO ${T} (${outs.map((o) => q(origNamer(o.from ?? ''))).join(', ')}) ` +
          `VALUES (${outs.map((o) => `NEW.${q(o.name)}`).join(', ')}); END`;
        use = { cols: outs.map((o) => o.from ?? ''), reads: outs.map((o) => o.from ?? ''), renameBreaks: outs.filter((o) => o.followsRename).map((o) => o.from ?? '') };
        break;
      }
      case 'strMention': {
        const x = anyCol(tr.pick);
        sql = `CREATE TRIGGER ${q(name)} AFTER DELETE ON ${T} BEGIN INSERT INTO ${q(LOG)} (what) VALUES (${lit(`${origNamer(x)} went away`)}); END`;
        use = { cols: [], renameBreaks: [] };
        break;
      }
      case 'sameName': {
        if (!other || otherCols.length === 0) return;
        const same = otherCols[tr.pick % otherCols.length];
        sql =
          `CREATE TRIGGER ${q(name)} AFTER INSERT ON ${T} BEGIN INSERT INTO ${q(LOG)} (what, val) ` +
          `SELECT 'same name', o.${q(origNamer(same))} FROM ${q(OTHER)} AS o WHERE o.ref = ${rowSel('NEW', origNamer)}; END`;
        use = { cols: withoutRowid ? [keyCols[0]] : [], reads: withoutRowid ? [keyCols[0]] : [], renameBreaks: [], rowids: !withoutRowid };
        break;
      }
      case 'starInsert': {
        if (!snapMade) {
          script.push(`CREATE TABLE ${q(SNAP)} (${allIds.map((_, j) => `s${j}`).join(', ')})`);
          snapMade = true;
        }
        const where = withoutRowid ? `${q(origNamer(keyCols[0]))} = NEW.${q(origNamer(keyCols[0]))}` : 'rowid = NEW.rowid';
        sql = `CREATE TRIGGER ${q(name)} AFTER INSERT ON ${T} BEGIN INSERT INTO ${q(SNAP)} SELECT * FROM ${T} WHERE ${where}; END`;
        use = { cols: withoutRowid ? [keyCols[0]] : [], reads: allIds, renameBreaks: [], countSensitive: true };
        break;
      }
    }
    if (!sql || !use) return;
    triggers.push(name);
    script.push(sql);
    uses.push({ what: `trigger ${q(name)}`, kind: 'trigger', ...use });
  });

  // FTS5 external content -------------------------------------------------------------------------------------
  let fts: SchemaModel['fts'];
  const terms: string[] = [];
  if (recipe.fts) {
    // Generator limits, not rebuildTable's: fts5() takes its column names and content='…' as bare words or
    // strings, so FTS is only made over columns and tables whose names need no quotes of either kind. A WITHOUT
    // ROWID content table needs an integer content_rowid column.
    const ftsCols = ['a', 'c'].filter((id, j) => has(id) && (recipe.fts?.cols ?? 0) & (1 << j) && /^[A-Za-z_ ]+$/.test(origNamer(id)));
    const keyRid = recipe.fts.onKey && hasKey && !keyIsText && key !== 'withoutComposite';
    const canUse = ftsCols.length > 0 && (withoutRowid ? keyRid : true) && /^[A-Za-z _]+$/.test(table);
    if (canUse) {
      const name = `${table} fts`;
      const rid = keyRid ? 'k' : null;
      const ridSql = (p: string) => (rid ? `${p}.${q(origNamer(rid))}` : `${p}.rowid`);
      const colsSql = ftsCols.map((id) => q(origNamer(id))).join(', ');
      const news = ftsCols.map((id) => `new.${q(origNamer(id))}`).join(', ');
      const olds = ftsCols.map((id) => `old.${q(origNamer(id))}`).join(', ');
      const F = q(name);
      script.push(`CREATE VIRTUAL TABLE ${F} USING fts5(${colsSql}, content=${lit(table)}${rid ? `, content_rowid=${lit(origNamer(rid))}` : ''})`);
      script.push(`INSERT INTO ${F} (${F}) VALUES ('rebuild')`);
      script.push(`CREATE TRIGGER ${q(`${name} ai`)} AFTER INSERT ON ${T} BEGIN INSERT INTO ${F} (rowid, ${colsSql}) VALUES (${ridSql('new')}, ${news}); END`);
      script.push(`CREATE TRIGGER ${q(`${name} ad`)} AFTER DELETE ON ${T} BEGIN INSERT INTO ${F} (${F}, rowid, ${colsSql}) VALUES ('delete', ${ridSql('old')}, ${olds}); END`);
      script.push(
        `CREATE TRIGGER ${q(`${name} au`)} AFTER UPDATE ON ${T} BEGIN INSERT INTO ${F} (${F}, rowid, ${colsSql}) VALUES ('delete', ${ridSql('old')}, ${olds}); ` +
          `INSERT INTO ${F} (rowid, ${colsSql}) VALUES (${ridSql('new')}, ${news}); END`,
      );
      triggers.push(`${name} ai`, `${name} ad`, `${name} au`);
      const depCols = [...ftsCols, ...(rid ? [rid] : [])];
      uses.push({ what: `FTS5 table ${F}`, kind: 'fts', cols: depCols, renameBreaks: depCols, rowids: rid === null });
      for (const t of ['ai', 'ad', 'au']) uses.push({ what: `trigger ${q(`${name} ${t}`)}`, kind: 'trigger', cols: depCols, reads: depCols, renameBreaks: [] });
      fts = { name, cols: ftsCols, rid };
      for (const r of rows) for (const id of ftsCols) if (typeof r.values[id] === 'string') terms.push(...String(r.values[id]).split(/[ -]/));
    }
  }
  if (recipe.analyze) script.push('ANALYZE');

  return {
    recipe,
    table,
    callName,
    callMatches: sameName(callName, table),
    key,
    columns,
    tableConstraints,
    withoutRowid,
    strict,
    keyCols,
    hasRowids: !withoutRowid,
    rows,
    other,
    otherCols,
    views,
    uses,
    indexes,
    indexDefs,
    triggers,
    fts,
    children,
    script,
    targetSql,
    targetRowsSql,
    otherSql,
    childSql,
    terms: [...new Set(terms.map((t) => t.toLowerCase()).filter((t) => /^[a-z]+$/.test(t)))].slice(0, 4),
    writable,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Specs

export type AddKind = 'text' | 'intDefault' | 'notNullDefault' | 'notNullNoDefault' | 'check' | 'genVirtual' | 'genStored' | 'intPk' | 'unique' | 'fkOther' | 'nocase';
export type AlterKind =
  | 'same'
  | 'notNull'
  | 'notNullDefault'
  | 'nocase'
  | 'check'
  | 'retype'
  | 'affinity'
  | 'dropConstraints'
  | 'keyAutoinc'
  | 'keyDesc'
  | 'keyInt'
  | 'keyAlias'
  | 'keyPlain';
export type CopyExpr = 'fromCol' | 'concat' | 'arith' | 'const' | 'negative' | 'coalesceSelf' | 'upper';
export type ConsKind = 'checkPass' | 'checkMaybe' | 'uniqueA' | 'fkOther' | 'checkUnknown';

export interface SpecRecipe {
  renames: { pick: number; to: number }[];
  drops: number[];
  unknownDrop: boolean;
  adds: { kind: AddKind; name: number }[];
  alters: { pick: number; kind: AlterKind }[];
  copies: { target: number; expr: CopyExpr; pick: number }[];
  constraints: ConsKind[];
  dropDependentIndexes: boolean;
  transform: boolean;
}

const ADD_KINDS: readonly AddKind[] = ['text', 'intDefault', 'notNullDefault', 'notNullNoDefault', 'check', 'genVirtual', 'genStored', 'intPk', 'unique', 'fkOther', 'nocase'];
const ALTER_KINDS: readonly AlterKind[] = ['same', 'notNull', 'notNullDefault', 'nocase', 'check', 'retype', 'affinity', 'dropConstraints', 'keyAutoinc', 'keyDesc', 'keyInt', 'keyAlias', 'keyPlain'];
const COPY_EXPRS: readonly CopyExpr[] = ['fromCol', 'concat', 'arith', 'const', 'negative', 'coalesceSelf', 'upper'];
const CONS_KINDS: readonly ConsKind[] = ['checkPass', 'checkMaybe', 'uniqueA', 'fkOther', 'checkUnknown'];

/** The families of specs: each property draws from one. */
export type SpecFamily = 'additive' | 'drop' | 'rename' | 'mixed';

export function specRecipe(family: SpecFamily): fc.Arbitrary<SpecRecipe> {
  const few = (max: number) => ({ maxLength: max });
  const none = fc.constant([]);
  const renames = fc.array(fc.record({ pick, to: fc.nat({ max: 9 }) }), { minLength: 1, maxLength: 2 });
  const drops = fc.array(pick, { minLength: 1, maxLength: 2 });
  const adds = fc.array(fc.record({ kind: fc.constantFrom(...ADD_KINDS), name: fc.nat({ max: 14 }) }), few(2));
  const alters = fc.array(fc.record({ pick, kind: fc.constantFrom(...ALTER_KINDS) }), few(2));
  const copies = fc.array(fc.record({ target: pick, expr: fc.constantFrom(...COPY_EXPRS), pick }), few(2));
  const constraints = fc.array(
    fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...CONS_KINDS.filter((k) => k !== 'checkUnknown')) }, { weight: 1, arbitrary: fc.constant<ConsKind>('checkUnknown') }),
    few(1),
  );
  return fc.record({
    renames: family === 'rename' ? renames : family === 'mixed' ? fc.array(fc.record({ pick, to: fc.nat({ max: 9 }) }), few(1)) : none,
    drops: family === 'drop' ? drops : family === 'mixed' ? fc.array(pick, few(1)) : none,
    unknownDrop: family === 'drop' ? fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) : fc.constant(false),
    adds: family === 'additive' || family === 'mixed' ? adds : family === 'drop' ? fc.array(fc.record({ kind: fc.constantFrom(...ADD_KINDS), name: fc.nat({ max: 14 }) }), few(1)) : none,
    alters: family === 'additive' || family === 'mixed' ? alters : none,
    copies: family === 'rename' ? none : copies,
    constraints: family === 'additive' || family === 'mixed' ? constraints : none,
    dropDependentIndexes: fc.boolean(),
    transform: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  }) as fc.Arbitrary<SpecRecipe>;
}

export interface SpecModel {
  readonly recipe: SpecRecipe;
  /** id -> new raw name. */
  readonly renames: ReadonlyMap<string, string>;
  readonly drops: readonly string[];
  readonly unknownDrop?: string;
  readonly adds: readonly { name: string; kind: AddKind; def: (n: Namer) => string; generated: boolean; notNull: boolean; hasDefault: boolean }[];
  readonly alters: ReadonlyMap<string, { kind: AlterKind; def: (n: Namer) => string }>;
  /** target (column id, or 'add:<name>', or 'unknown:<name>') -> expression over the old row (post-rename names). */
  readonly copies: ReadonlyMap<string, (n: Namer) => string>;
  readonly copyKinds: ReadonlyMap<string, CopyExpr>;
  readonly constraints: readonly { kind: ConsKind; sql: (n: Namer) => string }[];
  readonly dropDependentIndexes: boolean;
  readonly transform: boolean;
  /** Namer after renames (for everything but renameColumns). */
  readonly after: Namer;
  readonly before: Namer;
  /** Statically known reasons to refuse, and judgment calls. */
  readonly refusals: readonly string[];
  readonly judgment: readonly string[];
}

const FRESH_NAMES = ['renamed', 'Renamed Col', 'näme', 'col "q"', 'where', 'fresh_1', 'x'];
const ADD_NAMES = ['added', 'Added Col', 'extra', 'added "q"', 'ümlaut', 'default', 'n2'];

/** Builds the spec model: what to pass to rebuildTable, and the reasons SQLite's rules give to refuse it. */
export function buildSpec(schema: SchemaModel, recipe: SpecRecipe): SpecModel {
  const cols = schema.columns;
  const ids = cols.map((c) => c.id);
  const before: Namer = (id) => cols.find((c) => c.id === id)?.name ?? id;
  const refusals: string[] = [];
  const judgment: string[] = [];
  const has = (id: string) => ids.includes(id);

  // Renames: to a fresh name, the name of another column (refused), of the other table's column, or a case variant.
  const renames = new Map<string, string>();
  for (const r of recipe.renames) {
    const id = ids[r.pick % ids.length];
    if (renames.has(id)) continue;
    let to: string;
    if (r.to <= 5) to = `${FRESH_NAMES[r.to % FRESH_NAMES.length]}${renames.size || ''}`;
    else if (r.to === 6) to = before(ids[(r.pick + 1) % ids.length]); // another column's name
    else if (r.to === 7) to = schema.otherCols.length ? before(schema.otherCols[0]) + ' 2' : 'other_2';
    else if (r.to === 8) to = before(id).toUpperCase() === before(id) ? before(id).toLowerCase() + '_' : before(id).toUpperCase();
    else to = `${before(id)} v2`;
    renames.set(id, to);
  }
  const after: Namer = (id) => renames.get(id) ?? before(id);
  // Duplicate names after the renames.
  const finalNames = ids.map(after);
  finalNames.forEach((n, i) => {
    if (finalNames.some((m, j) => j !== i && sameName(m, n))) refusals.push(`rename makes two columns named ${q(n)}`);
  });
  // Renames run one by one (ALTER TABLE RENAME COLUMN each): one onto the old name of another renamed column
  // (a swap) cannot be done in that order. What rebuildTable should do with it is a judgment call.
  for (const [id, to] of renames) {
    if ([...renames.keys()].some((other) => other !== id && sameName(before(other), to))) judgment.push(`rename onto the old name of another renamed column`);
  }
  /** A rename that only changes the case of ASCII letters changes nothing SQLite resolves by name. */
  const realRename = (id: string) => renames.has(id) && !sameName(before(id), after(id));

  // Drops.
  // Two drops in three pick a column nothing else uses (else almost every drop would be refused).
  const free = ids.filter(
    (id) => !['k', 'k2'].includes(id) && !schema.uses.some((u) => u.cols.includes(id) && !(u.kind === 'index' && recipe.dropDependentIndexes)),
  );
  const drops = [...new Set(recipe.drops.map((p) => (p % 3 !== 0 && free.length > 0 ? free[p % free.length] : ids[p % ids.length])))];
  const unknownDrop = recipe.unknownDrop ? 'no such column' : undefined;
  if (unknownDrop) refusals.push(`drop of unknown column ${q(unknownDrop)}`);

  // Adds.
  const hasPk = schema.key !== 'rowid';
  const adds: SpecModel['adds'][number][] = [];
  recipe.adds.forEach((a, i) => {
    let name = `${ADD_NAMES[a.name % ADD_NAMES.length]}${i || ''}`;
    let kind = a.kind;
    // A second PRIMARY KEY is refused; keep that case, but rarely where the table already has one.
    if (kind === 'intPk' && hasPk && a.name % 4 !== 0) kind = 'text';
    if (a.name === 7 && ids.length) name = after(ids[0]).toUpperCase() === after(ids[0]) ? after(ids[0]).toLowerCase() : after(ids[0]).toUpperCase(); // clash
    if (a.name === 8 && renames.size) name = before([...renames.keys()][0]); // the old name of a renamed column: free again
    if (a.name === 9 && drops.length) name = before(drops[0]); // the name of a dropped column
    const self = (n: Namer) => q(n(`add:${name}`));
    let def: (n: Namer) => string;
    let generated = false;
    let notNull = false;
    let hasDefault = false;
    const intType = 'INTEGER';
    switch (kind) {
      case 'text':
        def = () => 'TEXT';
        break;
      case 'intDefault':
        def = () => `${intType} DEFAULT 7`;
        hasDefault = true;
        break;
      case 'notNullDefault':
        def = () => `TEXT NOT NULL DEFAULT 'x'`;
        notNull = hasDefault = true;
        break;
      case 'notNullNoDefault':
        def = () => `${intType} NOT NULL`;
        notNull = true;
        break;
      case 'check':
        def = (n) => `${intType} CHECK (${self(n)} >= 0)`;
        break;
      case 'genVirtual':
      case 'genStored': {
        const src = has('b') && !drops.includes('b') ? 'b' : has('a') && !drops.includes('a') ? 'a' : undefined;
        const how = kind === 'genStored' ? 'STORED' : 'VIRTUAL';
        if (src === 'b') def = (n) => `INTEGER AS (coalesce(${q(n('b'))}, 0) + 1) ${how}`;
        else if (src === 'a') def = (n) => `TEXT AS (lower(${q(n('a'))})) ${how}`;
        else def = () => `INTEGER AS (41 + 1) ${how}`;
        generated = true;
        break;
      }
      case 'intPk':
        def = () => 'INTEGER PRIMARY KEY';
        if (hasPk && !drops.includes('k')) refusals.push(`a second PRIMARY KEY (${q(name)})`);
        if (hasPk && drops.includes('k')) judgment.push('a new PRIMARY KEY replacing a dropped one');
        break;
      case 'unique':
        def = () => 'TEXT UNIQUE';
        break;
      case 'fkOther':
        if (!schema.other) {
          def = () => 'TEXT';
          break;
        }
        def = () => `INTEGER REFERENCES ${q(OTHER)} (id)`;
        break;
      case 'nocase':
        def = () => `TEXT COLLATE NOCASE DEFAULT 'Q'`;
        hasDefault = true;
        break;
    }
    if (adds.some((x) => x.name === name)) return; // the same key twice is one key of addColumns
    adds.push({ name, kind, def, generated, notNull, hasDefault });
  });
  const addedNames = adds.map((a) => a.name);
  const survivingNames = ids.filter((id) => !drops.includes(id)).map(after);
  for (const a of adds) {
    if (survivingNames.some((n) => sameName(n, a.name))) refusals.push(`added column ${q(a.name)} already exists`);
    else if (drops.some((id) => sameName(after(id), a.name))) judgment.push(`added column ${q(a.name)} has the name of a dropped one`);
    if (addedNames.filter((n) => sameName(n, a.name)).length > 1) refusals.push(`column ${q(a.name)} added twice`);
  }
  const addNamer: Namer = (id) => (id.startsWith('add:') ? id.slice(4) : after(id));

  // Alters.
  const alters = new Map<string, { kind: AlterKind; def: (n: Namer) => string }>();
  for (const al of recipe.alters) {
    const id = ids[al.pick % ids.length];
    if (alters.has(id) || drops.includes(id)) continue;
    const c = cols.find((x) => x.id === id);
    if (!c) continue;
    const self = (n: Namer) => q(n(id));
    let def: ((n: Namer) => string) | undefined;
    const kind = al.kind;
    const plainType = c.type || 'TEXT';
    if (id === 'k' || id === 'k2') {
      const keyDefs: Partial<Record<AlterKind, string>> = {
        same: c.def(before),
        keyAutoinc: 'INTEGER PRIMARY KEY AUTOINCREMENT',
        keyDesc: 'INTEGER PRIMARY KEY DESC',
        keyInt: 'INT PRIMARY KEY',
        keyAlias: 'INTEGER PRIMARY KEY',
        keyPlain: schema.key === 'aliasTc' || schema.key === 'withoutComposite' ? c.def(before) : undefined,
      };
      const d = keyDefs[kind];
      if (d === undefined || schema.key === 'textpk') continue;
      if (schema.key === 'withoutComposite' && kind !== 'same' && kind !== 'keyPlain') continue;
      def = () => d;
      if (schema.key === 'aliasTc' && /PRIMARY KEY/.test(d)) refusals.push('a second PRIMARY KEY (alter of a key declared by a table constraint)');
      if (schema.withoutRowid && kind === 'keyAutoinc') refusals.push('AUTOINCREMENT on a WITHOUT ROWID table');
    } else if (c.generated) {
      if (kind !== 'same') continue;
      def = c.def;
    } else if (id === 'p') {
      continue; // the self reference keeps its definition
    } else {
      switch (kind) {
        case 'same':
          def = c.def;
          break;
        case 'notNull':
          def = () => `${plainType} NOT NULL`;
          break;
        case 'notNullDefault':
          def = () => (c.text ? `${plainType} NOT NULL DEFAULT 'filled'` : `${plainType} NOT NULL DEFAULT 0`);
          break;
        case 'nocase':
          def = () => `${plainType} COLLATE NOCASE${id === 'c' && c.def(before).includes('UNIQUE') ? ' UNIQUE' : ''}`;
          break;
        case 'check':
          def = (n) => (c.text ? `${plainType} CHECK (length(${self(n)}) < 100)` : `${plainType} CHECK (${self(n)} >= 0)`);
          break;
        case 'retype':
          def = () => (c.text ? 'VARCHAR(99)' : c.type === 'INTEGER' ? 'INT' : 'INTEGER');
          if (schema.strict) def = () => (c.text ? 'TEXT' : 'INT');
          break;
        case 'affinity':
          def = () => (c.text ? 'INTEGER' : schema.strict ? 'TEXT' : 'REAL');
          break;
        case 'dropConstraints':
          def = () => plainType;
          break;
        default:
          continue;
      }
    }
    alters.set(id, { kind, def });
  }

  // Copies: onto a new column, an existing one, an unknown one, or a generated one.
  const copies = new Map<string, (n: Namer) => string>();
  const copyKinds = new Map<string, CopyExpr>();
  const sourceCols = cols.filter((c) => !c.generated).map((c) => c.id);
  for (const cp of recipe.copies) {
    // Mostly onto a new or an existing column; now and then onto one that does not exist or is generated (refused).
    const normal = [...adds.filter((a) => !a.generated).map((a) => `add:${a.name}`), ...ids.filter((id) => !drops.includes(id) && !cols.find((c) => c.id === id)?.generated)];
    const special = ['unknown:nope', ...ids.filter((id) => cols.find((c) => c.id === id)?.generated), ...adds.filter((a) => a.generated).map((a) => `add:${a.name}`)];
    const target = cp.target % 12 === 11 || normal.length === 0 ? special[cp.target % special.length] : normal[cp.target % normal.length];
    if (copies.has(target)) continue;
    const src = sourceCols.length ? sourceCols[cp.pick % sourceCols.length] : undefined;
    const text = cols.find((c) => c.text && c.id !== 'k')?.id;
    const num = has('b') ? 'b' : undefined;
    let expr: (n: Namer) => string;
    switch (cp.expr) {
      case 'fromCol':
        expr = (n) => (src ? q(n(src)) : 'NULL');
        break;
      case 'concat':
        expr = (n) => (text ? `coalesce(${q(n(text))}, 'none') || '#'` : `'#'`);
        break;
      case 'arith':
        expr = (n) => (num ? `coalesce(${q(n(num))}, 0) * 3` : '3');
        break;
      case 'const':
        expr = () => `42`;
        break;
      case 'negative':
        expr = () => `-1`;
        break;
      case 'coalesceSelf':
        expr = (n) => (target.startsWith('add:') || target.startsWith('unknown:') ? `'filled'` : `coalesce(${q(n(target))}, ${cols.find((c) => c.id === target)?.text ? `'filled'` : '0'})`);
        break;
      case 'upper':
        expr = (n) => (target.startsWith('add:') || target.startsWith('unknown:') ? `upper('x')` : `upper(${q(n(target))})`);
        break;
    }
    copies.set(target, expr);
    copyKinds.set(target, cp.expr);
    if (target.startsWith('unknown:')) refusals.push('copy onto a column that does not exist');
    if (target.startsWith('add:') && adds.find((a) => `add:${a.name}` === target)?.generated) refusals.push('copy onto a generated column');
    const existing = cols.find((c) => c.id === target);
    if (existing?.generated) refusals.push('copy onto a generated column');
  }

  // Added table constraints.
  const constraints: { kind: ConsKind; sql: (n: Namer) => string; unique?: string }[] = [];
  for (const kind of recipe.constraints) {
    const b = has('b') && !drops.includes('b') ? 'b' : undefined;
    const a = has('a') && !drops.includes('a') ? 'a' : has('c') && !drops.includes('c') ? 'c' : undefined;
    switch (kind) {
      case 'checkPass':
        if (b) constraints.push({ kind, sql: (n) => `CHECK (${q(n(b))} IS NULL OR ${q(n(b))} > -1000)` });
        break;
      case 'checkMaybe':
        if (b) constraints.push({ kind, sql: (n) => `CHECK (${q(n(b))} IS NULL OR ${q(n(b))} > 10)` });
        break;
      case 'uniqueA':
        if (a) constraints.push({ kind, sql: (n) => `UNIQUE (${q(n(a))})`, unique: a });
        break;
      case 'fkOther':
        if (b && schema.other) constraints.push({ kind, sql: (n) => `FOREIGN KEY (${q(n(b))}) REFERENCES ${q(OTHER)} (id)` });
        break;
      case 'checkUnknown':
        constraints.push({ kind, sql: () => 'CHECK (no_such_column > 0)' });
        refusals.push('a CHECK naming a column that does not exist');
        break;
    }
  }

  // What SQLite's rules say about dependents ------------------------------------------------------------------
  const remaining = ids.filter((id) => !drops.includes(id));
  if (remaining.length === 0 && adds.length === 0) refusals.push('every column dropped');
  if (remaining.length === 0 && adds.length > 0) judgment.push('every original column dropped');
  const countChanges = remaining.length + adds.length !== ids.length;
  for (const use of schema.uses) {
    if (use.owner && drops.includes(use.owner)) continue;
    const dropped = use.cols.filter((id) => drops.includes(id));
    if (dropped.length > 0) {
      if (use.kind === 'index' && recipe.dropDependentIndexes) continue;
      refusals.push(`${use.what} uses dropped ${dropped.map((id) => q(before(id))).join(', ')}`);
    }
    const renamed = use.renameBreaks.filter(realRename);
    if (renamed.length > 0) refusals.push(`${use.what} cannot follow the rename of ${renamed.map((id) => q(before(id))).join(', ')}`);
    if (use.countSensitive && countChanges) refusals.push(`${use.what} depends on the number of columns`);
    const updOf = (use.updateOf ?? []).filter((id) => drops.includes(id));
    if (updOf.length > 0) judgment.push(`${use.what} lists dropped ${q(before(updOf[0]))} in UPDATE OF`);
    if (use.parentKey) {
      for (const id of use.parentKey) {
        const al = alters.get(id);
        const uniqueAgain = constraints.some((c) => c.unique === id); // an added UNIQUE (col) keeps it a parent key
        if (al && !uniqueAgain && !keepsKey(schema, id, al.kind, al.def(after), recipe.dropDependentIndexes ? drops : [])) refusals.push(`${use.what}: parent key ${q(before(id))} loses its PRIMARY KEY/UNIQUE`);
      }
    }
  }
  // A WITHOUT ROWID table needs its PRIMARY KEY.
  if (schema.withoutRowid && drops.some((id) => id === 'k' || id === 'k2')) refusals.push('WITHOUT ROWID table loses its PRIMARY KEY');

  return {
    recipe,
    renames,
    drops,
    unknownDrop,
    adds,
    alters,
    copies,
    copyKinds,
    constraints,
    dropDependentIndexes: recipe.dropDependentIndexes,
    transform: recipe.transform,
    after: addNamer,
    before,
    refusals: [...new Set(refusals)],
    judgment: [...new Set(judgment)],
  };
}

/** Does the altered definition of a parent-key column still make it a PRIMARY KEY or UNIQUE? */
function keepsKey(schema: SchemaModel, id: string, kind: AlterKind, def: string, droppedWithIndexes: readonly string[]): boolean {
  // A UNIQUE index on exactly that column is a parent key too (and survives unless dropped with a dropped column).
  if (schema.indexDefs.some((ix) => ix.unique && ix.cols.length === 1 && ix.cols[0] === id && !droppedWithIndexes.includes(id))) return true;
  if (id === 'k' || id === 'k2') {
    if (schema.key === 'aliasTc' || schema.key === 'withoutComposite') return true; // the table constraint keeps it
    return /PRIMARY KEY|UNIQUE/i.test(def);
  }
  if (kind === 'same') return true;
  return /UNIQUE/i.test(def);
}

/** Does the new table have a rowid alias, and which column (SQLite's rule, lang_createtable.html#rowid)? */
export function newAlias(schema: SchemaModel, spec: SpecModel): string | undefined {
  if (schema.withoutRowid) return undefined;
  const intPkAdd = spec.adds.find((a) => a.kind === 'intPk');
  if (intPkAdd && schema.key === 'rowid') return `add:${intPkAdd.name}`;
  if (!schema.columns.some((c) => c.id === 'k') || spec.drops.includes('k')) return undefined;
  const al = spec.alters.get('k');
  const def = al ? al.def(spec.after) : schema.columns.find((c) => c.id === 'k')?.def(spec.before) ?? '';
  if (schema.key === 'aliasTc') return /^INTEGER\b/i.test(def) ? 'k' : undefined;
  if (/^INTEGER PRIMARY KEY( AUTOINCREMENT)?$/i.test(def.trim())) return 'k';
  return undefined;
}

/** The rebuilt table's full definition, as SQLite should end up with it (for the oracle). */
export function expectedCreate(schema: SchemaModel, spec: SpecModel, tableName: string): string {
  const n = spec.after;
  const parts: string[] = [];
  for (const c of schema.columns) {
    if (spec.drops.includes(c.id)) continue;
    const al = spec.alters.get(c.id);
    parts.push(`${q(n(c.id))} ${al ? al.def(n) : c.def(n)}`.trimEnd());
  }
  for (const a of spec.adds) parts.push(`${q(a.name)} ${a.def(n)}`);
  for (const tc of schema.tableConstraints) if (!tc.deps.some((id) => spec.drops.includes(id))) parts.push(tc.sql(n));
  for (const c of spec.constraints) parts.push(c.sql(n));
  const tail = [schema.withoutRowid ? ' WITHOUT ROWID' : '', schema.strict ? (schema.withoutRowid ? ', STRICT' : ' STRICT') : ''].join('');
  return `CREATE TABLE ${q(tableName)} (\n  ${parts.join(',\n  ')}\n)${tail}`;
}

/** The `RebuildSpec` fields as plain data (the test file adds transformSql). */
export function rebuildSpecOf(spec: SpecModel) {
  const n = spec.after;
  const out: {
    renameColumns?: Record<string, string>;
    dropColumns?: string[];
    dropDependentIndexes?: boolean;
    addColumns?: Record<string, string>;
    alterColumns?: Record<string, string>;
    copy?: Record<string, string>;
    addConstraints?: string[];
  } = {};
  if (spec.renames.size) out.renameColumns = Object.fromEntries([...spec.renames].map(([id, to]) => [spec.before(id), to]));
  if (spec.drops.length || spec.unknownDrop) out.dropColumns = [...spec.drops.map((id) => n(id)), ...(spec.unknownDrop ? [spec.unknownDrop] : [])];
  if (spec.dropDependentIndexes) out.dropDependentIndexes = true;
  if (spec.adds.length) out.addColumns = Object.fromEntries(spec.adds.map((a) => [a.name, a.def(n)]));
  if (spec.alters.size) out.alterColumns = Object.fromEntries([...spec.alters].map(([id, al]) => [n(id), al.def(n)]));
  if (spec.copies.size) {
    out.copy = Object.fromEntries([...spec.copies].map(([target, expr]) => [target.startsWith('add:') ? target.slice(4) : target.startsWith('unknown:') ? target.slice(8) : n(target), expr(n)]));
  }
  if (spec.constraints.length) out.addConstraints = spec.constraints.map((c) => c.sql(n));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Database dumps (shared with test/sqlite/rebuild-sqlite-cases.test.ts)

type DumpRow = Record<string, unknown>;

async function all<T = DumpRow>(db: Knex | Knex.Transaction, sql: string, bindings?: readonly (string | number)[]): Promise<T[]> {
  return (await (bindings ? db.raw(sql, bindings as (string | number)[]) : db.raw(sql))) as T[];
}

async function columnsOf(db: Knex | Knex.Transaction, table: string): Promise<{ name: string; hidden: number }[]> {
  return all(db, 'SELECT name, hidden FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid', [table]);
}

/** Every row as quote()d values (types kept: 3, 3.0, '3', X'03' and NULL all differ), rowid first where there is one. */
export async function tableRows(db: Knex | Knex.Transaction, table: string, withRowid: boolean): Promise<string[][]> {
  const cols = await columnsOf(db, table);
  const exprs = [...(withRowid ? ['quote(_rowid_)'] : []), ...cols.map((c) => `quote(${q(c.name)})`)];
  const rows = await all<DumpRow>(db, `SELECT ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${q(table)}${withRowid ? ' ORDER BY _rowid_' : ''}`);
  const out = rows.map((r) => exprs.map((_, i) => String(r[`c${i}`])));
  return withRowid ? out : out.sort((x, y) => (x.join('\u0001') < y.join('\u0001') ? -1 : 1));
}

export interface Dump {
  master: DumpRow[];
  tables: Record<string, string[][]>;
}

/** sqlite_master (root pages included) and every table's full contents: sqlite_sequence, sqlite_stat1 and FTS shadow tables too. */
export async function dump(db: Knex | Knex.Transaction): Promise<Dump> {
  const master = await all(db, 'SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY type, name');
  const list = await all<{ name: string; type: string; wr: number }>(
    db,
    `SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name NOT IN ('sqlite_schema', 'sqlite_temp_schema') ORDER BY name`,
  );
  const tables: Record<string, string[][]> = {};
  for (const t of list) tables[t.name] = await tableRows(db, t.name, t.wr === 0 && t.name !== 'sqlite_sequence');
  return { master, tables };
}

export function firstDifference(a: unknown, b: unknown, where = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as DumpRow)[key], (b as DumpRow)[key], `${where}/${key}`);
      if (d) return d;
    }
  }
  return `${where}: ${JSON.stringify(a)?.slice(0, 300)} vs ${JSON.stringify(b)?.slice(0, 300)}`;
}

