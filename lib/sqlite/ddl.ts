/**
 * SQLite CREATE TABLE text for `rebuildTable`: a splitter/editor that keeps every column and constraint exactly
 * as written unless asked to change it, and conservative "does this SQL use that column" scanners, on the
 * shared tokenizer (lib/sql/lexer). No I/O; errors are plain `Error`s (the caller wraps them).
 */
import { identValue, isPunct, isWord, matchingParen, quoteIdent, sameIdent, significant, splitTopLevel, tokenize, type Token } from '../sql/lexer';

/** Index of the ')' matching the '(' at `open`: the DDL being edited must be well-formed, so unbalanced throws. */
function groupEnd(tokens: readonly Token[], open: number): number {
  const end = matchingParen(tokens, open);
  if (end < 0) throw new Error('unbalanced parentheses');
  return end;
}

// ---------------------------------------------------------------------------------------------------------------
// CREATE TABLE

const CONSTRAINT_START = new Set(['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN']);

export interface TableItem {
  readonly kind: 'column' | 'constraint';
  /** Column name (columns only). */
  readonly name?: string;
  /** Source text, leading whitespace kept, trailing whitespace removed (a trailing `--` comment keeps its newline). */
  readonly text: string;
  /** The whitespace and comments before the first token (part of `text`). */
  readonly prefix: string;
  /** Significant tokens of the item. */
  readonly tokens: Token[];
}

export interface ParsedTable {
  readonly sql: string;
  readonly name: string;
  /** Offsets of the (possibly schema-qualified) table name in `sql`. */
  readonly nameStart: number;
  readonly nameEnd: number;
  /** Offset just after the '(' that opens the column list, and of the matching ')'. */
  readonly bodyStart: number;
  readonly bodyEnd: number;
  readonly items: TableItem[];
  /** Whitespace before the closing ')' (kept so edits do not reformat the statement). */
  readonly closing: string;
  readonly withoutRowid: boolean;
  readonly strict: boolean;
}

/** Splits `CREATE TABLE name (...) [WITHOUT ROWID] [, STRICT]` into its columns and table constraints. */
export function parseCreateTable(sql: string): ParsedTable {
  const all = tokenize(sql);
  const sig = significant(all);
  let i = 0;
  const expect = (word: string) => {
    if (!isWord(sig[i], word)) throw new Error(`expected ${word} in ${JSON.stringify(sql.slice(0, 80))}`);
    i++;
  };
  expect('CREATE');
  if (isWord(sig[i], 'TEMP') || isWord(sig[i], 'TEMPORARY')) i++;
  expect('TABLE');
  if (isWord(sig[i], 'IF')) {
    i++;
    expect('NOT');
    expect('EXISTS');
  }
  const nameFirst = sig[i];
  if (!nameFirst || !['word', 'quoted', 'string'].includes(nameFirst.kind)) throw new Error('missing table name');
  let nameTok = nameFirst;
  i++;
  if (isPunct(sig[i], '.') && sig[i + 1]) {
    nameTok = sig[i + 1];
    i += 2;
  }
  if (!isPunct(sig[i], '(')) throw new Error('only CREATE TABLE with a column list is supported (not CREATE TABLE ... AS SELECT)');
  const open = sig[i];
  const close = sig[groupEnd(sig, i)];

  // Raw item slices between the top-level commas, taken from the full token list so comments are kept.
  const body = all.filter((t) => t.start >= open.end && t.end <= close.start);
  const parts = splitTopLevel(body);
  const items: TableItem[] = parts.map((part) => toItem(part));
  const lastPart = parts[parts.length - 1];
  let k = lastPart.length;
  while (k > 0 && lastPart[k - 1].kind === 'space') k--;
  const closing = lastPart.slice(k).map((t) => t.text).join('');

  const tail = significant(all.filter((t) => t.start >= close.end));
  let withoutRowid = false;
  let strict = false;
  for (let j = 0; j < tail.length; j++) {
    if (isWord(tail[j], 'WITHOUT') && isWord(tail[j + 1], 'ROWID')) {
      withoutRowid = true;
      j++;
    } else if (isWord(tail[j], 'STRICT')) strict = true;
    else if (isPunct(tail[j], ';') && j === tail.length - 1) break;
    else if (!isPunct(tail[j], ',')) throw new Error(`unexpected ${JSON.stringify(tail[j].text)} after the column list`);
  }
  return {
    sql,
    name: identValue(nameTok),
    nameStart: nameFirst.start,
    nameEnd: nameTok.end,
    bodyStart: open.end,
    bodyEnd: close.start,
    items,
    closing,
    withoutRowid,
    strict,
  };
}

function toItem(part: readonly Token[]): TableItem {
  const tokens = significant(part);
  const first = tokens[0];
  if (!first) throw new Error('empty column or constraint definition');
  let end = part.length;
  while (end > 0 && part[end - 1].kind === 'space') end--;
  const last = part[end - 1];
  const trailingNewline = last.kind === 'comment' && last.text.startsWith('--') ? '\n' : '';
  const text = part.slice(0, end).map((t) => t.text).join('') + trailingNewline;
  const prefix = part.slice(0, part.indexOf(first)).map((t) => t.text).join('');
  if (first.kind === 'word' && CONSTRAINT_START.has(first.text.toUpperCase())) return { kind: 'constraint', text, prefix, tokens };
  if (first.kind === 'punct') throw new Error(`unexpected ${JSON.stringify(first.text)} in the column list`);
  return { kind: 'column', name: identValue(first), text, prefix, tokens };
}

/** Column names in declaration order. */
export function columnNames(table: ParsedTable): string[] {
  return table.items.flatMap((item) => (item.kind === 'column' && item.name !== undefined ? [item.name] : []));
}

export interface TableEdit {
  /** Columns to remove (their own inline constraints go with them). */
  readonly drop?: readonly string[];
  /** Column name -> new definition without the name. */
  readonly alter?: Readonly<Record<string, string>>;
  /** New columns, appended after the last column. */
  readonly add?: Readonly<Record<string, string>>;
  /** Table constraints, appended at the end. */
  readonly addConstraints?: readonly string[];
}

/** Applies `edit` and returns the statement under `name` (quoted); everything not edited is kept as written. */
export function editCreateTable(table: ParsedTable, edit: TableEdit, name: string): string {
  const find = (col: string) => {
    const index = table.items.findIndex((it) => it.kind === 'column' && it.name !== undefined && sameIdent(it.name, col));
    if (index < 0) throw new Error(`no column ${quoteIdent(col)} in table ${quoteIdent(table.name)}`);
    return index;
  };
  const texts = table.items.map((it) => it.text);
  // New items copy the indentation of the item they follow: "\n  " in a multi-line statement, else " ".
  const indent = (item: TableItem) => /\n[ \t]*$/.exec(item.prefix)?.[0] ?? ' ';

  for (const [col, def] of Object.entries(edit.alter ?? {})) {
    const index = find(col);
    const item = table.items[index];
    texts[index] = `${item.prefix}${nameText(item)} ${safeTail(def)}`;
  }
  const dropped = new Set((edit.drop ?? []).map(find));
  const additions = Object.entries(edit.add ?? {}).map(([col, def]) => {
    if (table.items.some((it) => it.kind === 'column' && it.name !== undefined && sameIdent(it.name, col))) {
      throw new Error(`column ${quoteIdent(col)} already exists in table ${quoteIdent(table.name)}`);
    }
    return `${quoteIdent(col)} ${safeTail(def)}`;
  });

  const lastColumn = table.items.reduce((last, it, index) => (it.kind === 'column' ? index : last), -1);
  const out: string[] = [];
  table.items.forEach((_, index) => {
    if (!dropped.has(index)) out.push(texts[index]);
    if (index === lastColumn) out.push(...additions.map((a) => indent(table.items[index]) + a));
  });
  const lastItem = table.items[table.items.length - 1];
  out.push(...(edit.addConstraints ?? []).map((c) => indent(lastItem) + safeTail(c)));
  if (!table.items.some((it, index) => it.kind === 'column' && !dropped.has(index)) && additions.length === 0) {
    throw new Error('cannot drop every column of a table');
  }
  return (
    table.sql.slice(0, table.nameStart) +
    quoteIdent(name) +
    table.sql.slice(table.nameEnd, table.bodyStart) +
    out.join(',') +
    table.closing +
    table.sql.slice(table.bodyEnd)
  );
}

/** Returns the same CREATE TABLE statement under another name (quoted). */
export function renameCreateTable(sql: string, name: string): string {
  const t = parseCreateTable(sql);
  return sql.slice(0, t.nameStart) + quoteIdent(name) + sql.slice(t.nameEnd);
}

/** The column's name as written (keeps the author's quoting). */
function nameText(item: TableItem): string {
  return item.tokens[0].text;
}

/** Caller-supplied SQL fragment, trimmed; a trailing `--` comment gets a newline so a following comma survives. */
function safeTail(fragment: string): string {
  const tokens = tokenize(fragment.trim());
  const last = tokens[tokens.length - 1];
  if (!last) return ''; // a column with no type and no constraints, as SQLite allows
  return fragment.trim() + (last.kind === 'comment' && last.text.startsWith('--') ? '\n' : '');
}

// ---------------------------------------------------------------------------------------------------------------
// Column usage scanners. Conservative: a false "used" only produces a clear refusal; SQLite itself still rejects
// an index, CHECK or generated column that names a missing column when the statement is re-run.

const KEYWORDS = new Set(
  (
    'ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY CASCADE ' +
    'CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME ' +
    'CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE ' +
    'EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FALSE FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB ' +
    'GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL ' +
    'JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NEW NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET OLD ON ' +
    'OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES ' +
    'REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET STORED ' +
    'TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER TRUE UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES ' +
    'VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT'
  ).split(' '),
);

/** Identifiers an expression may use as column names (not keywords, function names, strings or collations). */
export function expressionIdents(tokens: readonly Token[]): string[] {
  const sig = significant(tokens);
  const out: string[] = [];
  sig.forEach((t, i) => {
    const prev = sig[i - 1];
    if (isWord(prev, 'COLLATE')) return;
    if (t.kind === 'quoted') out.push(identValue(t));
    else if (t.kind === 'word' && !/^[0-9]/.test(t.text)) {
      const qualified = isPunct(prev, '.'); // NEW.key, t.key: a column even if it looks like a keyword
      if (qualified || (!KEYWORDS.has(t.text.toUpperCase()) && !isPunct(sig[i + 1], '('))) out.push(t.text);
    }
  });
  return out;
}

/**
 * Column names in an indexed-column list such as `(a COLLATE NOCASE DESC, lower(b))`. A single-quoted
 * string standing alone as a term names a column too: SQLite accepts `CREATE INDEX i ON t('z 1')`.
 */
function columnListIdents(tokens: readonly Token[]): string[] {
  return splitTopLevel(tokens).flatMap((entry) => {
    const [first, second] = entry;
    const plainName = first && (first.kind === 'word' || first.kind === 'quoted' || first.kind === 'string') && !isPunct(second, '(');
    return plainName ? [identValue(first), ...expressionIdents(entry.slice(1))] : expressionIdents(entry);
  });
}

/**
 * Columns of `table` that one column definition or table constraint uses, apart from the column's own name:
 * CHECK and generated-column expressions, PRIMARY KEY / UNIQUE / FOREIGN KEY column lists, and the referenced
 * columns of a REFERENCES to `table` itself.
 */
export function itemColumnRefs(item: TableItem, table: string): string[] {
  const toks = item.tokens;
  const refs: string[] = [];
  let i = item.kind === 'column' ? 1 : 0;
  while (i < toks.length) {
    const t = toks[i];
    if ((isWord(t, 'CHECK') || isWord(t, 'AS')) && isPunct(toks[i + 1], '(')) {
      const end = groupEnd(toks, i + 1);
      refs.push(...expressionIdents(toks.slice(i + 2, end)));
      i = end + 1;
    } else if ((isWord(t, 'KEY') || isWord(t, 'UNIQUE')) && isPunct(toks[i + 1], '(')) {
      const end = groupEnd(toks, i + 1);
      refs.push(...columnListIdents(toks.slice(i + 2, end)));
      i = end + 1;
    } else if (isWord(t, 'REFERENCES') && toks[i + 1]) {
      const self = sameIdent(identValue(toks[i + 1]), table);
      i += 2;
      if (isPunct(toks[i], '(')) {
        const end = groupEnd(toks, i);
        if (self) refs.push(...columnListIdents(toks.slice(i + 1, end)));
        i = end + 1;
      }
    } else i++;
  }
  return refs;
}

/** Columns a CREATE INDEX statement uses: its indexed columns/expressions and its WHERE clause. */
export function indexColumnRefs(sql: string): string[] {
  const sig = significant(tokenize(sql));
  const on = sig.findIndex((t) => isWord(t, 'ON'));
  const open = on + 2;
  if (on < 0 || !isPunct(sig[open], '(')) throw new Error(`cannot parse index: ${sql}`);
  const end = groupEnd(sig, open);
  return [...columnListIdents(sig.slice(open + 1, end)), ...expressionIdents(sig.slice(end + 1))];
}

/** True if `sql` contains `name` as a word or quoted identifier anywhere (for triggers and views: conservative). */
export function mentionsIdent(sql: string, name: string): boolean {
  return tokenize(sql).some((t) => (t.kind === 'word' || t.kind === 'quoted') && sameIdent(identValue(t), name));
}

/** True if the tokens of `sql` contain the keyword sequence, e.g. hasKeywords(def, 'NOT', 'NULL'). */
export function hasKeywords(sql: string, ...words: string[]): boolean {
  const sig = significant(tokenize(sql));
  return sig.some((_, i) => words.every((w, k) => isWord(sig[i + k], w)));
}

/**
 * The same, outside parentheses only: a column constraint (`NOT NULL`, `DEFAULT`, `AS`) rather than words
 * inside an expression such as `CHECK (x IS NOT NULL)`.
 */
export function hasTopLevelKeywords(sql: string, ...words: string[]): boolean {
  const sig = significant(tokenize(sql));
  let depth = 0;
  return sig.some((token, i) => {
    if (isPunct(token, '(')) depth++;
    else if (isPunct(token, ')')) depth--;
    return depth === 0 && words.every((w, k) => isWord(sig[i + k], w));
  });
}

/** The event of a CREATE TRIGGER statement: the first INSERT, UPDATE or DELETE before its ON. */
export function triggerEvent(sql: string): 'INSERT' | 'UPDATE' | 'DELETE' {
  const sig = significant(tokenize(sql));
  for (const token of sig.slice(sig.findIndex((t) => isWord(t, 'TRIGGER')) + 1)) {
    if (isWord(token, 'ON')) break;
    for (const event of ['INSERT', 'UPDATE', 'DELETE'] as const) if (isWord(token, event)) return event;
  }
  throw new Error(`cannot tell the event of trigger ${JSON.stringify(sql.slice(0, 80))}`);
}

/**
 * The same trigger as a TEMP trigger named `name` that fires on any UPDATE (its `UPDATE OF …` column list
 * dropped), so that compiling an UPDATE compiles its body even when it names no column that still exists.
 */
export function triggerOnAnyUpdate(sql: string, name: string): string {
  const tokens = tokenize(sql);
  const sig = significant(tokens);
  const trigger = sig.findIndex((t) => isWord(t, 'TRIGGER'));
  const on = sig.findIndex((t, i) => i > trigger && isWord(t, 'ON'));
  const of = sig.findIndex((t, i) => i > trigger && i < on && isWord(t, 'OF') && isWord(sig[i - 1], 'UPDATE'));
  // The name ends at the first timing or event keyword after TRIGGER [IF NOT EXISTS].
  const afterName = sig.findIndex((t, i) => i > trigger && ['BEFORE', 'AFTER', 'INSTEAD', 'INSERT', 'UPDATE', 'DELETE'].some((w) => isWord(t, w)));
  if (trigger < 0 || on < 0 || afterName < 0) throw new Error(`cannot parse trigger ${JSON.stringify(sql.slice(0, 80))}`);
  const header = `CREATE TEMP TRIGGER ${quoteIdent(name)} ${sql.slice(sig[afterName].start, of < 0 ? sig[on].start : sig[of].start)}`;
  return `${header.trimEnd()} ${sql.slice(sig[on].start)}`;
}

/** For an FTS3/4/5 virtual table: its module and the table named by its `content=` option, if any. */
export function externalContentOf(sql: string): { module: string; content: string } | undefined {
  const sig = significant(tokenize(sql));
  const using = sig.findIndex((t) => isWord(t, 'USING'));
  const module = sig[using + 1];
  if (using < 0 || !module || !/^fts[345]$/i.test(module.text) || !isPunct(sig[using + 2], '(')) return undefined;
  const args = splitTopLevel(sig.slice(using + 3, groupEnd(sig, using + 2)));
  for (const arg of args) {
    if (isWord(arg[0], 'CONTENT') && isPunct(arg[1], '=') && arg[2]) {
      const content = identValue(arg[2]);
      return content === '' ? undefined : { module: module.text.toLowerCase(), content };
    }
  }
  return undefined;
}

/** The names written in double quotes in `sql` (which SQLite may read as strings if no column has them). */
export function doubleQuotedNames(sql: string): Set<string> {
  return new Set(tokenize(sql).filter((t) => t.kind === 'quoted' && t.text.startsWith('"')).map(identValue));
}
