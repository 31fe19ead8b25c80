/** node-sqlite3 (the driver under knex), used directly, without a query builder: the floors. */
import sqlite3 from 'sqlite3';


export interface RawSqlite {
  run(sql: string, params?: unknown[]): Promise<void>;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
  /** Statements issued so far. */
  readonly count: number;
}

export function openRawSqlite(file: string): Promise<RawSqlite> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) {
        reject(err);
        return;
      }
      let count = 0;
      resolve({
        run: (sql, params = []) =>
          new Promise<void>((res, rej) => {
            count++;
            db.run(sql, params, (e: Error | null) => (e ? rej(e) : res()));
          }),
        all: <T>(sql: string, params: unknown[] = []) =>
          new Promise<T[]>((res, rej) => {
            count++;
            db.all(sql, params, (e: Error | null, rows: T[]) => (e ? rej(e) : res(rows)));
          }),
        close: () => new Promise<void>((res, rej) => db.close((e) => (e ? rej(e) : res()))),
        get count() {
          return count;
        },
      });
    });
  });
}

/** The connection settings withSqliteDefaults() gives every knex connection, for the raw driver. */
export async function rawSqliteDefaults(db: RawSqlite): Promise<void> {
  await db.run('PRAGMA foreign_keys = ON');
  await db.run('PRAGMA busy_timeout = 5000');
}
