import type { Knex } from 'knex';

/** One schema change. `version` is semver; migrations are applied in semver order. */
export interface Migration {
  readonly version: string;
  readonly description: string;
  /**
   * `false` runs the migration outside any transaction (e.g. PostgreSQL's CREATE INDEX CONCURRENTLY),
   * with the version update right after it; `trx` is then the knex instance itself. A failure cannot
   * be rolled back and marks the database dirty. SQLite runs it in a savepoint like any other
   * (its migration lock is its write transaction). Default: true.
   */
  readonly transaction?: boolean;
  /** Versions that must be applied before this one (and may not be rolled back while it stays). */
  readonly requires?: readonly string[];
  /** Applies the change. Use `trx` for every query: the migration runs inside it. */
  up(trx: Knex.Transaction): Promise<void>;
  /** Reverts the change (optional). */
  down?(trx: Knex.Transaction): Promise<void>;
  /**
   * What history records to detect an edit after the migration ran. Set by `loadMigrations` to a
   * hash of the file's content; when absent, a hash of `up` and `down`'s source text.
   */
  readonly checksum?: string;
  /**
   * Set by the knex loader (loadKnexMigrations): the file name knex's migrator records in
   * `knex_migrations` for this migration. Adopting a knex-managed database matches on it.
   */
  readonly knexName?: string;
}

/** Where the runner reports progress. Defaults to concise console lines. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export interface AppliedMigration {
  readonly version: string;
  readonly description: string;
  readonly durationMs: number;
  /** `up`, or `down` for a rollback. */
  readonly direction: 'up' | 'down';
  /** With `dryRun`: the SQL the migration ran (then rolled back). */
  readonly sql?: string[];
}

/** What a run did. `from`/`to` are `db_version` before and after. */
export interface MigrationReport {
  readonly from: string;
  readonly to: string;
  readonly applied: AppliedMigration[];
  /** Registered versions below db_version that never ran (a late hotfix), left alone without `allowOutOfOrder`. */
  readonly missing?: string[];
  /** True when this was a dry run: everything listed was rolled back, so `to` equals `from`. */
  readonly dryRun?: boolean;
  /** With `dryRun`: the version the run would have reached. */
  readonly planned?: string;
}

/** A knex instance or a transaction: anything that can run queries. */
export type Queryable = Knex | Knex.Transaction;

/**
 * Wraps each migration body inside its transaction: the additive-only guard snapshots the schema
 * before and after through it; throwing rolls the migration back.
 */
export type StepWrapper = (q: Queryable, migration: Migration, body: () => Promise<void>) => Promise<void>;
