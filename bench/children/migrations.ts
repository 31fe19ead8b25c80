/**
 * The migrations the apply and boot scenarios run: migration i (1-based) creates one small table
 * `t_<i>` (an autoincrement id and a varchar note). Every contender issues the same DDL: through
 * knex's schema builder (ours, knex's migrator, Umzug), Kysely's schema builder (the same statement
 * apart from quoting), or this exact text (the floors).
 */
import type { Knex } from 'knex';
import type { Migration } from '../../lib/types';

export const tableName = (i: number): string => `t_${i}`;

/** Our semver version of migration i: 1.<i>.0 (semver orders the minor numerically). */
export const versionOf = (i: number): string => `1.${i}.0`;

/** Zero-padded name for file-name- or name-ordered migrators (knex, Kysely, Umzug). */
export const nameOf = (i: number): string => `${String(i).padStart(5, '0')}_create_${tableName(i)}`;

/** The statement knex's schema builder generates for the table on SQLite. */
export const tableDdl = (i: number): string =>
  `create table \`${tableName(i)}\` (\`id\` integer not null primary key autoincrement, \`note\` varchar(255))`;

export function createTable(db: Knex | Knex.Transaction, i: number): Knex.SchemaBuilder {
  return db.schema.createTable(tableName(i), (t) => {
    t.increments('id');
    t.string('note');
  });
}

/** This project's migration list for N tables, in memory. */
export function ourMigrations(n: number): Migration[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + 1;
    return {
      version: versionOf(i),
      description: `create ${tableName(i)}`,
      async up(trx: Knex.Transaction) {
        await createTable(trx, i);
      },
    };
  });
}

/** Source of a knex migration file (plain CommonJS, no imports). */
export function knexMigrationFile(i: number): string {
  return [
    `exports.up = (knex) => knex.schema.createTable('${tableName(i)}', (t) => { t.increments('id'); t.string('note'); });`,
    `exports.down = (knex) => knex.schema.dropTable('${tableName(i)}');`,
    '',
  ].join('\n');
}

/** Source of one of our migrations as a compiled module, as an app with N migration files loads them. */
export function ourMigrationModule(i: number): string {
  return [
    `exports.migration = {`,
    `  version: '${versionOf(i)}',`,
    `  description: 'create ${tableName(i)}',`,
    `  async up(trx) { await trx.schema.createTable('${tableName(i)}', (t) => { t.increments('id'); t.string('note'); }); },`,
    `};`,
    '',
  ].join('\n');
}
