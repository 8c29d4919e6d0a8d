import type { ReadinessView } from '@jr/contracts';
import { fetchTrusting, type ApiReplica, type Stack } from '@jr/testing';

export const REPLICA_NAMES = ['A', 'B'] as const;

/** /readyz, with the leadership part the contract's view leaves out. */
export type Readiness = ReadinessView & { leadership?: { replica: string; leader: boolean; holder: string | null } };

/**
 * The soak's two jr-api replicas on one PostgreSQL and Redis: A is the stack's own API, B a replica
 * (Stack.startReplica) with a data directory of its own. Both restart on their ports and data dirs.
 * REST calls go to one replica (`on`) or, as the CLI does, to the next one on a refused connection,
 * a 503 or a timeout (`any`).
 */
export class Replicas {
  private b: ApiReplica | undefined;

  constructor(
    private readonly stack: Stack,
    /** B's own environment (its JR_DATA_DIR, JR_REPLICA_ID). */
    private readonly envB: Record<string, string>,
  ) {}

  async startB(): Promise<void> {
    this.b = await this.stack.startReplica('b', this.envB);
  }

  get count(): number {
    return REPLICA_NAMES.length;
  }

  grpcAddress(i: number): string {
    return i === 0 ? this.stack.grpcAddress : this.replicaB.grpcAddress;
  }

  url(i: number): string {
    return this.stack.baseUrlOf(i === 0 ? undefined : this.replicaB);
  }

  get urls(): string[] {
    return REPLICA_NAMES.map((_, i) => this.url(i));
  }

  async kill(i: number): Promise<void> {
    await (i === 0 ? this.stack.api : this.replicaB.proc).kill();
  }

  /** Starts replica i again on its ports and data dir; resolves once its /readyz answers 200. */
  async restart(i: number): Promise<void> {
    if (i === 0) await this.stack.startApi();
    else await this.startB();
  }

  on(i: number, route: string, init: RequestInit = {}): Promise<Response> {
    const ca = this.stack.caPem;
    return fetchTrusting(`${this.url(i)}${route}`, { ...init, ...(ca !== undefined ? { ca } : {}) });
  }

  /** Tries each replica from `first` on; the first answer other than 503 wins (undefined: none answered). */
  async any(route: string, init: RequestInit = {}, first = 0): Promise<Response | undefined> {
    for (let k = 0; k < this.count; k++) {
      const i = (first + k) % this.count;
      const res = await this.on(i, route, { signal: AbortSignal.timeout(10_000), ...init }).catch(() => undefined);
      if (res && res.status !== 503) return res;
      await res?.text().catch(() => undefined);
    }
    return undefined;
  }

  /** GET a JSON document as the admin from whichever replica answers. */
  async get<T>(route: string, first = 0): Promise<T> {
    const res = await this.any(route, { headers: { authorization: `Bearer ${this.stack.adminToken}` } }, first);
    if (!res?.ok) throw new Error(`GET ${route}: ${res ? `${res.status} ${await res.text()}` : 'no replica answered'}`);
    return (await res.json()) as T;
  }

  /** One replica's /readyz (undefined while it does not answer). */
  async readiness(i: number): Promise<{ status: number; view: Readiness | undefined } | undefined> {
    const res = await this.on(i, '/readyz', { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    if (!res) return undefined;
    return { status: res.status, view: (await res.json().catch(() => undefined)) as Readiness | undefined };
  }

  /** Every replica answers /readyz 200 with every dependency up. */
  async allReady(): Promise<boolean> {
    for (let i = 0; i < this.count; i++) {
      const r = await this.readiness(i);
      if (r?.status !== 200 || !r.view || !Object.values(r.view.dependencies).every((d) => d.up)) return false;
    }
    return true;
  }

  /** B's log and process (A's are the stack's `api`). */
  private get replicaB(): ApiReplica {
    if (!this.b) throw new Error('replica B not started');
    return this.b;
  }
}
