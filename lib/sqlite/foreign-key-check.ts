/**
 * SQLite's deferred foreign-key check. While migrations run, enforcement is off (see
 * dialects/sqlite.ts), so the runner runs PRAGMA foreign_key_check before committing instead.
 * Transactions the runner will check are remembered here, so rebuildTable inside them does not scan
 * the same (possibly million-row) child tables a second time.
 */
import type { Knex } from 'knex';
import { ForeignKeyViolationError } from '../errors';

const checkedByRunner = new WeakSet<Knex.Transaction>();

/** The runner will run foreign_key_check over the whole database before `trx` commits. */
export function markForeignKeysCheckedByRunner(trx: Knex.Transaction): void {
  checkedByRunner.add(trx);
}

export function foreignKeysCheckedByRunner(trx: Knex.Transaction): boolean {
  return checkedByRunner.has(trx);
}

/** Throws ForeignKeyViolationError when PRAGMA foreign_key_check reports any row. */
export async function assertNoForeignKeyViolations(db: Knex | Knex.Transaction, context: string): Promise<void> {
  const rows = (await db.raw('PRAGMA foreign_key_check')) as { table: string; rowid: number | null; parent: string }[];
  if (rows.length > 0) throw new ForeignKeyViolationError(rows, context);
}
