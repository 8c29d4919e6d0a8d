import { fetchTrusting } from '@jr/testing';
import * as fs from 'node:fs';
import { Client } from 'pg';
import { delay, summarize, type Summary } from './stats';

export interface ProbeResult {
  /** GET /healthz round trips: the API's event loop and HTTP path, beside the gRPC figures. */
  healthzMs: Summary;
  /** `SELECT 1` on a connection of the probe's own: PostgreSQL's own latency under this load. */
  pgPingMs: Summary;
  /** The API's connections to its database that are running a query (pool size: 16), mean and max of the samples. */
  apiPgActiveMean: number;
  apiPgActiveMax: number;
  apiPgConnections: number;
  /** CPU the whole machine used meanwhile, % of one core (2 cores: at most 200). */
  machineCpuPercent: number;
}

function machineCpuSeconds(): { busy: number; total: number } {
  const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((s, v) => s + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Samples, every 200 ms while a step holds, where the time of a slow heartbeat goes: the API's HTTP
 * answer, PostgreSQL's own answer, and how many of the API's pooled connections are busy.
 */
export class Probes {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly healthz: number[] = [];
  private readonly pgPing: number[] = [];
  private readonly active: number[] = [];
  private connections = 0;
  private cpu0 = machineCpuSeconds();
  private started = performance.now();

  constructor(
    private readonly baseUrl: string,
    private readonly databaseUrl: string,
    private readonly ca?: string,
  ) {}

  async start(): Promise<void> {
    const db = new Client({ connectionString: this.databaseUrl });
    await db.connect();
    await db.query('SELECT 1'); // the first query of a connection is slower: not a sample
    this.cpu0 = machineCpuSeconds();
    this.started = performance.now();
    this.loop = this.run(db).finally(() => db.end().catch(() => undefined));
  }

  async stop(): Promise<ProbeResult> {
    this.stopped = true;
    await this.loop;
    const cpu1 = machineCpuSeconds();
    const elapsedS = (performance.now() - this.started) / 1_000;
    const cores =
      fs
        .readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('processor')).length || 1;
    return {
      healthzMs: summarize(this.healthz),
      pgPingMs: summarize(this.pgPing),
      apiPgActiveMean: this.active.reduce((s, v) => s + v, 0) / Math.max(1, this.active.length),
      apiPgActiveMax: Math.max(0, ...this.active),
      apiPgConnections: this.connections,
      machineCpuPercent:
        elapsedS > 0 ? ((cpu1.busy - this.cpu0.busy) / Math.max(1, cpu1.total - this.cpu0.total)) * 100 * cores : NaN,
    };
  }

  private async run(db: Client): Promise<void> {
    while (!this.stopped) {
      let t = performance.now();
      const ok = await fetchTrusting(`${this.baseUrl}/healthz`, {
        signal: AbortSignal.timeout(5_000),
        ...(this.ca !== undefined ? { ca: this.ca } : {}),
      }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) this.healthz.push(performance.now() - t);
      t = performance.now();
      await db.query('SELECT 1');
      this.pgPing.push(performance.now() - t);
      const res = await db.query<{ active: number; total: number }>(
        `SELECT count(*) FILTER (WHERE state = 'active')::int AS active, count(*)::int AS total
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      this.active.push(res.rows[0]?.active ?? 0);
      this.connections = Math.max(this.connections, res.rows[0]?.total ?? 0);
      await delay(200);
    }
  }
}
