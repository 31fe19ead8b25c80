/**
 * Migrator: one configured object — the knex instance, the migrations, where bookkeeping lives,
 * the logger and the timeouts — offering every verb. Each verb is a short call into the runner
 * (lib/run), the planner (lib/plan), the bookkeeping (lib/store) or the snapshots (lib/snapshot).
 */
import path from 'path';
import type { Knex } from 'knex';
import { adapterFor, DEFAULT_LOCK_TIMEOUT_MS } from './dialects';
import { InvalidMigrationError, InvalidVersionError } from './errors';
import { consoleLogger } from './logger';
import { validateMigrations } from './plan/plan';
import type { Target } from './plan/state';
import type { MigrationStatus } from './plan/status';
import type { ValidationProblem } from './plan/validate-database';
import type { KnexMigrationsOptions } from './load/knex-migrations';
import type { KnexAdoptionReport } from './run/adopt-knex';
import { execute, type RunOptions } from './run/execute';
import type { AdditiveReport } from './snapshot/additive';
import type { SchemaSnapshot, SnapshotDifference } from './snapshot/snapshot';
import { settingsOptionsFor } from './store/bookkeeping';
import type { RepairReport } from './store/repair';
import type { SettingsOptions } from './store/settings';
import type { Migration, MigrationReport } from './types';
import { isCanonicalSemver } from './version';

/** The migrations: a list, or the path of a folder with one migration per file (see loadMigrations). */
export type MigrationSource = readonly Migration[] | string;

/** The folder, inside the migrations folder, that holds the expected schema snapshots. */
export const DEFAULT_SNAPSHOTS_FOLDER = 'snapshots';

export interface MigratorOptions extends Omit<RunOptions, 'dryRun'> {
  /** The knex instance to migrate. The Migrator never destroys it. */
  readonly db: Knex;
  /** The migrations: a list, or a folder loaded on first use. */
  readonly migrations: MigrationSource;
  /**
   * Where `snapshot` writes and `validate` reads the expected schema (one `<engine>.json` each).
   * Default: `snapshots/` inside the migrations folder; none when the migrations are a list.
   */
  readonly snapshotsDirectory?: string;
  /**
   * For knex-style files in the migrations folder (see loadKnexMigrations): the knexfile's
   * `migrations.loadExtensions` and `disableTransactions`, and how they are versioned.
   */
  readonly knexMigrations?: KnexMigrationsOptions;
}

/** Per call: run everything in a transaction that is rolled back, and report the SQL. */
export interface DryRunOption {
  readonly dryRun?: boolean;
}

export interface DatabaseValidation {
  readonly ok: boolean;
  readonly version: string;
  /** History against the code: changed, never applied, or unknown migrations. */
  readonly problems: ValidationProblem[];
  /** Schema against the expected snapshot; absent when there is no snapshot to compare with. */
  readonly schema?: { readonly path: string; readonly differences: SnapshotDifference[] };
}

export class Migrator {
  readonly #options: MigratorOptions;
  #loaded?: Promise<Migration[]>;

  constructor(options: MigratorOptions) {
    if (typeof options?.db !== 'function' || !('client' in options.db)) {
      throw new InvalidMigrationError('Migrator needs `db`: a knex instance');
    }
    if (typeof options.migrations !== 'string' && !Array.isArray(options.migrations)) {
      throw new InvalidMigrationError('Migrator needs `migrations`: a list of migrations, or the path of a migrations folder');
    }
    this.#options = { ...options, logger: options.logger ?? consoleLogger, lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS };
  }

  /** The migrations, validated and sorted by semver (a folder is loaded once). */
  migrations(): Promise<Migration[]> {
    if (!this.#loaded) {
      const loading = resolveMigrations(this.#options.migrations, this.#options.knexMigrations).then(validateMigrations);
      // A failed load is not cached: the next call reads the folder again.
      loading.catch(() => (this.#loaded = undefined));
      this.#loaded = loading;
    }
    return this.#loaded;
  }

  /** Applies every pending migration. With nothing pending: two reads, no lock, no write. */
  latest(options: DryRunOption = {}): Promise<MigrationReport> {
    return this.#run({ kind: 'latest' }, options);
  }

  /** Moves up or down to `version` (a registered version, or 0.0.0 to undo everything). */
  to(version: string, options: DryRunOption = {}): Promise<MigrationReport> {
    return this.#run({ kind: 'to', version, downOnly: false }, options);
  }

  /** Runs `down` of each applied migration above `to`, newest first; nothing runs if one has no `down`. */
  rollback(to: string, options: DryRunOption = {}): Promise<MigrationReport> {
    return this.#run({ kind: 'to', version: to, downOnly: true }, options);
  }

  /** Read-only: the database's version, the code's, and each migration as applied, pending or missing. */
  async status(): Promise<MigrationStatus> {
    const { statusOf } = await import('./plan/status');
    return statusOf(this.#options.db, await this.migrations(), this.#settings(), this.#options.allowOutOfOrder === true, this.#options.knexTable);
  }

  /** Read-only: history against the code, and the schema against the expected snapshot when there is one. */
  async validate(): Promise<DatabaseValidation> {
    const { validateAgainst } = await import('./plan/validate-database');
    const history = await validateAgainst(this.#options.db, await this.migrations(), this.#settings(), this.#options.knexTable);
    const dir = this.snapshotsDirectory();
    let schema: DatabaseValidation['schema'];
    if (dir !== undefined) {
      const { snapshotPath, validateSchema } = await import('./snapshot/snapshot');
      const fs = await import('fs');
      if (fs.existsSync(snapshotPath(adapterFor(this.#options.db).name, dir))) {
        schema = await validateSchema(this.#options.db, { dir, schema: this.#options.schema });
      }
    }
    const ok = history.ok && (schema === undefined || schema.differences.length === 0);
    return { ok, version: history.version, problems: history.problems, ...(schema ? { schema } : {}) };
  }

  /** Runs the pending migrations in a rolled-back transaction and reports minor/patch ones that are not additive. */
  async lint(): Promise<AdditiveReport> {
    const { checkAdditiveOf } = await import('./snapshot/check-additive');
    return checkAdditiveOf(this.#options.db, await this.migrations(), this.#runOptions({}));
  }

  /** Migrates to the newest version, then writes the schema as the expected snapshot of this engine. */
  async snapshot(): Promise<{ report: MigrationReport; path: string; snapshot: SchemaSnapshot }> {
    const dir = this.snapshotsDirectory();
    if (dir === undefined) {
      throw new InvalidMigrationError('snapshot needs snapshotsDirectory when the migrations are a list (default: <migrations folder>/snapshots)');
    }
    const report = await this.latest();
    const { writeExpectedSnapshot } = await import('./snapshot/snapshot');
    return { report, ...(await writeExpectedSnapshot(this.#options.db, { dir, schema: this.#options.schema })) };
  }

  /** Clears the dirty marker after a failed non-atomic migration was fixed by hand; `to` also sets db_version. */
  async repair(options: { readonly to?: string } = {}): Promise<RepairReport> {
    const { repairDatabase } = await import('./store/repair');
    return repairDatabase(this.#options.db, { schema: this.#options.schema, lockTimeoutMs: this.#options.lockTimeoutMs, to: options.to });
  }

  /**
   * Switches a database from knex's migrator: records every file knex_migrations lists as adopted and
   * sets db_version to the last one's version, under the migration lock, applying nothing else (the
   * first `latest` does this by itself). knex_migrations is left untouched. With dryRun: only reports.
   */
  async adoptKnex(options: DryRunOption = {}): Promise<KnexAdoptionReport> {
    const { adoptKnex } = await import('./run/adopt-knex');
    return adoptKnex(this.#options.db, await this.migrations(), this.#runOptions({}), options.dryRun === true);
  }

  /** Where expected snapshots live, or undefined when there is no folder to default to. */
  snapshotsDirectory(): string | undefined {
    const { snapshotsDirectory, migrations } = this.#options;
    if (snapshotsDirectory !== undefined) return snapshotsDirectory;
    return typeof migrations === 'string' ? path.join(migrations, DEFAULT_SNAPSHOTS_FOLDER) : undefined;
  }

  async #run(target: Target, { dryRun }: DryRunOption): Promise<MigrationReport> {
    if (target.kind === 'to' && !isCanonicalSemver(target.version)) throw new InvalidVersionError(target.version);
    const { migrations } = this.#options;
    // A folder whose file names announce their versions: a start with nothing pending loads no file.
    const hint = typeof migrations === 'string' && this.#loaded === undefined ? (await import('./load/load-migrations')).versionsFromFileNames(migrations) : undefined;
    return execute(this.#options.db, () => this.migrations(), this.#runOptions({ dryRun }), target, undefined, hint);
  }

  #runOptions(extra: DryRunOption): RunOptions {
    const { db: _db, migrations: _migrations, snapshotsDirectory: _snapshots, knexMigrations: _knex, ...run } = this.#options;
    return { ...run, ...extra };
  }

  #settings(): SettingsOptions {
    return settingsOptionsFor(adapterFor(this.#options.db), this.#options);
  }
}

/** A list as given, or a folder loaded through loadMigrations (loaded only when a folder is used). */
export async function resolveMigrations(source: MigrationSource, knex?: KnexMigrationsOptions): Promise<readonly Migration[]> {
  if (typeof source !== 'string') return source;
  const { loadMigrations } = await import('./load/load-migrations');
  return loadMigrations(source, knex);
}
