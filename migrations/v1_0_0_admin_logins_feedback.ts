/**
 * 1.0.0 — the seed's sample migration: users.is_admin, user_logins (login IPs) and feedback.
 * On SQLite, is_admin goes in through rebuildTable (SQLite's ALTER cannot add every kind of column
 * and knex's own rebuild would cascade-delete posts inside the transaction).
 */
import { isSqlite, rebuildTable, type Migration } from '../lib';

const adminLoginsFeedback: Migration = {
  version: '1.0.0',
  description: 'users.is_admin, user_logins and feedback',

  async up(trx) {
    if (isSqlite(trx)) {
      await rebuildTable(trx, 'users', { addColumns: { is_admin: 'BOOLEAN NOT NULL DEFAULT 0' } });
    } else {
      await trx.schema.alterTable('users', (t) => {
        t.boolean('is_admin').notNullable().defaultTo(false);
      });
    }

    await trx.schema.createTable('user_logins', (t) => {
      t.increments('id');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
      t.string('ip_address', 45).notNullable();
      t.text('user_agent');
      t.timestamp('created_at').defaultTo(trx.fn.now());
      t.index(['user_id'], 'user_logins_user_id_index');
    });

    await trx.schema.createTable('feedback', (t) => {
      t.increments('id');
      t.integer('user_id').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL');
      t.string('kind', 16).notNullable().defaultTo('feedback');
      t.text('message').notNullable();
      t.timestamp('created_at').defaultTo(trx.fn.now());
      // A table-level CHECK: MariaDB rejects a named CHECK on the column itself.
      t.check("?? in ('feedback', 'bug')", ['kind'], 'feedback_kind_check');
    });
  },

  // Keeps every user and post: only the new tables and the new column go.
  async down(trx) {
    await trx.schema.dropTable('feedback');
    await trx.schema.dropTable('user_logins');
    if (isSqlite(trx)) {
      await rebuildTable(trx, 'users', { dropColumns: ['is_admin'] });
    } else {
      await trx.schema.alterTable('users', (t) => {
        t.dropColumn('is_admin');
      });
    }
  },
};

export default adminLoginsFeedback;
