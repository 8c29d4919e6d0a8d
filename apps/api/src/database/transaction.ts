import type { Pool, PoolClient } from 'pg';
import { isDependencyDown } from './db-errors';

export type Tx = PoolClient;

/** Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws (an outage's connection is dropped). */
export async function withTransaction<T>(pool: Pool, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // a connection to a host that went away or turned read-only (failover) leaves the pool
    broken = isDependencyDown(err);
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(broken);
  }
}
