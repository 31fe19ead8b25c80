/**
 * MySQL/MariaDB introspection from information_schema, restricted to DATABASE(). The two servers disagree on
 * a few spellings; each is folded into one so a snapshot taken on MariaDB matches one taken on MySQL 8:
 * integer display widths (`int(10) unsigned` vs `int unsigned`), literal defaults (MariaDB quotes them,
 * MySQL does not), `current_timestamp()` vs `CURRENT_TIMESTAMP`, and NO ACTION, which InnoDB treats as
 * RESTRICT and the two servers report differently. Where CHECK constraints live also differs:
 * MariaDB's CHECK_CONSTRAINTS has TABLE_NAME, MySQL's needs TABLE_CONSTRAINTS to find the table.
 */
import { canonicalDefault, canonicalSql, canonicalType, groupBy, referentialAction } from './normalise';
import type { CheckSnapshot, ColumnSnapshot, Db, ForeignKeySnapshot, IndexSnapshot, TableSnapshot, UniqueSnapshot } from './types';

interface ColumnRow {
  table_name: string;
  name: string;
  column_type: string;
  data_type: string;
  is_nullable: string;
  column_default: string | null;
  extra: string | null;
  generation_expression: string | null;
}
interface StatRow {
  table_name: string;
  name: string;
  non_unique: number | string;
  column_name: string | null;
  sub_part: number | null;
  collation: string | null;
  expression: string | null;
}
interface FkRow {
  table_name: string;
  name: string;
  column_name: string;
  ref_schema: string;
  ref_table: string;
  ref_column: string;
  on_update: string;
  on_delete: string;
}

const NUMERIC = /^(tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|float|double|real|bit|year)$/;

async function all<T>(db: Db, sql: string): Promise<T[]> {
  return ((await db.raw(sql)) as [T[], unknown])[0];
}

export async function mysqlTables(db: Db, exclude: ReadonlySet<string>): Promise<TableSnapshot[]> {
  const [{ version, schema }] = await all<{ version: string; schema: string | null }>(db, 'SELECT VERSION() AS version, DATABASE() AS `schema`');
  if (!schema) throw new Error('schemaSnapshot: no MySQL database selected (the connection has no default database)');
  const mariadb = /mariadb/i.test(version);

  const names = (
    await all<{ name: string }>(
      db,
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')`,
    )
  )
    .map((r) => r.name)
    .filter((name) => !exclude.has(name));
  const columns = groupBy(
    await all<ColumnRow>(
      db,
      `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS name, COLUMN_TYPE AS column_type, DATA_TYPE AS data_type,
              IS_NULLABLE AS is_nullable, COLUMN_DEFAULT AS column_default, EXTRA AS extra,
              GENERATION_EXPRESSION AS generation_expression
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`,
    ),
    (r) => r.table_name,
  );
  const statistics = (expression: string) =>
    all<StatRow>(
      db,
      `SELECT TABLE_NAME AS table_name, INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS column_name,
              SUB_PART AS sub_part, COLLATION AS collation, ${expression} AS expression
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    );
  // EXPRESSION (functional key parts) exists in MySQL 8 only.
  const stats = groupBy((await ifSupported(statistics('EXPRESSION'))) ?? (await statistics('NULL')), (r) => r.table_name);
  const fks = groupBy(
    await all<FkRow>(
      db,
      `SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS column_name,
              k.REFERENCED_TABLE_SCHEMA AS ref_schema, k.REFERENCED_TABLE_NAME AS ref_table, k.REFERENCED_COLUMN_NAME AS ref_column,
              r.UPDATE_RULE AS on_update, r.DELETE_RULE AS on_delete
         FROM information_schema.KEY_COLUMN_USAGE k
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
        WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
        ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    ),
    (r) => r.table_name,
  );
  const checks = groupBy(await checkRows(db), (r) => r.table_name);

  return names.map((name) => {
    const indexRows = groupBy(stats.get(name) ?? [], (r) => r.name);
    const primary = indexRows.get('PRIMARY') ?? [];
    const indexes: IndexSnapshot[] = [];
    const uniques: UniqueSnapshot[] = [];
    for (const [indexName, parts] of indexRows) {
      if (indexName === 'PRIMARY') continue;
      // A UNIQUE constraint and a unique index are one object in MySQL: list them all as constraints.
      if (Number(parts[0].non_unique) === 0) uniques.push({ name: indexName, columns: parts.map(keyText) });
      else indexes.push({ name: indexName, columns: parts.map(keyText), unique: false, where: null });
    }
    return {
      name,
      columns: (columns.get(name) ?? []).map((c) => column(c, mariadb)),
      primaryKey: primary.map((p) => p.column_name ?? ''),
      indexes,
      uniques,
      foreignKeys: [...groupBy(fks.get(name) ?? [], (r) => r.name).values()].map((parts) => foreignKey(parts, schema)),
      checks: (checks.get(name) ?? []).map((c): CheckSnapshot => ({ name: c.name, expression: c.expression })),
    };
  });
}

/** Resolves to undefined when the server lacks a column or table the query names (an older or other server). */
async function ifSupported<T>(query: Promise<T>): Promise<T | undefined> {
  try {
    return await query;
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === 1054 || errno === 1109) return undefined; // ER_BAD_FIELD_ERROR, ER_UNKNOWN_TABLE
    throw err;
  }
}

async function checkRows(db: Db): Promise<{ table_name: string; name: string; expression: string }[]> {
  type Row = { table_name: string; name: string; clause: string };
  // MariaDB names CHECKs per table and says which table; MySQL 8 names them per schema and needs TABLE_CONSTRAINTS.
  const rows =
    (await ifSupported(
      all<Row>(
        db,
        `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause
           FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()`,
      ),
    )) ??
    (await ifSupported(
      all<Row>(
        db,
        `SELECT tc.TABLE_NAME AS table_name, cc.CONSTRAINT_NAME AS name, cc.CHECK_CLAUSE AS clause
           FROM information_schema.TABLE_CONSTRAINTS tc
           JOIN information_schema.CHECK_CONSTRAINTS cc
             ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
          WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'`,
      ),
    )) ??
    []; // MySQL before 8.0.16 parses CHECK and ignores it
  // MySQL 8 prints string literals in CHECK_CLAUSE with backslash-escaped quotes: _utf8mb4\'bug\'.
  return rows.map((r) => ({ table_name: r.table_name, name: r.name, expression: canonicalSql(r.clause.replace(/\\'/g, "'")) }));
}

function keyText(part: StatRow): string {
  const base = part.column_name !== null ? part.column_name + (part.sub_part ? `(${part.sub_part})` : '') : canonicalSql(part.expression ?? '');
  return part.collation === 'D' ? `${base} desc` : base;
}

function column(c: ColumnRow, mariadb: boolean): ColumnSnapshot {
  const extra = (c.extra ?? '').toLowerCase();
  const isGenerated = /\b(virtual|stored|persistent)\b/.test(extra) && Boolean(c.generation_expression);
  return {
    name: c.name,
    type: mysqlType(c.column_type),
    nullable: c.is_nullable === 'YES',
    default: isGenerated ? null : mysqlDefault(c, extra, mariadb),
    autoIncrement: extra.includes('auto_increment'),
    generated: isGenerated ? `${/virtual/.test(extra) ? 'virtual' : 'stored'} (${canonicalSql(c.generation_expression ?? '')})` : null,
  };
}

/** Display widths are cosmetic (and gone in MySQL 8) except tinyint(1), knex's boolean. */
function mysqlType(type: string): string {
  const t = canonicalType(type);
  return /^tinyint\(1\)/.test(t) ? t : t.replace(/^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)/, '$1');
}

/** MariaDB stores the default as an SQL expression ('NULL' for none); MySQL stores a literal's bare value. */
function mysqlDefault(c: ColumnRow, extra: string, mariadb: boolean): string | null {
  const raw = c.column_default;
  if (raw === null) return null;
  if (mariadb) return canonicalDefault(raw);
  const expression = extra.includes('default_generated') || (/^(timestamp|datetime)$/i.test(c.data_type) && /^current_timestamp/i.test(raw));
  if (expression || NUMERIC.test(c.data_type.toLowerCase())) return canonicalDefault(raw);
  return `'${raw.replace(/'/g, "''")}'`;
}

function foreignKey(parts: FkRow[], schema: string): ForeignKeySnapshot {
  const first = parts[0];
  // InnoDB has no deferred checks, so NO ACTION is RESTRICT; MariaDB and MySQL report the default differently.
  const action = (rule: string) => (referentialAction(rule) === 'NO ACTION' ? 'RESTRICT' : referentialAction(rule));
  return {
    name: first.name,
    columns: parts.map((p) => p.column_name),
    referencedTable: first.ref_schema === schema ? first.ref_table : `${first.ref_schema}.${first.ref_table}`,
    referencedColumns: parts.map((p) => p.ref_column),
    onUpdate: action(first.on_update),
    onDelete: action(first.on_delete),
  };
}
