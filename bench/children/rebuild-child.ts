/**
 * One table rebuild of `users` (parent of `posts`, ON DELETE CASCADE) on a copy of the fixture, by one
 * contender; reports the time (from opening the database to the end of the rebuild), the peak RSS
 * of the process, and what is left afterwards (rows, child rows, foreign-key violations, indexes, the
 * altered column's type). The change is the same for everyone: users.display_name varchar(100) → varchar(200).
 * Payload: { contender, file }.
 */
import { emit, input, main, peakRssKiB } from './protocol';

export type RebuildContender = 'baseline' | 'ours' | 'ours-runner' | 'knex-trx' | 'knex' | 'floor';

export interface RebuildInput {
  readonly contender: RebuildContender;
  readonly file: string;
}

export interface RebuildOutput {
  readonly ms: number;
  readonly peakRssKiB: number;
  readonly users: number;
  readonly posts: number;
  readonly fkViolations: number;
  readonly usersIndexes: number;
  readonly displayNameType: string;
}

/** The new definition of the altered column, as each contender spells it. */
export const NEW_DISPLAY_NAME = 'varchar(200)';

async function rebuild(p: RebuildInput): Promise<number> {
  if (p.contender === 'floor') {
    const { openRawSqlite } = await import('./raw-sqlite');
    const t0 = performance.now();
    const db = await openRawSqlite(p.file);
    // SQLite's 12 steps (lang_altertable.html#otheralter), for this one table.
    await db.run('PRAGMA foreign_keys = OFF');
    await db.run('BEGIN');
    const schema = await db.all<{ type: string; sql: string }>("SELECT type, sql FROM sqlite_master WHERE tbl_name = 'users' AND sql IS NOT NULL");
    const create = schema.find((r) => r.type === 'table')?.sql ?? '';
    const newCreate = create.replace(/^CREATE TABLE\s+`users`/i, 'CREATE TABLE `users_new`').replace('`display_name` varchar(100)', `\`display_name\` ${NEW_DISPLAY_NAME}`);
    if (newCreate === create || !newCreate.includes(NEW_DISPLAY_NAME)) throw new Error(`floor: unexpected users DDL ${create}`);
    await db.run(newCreate);
    await db.run('INSERT INTO users_new SELECT * FROM users');
    await db.run('DROP TABLE users');
    await db.run('ALTER TABLE users_new RENAME TO users');
    for (const r of schema.filter((s) => s.type !== 'table')) await db.run(r.sql);
    const violations = await db.all('PRAGMA foreign_key_check');
    if (violations.length > 0) throw new Error('floor: foreign key violations');
    await db.run('COMMIT');
    await db.run('PRAGMA foreign_keys = ON');
    const ms = performance.now() - t0;
    await db.close();
    return ms;
  }

  const [{ default: knexFactory }, { withSqliteDefaults }] = await Promise.all([import('knex'), import('../../lib/sqlite/connection')]);
  const t0 = performance.now();
  const db = knexFactory(withSqliteDefaults({ client: 'sqlite3', connection: { filename: p.file } }));
  try {
    switch (p.contender) {
      case 'baseline':
        await db.raw('SELECT 1');
        break;
      case 'ours': {
        const { rebuildTable } = await import('../../lib/sqlite/rebuild');
        await rebuildTable(db, 'users', { alterColumns: { display_name: NEW_DISPLAY_NAME } });
        break;
      }
      case 'ours-runner': {
        const [{ rebuildTable }, { runMigrations }, { silentLogger }] = await Promise.all([
          import('../../lib/sqlite/rebuild'),
          import('../../lib/functions'),
          import('../../lib/logger'),
        ]);
        const report = await runMigrations(
          db,
          [
            {
              version: '1.1.0',
              description: 'widen users.display_name',
              up: async (trx) => {
                await rebuildTable(trx, 'users', { alterColumns: { display_name: NEW_DISPLAY_NAME } });
              },
            },
          ],
          { logger: silentLogger },
        );
        if (report.applied.length !== 1) throw new Error(`ours-runner applied ${report.applied.length} migrations`);
        break;
      }
      case 'knex-trx':
        // As a migration would: inside a transaction, on a connection with foreign keys ON.
        await db.transaction((trx) => trx.schema.alterTable('users', (t) => t.string('display_name', 200).alter()));
        break;
      case 'knex':
        await db.schema.alterTable('users', (t) => t.string('display_name', 200).alter());
        break;
    }
    return performance.now() - t0;
  } finally {
    await db.destroy();
  }
}

main(module, async () => {
  const p = input<RebuildInput>();
  const ms = await rebuild(p);
  const rss = peakRssKiB();
  // Checks, after the peak RSS was read (they are not part of anyone's cost).
  const { BetterSqlite } = await import('./better-sqlite3');
  const db = new BetterSqlite(p.file, { readonly: true });
  const one = <T>(sql: string) => db.prepare(sql).get() as T;
  const out: RebuildOutput = {
    ms,
    peakRssKiB: rss,
    users: one<{ n: number }>('SELECT count(*) AS n FROM users').n,
    posts: one<{ n: number }>('SELECT count(*) AS n FROM posts').n,
    fkViolations: db.prepare('PRAGMA foreign_key_check').all().length,
    usersIndexes: one<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL").n,
    displayNameType: one<{ type: string }>("SELECT type FROM pragma_table_info('users') WHERE name = 'display_name'").type,
  };
  db.close();
  emit(out);
});
