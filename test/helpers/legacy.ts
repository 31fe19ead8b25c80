import type { Knex } from 'knex';

/**
 * The pre-versioning app's createTables, as it shipped. Kept here on purpose, apart from the
 * baseline migration, so a drift between the two is caught by the schema-equality tests.
 */
export async function createLegacyDatabase(db: Knex, users = 40, postsPerUser = 3): Promise<void> {
  await db.raw(`CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`);
  await db.raw(`CREATE TABLE IF NOT EXISTS posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`);
  for (let u = 1; u <= users; u++) {
    await db('users').insert({
      username: `user${u}`,
      email: `user${u}@example.test`,
      password_hash: `hash-${u}-'quoted'`,
      created_at: `2020-01-${String((u % 28) + 1).padStart(2, '0')} 10:00:00`,
    });
  }
  const posts = [];
  for (let u = 1; u <= users; u++) {
    for (let p = 0; p < postsPerUser; p++) posts.push({ user_id: u, body: `post ${p} by user ${u} — ünïcode, "quotes"` });
  }
  await db.batchInsert('posts', posts, 200);
  // A deleted newest user: AUTOINCREMENT must never hand out its id again.
  await db('users').where({ id: users }).del();
}

/** Full schema of a SQLite database, order-independent and without root pages. */
export async function schemaOf(db: Knex): Promise<{ type: string; name: string; tbl_name: string; sql: string | null }[]> {
  return db.raw(`SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`);
}
