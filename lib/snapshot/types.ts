/**
 * The shape of a schema snapshot. Plain JSON (no undefined, no Dates, no bigints) so a snapshot written with
 * JSON.stringify reads back deep-equal to a freshly taken one. Absent values are `null`, never missing keys.
 */
import type { Knex } from 'knex';
import type { EngineName } from '../dialects/types';

export type Db = Knex | Knex.Transaction;
export type Engine = EngineName;

export interface SnapshotOptions {
  /** PostgreSQL: the schema to describe. Default: current_schema(). Ignored elsewhere. */
  readonly schema?: string;
  /** Tables to leave out. Default: BOOKKEEPING_TABLES (the migration machinery's own tables). */
  readonly exclude?: readonly string[];
}

export interface ColumnSnapshot {
  readonly name: string;
  /** The engine's type, lowercased, in one canonical spelling ("varchar(255)", "integer", "int unsigned"). */
  readonly type: string;
  readonly nullable: boolean;
  /** The default as canonical SQL text ("'feedback'", "0", "current_timestamp"), or null for none. */
  readonly default: string | null;
  /** SQLite AUTOINCREMENT, PostgreSQL serial/identity, MySQL auto_increment. */
  readonly autoIncrement: boolean;
  /** A generated column: "stored (expr)" or "virtual (expr)"; null for an ordinary column. */
  readonly generated: string | null;
}

export interface IndexSnapshot {
  readonly name: string;
  /** Column names or expressions in key order; " desc" (and a non-default NULLS order) appended where set. */
  readonly columns: readonly string[];
  readonly unique: boolean;
  /** A partial index's predicate, or null. */
  readonly where: string | null;
}

export interface UniqueSnapshot {
  /** The constraint's name; null on SQLite, which does not expose one. */
  readonly name: string | null;
  readonly columns: readonly string[];
}

/** Referential actions, spelled the SQL way. */
export type ReferentialAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';

export interface ForeignKeySnapshot {
  /** The constraint's name; null on SQLite, which does not expose one. */
  readonly name: string | null;
  readonly columns: readonly string[];
  /** The parent table; schema-qualified only when it lives outside the described schema. */
  readonly referencedTable: string;
  readonly referencedColumns: readonly string[];
  readonly onUpdate: ReferentialAction;
  readonly onDelete: ReferentialAction;
}

export interface CheckSnapshot {
  /** The constraint's name, or null where it has none (an unnamed SQLite CHECK). */
  readonly name: string | null;
  /** The condition as canonical SQL text, outer parentheses removed. */
  readonly expression: string;
}

export interface TableSnapshot {
  readonly name: string;
  /** Sorted by name: column order is not part of the contract, and sorting keeps deepEqual and diff in step. */
  readonly columns: readonly ColumnSnapshot[];
  /** Primary-key columns in key order; empty when the table has none. */
  readonly primaryKey: readonly string[];
  /** Indexes that back no PRIMARY KEY or UNIQUE constraint, sorted by name. */
  readonly indexes: readonly IndexSnapshot[];
  /** UNIQUE constraints (MySQL: every unique index, the two being the same thing there), sorted by columns. */
  readonly uniques: readonly UniqueSnapshot[];
  /** Sorted by columns, then parent. */
  readonly foreignKeys: readonly ForeignKeySnapshot[];
  /** Sorted by name, then expression. */
  readonly checks: readonly CheckSnapshot[];
}

export interface SchemaSnapshot {
  readonly dialect: Engine;
  /** Sorted by name. */
  readonly tables: TableSnapshot[];
}
