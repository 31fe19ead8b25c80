import { createHash } from 'crypto';
import type { Migration } from '../types';

/**
 * A migration's checksum: SHA-256 of its `up` and `down` source text with whitespace runs folded,
 * so re-indenting does not count as a change. Code that `up` calls elsewhere is not covered.
 * (Its own module so that an app start with nothing to do never loads crypto.)
 */
export function checksumOf(migration: Migration): string {
  if (typeof migration.checksum === 'string') return migration.checksum;
  return checksumOfSource(`${String(migration.up)}\n${migration.down ? String(migration.down) : ''}`);
}

/** SHA-256 of source text with whitespace runs folded (a migration file's content, or its functions). */
export function checksumOfSource(source: string): string {
  return createHash('sha256').update(source.replace(/\s+/g, ' ')).digest('hex');
}
