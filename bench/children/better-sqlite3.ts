/**
 * better-sqlite3 ships no type declarations (and @types/better-sqlite3 is not installed), so the
 * small part the benchmarks use is typed here, locally, instead of declaring the module globally.
 */
import { createRequire } from 'module';

export interface BetterSqliteStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}

export interface BetterSqliteDatabase {
  prepare(sql: string): BetterSqliteStatement;
  exec(sql: string): BetterSqliteDatabase;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  close(): void;
}

export type BetterSqliteConstructor = new (filename: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => BetterSqliteDatabase;

export const BetterSqlite = createRequire(__filename)('better-sqlite3') as BetterSqliteConstructor;
