/**
 * Detects whether anything was written to a SQLite file between two points: its size and mtime, and
 * `PRAGMA data_version` on a connection the parent keeps open (it changes when any other connection
 * commits a change to the file).
 */
import fs from 'fs';
import { BetterSqlite, type BetterSqliteDatabase } from '../children/better-sqlite3';

export interface FileState {
  readonly size: number;
  readonly mtimeMs: number;
  readonly dataVersion: number;
}

export class WriteWatch {
  private readonly db: BetterSqliteDatabase;

  constructor(readonly file: string) {
    this.db = new BetterSqlite(file, { fileMustExist: true });
  }

  state(): FileState {
    const st = fs.statSync(this.file);
    return { size: st.size, mtimeMs: st.mtimeMs, dataVersion: Number(this.db.pragma('data_version', { simple: true })) };
  }

  /** A description of what changed, or undefined when nothing did. */
  static changed(before: FileState, after: FileState): string | undefined {
    const what: string[] = [];
    if (before.dataVersion !== after.dataVersion) what.push('data_version');
    if (before.size !== after.size) what.push(`size ${before.size}→${after.size}`);
    if (before.mtimeMs !== after.mtimeMs) what.push('mtime');
    return what.length > 0 ? what.join(', ') : undefined;
  }

  close(): void {
    this.db.close();
  }
}
