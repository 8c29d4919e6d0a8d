import type { Socket } from 'node:net';
import { Client } from 'pg';
import type { PrimaryLocator } from '../database/primary-client';
import { primaryClient } from '../database/primary-client';
import { LEADER_TIMING } from './leader-lease';

/** pg_try_advisory_lock's first key for leadership (the second: hashtext of the duty). */
const LEADER_LOCK_SPACE = 0x6a72_0002;

/** What the leadership row says now (null values: nobody was ever elected for the duty). */
export interface LeadershipView {
  epoch: number | null;
  holder: string | null;
  renewedAt: Date | null;
}

/** The answer to one attempt to lead: got the lock (and the new epoch), or the current leader's row. */
export type TryLead = { got: true; epoch: number } | { got: false; view: LeadershipView };

/** The session settings that make a partitioned leader lose its lock on the server within seconds. */
function sessionOptions(): string {
  const t = LEADER_TIMING;
  return [
    // the server ends a session that has sent nothing for this long: the lock is released
    `-c idle_session_timeout=${t.serverIdleTimeoutMs}`,
    `-c statement_timeout=${t.statementTimeoutMs}`,
    `-c idle_in_transaction_session_timeout=${t.serverIdleTimeoutMs}`,
    // the server's side of the socket: unacknowledged data or a silent peer end the session too
    `-c tcp_user_timeout=${t.serverIdleTimeoutMs}`,
    '-c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3',
    `-c application_name=jr-api-leadership`,
  ].join(' ');
}

/**
 * The SQL of leader election, on ONE dedicated connection per replica (never the pool: a session-level
 * advisory lock belongs to the session that took it). A query that does not answer within the lease
 * fails on our side (query_timeout); the caller then drops the connection (`close`) and starts afresh.
 */
export class LeadershipConnection {
  private constructor(private readonly client: Client) {}

  static async open(locator: PrimaryLocator): Promise<LeadershipConnection> {
    const Ctor = primaryClient(locator);
    const client = new Ctor({
      connectionString: locator.current.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
      connectionTimeoutMillis: LEADER_TIMING.queryTimeoutMs,
      query_timeout: LEADER_TIMING.queryTimeoutMs,
      options: sessionOptions(),
    });
    client.on('error', () => undefined); // a lost connection fails the next query; close() follows
    try {
      await client.connect();
    } catch (err) {
      destroy(client);
      throw err;
    }
    return new LeadershipConnection(client);
  }

  /**
   * Takes the duty's lock if free and, holding it, begins a new epoch (one statement: the epoch exists only
   * with the lock); otherwise reads who leads.
   */
  async tryLead(duty: string, holder: string): Promise<TryLead> {
    const got = await this.client.query<{ got: boolean }>(
      `SELECT pg_try_advisory_lock(${LEADER_LOCK_SPACE}, hashtext($1)) AS got`,
      [duty],
    );
    if (!got.rows[0]?.got) return { got: false, view: await this.view(duty) };
    try {
      const res = await this.client.query<{ epoch: string }>(
        `INSERT INTO leadership (duty, epoch, holder, since, renewed_at) VALUES ($1, 1, $2, now(), now())
         ON CONFLICT (duty) DO UPDATE SET epoch = leadership.epoch + 1, holder = $2, since = now(), renewed_at = now()
         RETURNING epoch`,
        [duty, holder],
      );
      return { got: true, epoch: Number(res.rows[0]?.epoch) };
    } catch (err) {
      await this.release(duty).catch(() => undefined);
      throw err;
    }
  }

  /** The leader's renewal: true while the row still carries its epoch (and the session its lock). */
  async renew(duty: string, epoch: number): Promise<boolean> {
    const res = await this.client.query('UPDATE leadership SET renewed_at = now() WHERE duty = $1 AND epoch = $2', [
      duty,
      epoch,
    ]);
    return res.rowCount === 1;
  }

  async view(duty: string): Promise<LeadershipView> {
    const res = await this.client.query<{ epoch: string; holder: string; renewed_at: Date }>(
      'SELECT epoch, holder, renewed_at FROM leadership WHERE duty = $1',
      [duty],
    );
    const row = res.rows[0];
    return row
      ? { epoch: Number(row.epoch), holder: row.holder, renewedAt: row.renewed_at }
      : { epoch: null, holder: null, renewedAt: null };
  }

  async release(duty: string): Promise<void> {
    await this.client.query(`SELECT pg_advisory_unlock(${LEADER_LOCK_SPACE}, hashtext($1))`, [duty]);
  }

  /** Ends the session: politely when the server answers, else by dropping the socket (the server's timeouts end it). */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
    await Promise.race([this.client.end().catch(() => undefined), late]);
    clearTimeout(timer);
    destroy(this.client);
  }
}

function destroy(client: Client): void {
  (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
}
