/**
 * The drill's clients: jobs submitted open-loop at a fixed rate, each as `jr submit` with an endpoint list
 * would send it (primary first; the next endpoint on a refused connection, a reset, a timeout or a 503; the
 * same Idempotency-Key on every try), every acknowledgement recorded with the site that gave it.
 */
import * as https from 'node:https';
import { sleep } from '../lib/load';

export interface Endpoint {
  site: string;
  url: string;
}

export interface Acknowledged {
  seq: number;
  id: string;
  site: string;
  atMs: number;
}

const TRY_TIMEOUT_MS = 2_000;
const GIVE_UP_MS = 120_000;

export class Traffic {
  readonly acknowledged: Acknowledged[] = [];
  /** Submissions never acknowledged (given up after GIVE_UP_MS): not acknowledged, so not part of the RPO. */
  unacknowledged = 0;
  private readonly agent: https.Agent;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly endpoints: Endpoint[],
    private readonly token: string,
    caPem: string,
    private readonly runId: string,
    private readonly command: string[],
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: caPem });
  }

  start(ratePerSecond: number): void {
    this.timer = setInterval(() => this.submitOne(), 1_000 / ratePerSecond);
  }

  /** Stops submitting and waits for the submissions still trying. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  close(): void {
    this.agent.destroy();
  }

  lastOn(site: string, beforeMs = Infinity): Acknowledged | undefined {
    return this.acknowledged.filter((a) => a.site === site && a.atMs < beforeMs).sort((x, y) => y.atMs - x.atMs)[0];
  }

  firstOn(site: string, afterMs: number): Acknowledged | undefined {
    return this.acknowledged.filter((a) => a.site === site && a.atMs > afterMs).sort((x, y) => x.atMs - y.atMs)[0];
  }

  private submitOne(): void {
    const seq = ++this.seq;
    const p = this.deliver(seq).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async deliver(seq: number): Promise<void> {
    const body = JSON.stringify({ name: `drill-${seq}`, steps: [{ run: this.command }] });
    const key = `${this.runId}-${seq}`;
    const deadline = Date.now() + GIVE_UP_MS;
    while (Date.now() < deadline) {
      for (const ep of this.endpoints) {
        const id = await this.post(ep, body, key);
        if (id !== undefined) {
          this.acknowledged.push({ seq, id, site: ep.site, atMs: Date.now() });
          return;
        }
      }
      await sleep(100);
    }
    this.unacknowledged++;
  }

  /** The job id on 202/200, undefined when this endpoint should be passed over. */
  private post(ep: Endpoint, body: string, key: string): Promise<string | undefined> {
    const url = new URL('/v1/jobs', ep.url);
    return new Promise((resolve) => {
      const req = https.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: TRY_TIMEOUT_MS,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'idempotency-key': key,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve(res.statusCode === 202 || res.statusCode === 200 ? idOf(text) : undefined));
          res.on('error', () => resolve(undefined));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(undefined));
      req.end(body);
    });
  }
}

function idOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { id?: string }).id;
  } catch {
    return undefined;
  }
}
