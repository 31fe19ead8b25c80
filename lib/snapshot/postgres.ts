/**
 * PostgreSQL introspection from pg_catalog, restricted to one schema. pg_catalog rather than
 * information_schema because only it has index expressions, partial-index predicates and key order, and it
 * lists objects the current role does not own. Expressions come from pg_get_expr / pg_get_indexdef, with the
 * described schema's own name stripped so two copies of a schema under different names compare equal.
 */
import { canonicalDefault, canonicalSql, canonicalType, groupBy, referentialAction } from './normalise';
import type { CheckSnapshot, ColumnSnapshot, Db, ForeignKeySnapshot, IndexSnapshot, ReferentialAction, TableSnapshot, UniqueSnapshot } from './types';

interface ColumnRow {
  table_name: string;
  name: string;
  type: string;
  not_null: boolean;
  default_expr: string | null;
  identity: string;
  generated: string;
  serial: boolean;
}
interface ConstraintRow {
  table_name: string;
  name: string;
  type: 'p' | 'u' | 'f' | 'c';
  columns: string[];
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  on_update: string;
  on_delete: string;
  check_expr: string | null;
}
interface IndexKey { attname: string | null; def: string; option: number }
interface IndexRow { table_name: string; name: string; unique: boolean; predicate: string | null; keys: IndexKey[] }

const ACTION: Record<string, ReferentialAction> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

async function all<T>(db: Db, sql: string, bindings: readonly string[]): Promise<T[]> {
  return ((await db.raw(sql, bindings)) as { rows: T[] }).rows;
}

export async function postgresTables(db: Db, schemaOption: string | undefined, exclude: ReadonlySet<string>): Promise<TableSnapshot[]> {
  const schema = schemaOption ?? (await all<{ schema: string | null }>(db, 'SELECT current_schema() AS schema', []))[0]?.schema;
  if (!schema) throw new Error('schemaSnapshot: PostgreSQL has no current schema (empty search_path); pass options.schema');
  const strip = schemaStripper(schema);
  const names = (
    await all<{ name: string }>(
      db,
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
      [schema],
    )
  )
    .map((r) => r.name)
    .filter((name) => !exclude.has(name));

  const columns = groupBy(
    await all<ColumnRow>(
      db,
      `SELECT c.relname AS table_name, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
              pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attidentity::text AS identity, a.attgenerated::text AS generated,
              pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) IS NOT NULL AS serial
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = ? AND c.relkind IN ('r', 'p')`,
      [schema],
    ),
    (r) => r.table_name,
  );
  const constraints = groupBy(
    await all<ConstraintRow>(
      db,
      `SELECT c.relname AS table_name, k.conname AS name, k.contype::text AS type,
              ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord)::text[] AS columns,
              rn.nspname AS ref_schema, r.relname AS ref_table,
              ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord)::text[] AS ref_columns,
              k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
              CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid, true) END AS check_expr
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class r ON r.oid = k.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
        WHERE n.nspname = ? AND k.contype IN ('p', 'u', 'f', 'c')`,
      [schema],
    ),
    (r) => r.table_name,
  );
  // Indexes that back a PRIMARY KEY, UNIQUE or EXCLUDE constraint are described by that constraint instead.
  const indexes = groupBy(
    await all<IndexRow>(
      db,
      `SELECT t.relname AS table_name, i.relname AS name, x.indisunique AS unique,
              pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
              (SELECT json_agg(json_build_object('attname', a.attname, 'def', pg_get_indexdef(x.indexrelid, k, true),
                                                 'option', x.indoption[k - 1]) ORDER BY k)
                 FROM generate_series(1, x.indnkeyatts) k
                 LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1] AND x.indkey[k - 1] <> 0) AS keys
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = ? AND NOT EXISTS (
              SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))`,
      [schema],
    ),
    (r) => r.table_name,
  );

  return names.map((name) => {
    const cons = constraints.get(name) ?? [];
    return {
      name,
      columns: (columns.get(name) ?? []).map((c) => column(c, strip)),
      primaryKey: cons.find((k) => k.type === 'p')?.columns ?? [],
      indexes: (indexes.get(name) ?? []).map((i) => index(i, strip)),
      uniques: cons.filter((k) => k.type === 'u').map((k): UniqueSnapshot => ({ name: k.name, columns: k.columns })),
      foreignKeys: cons.filter((k) => k.type === 'f').map((k) => foreignKey(k, schema)),
      checks: cons
        .filter((k) => k.type === 'c')
        .map((k): CheckSnapshot => ({ name: k.name, expression: canonicalSql(strip(k.check_expr ?? '')) })),
    };
  });
}

function column(c: ColumnRow, strip: (sql: string) => string): ColumnSnapshot {
  // serial's nextval('<table>_id_seq') and identity columns are both "generated ids": the sequence's name is noise.
  const autoIncrement = c.identity !== '' || (c.serial && /^nextval\(/i.test(c.default_expr ?? ''));
  const generated = c.generated === 's' ? `stored (${canonicalSql(strip(c.default_expr ?? ''))})` : null;
  return {
    name: c.name,
    type: pgType(strip(c.type)),
    nullable: !c.not_null,
    default: autoIncrement || generated !== null ? null : pgDefault(strip(c.default_expr ?? '')),
    autoIncrement,
    generated,
  };
}

/** format_type's SQL-standard names, shortened to the spellings people write (varchar, timestamptz). */
function pgType(type: string): string {
  return canonicalType(
    type
      .replace(/^character varying/, 'varchar')
      .replace(/^character(?=\(|\[|$)/, 'char')
      .replace(/^bit varying/, 'varbit')
      .replace(/^(timestamp|time)(\(\d+\))? with time zone/, '$1tz$2')
      .replace(/^(timestamp|time)(\(\d+\))? without time zone/, '$1$2'),
  );
}

/** A default without the cast PostgreSQL adds to a literal: `'feedback'::character varying` is `'feedback'`. */
function pgDefault(expr: string): string | null {
  const text = canonicalDefault(expr);
  if (text === null) return null;
  const literal = /^('(?:[^']|'')*'|-?\d+(?:\.\d+)?|null)::[a-z_ ]+(?:\([\d,]+\))?(?:\[\])*$/.exec(text);
  return literal ? canonicalDefault(literal[1]) : text;
}

function index(i: IndexRow, strip: (sql: string) => string): IndexSnapshot {
  return {
    name: i.name,
    columns: (i.keys ?? []).map((k) => {
      const desc = (k.option & 1) === 1;
      const nullsFirst = (k.option & 2) === 2;
      const order = desc ? (nullsFirst ? ' desc' : ' desc nulls last') : nullsFirst ? ' nulls first' : '';
      return (k.attname ?? canonicalSql(strip(k.def))) + order;
    }),
    unique: i.unique,
    where: i.predicate === null ? null : canonicalSql(strip(i.predicate)),
  };
}

function foreignKey(k: ConstraintRow, schema: string): ForeignKeySnapshot {
  const table = k.ref_table ?? '';
  return {
    name: k.name,
    columns: k.columns,
    referencedTable: k.ref_schema === schema ? table : `${k.ref_schema}.${table}`,
    referencedColumns: k.ref_columns ?? [],
    onUpdate: ACTION[k.on_update] ?? referentialAction(k.on_update),
    onDelete: ACTION[k.on_delete] ?? referentialAction(k.on_delete),
  };
}

/** Removes `schema.` / `"schema".` qualifiers, which PostgreSQL prints only when the schema is not on the search path. */
function schemaStripper(schema: string): (sql: string) => string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const forms = [`"${schema.replace(/"/g, '""')}"`, ...(/^[a-z_][a-z0-9_$]*$/.test(schema) ? [schema] : [])];
  const pattern = new RegExp(`(^|[^\\w$".])(?:${forms.map(escape).join('|')})\\.`, 'g');
  return (sql) => sql.replace(pattern, '$1');
}
