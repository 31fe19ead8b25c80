import type { Knex } from 'knex';

/** Rows of a raw SQLite query (the sqlite drivers return them as an array). */
export async function query<T>(db: Knex | Knex.Transaction, sql: string, bindings?: Knex.RawBinding[]): Promise<T[]> {
  // No bindings argument for SQL that may hold caller text, so knex never rewrites a '?' inside it.
  return (await (bindings ? db.raw(sql, bindings) : db.raw(sql))) as T[];
}

/** A row of sqlite_master (`sql` is NULL for automatic indexes). */
export interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}
