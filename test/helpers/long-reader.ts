/**
 * The "long reader" setting of the production suites: a table `orders` with two rows, a session that
 * has read it in a still-open transaction (PostgreSQL: ACCESS SHARE; MySQL: a shared metadata lock),
 * and a migration that alters it, so the migration's DDL must wait behind the reader.
 */
import type { Knex } from 'knex';
import type { Migration } from '../../lib/types';

export const alterOrders: Migration = {
  version: '1.0.0',
  description: 'add qty to orders',
  up: async (trx) => void (await trx.schema.alterTable('orders', (t) => t.integer('qty'))),
};

/** Runs `fn(app)` while a reader holds `orders`, for `holdMs` (then commits) or for all of `fn` (undefined). */
export async function withReader(db: Knex, open: () => Knex, holdMs: number | undefined, fn: (app: Knex) => Promise<void>): Promise<void> {
  await db.schema.createTable('orders', (t) => {
    t.increments('id');
    t.string('sku');
  });
  await db('orders').insert([{ sku: 'a' }, { sku: 'b' }]);
  const reader = open();
  const app = open();
  const readerTrx = await reader.transaction();
  await readerTrx('orders').select(); // holds its lock on orders until the transaction ends
  const ending = holdMs === undefined ? undefined : new Promise((resolve) => setTimeout(resolve, holdMs)).then(() => readerTrx.commit());
  try {
    await fn(app);
  } finally {
    await ending;
    if (!readerTrx.isCompleted()) await readerTrx.rollback();
    await reader.destroy();
    await app.destroy();
  }
}

/** Runs `query` every 50 ms until stopped; the slowest answer, in ms. */
export function appTraffic(db: Knex, query: (db: Knex) => Promise<unknown>): { stop: () => Promise<{ slowestMs: number; queries: number }> } {
  let running = true;
  let slowestMs = 0;
  let queries = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await query(db);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      queries++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { slowestMs: Math.round(slowestMs), queries };
    },
  };
}
