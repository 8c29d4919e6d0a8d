import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { HttpClient, readBody } from './api-client';
import { CliError } from './cli-error';
import { parseConfig } from './config';
import { retryAfterMs } from './timing';

describe('HttpClient.url', () => {
  it('joins routes under a base path and encodes queries', () => {
    const client = new HttpClient(parseConfig({ JR_API_URL: 'https://ci.example.com/jr' }));
    expect(client.url('v1/jobs', { state: 'queued', pool: undefined, limit: 5 }).href).toBe(
      'https://ci.example.com/jr/v1/jobs?state=queued&limit=5',
    );
    expect(client.url(`v1/jobs/${encodeURIComponent('../x?y=1')}`).href).toBe(
      'https://ci.example.com/jr/v1/jobs/..%2Fx%3Fy%3D1',
    );
  });
});

describe('readBody', () => {
  it('refuses answers over the cap with exit 70', async () => {
    await expect(readBody(new Response('x'.repeat(2_048)), 1_024)).rejects.toMatchObject({ exitCode: 70 });
    expect((await readBody(new Response('ok'), 1_024)).toString()).toBe('ok');
  });

  it('turns a connection dropped mid-body into exit 69', async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new TypeError('terminated'));
        else controller.enqueue(new TextEncoder().encode('{"id":'));
        sent = true;
      },
    });
    const err = await readBody(new Response(body), 1_024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 69 });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, capped, and ignores junk', () => {
    expect(retryAfterMs('3', 10_000)).toBe(3_000);
    expect(retryAfterMs('3600', 10_000)).toBe(10_000);
    expect(retryAfterMs(new Date(5_000).toUTCString(), 10_000, 1_000)).toBe(4_000);
    expect(retryAfterMs('soon', 10_000)).toBeUndefined();
    expect(retryAfterMs(null, 10_000)).toBeUndefined();
    expect(retryAfterMs('-1', 10_000)).toBeUndefined();
  });
});

describe('HttpClient with several endpoints', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A loopback server answering every request with `status`; it records what it got. */
  async function serve(status: number, seen: string[]): Promise<string> {
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${String(req.headers['idempotency-key'] ?? '-')}`);
      if (status === 503) res.setHeader('retry-after', '0');
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'j_1', state: 'queued' }));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A port nobody listens on (connection refused). */
  async function deadUrl(): Promise<string> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return `http://127.0.0.1:${port}`;
  }

  const answer = z.object({ id: z.string() });
  const noSleep = { now: () => Date.now(), sleep: () => Promise.resolve() };

  it('goes on to the next endpoint when one refuses the connection, and starts there afterwards', async () => {
    const seen: string[] = [];
    const client = new HttpClient(parseConfig({ JR_API_URL: `${await deadUrl()},${await serve(200, seen)}` }), noSleep);
    const posted = await client.json('v1/jobs', answer, {
      method: 'POST',
      body: '{}',
      headers: { 'idempotency-key': 'k' },
    });
    expect(posted.value.id).toBe('j_1');
    await client.json('v1/jobs/j_1', answer);
    expect(seen).toEqual(['POST /v1/jobs k', 'GET /v1/jobs/j_1 -']);
    expect(client.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('goes on to the next endpoint after a 503, with the same Idempotency-Key', async () => {
    const busy: string[] = [];
    const good: string[] = [];
    const client = new HttpClient(
      parseConfig({ JR_API_URL: `${await serve(503, busy)},${await serve(200, good)}` }),
      noSleep,
    );
    await client.json('v1/jobs', answer, { method: 'POST', body: '{}', headers: { 'idempotency-key': 'same' } });
    expect(busy).toEqual(['POST /v1/jobs same']);
    expect(good).toEqual(['POST /v1/jobs same']);
  });

  it('every endpoint 503: rounds up to the retries, then the 503 is the error', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const client = new HttpClient(
      parseConfig({ JR_API_URL: `${await serve(503, a)},${await serve(503, b)}` }),
      noSleep,
    );
    await expect(client.json('v1/jobs', answer, { method: 'POST', body: '{}', retries: 1 })).rejects.toMatchObject({
      exitCode: 69,
      status: 503,
    });
    expect([a.length, b.length]).toEqual([2, 2]);
  });

  it('no endpoint reachable: exit 69 naming each', async () => {
    const client = new HttpClient(parseConfig({ JR_API_URL: `${await deadUrl()},${await deadUrl()}` }), noSleep);
    const err = (await client.json('v1/jobs', answer).catch((e: unknown) => e)) as CliError;
    expect(err.exitCode).toBe(69);
    expect(err.message).toMatch(/^no endpoint of the API answered: .*ECONNREFUSED.*; .*ECONNREFUSED/);
  });

  it('a 4xx answer is final: the next endpoint is not asked', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const client = new HttpClient(
      parseConfig({ JR_API_URL: `${await serve(400, a)},${await serve(200, b)}` }),
      noSleep,
    );
    await expect(client.json('v1/jobs', answer, { method: 'POST', body: '{}' })).rejects.toMatchObject({
      exitCode: 64,
    });
    expect(b).toEqual([]);
  });
});
