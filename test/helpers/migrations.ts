import type { Knex } from 'knex';
import type { Logger, Migration } from '../../lib/types';

/** A logger that records lines, for asserting what the runner reported. */
export function recordingLogger(): Logger & { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  return { lines, warnings, info: (m) => lines.push(m), warn: (m) => warnings.push(m) };
}

/**
 * Test migrations that each create a table `t_<major>_<minor>_<patch>` holding one row, and record
 * in `ran` the order in which their `up` ran.
 */
export function tableMigrations(versions: string[], ran: string[] = []): Migration[] {
  return versions.map((version) => ({
    version,
    description: `create ${tableFor(version)}`,
    async up(trx: Knex.Transaction) {
      ran.push(version);
      await trx.schema.createTable(tableFor(version), (t) => {
        t.increments('id');
        t.string('note');
      });
      await trx(tableFor(version)).insert({ note: version });
    },
  }));
}

export function tableFor(version: string): string {
  return `t_${version.replace(/[^0-9a-z]/gi, '_')}`;
}

/** Everything in sqlite_master (minus the runner's own table), for exact before/after comparison. */
export async function sqliteSchema(db: Knex): Promise<{ type: string; name: string; sql: string | null }[]> {
  return db.raw(`SELECT type, name, sql FROM sqlite_master WHERE name <> 'system_settings' ORDER BY type, name`);
}
