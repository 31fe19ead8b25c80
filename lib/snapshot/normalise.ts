/**
 * Canonical spellings shared by the engine introspectors: SQL fragments (defaults, CHECKs, index expressions)
 * are re-rendered token by token, so whitespace, identifier quoting and keyword case never show up as drift,
 * and every list in a table is sorted so two snapshots of the same schema are deep-equal.
 */
import { identValue, isPunct, matchingParen, quoteIdent, significant, tokenize, type Token } from '../sql/lexer';
import type { CheckSnapshot, ForeignKeySnapshot, ReferentialAction, TableSnapshot, UniqueSnapshot } from './types';

/** Code-unit order: unlike localeCompare it does not depend on the ICU build. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const OPERATOR = /^[<>=!|&+\-*/%~^]$/;
/** Words after which "(" keeps its space: `x in (…)` reads as SQL, `lower(x)` as a call. */
const SPACED_BEFORE_PAREN = new Set(
  'and or not in is exists as when then else case between like glob check on using where any all some'.split(' '),
);

function renderToken(t: Token): string {
  if (t.kind === 'word') return t.text.toLowerCase();
  if (t.kind === 'quoted' && t.text[0] !== '[') {
    const name = identValue(t);
    return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
  }
  return t.text; // strings verbatim; PostgreSQL's `[…]` array syntax (a bracketed "identifier" to the tokenizer) too
}

function spaceBetween(prev: Token, before: Token | undefined, t: Token): boolean {
  if (isPunct(prev, '(') || isPunct(prev, '.') || isPunct(prev, ':')) return false;
  if (isPunct(t, ')') || isPunct(t, ',') || isPunct(t, '.') || isPunct(t, ':')) return false;
  if (isPunct(t, '(') && prev.kind === 'word') return SPACED_BEFORE_PAREN.has(prev.text.toLowerCase());
  if (t.kind === 'quoted' && t.text[0] === '[') return false;
  // Multi-character operators (<>, >=, ||, ->>) are one token each to the tokenizer; a following sign is not.
  if (prev.kind === 'punct' && t.kind === 'punct' && OPERATOR.test(prev.text) && OPERATOR.test(t.text) && t.text !== '-' && t.text !== '+') return false;
  // A unary sign sticks to its operand: `default -1`, `(-1)`, `a > -1`.
  const unary = (prev.text === '-' || prev.text === '+') && (before === undefined || (before.kind === 'punct' && before.text !== ')'));
  return !unary;
}

/** Drops parentheses that enclose the whole fragment: `((a > 0))` and `a > 0` are the same condition. */
function unwrap(tokens: Token[]): Token[] {
  while (tokens.length >= 2 && isPunct(tokens[0], '(') && matchingParen(tokens, 0) === tokens.length - 1) tokens = tokens.slice(1, -1);
  return tokens;
}

/**
 * A SQL fragment in one canonical spelling: keywords and plain identifiers lowercased and unquoted, strings
 * kept verbatim, MySQL charset introducers (`_utf8mb4'x'`) dropped, enclosing parentheses removed, one space
 * between tokens except around `(`, `)`, `,`, `.` and `::`. Text the tokenizer cannot read only has its
 * whitespace collapsed.
 */
export function canonicalSql(sql: string): string {
  let tokens: Token[];
  try {
    tokens = significant(tokenize(sql));
  } catch {
    return sql.trim().replace(/\s+/g, ' ');
  }
  tokens = tokens.filter((t, i) => !(t.kind === 'word' && /^_[a-z0-9]+$/i.test(t.text) && tokens[i + 1]?.kind === 'string'));
  tokens = unwrap(tokens);
  return tokens.map((t, i) => (i > 0 && spaceBetween(tokens[i - 1], tokens[i - 2], t) ? ' ' : '') + renderToken(t)).join('');
}

/** A column default in canonical form; an explicit DEFAULT NULL is the same as none. */
export function canonicalDefault(sql: string | null | undefined): string | null {
  if (sql === null || sql === undefined) return null;
  const text = canonicalSql(sql).replace(/^(current_timestamp|current_date|current_time|localtimestamp|localtime)\(\)$/, '$1');
  return text === 'null' || text === '' ? null : text;
}

/** A declared type: lowercase, single spaces, no spaces inside its parentheses ("decimal(10,2)"). */
export function canonicalType(type: string): string {
  return type.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\s*([(),])\s*/g, '$1').replace(/\)(?=[a-z])/g, ') ');
}

const ACTIONS: readonly ReferentialAction[] = ['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT'];

/** An ON DELETE / ON UPDATE rule as the engine reports it, in the SQL spelling. */
export function referentialAction(rule: string | null | undefined): ReferentialAction {
  const upper = String(rule ?? 'NO ACTION').toUpperCase().replace(/\s+/g, ' ').trim();
  const found = ACTIONS.find((a) => a === upper);
  if (!found) throw new Error(`unknown referential action ${JSON.stringify(rule)}`);
  return found;
}

/** The identity used to match unique constraints, foreign keys and checks between two snapshots. */
export const uniqueKey = (u: UniqueSnapshot): string => u.columns.join(',');
export const foreignKeyKey = (f: ForeignKeySnapshot): string => f.columns.join(',');
export const checkKey = (c: CheckSnapshot): string => c.name ?? c.expression;

/** Sorts by `key`, ties broken by the whole entry, so the order never depends on catalog order. */
function sortedBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => byText(key(a), key(b)) || byText(JSON.stringify(a), JSON.stringify(b)));
}

/** A table with every list in its canonical order. */
export function sortTable(t: TableSnapshot): TableSnapshot {
  return {
    name: t.name,
    columns: sortedBy(t.columns, (c) => c.name),
    primaryKey: [...t.primaryKey],
    indexes: sortedBy(t.indexes, (i) => i.name),
    uniques: sortedBy(t.uniques, uniqueKey),
    foreignKeys: sortedBy(t.foreignKeys, foreignKeyKey),
    checks: sortedBy(t.checks, checkKey),
  };
}

/** Groups rows by a string field, keeping their order. */
export function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
