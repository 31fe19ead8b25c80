/**
 * The additive-only guard: semver meets schema. A minor or patch migration must not break code built
 * for the previous version, so it may not drop or rename a table or column, narrow a column's type,
 * or leave a column NOT NULL without a default. A major version may.
 *
 * `checkAdditive` (lib/check.ts) applies the pending migrations in a transaction that is rolled back,
 * snapshotting the schema before and after each; the runner's `enforceAdditive` option does the same
 * inside real runs and rolls a violating migration back.
 */
import type { Knex } from 'knex';
import { AdditiveViolationError } from '../errors';
export { AdditiveViolationError };
import type { SettingsOptions } from '../store/settings';
import { diffSnapshots, schemaSnapshot, type SnapshotDifference } from './snapshot';
import type { ColumnSnapshot, SchemaSnapshot } from './types';
import type { Migration, StepWrapper } from '../types';
import { compareVersions, majorOf } from '../version';

export type AdditiveRule = 'drop-table' | 'drop-column' | 'narrow-type' | 'not-null-without-default';

export interface AdditiveViolation {
  readonly version: string;
  readonly description: string;
  readonly rule: AdditiveRule;
  /** What changed, e.g. "users.columns.email.type: varchar(255) -> varchar(64)". */
  readonly change: string;
}

export interface AdditiveReport {
  readonly ok: boolean;
  /** The pending migrations that were checked, in order; `major` ones may break compatibility. */
  readonly checked: { readonly version: string; readonly major: boolean }[];
  readonly violations: AdditiveViolation[];
}

/**
 * A step wrapper that snapshots the schema before and after each migration body and hands the
 * violations of a minor or patch migration to `onViolations` (which may throw to roll it back).
 */
export function additiveGuard(
  sorted: readonly Migration[],
  options: SettingsOptions,
  onViolations: (violations: AdditiveViolation[], migration: Migration, major: boolean) => void,
): StepWrapper {
  return async (q, migration, body) => {
    const major = isMajorStep(migration, sorted);
    const violations = await compareAround(q, migration, body, options);
    onViolations(major ? [] : violations, migration, major);
  };
}

async function compareAround(
  q: Knex | Knex.Transaction,
  migration: Migration,
  body: () => Promise<void>,
  options: SettingsOptions,
): Promise<AdditiveViolation[]> {
  const before = await schemaSnapshot(q, { schema: options.schema });
  await body();
  const after = await schemaSnapshot(q, { schema: options.schema });
  return classify(diffSnapshots(before, after), before, after).map((v) => ({
    version: migration.version,
    description: migration.description,
    ...v,
  }));
}

/** A major step: its major differs from the registered version just below it (0.0.0 for the first). */
export function isMajorStep(migration: Migration, sorted: readonly Migration[]): boolean {
  const below = sorted.filter((m) => compareVersions(m.version, migration.version) < 0).at(-1)?.version ?? '0.0.0';
  return majorOf(migration.version) !== majorOf(below);
}

/** The differences between two snapshots that break code written for the first. */
export function classify(
  diffs: readonly SnapshotDifference[],
  before: SchemaSnapshot,
  after: SchemaSnapshot,
): { rule: AdditiveRule; change: string }[] {
  const out: { rule: AdditiveRule; change: string }[] = [];
  const column = (snapshot: SchemaSnapshot, table: string, name: string): ColumnSnapshot | undefined =>
    snapshot.tables.find((t) => t.name === table)?.columns.find((c) => c.name === name);
  for (const d of diffs) {
    const [table, part, name, field] = d.path.split('.');
    if (part === undefined) {
      if (d.kind === 'removed') out.push({ rule: 'drop-table', change: `table ${table}` });
      continue;
    }
    if (part !== 'columns') continue;
    if (field === undefined) {
      if (d.kind === 'removed') out.push({ rule: 'drop-column', change: `${table}.${name}` });
      const added = d.kind === 'added' ? column(after, table, name) : undefined;
      // A new NOT NULL column without a default on an existing table breaks the old code's INSERTs.
      if (added && before.tables.some((t) => t.name === table) && requiredWithoutDefault(added)) {
        out.push({ rule: 'not-null-without-default', change: `${table}.${name} added NOT NULL without a default` });
      }
      continue;
    }
    if (field === 'type' && !isWidening(String(d.expected), String(d.actual))) {
      out.push({ rule: 'narrow-type', change: `${table}.${name}.type: ${String(d.expected)} -> ${String(d.actual)}` });
    }
    if (field === 'nullable' && d.expected === true && d.actual === false) {
      const now = column(after, table, name);
      if (now && requiredWithoutDefault(now)) out.push({ rule: 'not-null-without-default', change: `${table}.${name} made NOT NULL without a default` });
    }
  }
  return out;
}

function requiredWithoutDefault(c: ColumnSnapshot): boolean {
  return !c.nullable && c.default === null && !c.autoIncrement && c.generated === null;
}

/** Integer, text and float families, narrowest first: moving right is widening. */
const FAMILIES: readonly (readonly string[])[] = [
  ['tinyint', 'smallint', 'mediumint', 'integer', 'bigint'],
  ['char', 'varchar', 'text', 'mediumtext', 'longtext'],
  ['real', 'float', 'double'],
];
const ALIASES: Record<string, string> = { int: 'integer', character: 'char', 'character varying': 'varchar', 'double precision': 'double' };

/** True when `to` accepts every value `from` does (a longer varchar, a bigger integer, text). */
export function isWidening(from: string, to: string): boolean {
  const parse = (t: string) => {
    const m = /^([a-z ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?(\s+unsigned)?$/.exec(t.trim().toLowerCase());
    return m ? { base: ALIASES[m[1]] ?? m[1], length: m[2] ? Number(m[2]) : undefined, unsigned: Boolean(m[4]) } : undefined;
  };
  const a = parse(from);
  const b = parse(to);
  if (!a || !b || a.unsigned !== b.unsigned) return false;
  if (a.base === b.base) return b.length === undefined || (a.length !== undefined && b.length >= a.length);
  for (const family of FAMILIES) {
    const i = family.indexOf(a.base);
    const j = family.indexOf(b.base);
    if (i >= 0 && j >= 0) return j > i;
  }
  return false;
}
