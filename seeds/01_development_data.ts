/**
 * Development data: an admin, a few ordinary users, their posts, logins and feedback.
 * Needs schema 1.0.0 (run it through `scripts/migrate.ts seed`, which migrates first).
 * Idempotent: users are matched by username, every other row by its full content, and only
 * what is missing is inserted, so re-running never duplicates anything.
 */
import type { Knex } from 'knex';

/** Not a real hash: no seeded account can be logged into. */
const FAKE_PASSWORD_HASH = 'seed-not-a-real-hash';

const USERS = [
  { username: 'admin', email: 'admin@example.com', is_admin: true },
  { username: 'alice', email: 'alice@example.com', is_admin: false },
  { username: 'bob', email: 'bob@example.com', is_admin: false },
  { username: 'carol', email: 'carol@example.com', is_admin: false },
];

const POSTS = [
  { username: 'admin', body: 'Welcome! This is a development database full of sample data.' },
  { username: 'alice', body: 'Hello world, my first post.' },
  { username: 'alice', body: 'Does anyone know a good book on SQL?' },
  { username: 'bob', body: 'Testing, testing, one two three.' },
];

// Addresses from the documentation ranges (RFC 5737, RFC 3849).
const LOGINS = [
  { username: 'admin', ip_address: '2001:db8::1', user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' },
  { username: 'alice', ip_address: '192.0.2.10', user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' },
];

const FEEDBACK = [
  { username: 'alice', kind: 'feedback', message: 'Love the new timeline, much faster.' },
  { username: 'bob', kind: 'bug', message: 'Posting an empty message shows a blank error page.' },
];

export async function seed(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx('users')
      .insert(USERS.map((u) => ({ ...u, password_hash: FAKE_PASSWORD_HASH })))
      .onConflict('username')
      .ignore();

    const rows = (await trx('users').whereIn('username', USERS.map((u) => u.username)).select('id', 'username')) as {
      id: number;
      username: string;
    }[];
    const idOf = new Map(rows.map((r) => [r.username, r.id]));
    const withUserId = <T extends { username: string }>({ username, ...rest }: T) => {
      const userId = idOf.get(username);
      if (userId === undefined) throw new Error(`seed: user "${username}" is missing`);
      return { user_id: userId, ...rest };
    };

    await insertMissing(trx, 'posts', POSTS.map(withUserId));
    await insertMissing(trx, 'user_logins', LOGINS.map(withUserId));
    await insertMissing(trx, 'feedback', FEEDBACK.map(withUserId));
  });
}

/** Inserts each row unless a row with exactly these column values already exists. */
async function insertMissing(trx: Knex.Transaction, table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (const row of rows) {
    const existing: unknown = await trx(table).where(row).first('id');
    if (existing === undefined) await trx(table).insert(row);
  }
}
