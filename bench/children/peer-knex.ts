/**
 * knex's migrator as a peer: `knex.migrate.latest({ directory, loadExtensions: ['.js'] })` over a
 * directory of generated plain .js files, defaults otherwise (one transaction for the whole batch; its
 * knex_migrations and knex_migrations_lock tables). Variant: the same list through an in-memory
 * `migrationSource`, which separates the cost of loading N files from the migrator's own.
 * (Each peer is its own module so that a boot child loads only its contender's code.)
 */
import type { Knex } from 'knex';
import { createTable, nameOf, tableName } from './migrations';


/** knex's migrator config for a directory of generated .js files. */
export function knexDirectoryConfig(directory: string): Knex.MigratorConfig {
  return { directory, loadExtensions: ['.js'] };
}

interface SourceMigration {
  readonly name: string;
  readonly i: number;
}

/** knex's migrator with the same list in memory (no files). */
export function knexMemoryConfig(n: number): Knex.MigratorConfig {
  const list: SourceMigration[] = Array.from({ length: n }, (_, k) => ({ name: nameOf(k + 1), i: k + 1 }));
  const source: Knex.MigrationSource<SourceMigration> = {
    getMigrations: async () => list,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({
      up: (knex: Knex) => createTable(knex, m.i),
      down: (knex: Knex) => knex.schema.dropTable(tableName(m.i)),
    }),
  };
  return { migrationSource: source };
}

