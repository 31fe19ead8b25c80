/**
 * The knexfile's `migrations` settings that matter once knex's migrator is replaced: how knex loads
 * its files (extensions, transactions) and where it kept its history (table, schema).
 */
import type { Knex } from 'knex';
import type { KnexTableOptions } from '../store/knex-adoption';
import type { KnexMigrationsOptions } from './knex-migrations';

export function knexSettingsOf(config: Knex.Config | undefined): { knexMigrations: KnexMigrationsOptions; knexTable: KnexTableOptions } {
  const m = config?.migrations ?? {};
  return {
    knexMigrations: {
      ...(m.loadExtensions !== undefined && { loadExtensions: m.loadExtensions }),
      ...(m.disableTransactions !== undefined && { disableTransactions: m.disableTransactions }),
    },
    knexTable: {
      ...(m.tableName !== undefined && { tableName: m.tableName }),
      ...(m.schemaName !== undefined && { schemaName: m.schemaName }),
    },
  };
}
