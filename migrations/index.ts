/**
 * The app's registered migrations, in any order (the runner sorts by semver).
 * To add one: create migrations/v<major>_<minor>_<patch>_<slug>.ts and list it here.
 */
import { newestVersion, validateMigrations } from '../lib/plan';
import type { Migration } from '../lib/types';
import { baseline } from './v0_1_0_baseline';
import { adminLoginsFeedback } from './v1_0_0_admin_logins_feedback';

export const migrations: readonly Migration[] = [baseline, adminLoginsFeedback];

/** The schema version this code expects: the newest registered migration. */
export const CURRENT_DB_VERSION: string = newestVersion(validateMigrations(migrations));
