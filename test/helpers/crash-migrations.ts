/**
 * Slow migrations for the PostgreSQL crash test: the app's list plus 1.1.0 and 1.2.0, which do real
 * DDL and data work in many short statements with pauses between them, so a SIGKILL lands in the
 * middle of a migration. `mark` is called at each point (the crash child prints it; it may freeze
 * there so that the kill lands exactly at that point).
 */
import type { Knex } from 'knex';
import type { Migration } from '../../lib/types';
import { appMigrations } from './app';

export const SLOW_BATCHES = 8;

async function pause(trx: Knex.Transaction, seconds: number): Promise<void> {
  await trx.raw('SELECT pg_sleep(?)', [seconds]);
}

export function slowMigrations(mark: (text: string) => void = () => undefined): Migration[] {
  const auditLog: Migration = {
    version: '1.1.0',
    description: 'audit_log filled from users, users.last_seen',
    async up(trx) {
      mark('MARK 1.1.0 begin');
      await trx.schema.createTable('audit_log', (t) => {
        t.increments('id');
        t.integer('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
        t.string('action', 32).notNullable();
      });
      mark('MARK 1.1.0 table');
      for (let k = 0; k < SLOW_BATCHES; k++) {
        await trx.raw(`INSERT INTO audit_log (user_id, action) SELECT id, 'import' FROM users WHERE id % ${SLOW_BATCHES} = ?`, [k]);
        await pause(trx, 0.02);
        mark(`MARK 1.1.0 batch ${k}`);
      }
      await trx.schema.alterTable('users', (t) => t.timestamp('last_seen').nullable());
      await trx('users').update({ last_seen: '2024-01-01 00:00:00' });
      mark('MARK 1.1.0 end');
    },
  };
  const tags: Migration = {
    version: '1.2.0',
    description: 'tags, posts.tag_id',
    async up(trx) {
      mark('MARK 1.2.0 begin');
      await trx.schema.createTable('tags', (t) => {
        t.increments('id');
        t.string('name', 32).notNullable().unique();
      });
      await trx('tags').insert(Array.from({ length: SLOW_BATCHES }, (_, k) => ({ name: `tag${k}` })));
      await trx.schema.alterTable('posts', (t) => t.integer('tag_id').nullable().references('id').inTable('tags'));
      mark('MARK 1.2.0 column');
      for (let k = 0; k < SLOW_BATCHES; k++) {
        await trx.raw(`UPDATE posts SET tag_id = (SELECT id FROM tags WHERE name = ?) WHERE id % ${SLOW_BATCHES} = ?`, [`tag${k}`, k]);
        await pause(trx, 0.02);
        mark(`MARK 1.2.0 batch ${k}`);
      }
      await trx.schema.alterTable('posts', (t) => t.index(['tag_id'], 'posts_tag_id_index'));
      mark('MARK 1.2.0 end');
    },
  };
  return [...appMigrations, auditLog, tags];
}
