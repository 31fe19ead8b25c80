/**
 * 0.1.0 — the baseline: the schema the app's createTables made before versioning existed.
 * It creates only what is missing, so a fresh database and a legacy one follow the same path.
 * The app's create-tables fallback (app/database.ts) reuses `createBaselineTables`.
 */
import type { Knex } from 'knex';
import { isSqlite, type Migration } from '../lib';

/** The legacy app's exact SQLite DDL, so upgraded and fresh databases have identical schemas. */
export const LEGACY_SQLITE_DDL = [
  `CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`,
  `CREATE TABLE IF NOT EXISTS posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`,
];

/** Creates `users` and `posts` where they are missing (SQLite: the legacy DDL; elsewhere: its equivalent). */
export async function createBaselineTables(db: Knex | Knex.Transaction): Promise<void> {
  if (isSqlite(db)) {
    for (const sql of LEGACY_SQLITE_DDL) await db.raw(sql);
    return;
  }
  if (!(await db.schema.hasTable('users'))) {
    await db.schema.createTable('users', (t) => {
      t.increments('id');
      t.string('username', 255).notNullable().unique();
      t.string('email', 255).notNullable().unique();
      t.text('password_hash').notNullable();
      t.timestamp('created_at').defaultTo(db.fn.now());
    });
  }
  if (!(await db.schema.hasTable('posts'))) {
    await db.schema.createTable('posts', (t) => {
      t.increments('id');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
      t.text('body').notNullable();
      t.timestamp('created_at').defaultTo(db.fn.now());
    });
  }
}

const baseline: Migration = {
  version: '0.1.0',
  description: 'baseline: users and posts',
  up: (trx) => createBaselineTables(trx),
  // Undoing the baseline would drop the app's data, so it only removes tables that are empty.
  async down(trx) {
    for (const table of ['posts', 'users']) {
      const [{ n }] = (await trx(table).count({ n: '*' })) as { n: number | string }[];
      if (Number(n) > 0) {
        throw new Error(`refusing to drop ${table}: it holds ${n} row(s); the baseline is only undone on an empty database`);
      }
      await trx.schema.dropTable(table);
    }
  },
};

export default baseline;
