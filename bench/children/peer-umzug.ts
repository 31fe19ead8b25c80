/**
 * Umzug as a peer: an in-memory migration list, `context: () => knex` (Umzug calls a function context,
 * and a knex instance is itself a function), and a custom storage in the same database — a table
 * `umzug_migrations` (name PRIMARY KEY) with one INSERT per applied migration, the way its Sequelize
 * storage works, through the same knex instance. Umzug has no transactions: every statement commits
 * on its own (its documented behaviour; wrapping is left to the user).
 */
import type { Knex } from 'knex';
import { Umzug, type RunnableMigration, type UmzugStorage } from 'umzug';
import { createTable, nameOf, tableName } from './migrations';


export const UMZUG_TABLE = 'umzug_migrations';

/** Umzug storage in a table of the same database, through the same knex instance. */
export function knexUmzugStorage(db: Knex): UmzugStorage<Knex> {
  let ensured = false;
  const ensure = async () => {
    if (ensured) return;
    if (!(await db.schema.hasTable(UMZUG_TABLE))) {
      await db.schema.createTable(UMZUG_TABLE, (t) => {
        t.string('name', 255).primary();
      });
    }
    ensured = true;
  };
  return {
    async logMigration({ name }) {
      await ensure();
      await db(UMZUG_TABLE).insert({ name });
    },
    async unlogMigration({ name }) {
      await ensure();
      await db(UMZUG_TABLE).where({ name }).del();
    },
    async executed() {
      await ensure();
      return (await db(UMZUG_TABLE).orderBy('name').pluck('name')) as string[];
    },
  };
}

export function umzugFor(db: Knex, n: number): Umzug<Knex> {
  const migrations: RunnableMigration<Knex>[] = Array.from({ length: n }, (_, k) => ({
    name: nameOf(k + 1),
    up: async ({ context }) => createTable(context, k + 1),
    down: async ({ context }) => context.schema.dropTable(tableName(k + 1)),
  }));
  return new Umzug<Knex>({ migrations, context: () => db, storage: knexUmzugStorage(db), logger: undefined });
}

