import { Client, type ClientConfig } from 'pg';
import type { Logger } from '../common/logger';
import type { PgEndpoint } from './pg-hosts';

/** How long probing one host may take (connect + one query). */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * The host took the connection but cannot take writes (a hot standby, or `default_transaction_read_only`):
 * SQLSTATE 25006 like Postgres' own answer to a write there, so every caller reads it as "dependency
 * down, retry" (db-errors.ts), never as bad data.
 */
export class ReadOnlyHostError extends Error {
  readonly code = '25006';
  constructor(endpoint: PgEndpoint) {
    super(`postgres at ${endpoint.host}:${endpoint.port} is read-only (a standby?); looking for the writable primary`);
    this.name = 'ReadOnlyHostError';
  }
}

/**
 * Which of DATABASE_URL's hosts is the writable primary. New connections go to the one found last; a
 * connection that fails or lands on a read-only host makes it look again (one probe round at a time,
 * hosts in their listed order, the first writable one wins: libpq's `target_session_attrs=read-write`).
 */
export class PrimaryLocator {
  private index = 0;
  private probing: Promise<PgEndpoint | undefined> | undefined;

  constructor(
    readonly endpoints: readonly PgEndpoint[],
    private readonly log: Logger,
  ) {
    if (endpoints.length === 0) throw new Error('no database endpoints');
  }

  get current(): PgEndpoint {
    return this.endpoints[this.index] as PgEndpoint;
  }

  get multiHost(): boolean {
    return this.endpoints.length > 1;
  }

  /** Probes the hosts; resolves with the writable one (now current), or undefined when none is. */
  locate(): Promise<PgEndpoint | undefined> {
    if (!this.multiHost) return Promise.resolve(this.current);
    this.probing ??= this.probe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async probe(): Promise<PgEndpoint | undefined> {
    for (const [i, endpoint] of this.endpoints.entries()) {
      if (!(await isWritable(endpoint))) continue;
      if (i !== this.index)
        this.log.warn(
          { host: endpoint.host, port: endpoint.port, was: `${this.current.host}:${this.current.port}` },
          'postgres: the writable primary is now this host',
        );
      this.index = i;
      return endpoint;
    }
    this.log.warn({ hosts: this.endpoints.map((e) => `${e.host}:${e.port}`) }, 'postgres: no writable primary found');
    return undefined;
  }
}

async function isWritable(endpoint: PgEndpoint): Promise<boolean> {
  const client = new Client({
    connectionString: endpoint.url,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return !(await readOnly(client));
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readOnly(client: Client): Promise<boolean> {
  const res = await client.query<{ ro: boolean }>(`SELECT current_setting('transaction_read_only') = 'on' AS ro`);
  return res.rows[0]?.ro !== false;
}

type ConnectCallback = ((err: Error) => void) | ((err: null, client: Client) => void);

/**
 * The pool's Client for DATABASE_URL: connects to the locator's current host and, when several are listed,
 * checks that it takes writes before handing the connection out. A refused connection or a read-only host
 * fails this connection attempt (the caller retries, as for any outage) and sets the locator looking.
 */
export function primaryClient(locator: PrimaryLocator): typeof Client {
  class PrimaryClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
    }

    // pg-pool calls connect(callback); direct users await connect()
    override connect(): Promise<Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<Client> | void {
      const connected = this.connectToPrimary();
      if (!callback) return connected;
      const done = callback as (err: Error | null, client?: Client) => void;
      connected.then(
        (client) => done(null, client),
        (err: Error) => done(err),
      );
    }

    private async connectToPrimary(): Promise<Client> {
      const endpoint = locator.current;
      this.host = endpoint.host;
      this.port = endpoint.port;
      try {
        await super.connect();
      } catch (err) {
        if (locator.multiHost) void locator.locate();
        throw err;
      }
      if (locator.multiHost && (await readOnly(this))) {
        void locator.locate();
        await this.end().catch(() => undefined);
        throw new ReadOnlyHostError(endpoint);
      }
      return this;
    }
  }
  return PrimaryClient;
}
