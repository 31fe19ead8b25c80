/**
 * The SQLite crash test's fixture: a legacy database (the pre-versioning app's exact DDL, from
 * legacy.ts) holding many users and posts, created in a few statements (INSERT … SELECT from a
 * recursive CTE), and the facts every crashed copy must still show: row counts, a checksum of every
 * user's and post's content, and the AUTOINCREMENT counters.
 */
import { createHash } from 'crypto';
import type { Knex } from 'knex';
import { fileDb } from './db';
import { createLegacyDatabase, schemaOf } from './legacy';

export interface DataFacts {
  readonly users: number;
  readonly posts: number;
  /** md5 of every user's legacy columns (id, username, email, password_hash, created_at), in id order. */
  readonly usersChecksum: string;
  /** md5 of every post (id, user_id, body, created_at), in id order. */
  readonly postsChecksum: string;
  /** sqlite_sequence for users and posts: ids are never handed out twice. */
  readonly sequences: { name: string; seq: number }[];
}

export interface LegacyFixture {
  readonly data: DataFacts;
  /** sqlite_master of the legacy database. */
  readonly schema: Awaited<ReturnType<typeof schemaOf>>;
}

/** Builds the fixture in `file` (which must not exist) with `users` users and one post each. */
export async function createLargeLegacyFixture(file: string, users: number): Promise<LegacyFixture> {
  const db = fileDb(file);
  try {
    await createLegacyDatabase(db, 0, 0); // the legacy DDL, no rows
    await db.raw(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO users (id, username, email, password_hash, created_at)
       SELECT i,
              CASE WHEN i % 997 = 0 THEN 'ünï ''q'' "dq" ' || i ELSE 'user' || i END,
              'user' || i || '@example.test',
              printf('$2b$10$%053d', i * 7919),
              CASE WHEN i % 5 = 0 THEN NULL ELSE datetime('2020-01-01', '+' || i || ' minutes') END
         FROM n`,
      [users],
    );
    await db.raw(
      `INSERT INTO posts (user_id, body, created_at)
       SELECT id, 'post by ' || id || ' — ünïcode, "quotes", ''apostrophes''', datetime('2021-01-01', '+' || id || ' seconds')
         FROM users ORDER BY id`,
    );
    // The newest user is deleted (its post with it): AUTOINCREMENT must never hand out its id again.
    await db('users').where({ id: users }).del();
    return { data: await dataFacts(db), schema: await schemaOf(db) };
  } finally {
    await db.destroy();
  }
}

export async function dataFacts(db: Knex): Promise<DataFacts> {
  const digest = async (table: string, columns: string[]) => {
    // Concatenated inside SQLite, hashed here; char(21) stands for NULL, char(31)/char(30) separate fields/rows.
    const row = columns.map((c) => `ifnull(${c}, char(21))`).join(' || char(31) || ');
    const [{ n, text }] = (await db.raw(`SELECT count(*) AS n, ifnull(group_concat(${row}, char(30) ORDER BY id), '') AS text FROM ${table}`)) as {
      n: number;
      text: string;
    }[];
    return { n, checksum: createHash('md5').update(text).digest('hex') };
  };
  const users = await digest('users', ['id', 'username', 'email', 'password_hash', 'created_at']);
  const posts = await digest('posts', ['id', 'user_id', 'body', 'created_at']);
  const sequences = (await db.raw(`SELECT name, seq FROM sqlite_sequence WHERE name IN ('users', 'posts') ORDER BY name`)) as {
    name: string;
    seq: number;
  }[];
  return { users: users.n, posts: posts.n, usersChecksum: users.checksum, postsChecksum: posts.checksum, sequences };
}
