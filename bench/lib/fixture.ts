/**
 * The rebuild fixture: `users` (autoincrement id, email with a unique index, username and created_at
 * with plain indexes, display_name varchar(100)) and `posts` (one per user, user_id REFERENCES users
 * ON DELETE CASCADE, indexed), created with knex's schema builder (so knex's own alter parses its own
 * DDL), filled inside SQLite with recursive CTEs, plus system_settings at db_version 1.0.0 for the
 * runner variant. Built once per size per benchmark run, then copied for every repetition.
 */
import fs from 'fs';
import knexFactory from 'knex';
import { initializeVersionTracking, updateDatabaseVersion } from '../../lib/store/settings';

export async function buildRebuildFixture(file: string, rows: number): Promise<void> {
  const db = knexFactory({ client: 'sqlite3', connection: { filename: file }, useNullAsDefault: true });
  try {
    await db.raw('PRAGMA foreign_keys = ON');
    await db.raw('PRAGMA synchronous = OFF'); // building only; the copies are used with the defaults
    await db.schema.createTable('users', (t) => {
      t.increments('id');
      t.string('email').notNullable();
      t.string('username').notNullable();
      t.string('display_name', 100);
      t.timestamp('created_at').notNullable().defaultTo(db.fn.now());
    });
    await db.schema.createTable('posts', (t) => {
      t.increments('id');
      t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
      t.text('body').notNullable();
    });
    await db.transaction(async (trx) => {
      await trx.raw(
        `WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
         INSERT INTO users (id, email, username, display_name, created_at)
         SELECT x, 'user' || x || '@example.test', 'user' || x, 'User number ' || x, datetime('2020-01-01', '+' || x || ' seconds') FROM seq`,
        [rows],
      );
      await trx.raw(`INSERT INTO posts (user_id, body) SELECT id, 'first post by ' || username || ', with some text to make the row realistic' FROM users`);
    });
    // Indexes after the bulk load (faster to build); the names knex would give them.
    await db.schema.alterTable('users', (t) => {
      t.unique(['email']);
      t.index(['username']);
      t.index(['created_at']);
    });
    await db.schema.alterTable('posts', (t) => t.index(['user_id']));
    await initializeVersionTracking(db);
    await updateDatabaseVersion(db, '1.0.0');
    await db.raw('ANALYZE');
  } finally {
    await db.destroy();
  }
}

/** Copies the template and flushes the copy, so no contender pays for the copy's dirty pages at its first fsync. */
export function copyFlushed(from: string, to: string): void {
  fs.copyFileSync(from, to);
  const fd = fs.openSync(to, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
