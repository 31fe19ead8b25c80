/**
 * Typed errors. Every error this module throws on purpose is a `MigrationError` subclass with a
 * stable `code` (safe to switch on) and, where another error caused it, the ES2022 `cause`.
 * Messages never contain connection strings or passwords: see `redact`.
 */
import type { AdditiveRule, AdditiveViolation } from './snapshot/additive';

export type ErrorCode =
  | 'INVALID_MIGRATION'
  | 'INVALID_VERSION'
  | 'INVALID_SETTING'
  | 'MIGRATION_FAILED'
  | 'SCHEMA_TOO_NEW'
  | 'CORRUPT_VERSION'
  | 'LOCK_TIMEOUT'
  | 'LOCK_LOST'
  | 'TABLE_BUSY'
  | 'FOREIGN_KEY_VIOLATION'
  | 'REBUILD_FAILED'
  | 'UNSUPPORTED_DIALECT'
  | 'DIRTY_DATABASE'
  | 'CHECKSUM_MISMATCH'
  | 'ROLLBACK_NOT_POSSIBLE'
  | 'DEPENDENCY'
  | 'ADDITIVE_VIOLATION'
  | 'KNEX_HISTORY_MISMATCH';

export class MigrationError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The migration list is invalid (bad or duplicate version, empty description, `up` not a function). */
export class InvalidMigrationError extends MigrationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_MIGRATION', message, options);
  }
}

/** A version string given to the API is not valid semver. */
export class InvalidVersionError extends MigrationError {
  constructor(readonly version: unknown) {
    super('INVALID_VERSION', `${showValue(version)} is not a valid semver version (expected e.g. "1.2.3")`);
  }
}

/** A system setting key or value was rejected (empty key, non-string, reserved key). */
export class InvalidSettingError extends MigrationError {
  constructor(message: string) {
    super('INVALID_SETTING', message);
  }
}

/** A migration threw; its transaction was rolled back and `db_version` stayed at `lastGoodVersion`. */
export class MigrationFailedError extends MigrationError {
  constructor(
    readonly version: string,
    readonly description: string,
    readonly lastGoodVersion: string,
    cause: unknown,
    /** True when the failure could not be rolled back and the database was marked dirty. */
    readonly dirty = false,
  ) {
    super(
      'MIGRATION_FAILED',
      `Migration ${version} (${description}) failed: ${describeCause(cause)}; ` +
        (dirty
          ? `it could not be rolled back (part of it may be applied), so the database is marked dirty; db_version stays at ${lastGoodVersion}`
          : `it was rolled back and db_version stays at ${lastGoodVersion}`),
      { cause },
    );
  }
}

/** The database's version has a higher major than the newest migration this code knows. */
export class SchemaTooNewError extends MigrationError {
  constructor(
    readonly databaseVersion: string,
    readonly codeVersion: string,
  ) {
    super(
      'SCHEMA_TOO_NEW',
      `Database schema is at ${databaseVersion}, but this code only knows up to ${codeVersion} ` +
        `(a different major version): deploy code that knows ${databaseVersion} or restore a matching backup`,
    );
  }
}

/** `db_version` holds something that is not semver. */
export class CorruptVersionError extends MigrationError {
  constructor(readonly storedValue: string) {
    super(
      'CORRUPT_VERSION',
      `system_settings.db_version holds ${showValue(storedValue)}, which is not a semver ` +
        `version; nothing was run. Fix it with updateDatabaseVersion() once you know the real schema version`,
    );
  }
}

/** Another runner held the migration lock for longer than `lockTimeoutMs`. */
export class LockTimeoutError extends MigrationError {
  constructor(
    readonly database: string,
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(
      'LOCK_TIMEOUT',
      `Timed out after ${timeoutMs} ms waiting for the migration lock on ${database}: another process is ` +
        `migrating it; nothing was applied`,
      { cause },
    );
  }
}

/**
 * The runner's lease on the migration lock ran out and another runner took it (this process stalled
 * for longer than the lease, or lost its connection). The transaction in flight was rolled back;
 * what committed before stays, recorded in db_version and the history.
 */
export class LockLostError extends MigrationError {
  constructor(
    readonly database: string,
    readonly leaseMs: number,
    cause?: unknown,
  ) {
    super(
      'LOCK_LOST',
      `Lost the migration lock on ${database}: it was not renewed within its ${leaseMs} ms lease and another ` +
        `process took it over; the step in progress was rolled back`,
      { cause },
    );
  }
}

/**
 * A migration's statement kept waiting for a table lock that the app's sessions held: every attempt
 * was abandoned after `timeoutMs` (so app queries queued behind it were released) and rolled back.
 */
export class TableBusyError extends MigrationError {
  constructor(
    /** The table waited for, where the engine told us (e.g. "public.users"). */
    readonly table: string | undefined,
    readonly timeoutMs: number,
    readonly attempts: number,
    /** What held the lock, as the engine described the blocking sessions. */
    readonly blockers: readonly string[],
    cause?: unknown,
  ) {
    super(
      'TABLE_BUSY',
      `${table ? `table ${table}` : 'a table'} stayed busy: ${attempts} attempt(s) each waited ${timeoutMs} ms for its lock` +
        `${blockers.length > 0 ? ` (held by ${blockers.join('; ')})` : ''}; each was rolled back so app queries could go on`,
      { cause },
    );
  }
}

/** Rows violate a foreign key after a migration (reported by PRAGMA foreign_key_check). */
export class ForeignKeyViolationError extends MigrationError {
  constructor(
    readonly violations: ReadonlyArray<{ table: string; rowid: number | null; parent: string }>,
    context: string,
  ) {
    const sample = violations
      .slice(0, 5)
      .map((v) => `${v.table} rowid ${v.rowid ?? '?'} -> ${v.parent}`)
      .join(', ');
    super(
      'FOREIGN_KEY_VIOLATION',
      `${context}: ${violations.length} foreign key violation(s) (${sample}${violations.length > 5 ? ', …' : ''})`,
    );
  }
}

/** `rebuildTable` refused or failed; the table is unchanged. */
export class RebuildError extends MigrationError {
  constructor(
    readonly table: string,
    message: string,
    cause?: unknown,
  ) {
    super('REBUILD_FAILED', `rebuildTable(${table}): ${message}`, { cause });
  }
}

/** A feature was used on a database engine that does not support it. */
export class UnsupportedDialectError extends MigrationError {
  constructor(message: string) {
    super('UNSUPPORTED_DIALECT', message);
  }
}

/**
 * A migration failed where its changes could not be rolled back (MySQL DDL, or a migration declared
 * `transaction: false`), so the schema may be half-changed. Runs refuse until an operator repairs it.
 */
export class DirtyDatabaseError extends MigrationError {
  constructor(
    readonly version: string,
    readonly description: string,
    readonly failedAt: string,
    readonly error: string,
    readonly lastGoodVersion: string,
    /** The migration started and never finished (its runner was killed), rather than failed. */
    readonly inProgress = false,
  ) {
    super(
      'DIRTY_DATABASE',
      `Database is dirty: migration ${version} (${description}) ` +
        (inProgress ? `started at ${failedAt} and ${error}` : `failed at ${failedAt} with "${error}"`) +
        `; it could not be rolled back, so part of it may be applied; db_version is still ${lastGoodVersion}. Compare the ` +
        `schema with migration ${version} and fix it by hand, then run "knex-semver-migrate repair" ` +
        `(repairDatabase; ${version} runs again next time) or "repair --to ${version}" (you completed it by hand)`,
    );
  }
}

/** Applied migrations whose source changed since they ran; runs refuse unless told to ignore it. */
export class ChecksumMismatchError extends MigrationError {
  constructor(readonly versions: readonly string[]) {
    super(
      'CHECKSUM_MISMATCH',
      `Applied migration(s) ${versions.join(', ')} changed since they ran (checksum differs from system_migrations): ` +
        `restore their source, or pass ignoreChecksums if the change is intended (e.g. a comment)`,
    );
  }
}

/** A rollback that cannot be done as asked; nothing was run. */
export class RollbackError extends MigrationError {
  constructor(message: string) {
    super('ROLLBACK_NOT_POSSIBLE', message);
  }
}

/** `requires` would be broken by the plan (a migration before its requirement, or a requirement rolled back). */
export class DependencyError extends MigrationError {
  constructor(message: string) {
    super('DEPENDENCY', message);
  }
}

/**
 * A database managed by knex's migrator cannot be adopted: `knex_migrations` lists files the folder
 * does not have, or records them in an order that disagrees with the folder's. Nothing was written.
 */
export class KnexHistoryError extends MigrationError {
  constructor(
    readonly table: string,
    /** Listed in knex_migrations, not in the migrations folder. */
    readonly missing: readonly string[],
    /** Listed in knex_migrations after a file that comes later in the folder's order (or listed twice). */
    readonly outOfOrder: readonly string[],
  ) {
    super(
      'KNEX_HISTORY_MISMATCH',
      `Cannot adopt ${table}: ` +
        [
          missing.length > 0 && `it lists file(s) missing from the migrations folder: ${missing.join(', ')} (restore them)`,
          outOfOrder.length > 0 &&
            `it records file(s) in an order that disagrees with the folder's (by file name): ${outOfOrder.join(', ')} ` +
              '(rename them so the folder sorts as they ran, or give the knex loader a versions map in that order)',
        ]
          .filter(Boolean)
          .join('; ') +
        '; nothing was changed',
    );
  }
}

/** The cause's message, redacted and on one line. */
export function describeCause(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  return redact(text).replace(/\s+/g, ' ').trim();
}

/**
 * Removes credentials from anything that looks like a connection string or a password assignment,
 * so errors and logs can be printed safely.
 */
export function redact(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]*@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd)\s*([=:])\s*("[^"]*"|'[^']*'|[^\s;,&]+)/gi, '$1$2***');
}

/**
 * Any value as a short, safe label for a message: strings quoted, everything else (bigint, symbol,
 * objects without a prototype, circular objects) described without throwing.
 */
export function showValue(value: unknown, max = 80): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value, max));
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return truncate(String(value), max);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A minor or patch migration broke the additive-only rule. */
export class AdditiveViolationError extends MigrationError {
  constructor(readonly violations: readonly AdditiveViolation[]) {
    super(
      'ADDITIVE_VIOLATION',
      `Migration ${violations[0].version} (${violations[0].description}) is not a major version but ` +
        violations.map((v) => `${RULE_TEXT[v.rule]} (${v.change})`).join('; ') +
        ': give it a new major version, or make the change additive',
    );
  }
}

const RULE_TEXT: Record<AdditiveRule, string> = {
  'drop-table': 'drops a table',
  'drop-column': 'drops or renames a column',
  'narrow-type': 'narrows a column type',
  'not-null-without-default': 'makes a column NOT NULL without a default',
};
