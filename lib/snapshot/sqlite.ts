/**
 * SQLite introspection: sqlite_master plus the pragma table-valued functions (table_xinfo, index_list,
 * index_xinfo, foreign_key_list), which take bound arguments. What no pragma reports — CHECK constraints,
 * AUTOINCREMENT, generated-column and index expressions, partial-index predicates — comes from the stored
 * CREATE statements, read with the tokenizer that rebuildTable uses.
 */
import { identValue, isPunct, isWord, matchingParen, sameIdent, significant, splitTopLevel, tokenize, type Token } from '../sql/lexer';
import { parseCreateTable, type ParsedTable } from '../sqlite/ddl';
import { canonicalDefault, canonicalSql, canonicalType, referentialAction } from './normalise';
import type { CheckSnapshot, ColumnSnapshot, Db, ForeignKeySnapshot, IndexSnapshot, TableSnapshot, UniqueSnapshot } from './types';

interface XInfo { name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }
interface IndexRow { name: string; unique: number; origin: string; partial: number }
interface IndexColumn { seqno: number; cid: number; name: string | null; desc: number }
interface FkRow { id: number; seq: number; table: string; from: string; to: string | null; on_update: string; on_delete: string }

async function all<T>(db: Db, sql: string, bindings: readonly string[] = []): Promise<T[]> {
  return (await db.raw(sql, bindings)) as T[];
}

export async function sqliteTables(db: Db, exclude: ReadonlySet<string>): Promise<TableSnapshot[]> {
  const master = await all<{ type: string; name: string; tbl_name: string; sql: string | null }>(
    db,
    `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`,
  );
  const indexSql = new Map(master.filter((m) => m.type === 'index').map((m) => [m.name, m.sql]));
  const tables = master.filter((m) => m.type === 'table' && !exclude.has(m.name));
  const out: TableSnapshot[] = [];
  for (const t of tables) out.push(await describeTable(db, t.name, t.sql ?? '', indexSql));
  return out;
}

async function describeTable(db: Db, name: string, sql: string, indexSql: ReadonlyMap<string, string | null>): Promise<TableSnapshot> {
  let parsed: ParsedTable | undefined;
  try {
    parsed = parseCreateTable(sql);
  } catch {
    parsed = undefined; // CREATE VIRTUAL TABLE: the pragmas still describe its columns
  }
  const xinfo = (await all<XInfo>(db, 'SELECT * FROM pragma_table_xinfo(?)', [name])).filter((c) => c.hidden !== 1);
  const primaryKey = xinfo.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
  // An INTEGER PRIMARY KEY is the rowid: never NULL, whether or not the DDL says NOT NULL (the legacy DDL does not).
  const rowidAlias = !parsed?.withoutRowid && primaryKey.length === 1 && xinfo.some((c) => c.pk === 1 && /^integer$/i.test(c.type.trim()));
  const columns = xinfo.map((c): ColumnSnapshot => {
    const item = parsed?.items.find((it) => it.kind === 'column' && it.name !== undefined && sameIdent(it.name, c.name));
    const expression = item && (c.hidden === 2 || c.hidden === 3) ? generatedExpression(parsed?.sql ?? '', item.tokens) : null;
    return {
      name: c.name,
      type: canonicalType(c.type.replace(/\s+generated\s+always\s*$/i, '')),
      nullable: c.notnull === 0 && !(c.pk > 0 && (rowidAlias || parsed?.withoutRowid === true)),
      default: canonicalDefault(c.dflt_value),
      autoIncrement: item?.tokens.some((t) => isWord(t, 'AUTOINCREMENT')) ?? false,
      generated: expression === null ? null : `${c.hidden === 3 ? 'stored' : 'virtual'} (${expression})`,
    };
  });

  const indexes: IndexSnapshot[] = [];
  const uniques: UniqueSnapshot[] = [];
  for (const index of await all<IndexRow>(db, 'SELECT * FROM pragma_index_list(?)', [name])) {
    if (index.origin === 'pk') continue;
    const keys = await all<IndexColumn>(db, 'SELECT * FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno', [index.name]);
    if (index.origin === 'u') {
      uniques.push({ name: null, columns: keys.map((k) => keyText(k, undefined)) });
      continue;
    }
    const shape = parseIndex(indexSql.get(index.name) ?? '');
    indexes.push({
      name: index.name,
      columns: keys.map((k, i) => keyText(k, shape?.entries[i])),
      unique: index.unique === 1,
      where: index.partial === 1 && shape?.where ? shape.where : null,
    });
  }
  return {
    name,
    columns,
    primaryKey,
    indexes,
    uniques,
    foreignKeys: await foreignKeys(db, name),
    checks: parsed ? checks(parsed) : [],
  };
}

/** One index key: the column (or rowid), else the expression as written, plus DESC. */
function keyText(key: IndexColumn, entry: string | undefined): string {
  const base = key.cid >= 0 && key.name !== null ? key.name : key.cid === -1 ? 'rowid' : (entry ?? '?');
  return key.desc ? `${base} desc` : base;
}

/** The key expressions (without COLLATE/ASC/DESC) and the WHERE clause of a CREATE INDEX statement. */
function parseIndex(sql: string): { entries: string[]; where: string | null } | undefined {
  let sig: Token[];
  try {
    sig = significant(tokenize(sql));
  } catch {
    return undefined;
  }
  const on = sig.findIndex((t) => isWord(t, 'ON'));
  const open = sig.findIndex((t, i) => i > on && isPunct(t, '('));
  const close = open < 0 ? -1 : matchingParen(sig, open);
  if (on < 0 || close < 0) return undefined;
  const entries = splitTopLevel(sig.slice(open + 1, close)).map((entry) => {
    let end = entry.length;
    if (isWord(entry[end - 1], 'ASC') || isWord(entry[end - 1], 'DESC')) end--;
    if (end >= 2 && isWord(entry[end - 2], 'COLLATE')) end -= 2;
    return entry.length === 0 ? '' : canonicalSql(sql.slice(entry[0].start, entry[end - 1].end));
  });
  const where = isWord(sig[close + 1], 'WHERE') && sig[close + 2] ? canonicalSql(sql.slice(sig[close + 2].start)) : null;
  return { entries, where };
}

/** `AS (expr)` of a generated column definition. */
function generatedExpression(sql: string, tokens: readonly Token[]): string | null {
  const as = tokens.findIndex((t, i) => isWord(t, 'AS') && isPunct(tokens[i + 1], '('));
  const close = as < 0 ? -1 : matchingParen(tokens, as + 1);
  return close < 0 ? null : canonicalSql(sql.slice(tokens[as + 1].start, tokens[close].end));
}

/** Every CHECK of the table, column-level or table-level, with its CONSTRAINT name where it has one. */
function checks(table: ParsedTable): CheckSnapshot[] {
  const out: CheckSnapshot[] = [];
  for (const item of table.items) {
    const toks = item.tokens;
    toks.forEach((t, i) => {
      if (!isWord(t, 'CHECK') || !isPunct(toks[i + 1], '(')) return;
      const close = matchingParen(toks, i + 1);
      if (close < 0) return;
      const name = isWord(toks[i - 2], 'CONSTRAINT') ? identValue(toks[i - 1]) : null;
      out.push({ name, expression: canonicalSql(table.sql.slice(toks[i + 1].start, toks[close].end)) });
    });
  }
  return out;
}

async function foreignKeys(db: Db, table: string): Promise<ForeignKeySnapshot[]> {
  const rows = await all<FkRow>(db, 'SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq', [table]);
  const byId = new Map<number, FkRow[]>();
  for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
  const out: ForeignKeySnapshot[] = [];
  for (const parts of byId.values()) {
    const first = parts[0];
    // `REFERENCES parent` without a column list means the parent's primary key.
    const referencedColumns = parts.every((p) => p.to !== null)
      ? parts.map((p) => p.to ?? '')
      : (await all<{ name: string }>(db, 'SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk', [first.table])).map((r) => r.name);
    out.push({
      name: null,
      columns: parts.map((p) => p.from),
      referencedTable: first.table,
      referencedColumns,
      onUpdate: referentialAction(first.on_update),
      onDelete: referentialAction(first.on_delete),
    });
  }
  return out;
}
