import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Io, OutStream } from '../output';
import { run } from '../program';

/**
 * For the commands' specs: a fake API on a loopback socket with canned answers, and `jr` run in-process
 * against it on a fixed clock whose sleeps are recorded, not waited. `fakeCli()` registers the jest hooks.
 */
export function capture(isTTY = false): OutStream & { text: string } {
  const s = {
    text: '',
    isTTY,
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

/** A canned answer: status, body (text is sent as it is), content type (JSON unless said). */
export type Answer = [status: number, body?: unknown, type?: string];

/** A fake API on a loopback socket: `METHOD /path?query` → an answer, or a list of them served in turn (the last repeats). */
export class FakeApi {
  readonly seen: string[] = [];
  readonly bodies: unknown[] = [];
  routes: Record<string, Answer | Answer[]> = {};
  private readonly served = new Map<string, number>();
  private readonly server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const key = `${req.method ?? ''} ${req.url ?? ''}`;
      this.seen.push(key);
      if (text) this.bodies.push(JSON.parse(text));
      const n = this.served.get(key) ?? 0;
      this.served.set(key, n + 1);
      const route = this.routes[key];
      const answers = route === undefined ? [] : Array.isArray(route[0]) ? (route as Answer[]) : [route as Answer];
      const [status, body, type = 'application/json'] = answers[Math.min(n, answers.length - 1)] ?? [
        404,
        { title: 'Not Found', status: 404, detail: `no ${key}` },
      ];
      res.writeHead(status, { 'content-type': type });
      res.end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.seen.length = 0;
    this.bodies.length = 0;
    this.routes = {};
    this.served.clear();
  }
}

export const NOW = Date.parse('2026-03-01T12:00:00Z');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The fake API of one spec file, and `jr` against it (hooks: started before all, reset before each). */
export function fakeCli(): {
  api: FakeApi;
  sleeps: number[];
  jr: (...argv: string[]) => Promise<CliRun>;
  jrWith: (opts: { tty?: boolean; env?: Record<string, string> }, ...argv: string[]) => Promise<CliRun>;
} {
  const sleeps: number[] = [];
  const clock = { now: () => NOW, sleep: async (ms: number) => void sleeps.push(ms) };
  const api = new FakeApi();
  let apiUrl = '';
  beforeAll(async () => (apiUrl = await api.start()));
  afterAll(() => api.stop());
  beforeEach(() => {
    api.reset();
    sleeps.length = 0;
  });
  const jrWith = async (opts: { tty?: boolean; env?: Record<string, string> }, ...argv: string[]): Promise<CliRun> => {
    const [stdout, stderr] = [capture(), capture(opts.tty ?? false)];
    const env = { JR_API_URL: apiUrl, JR_REQUEST_TIMEOUT: '5s', JR_CONFIG: '/nonexistent/jr.yaml', ...opts.env };
    const io: Io = { stdout, stderr, env };
    return { code: await run(argv, io, clock), stdout: stdout.text, stderr: stderr.text };
  };
  return { api, sleeps, jr: (...argv) => jrWith({}, ...argv), jrWith };
}
