import { fetchTrusting } from '@jr/testing';
import { epochMs } from './stats';

/**
 * A steady trickle of no-op jobs (`true`) to one pool through the real REST API, `rate` per second;
 * remembers when each submission was answered so lease latency can be measured against it.
 */
export class Trickle {
  /** job id -> epoch ms at which `POST /v1/jobs` answered 202. */
  readonly answeredAt = new Map<string, number>();
  errors = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private seq = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly pool: string,
    private readonly ratePerS: number,
    private readonly ca?: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.submitOne(), 1_000 / this.ratePerS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  private submitOne(): void {
    const p = fetchTrusting(`${this.baseUrl}/v1/jobs`, {
      ...(this.ca !== undefined ? { ca: this.ca } : {}),
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `fleet-${this.seq++}`, pool: this.pool, steps: [{ run: ['true'] }] }),
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (res) => {
        const at = epochMs();
        if (res.status !== 202) {
          this.errors++;
          return;
        }
        const { id } = (await res.json()) as { id: string };
        this.answeredAt.set(id, at);
      })
      .catch(() => void this.errors++)
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
}
