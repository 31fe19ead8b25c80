import { expect } from 'chai';
import { identValue, quoteIdent, sameIdent, tokenize } from '../../lib/sql/lexer';
import {
  columnNames,
  editCreateTable,
  expressionIdents,
  hasKeywords,
  indexColumnRefs,
  itemColumnRefs,
  mentionsIdent,
  parseCreateTable,
  renameCreateTable,
} from '../../lib/sqlite/ddl';

describe('sqlite ddl helpers', () => {
  describe('tokenize', () => {
    it('round-trips and recognises quotes, strings and comments', () => {
      const sql = `CREATE TABLE "a""b" ([x y] TEXT, \`c\` INT -- note, (here)\n, d /* , */ TEXT DEFAULT 'it''s, (ok)')`;
      const tokens = tokenize(sql);
      expect(tokens.map((t) => t.text).join('')).to.equal(sql);
      const quoted = tokens.filter((t) => t.kind === 'quoted').map(identValue);
      expect(quoted).to.deep.equal(['a"b', 'x y', 'c']);
      expect(tokens.filter((t) => t.kind === 'string').map(identValue)).to.deep.equal(["it's, (ok)"]);
      expect(tokens.filter((t) => t.kind === 'comment').map((t) => t.text)).to.deep.equal(['-- note, (here)', '/* , */']);
    });

    it('rejects unterminated literals', () => {
      expect(() => tokenize(`CREATE TABLE t (a TEXT DEFAULT 'x)`)).to.throw(/unterminated string/);
      expect(() => tokenize('CREATE TABLE "t (a)')).to.throw(/unterminated quoted/);
    });
  });

  it('quoteIdent escapes embedded quotes; sameIdent folds ASCII case only', () => {
    expect(quoteIdent('My "Odd" Table')).to.equal('"My ""Odd"" Table"');
    expect(sameIdent('Users', 'USERS')).to.equal(true);
    expect(sameIdent('Ä', 'ä')).to.equal(false);
  });

  describe('parseCreateTable', () => {
    it('splits columns and constraints at top-level commas only', () => {
      const t = parseCreateTable(`CREATE TABLE IF NOT EXISTS main.[Users] (
        id INTEGER PRIMARY KEY, -- the id, really
        "Full Name" TEXT DEFAULT ('a, b' || ')'),
        price NUMERIC(10, 2) CHECK (price > (0 + 1)),
        [order] TEXT COLLATE NOCASE,
        CONSTRAINT uq UNIQUE ("Full Name", [order]),
        check (price < 100)
      ) WITHOUT ROWID, STRICT;`);
      expect(t.name).to.equal('Users');
      expect(columnNames(t)).to.deep.equal(['id', 'Full Name', 'price', 'order']);
      expect(t.items.map((i) => i.kind)).to.deep.equal(['column', 'column', 'column', 'column', 'constraint', 'constraint']);
      expect(t.withoutRowid).to.equal(true);
      expect(t.strict).to.equal(true);
    });

    it('refuses what it cannot edit safely', () => {
      expect(() => parseCreateTable('CREATE TABLE t AS SELECT 1')).to.throw(/column list/);
      expect(() => parseCreateTable('CREATE TABLE t (a); DROP TABLE x')).to.throw(/unexpected/);
      expect(() => parseCreateTable('CREATE TABLE t (a, (b))')).to.throw(/unexpected/);
      expect(() => parseCreateTable('CREATE VIEW v AS SELECT 1')).to.throw(/TABLE/);
    });
  });

  describe('editCreateTable', () => {
    const base = `CREATE TABLE users (
  id INTEGER PRIMARY KEY, -- keep me
  name TEXT,
  age INT CHECK (age >= 0),
  UNIQUE (name)
) STRICT`;

    it('returns the statement as written when nothing changes', () => {
      expect(editCreateTable(parseCreateTable(base), {}, 'users')).to.equal(base.replace('users', '"users"'));
    });

    it('drops, alters, adds columns and constraints, keeping the rest verbatim', () => {
      const sql = editCreateTable(
        parseCreateTable(base),
        { drop: ['AGE'], alter: { name: 'TEXT NOT NULL COLLATE NOCASE' }, add: { 'is admin': 'INT NOT NULL DEFAULT 0' }, addConstraints: ["CHECK (name <> '')"] },
        'tmp "x"',
      );
      expect(sql).to.equal(`CREATE TABLE "tmp ""x""" (
  id INTEGER PRIMARY KEY, -- keep me
  name TEXT NOT NULL COLLATE NOCASE,
  "is admin" INT NOT NULL DEFAULT 0,
  UNIQUE (name),
  CHECK (name <> '')
) STRICT`);
    });

    it('keeps a trailing line comment from swallowing the next comma', () => {
      const sql = editCreateTable(parseCreateTable('CREATE TABLE t (a INT -- last\n)'), { add: { b: 'TEXT' } }, 't');
      expect(columnNames(parseCreateTable(sql))).to.deep.equal(['a', 'b']);
    });

    it('rejects unknown, duplicate and all-columns edits', () => {
      const t = parseCreateTable(base);
      expect(() => editCreateTable(t, { drop: ['nope'] }, 'x')).to.throw(/no column "nope"/);
      expect(() => editCreateTable(t, { add: { Name: 'TEXT' } }, 'x')).to.throw(/already exists/);
      expect(() => editCreateTable(t, { drop: ['id', 'name', 'age'] }, 'x')).to.throw(/every column/);
    });

    it('renameCreateTable swaps only the name', () => {
      expect(renameCreateTable('CREATE TABLE [a b](x)', 'c')).to.equal('CREATE TABLE "c"(x)');
    });
  });

  describe('column usage', () => {
    it('finds columns in CHECK, generated, key lists and self references, not in types or other tables', () => {
      const t = parseCreateTable(`CREATE TABLE emp (
        id INTEGER PRIMARY KEY, boss INT REFERENCES emp(id), org INT REFERENCES orgs(code),
        "date" DATE CHECK ("date" > start), start TEXT, total AS (start || 'x'),
        FOREIGN KEY (org) REFERENCES orgs (id), UNIQUE (lower_name COLLATE NOCASE DESC))`);
      const refs = t.items.map((item) => itemColumnRefs(item, 'EMP'));
      expect(refs).to.deep.equal([[], ['id'], [], ['date', 'start'], [], ['start'], ['org'], ['lower_name']]);
    });

    it('finds columns in index lists, expressions and WHERE clauses', () => {
      expect(indexColumnRefs('CREATE UNIQUE INDEX i ON t (lower(email), "key" COLLATE NOCASE) WHERE deleted_at IS NULL')).to.deep.equal([
        'email',
        'key',
        'deleted_at',
      ]);
      expect(expressionIdents(tokenize("NEW.key = 'name' AND abs(x) > 0"))).to.deep.equal(['key', 'x']);
    });

    it('mentionsIdent and hasKeywords ignore strings and comments', () => {
      expect(mentionsIdent(`SELECT 'email' /* email */ FROM t`, 'email')).to.equal(false);
      expect(mentionsIdent('SELECT [Email] FROM t', 'email')).to.equal(true);
      expect(hasKeywords("TEXT DEFAULT 'NOT NULL'", 'NOT', 'NULL')).to.equal(false);
      expect(hasKeywords('TEXT not  /* x */ null', 'NOT', 'NULL')).to.equal(true);
    });
  });
});
