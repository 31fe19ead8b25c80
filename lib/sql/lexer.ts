/**
 * The one SQL tokenizer, shared by SQLite's CREATE TABLE editing (lib/sqlite/ddl) and the snapshot
 * normalisers (lib/snapshot), which read PostgreSQL and MySQL fragments with it too: it knows every quoting
 * style of the three engines ("x", `x`, [x]). Pure text helpers: no I/O; errors are plain `Error`s.
 */

export type TokenKind = 'space' | 'comment' | 'word' | 'quoted' | 'string' | 'punct';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Splits SQL into tokens; concatenating their `text` gives the input back. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, text: sql.slice(i, end), start: i, end });
    i = end;
  };
  const closing = (close: string, from: number, doubled: boolean, what: string): number => {
    for (let j = from; ; j++) {
      j = sql.indexOf(close, j);
      if (j < 0) throw new Error(`unterminated ${what} at offset ${from - 1}`);
      if (doubled && sql[j + 1] === close) j++;
      else return j + 1;
    }
  };
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j])) j++;
      push('space', j);
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      push('comment', nl < 0 ? sql.length : nl); // the newline stays a space token
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      push('comment', close < 0 ? sql.length : close + 2); // SQLite accepts an unterminated block comment
    } else if (c === "'") {
      push('string', closing("'", i + 1, true, 'string literal'));
    } else if (c === '"' || c === '`') {
      push('quoted', closing(c, i + 1, true, 'quoted identifier'));
    } else if (c === '[') {
      push('quoted', closing(']', i + 1, false, 'bracketed identifier'));
    } else if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_CHAR.test(sql[j])) j++;
      push('word', j);
    } else {
      push('punct', i + 1);
    }
  }
  return tokens;
}

/** Tokens that carry meaning (no whitespace or comments). */
export function significant(tokens: readonly Token[]): Token[] {
  return tokens.filter((t) => t.kind !== 'space' && t.kind !== 'comment');
}

/** True if `t` is the keyword `word` (given in upper case), in any case. */
export const isWord = (t: Token | undefined, word: string): boolean => t?.kind === 'word' && t.text.toUpperCase() === word;

/** True if `t` is the punctuation character `ch`. */
export const isPunct = (t: Token | undefined, ch: string): boolean => t?.kind === 'punct' && t.text === ch;

/** The name a word, quoted identifier or string token stands for ("a""b" -> a"b, [x] -> x). */
export function identValue(token: Token): string {
  const { kind, text } = token;
  if (kind === 'quoted' || kind === 'string') {
    const q = text[0];
    const body = text.slice(1, -1);
    return q === '[' ? body : body.split(q + q).join(q);
  }
  return text;
}

/** Quotes an identifier with double quotes, escaping embedded ones. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQLite compares identifiers case-insensitively for ASCII letters only. */
export function sameIdent(a: string, b: string): boolean {
  const fold = (s: string) => s.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
  return fold(a) === fold(b);
}

/** Index of the ')' matching the '(' at `open` in `tokens`, or -1 when it is never closed. */
export function matchingParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')') && --depth === 0) return i;
  }
  return -1;
}

/** Splits tokens at commas that are not inside parentheses. */
export function splitTopLevel(tokens: readonly Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) depth--;
    if (depth === 0 && isPunct(t, ',')) parts.push([]);
    else parts[parts.length - 1].push(t);
  }
  return parts;
}
