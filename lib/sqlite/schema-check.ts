/**
 * Whether the whole schema still works after a table rebuild — checked by SQLite itself, which resolves
 * every name exactly, not guessed from the text of what names the table:
 * - every view runs (`SELECT … LIMIT 0`) and every trigger compiles (`EXPLAIN` of a statement that fires it
 *   builds its program without running anything; an `UPDATE OF` trigger through a TEMP copy that fires on
 *   any update, so a body naming a dropped column is compiled too);
 * - a double-quoted name in them still names a column: SQLite builds that allow double-quoted strings
 *   (node-sqlite3) would otherwise silently read `"w"` as the string 'w' once column w is gone;
 * - every virtual table answers (`SELECT … LIMIT 1`: an external-content FTS table prepares its read of the
 *   content table even when empty), and an FTS index whose content is the table still matches it
 *   (its integrity-check: rowids and indexed values);
 * - every foreign key into the table still has a parent key (its PRIMARY KEY or a UNIQUE index).
 * Only what worked before and fails after counts: an object already broken does not block a rebuild.
 */
import { randomBytes } from 'crypto';
import type { Knex } from 'knex';
import { RebuildError, describeCause } from '../errors';
import { quoteIdent as q, sameIdent } from '../sql/lexer';
import { query, type MasterRow } from './query';

/** A schema object with SQL (the query below excludes automatic indexes). */
type DefinedObject = MasterRow & { sql: string };
import { doubleQuotedNames, externalContentOf, triggerEvent, triggerOnAnyUpdate } from './ddl';

/** What works and what does not, to compare before and after a rebuild of `table`. */
export interface SchemaHealth {
  /** Object ("view v") → why it fails. */
  readonly broken: ReadonlyMap<string, string>;
  /** Object → its double-quoted names that are columns the rebuild drops or renames. */
  readonly watched: ReadonlyMap<string, ReadonlySet<string>>;
  /** Object → how often each of its watched names is compiled as a string. */
  readonly quotedAsStrings: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** FTS tables over `table` whose index does not match their content. */
  readonly ftsOutOfSync: ReadonlySet<string>;
  /** Foreign keys into `table` without a parent key. */
  readonly orphanedForeignKeys: ReadonlySet<string>;
}

/**
 * `goneColumns`: the table's columns the rebuild drops or renames (the double-quoted names worth watching).
 * `watching`: the names found before the rebuild — SQLite's RENAME COLUMN rewrites a double-quoted name that
 * already reads as a string into a single-quoted one, so the text after a rename no longer shows it.
 */
export async function schemaHealth(
  trx: Knex.Transaction,
  table: string,
  goneColumns: readonly string[],
  watching?: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<SchemaHealth> {
  const objects = await query<DefinedObject>(
    trx,
    `SELECT type, name, tbl_name, sql FROM sqlite_master
      WHERE sql IS NOT NULL AND (type IN ('view', 'trigger') OR (type = 'table' AND sql LIKE 'CREATE VIRTUAL%'))`,
  );
  const broken = new Map<string, string>();
  const watched = new Map<string, ReadonlySet<string>>();
  const quotedAsStrings = new Map<string, Map<string, number>>();
  const ftsOutOfSync = new Set<string>();
  for (const object of objects) {
    const label = `${object.type === 'table' ? 'virtual table' : object.type} ${q(object.name)}`;
    let sql = '';
    try {
      await withProbe(trx, object, async (probe) => {
        sql = probe;
        await trx.raw(probe);
        const quoted = watching?.get(label) ?? new Set([...doubleQuotedNames(object.sql)].filter((name) => goneColumns.some((c) => sameIdent(c, name))));
        if (object.type !== 'table' && quoted.size > 0) {
          watched.set(label, quoted);
          quotedAsStrings.set(label, await stringsCompiled(trx, probe, quoted));
        }
      });
    } catch (err) {
      // SQLite's words only: the sqlite3 driver prefixes our probe statement and the result code.
      broken.set(label, describeCause(err).split(`${sql} - `).join('').replace(/^SQLITE_ERROR: /, ''));
      continue;
    }
    const fts = object.type === 'table' ? externalContentOf(object.sql) : undefined;
    if (fts && sameIdent(fts.content, table) && !(await ftsMatchesContent(trx, object.name, fts.module))) ftsOutOfSync.add(label);
  }
  return { broken, watched, quotedAsStrings, ftsOutOfSync, orphanedForeignKeys: await parentKeyProblems(trx, table) };
}

/** Refuses the rebuild if anything that worked before it fails now, naming every such object. */
export async function verifySchema(trx: Knex.Transaction, table: string, before: SchemaHealth, goneColumns: readonly string[]): Promise<void> {
  const after = await schemaHealth(trx, table, goneColumns, before.watched);
  const problems: string[] = [];
  for (const [object, why] of after.broken) if (!before.broken.has(object)) problems.push(`${object} would no longer work (${why})`);
  for (const [object, strings] of after.quotedAsStrings) {
    const was = before.quotedAsStrings.get(object);
    const lost = [...strings].filter(([name, n]) => n > (was?.get(name) ?? 0)).map(([name]) => name);
    if (lost.length > 0) {
      problems.push(`${object} would read ${lost.map((n) => `"${n}"`).join(', ')} as ${lost.length > 1 ? 'strings' : 'a string'}: no column has that name any more`);
    }
  }
  for (const object of after.ftsOutOfSync) {
    if (!before.ftsOutOfSync.has(object)) {
      problems.push(
        `${object} would no longer match its content (its rowids or indexed values changed): drop it before the rebuild ` +
          `and create it again after, in the same migration`,
      );
    }
  }
  const orphaned = [...after.orphanedForeignKeys].filter((fk) => !before.orphanedForeignKeys.has(fk));
  if (orphaned.length > 0) {
    problems.push(
      `${orphaned.join('; ')} would lose ${orphaned.length > 1 ? 'their' : 'its'} parent key: the referenced columns must stay the ` +
        `PRIMARY KEY or have a UNIQUE index (else every write to the child fails with "foreign key mismatch")`,
    );
  }
  if (problems.length > 0) throw new RebuildError(table, `${problems.join('; ')}; nothing was changed`);
}

/** Runs `fn` with the statement that exercises `object` (creating, then dropping, a TEMP copy where needed). */
async function withProbe(trx: Knex.Transaction, object: DefinedObject, fn: (probe: string) => Promise<void>): Promise<void> {
  if (object.type === 'view') return fn(`SELECT * FROM ${q(object.name)} LIMIT 0`);
  if (object.type === 'table') return fn(`SELECT * FROM ${q(object.name)} LIMIT 1`);
  const event = triggerEvent(object.sql);
  if (event !== 'UPDATE' || !/\bOF\b/i.test(object.sql.slice(0, object.sql.search(/\bON\b/i)))) return fn(`EXPLAIN ${await statementFiring(trx, object.tbl_name, event)}`);
  const copy = `_ksm_check_${randomBytes(6).toString('hex')}`;
  await trx.raw(triggerOnAnyUpdate(object.sql, copy));
  try {
    await fn(`EXPLAIN ${await statementFiring(trx, object.tbl_name, 'UPDATE')}`);
  } finally {
    await trx.raw(`DROP TRIGGER IF EXISTS temp.${q(copy)}`);
  }
}

/** A statement on the trigger's table or view that fires it (INSERT, UPDATE of every column, or DELETE). */
async function statementFiring(trx: Knex.Transaction, target: string, event: 'INSERT' | 'UPDATE' | 'DELETE'): Promise<string> {
  if (event === 'DELETE') return `DELETE FROM ${q(target)}`;
  // Writable columns only: generated ones cannot be set.
  const columns = (await query<{ name: string }>(trx, 'SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0', [target])).map((c) => q(c.name));
  if (event === 'INSERT') return `INSERT INTO ${q(target)} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${q(target)} WHERE 0`;
  return `UPDATE ${q(target)} SET ${columns.map((c) => `${c} = ${c}`).join(', ')}`;
}

/** How many string constants equal to each of `names` the compiled probe holds. */
async function stringsCompiled(trx: Knex.Transaction, probe: string, names: ReadonlySet<string>): Promise<Map<string, number>> {
  const program = await query<{ opcode: string; p4: unknown }>(trx, probe.startsWith('EXPLAIN ') ? probe : `EXPLAIN ${probe}`);
  const counts = new Map<string, number>();
  for (const op of program) {
    if (op.opcode === 'String8' && typeof op.p4 === 'string' && names.has(op.p4)) counts.set(op.p4, (counts.get(op.p4) ?? 0) + 1);
  }
  return counts;
}

/** FTS's own integrity-check against the content table (FTS5: `rank` 1 compares indexed values too). */
async function ftsMatchesContent(trx: Knex.Transaction, name: string, module: string): Promise<boolean> {
  const check = module === 'fts5' ? `INSERT INTO ${q(name)} (${q(name)}, rank) VALUES ('integrity-check', 1)` : `INSERT INTO ${q(name)} (${q(name)}) VALUES ('integrity-check')`;
  try {
    await trx.transaction((sp) => sp.raw(check)); // a savepoint: a failed check leaves nothing to undo
    return true;
  } catch {
    return false;
  }
}

/**
 * Foreign keys into `table` whose parent key is not the table's PRIMARY KEY or a UNIQUE index on exactly
 * those columns (SQLite's rule; such a key makes every write to the child fail with "foreign key mismatch").
 */
async function parentKeyProblems(trx: Knex.Transaction, table: string): Promise<Set<string>> {
  const fks = await query<{ child: string; id: number; from: string; to: string | null }>(
    trx,
    `SELECT m.name AS child, f.id AS id, f."from" AS "from", f."to" AS "to"
       FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f
      WHERE m.type = 'table' AND f."table" = ? COLLATE NOCASE ORDER BY m.name, f.id, f.seq`,
    [table],
  );
  if (fks.length === 0) return new Set();
  const fold = (cols: readonly string[]) => cols.map((c) => c.toLowerCase()).sort().join('\u0000');
  const pk = (await query<{ name: string }>(trx, 'SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk', [table])).map((r) => r.name);
  const unique = await query<{ cols: string | null }>(
    trx,
    `SELECT (SELECT group_concat(i.name, char(0)) FROM pragma_index_info(l.name) AS i) AS cols
       FROM pragma_index_list(?) AS l WHERE l."unique" = 1 AND l.partial = 0`,
    [table],
  );
  const keys = new Set([fold(pk), ...unique.map((u) => fold((u.cols ?? '').split('\u0000')))]);
  const groups = new Map<string, typeof fks>();
  for (const fk of fks) groups.set(`${fk.child}\u0000${fk.id}`, [...(groups.get(`${fk.child}\u0000${fk.id}`) ?? []), fk]);
  const problems = new Set<string>();
  for (const group of groups.values()) {
    const to = group.some((fk) => fk.to === null) ? pk : group.map((fk) => fk.to ?? '');
    if (to.length === 0 || !keys.has(fold(to))) {
      problems.add(`foreign key ${q(group[0].child)}(${group.map((fk) => q(fk.from)).join(', ')}) -> ${q(table)}(${to.map(q).join(', ')})`);
    }
  }
  return problems;
}
