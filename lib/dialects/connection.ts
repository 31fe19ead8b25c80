import type { Knex } from 'knex';

/** A raw driver connection, opaque to us: we only hand it back to knex. */
export type RawConnection = object;

interface PoolingClient {
  acquireConnection(): Promise<RawConnection>;
  releaseConnection(connection: RawConnection): Promise<unknown>;
}

/**
 * Runs `fn` on one connection taken from the pool and always gives it back. Needed where a
 * connection-level setting (SQLite's foreign_keys, a MySQL session lock) must be in place before
 * a transaction begins on that same connection.
 */
export async function withPinnedConnection<T>(db: Knex, fn: (connection: RawConnection) => Promise<T>): Promise<T> {
  const client = db.client as PoolingClient;
  const connection = await client.acquireConnection();
  try {
    return await fn(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Marks a pooled connection as unusable so knex's pool validator discards it instead of handing it
 * out again (used when a session lock could not be released: closing the connection releases it).
 */
export function discardConnection(connection: RawConnection, reason: unknown): void {
  (connection as { __knex__disposed?: unknown }).__knex__disposed = reason;
}
