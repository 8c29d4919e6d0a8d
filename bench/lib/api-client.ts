/** The few jr-api calls the benches make, over a keep-alive agent of their own (no fetch pool limits). */
import * as http from 'node:http';
import * as https from 'node:https';

export interface JobBody {
  name: string;
  pool?: string;
  steps: Array<{ run: string | string[] }>;
}

/** Where the API answers and the admin token (a `Stack` is one). */
export interface ApiTarget {
  baseUrl: string;
  adminToken: string;
  /** The API's CA (PEM) when it speaks https (a `Stack`'s `caPem`). */
  caPem?: string;
}

export class BenchClient {
  private readonly agent: http.Agent;
  private readonly port: number;
  private readonly send: typeof http.request;

  constructor(
    private readonly target: ApiTarget,
    maxSockets: number,
  ) {
    const tls = target.baseUrl.startsWith('https:');
    this.agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets, ...(target.caPem !== undefined ? { ca: target.caPem } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets });
    this.send = tls ? https.request : http.request;
    this.port = Number(new URL(target.baseUrl).port);
  }

  /** One request; resolves with the status and the body text. */
  request(method: 'GET' | 'POST', route: string, body?: string): Promise<{ status: number; text: string }> {
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${this.target.adminToken}` };
    if (body !== undefined)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    return new Promise((resolve, reject) => {
      const req = this.send(
        { host: '127.0.0.1', port: this.port, method, path: route, agent: this.agent, headers },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POST /v1/jobs; resolves with the job id on 202, undefined on any other answer (counted by callers). */
  async submit(body: string): Promise<string | undefined> {
    const res = await this.request('POST', '/v1/jobs', body);
    if (res.status !== 202) return undefined;
    return (JSON.parse(res.text) as { id: string }).id;
  }

  /** The sum of a metric's samples whose labels include `labels` (absent metric: 0). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const { text } = await this.request('GET', '/metrics');
    return sumSamples(text, name, labels);
  }

  succeeded(): Promise<number> {
    return this.metric('jr_jobs_finished_total', { state: 'succeeded' });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function jobBody(name: string, run: string[], pool?: string): string {
  const body: JobBody = { name, steps: [{ run }] };
  if (pool !== undefined) body.pool = pool;
  return JSON.stringify(body);
}

/** Sums the Prometheus text samples of `name` that carry every label in `labels`, whatever other labels they have. */
export function sumSamples(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}
