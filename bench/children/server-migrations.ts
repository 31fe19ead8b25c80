/**
 * The migrations the apply-server scenario runs on PostgreSQL and MariaDB/MySQL: migration i (1-based)
 * creates the small table `t_<i>` of the SQLite apply scenario (an autoincrement id and a varchar
 * note) and inserts one row into it, so that the work is not DDL only. Every contender sends the same
 * two statements per migration: through knex's schema and query builders (ours, knex's migrator) or
 * as the exact text those builders generate (the floor, on the raw driver).
 */
import type { Knex } from 'knex';
import type { Migration } from '../../lib/types';
import { createTable, tableName, versionOf } from './migrations';

export type ServerEngineKind = 'postgres' | 'mysql';

export const noteOf = (i: number): string => `row ${i}`;

/** Migration i's body, through knex (a transaction for knex's migrator and ours; the instance when ours runs outside one). */
export async function serverUp(db: Knex | Knex.Transaction, i: number): Promise<void> {
  await createTable(db, i);
  await db(tableName(i)).insert({ note: noteOf(i) });
}

/** This project's list for N migrations, in memory. */
export function ourServerMigrations(n: number): Migration[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + 1;
    return {
      version: versionOf(i),
      description: `create ${tableName(i)} with a row`,
      async up(trx: Knex.Transaction) {
        await serverUp(trx, i);
      },
    };
  });
}

/** Source of knex's migration file i (plain CommonJS, no imports): the same two statements. */
export function knexServerMigrationFile(i: number): string {
  return [
    `exports.up = async (knex) => {`,
    `  await knex.schema.createTable('${tableName(i)}', (t) => { t.increments('id'); t.string('note'); });`,
    `  await knex('${tableName(i)}').insert({ note: '${noteOf(i)}' });`,
    `};`,
    `exports.down = (knex) => knex.schema.dropTable('${tableName(i)}');`,
    '',
  ].join('\n');
}

/** The statements knex's builders generate for migration i, as the floor sends them (placeholders of the driver). */
export function floorStatements(engine: ServerEngineKind, i: number): { ddl: string; insert: string } {
  const t = tableName(i);
  return engine === 'postgres'
    ? { ddl: `create table "${t}" ("id" serial primary key, "note" varchar(255))`, insert: `insert into "${t}" ("note") values ($1)` }
    : {
        ddl: `create table \`${t}\` (\`id\` int unsigned not null auto_increment primary key, \`note\` varchar(255))`,
        insert: `insert into \`${t}\` (\`note\`) values (?)`,
      };
}

/** The floor's version table, created at its start, and its one-row update. */
export function floorSettings(engine: ServerEngineKind): { create: string; seed: string; update: string } {
  return engine === 'postgres'
    ? {
        create: `create table "system_settings" ("key" varchar(255) not null primary key, "value" text not null)`,
        seed: `insert into "system_settings" ("key", "value") values ('db_version', '0.0.0')`,
        update: `update "system_settings" set "value" = $1 where "key" = 'db_version'`,
      }
    : {
        create: 'create table `system_settings` (`key` varchar(255) not null primary key, `value` text not null)',
        seed: "insert into `system_settings` (`key`, `value`) values ('db_version', '0.0.0')",
        update: "update `system_settings` set `value` = ? where `key` = 'db_version'",
      };
}
