/** What the race parent and its children share: the protocol types and the migrations they race to apply. */
import type { Knex } from 'knex';
import type { Migration } from '../../lib/types';

export const LOADED = '@@loaded';

export interface RaceInput {
  readonly url: string;
  readonly migrations: number;
  readonly rowsPerMigration: number;
}

export interface RaceOutput {
  readonly pid: number;
  /** Epoch ms (sub-ms precision) when "go" arrived and when runMigrations returned. */
  readonly goAt: number;
  readonly readyAt: number;
  /** CPU time (user + system) this process used between "go" and ready, ms. */
  readonly cpuMs: number;
  /** SQL statements this process issued (knex's query event). */
  readonly statements: number;
  readonly applied: string[];
  readonly to: string;
}

export const raceVersion = (i: number): string => `1.${i}.0`;

export function raceMigrations(count: number, rows: number): Migration[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    return {
      version: raceVersion(i),
      description: `race table ${i}`,
      async up(trx: Knex.Transaction) {
        if (i === 1) {
          await trx.schema.createTable('migration_log', (t) => {
            t.increments('id');
            t.string('version', 32).notNullable();
            t.integer('pid').notNullable();
          });
        }
        await trx.schema.createTable(`race_${i}`, (t) => {
          t.increments('id');
          t.string('v', 64);
        });
        const data = Array.from({ length: rows }, (_, r) => ({ v: `${i}-${r}` }));
        await trx.batchInsert(`race_${i}`, data, 100);
        await trx('migration_log').insert({ version: raceVersion(i), pid: process.pid });
      },
    };
  });
}
