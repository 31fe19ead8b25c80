/**
 * The drivers under knex (pg, mysql2), used directly, without a query builder: the apply-server
 * floor. One connection; every statement counted, classified and timed like the knex contenders'.
 */
import { createRequire } from 'module';
import { createConnection } from 'mysql2/promise';
import { StatementTally } from './statement-tally';

interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

/** pg ships no type declarations (and @types/pg is not installed): the part used here, typed locally. */
const pg = createRequire(__filename)('pg') as { Client: new (config: { connectionString: string }) => PgClient };

export interface RawServer {
  query(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
  readonly tally: StatementTally;
}

/** Connects to `url` (postgres:// or mysql://) with the driver knex uses for it. */
export async function openRawServer(engine: 'postgres' | 'mysql', url: string): Promise<RawServer> {
  const tally = new StatementTally();
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return {
      query: (sql, params) => tally.time(sql, () => client.query(sql, params)).then(() => undefined),
      close: () => client.end(),
      tally,
    };
  }
  const conn = await createConnection(url);
  return {
    query: (sql, params) => tally.time(sql, () => conn.query(sql, params)).then(() => undefined),
    close: () => conn.end(),
    tally,
  };
}
