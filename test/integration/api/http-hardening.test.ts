/* eslint-disable @typescript-eslint/no-unsafe-return -- HTTP answers' JSON bodies are untyped in these tests */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import { startPrivateRedis, TEST_ADMIN_TOKEN, waitFor, type PrivateService } from '@jr/testing';
import { http, rawConnection, startTestApi, type TestApi } from './harness';

const job = { steps: [{ run: 'true' }] };

/** What a raw socket saw: bytes received, and whether (and when) the server closed it. */
interface Watched {
  socket: Socket;
  received: string;
  closed: boolean;
}

function watch(socket: Socket): Watched {
  const w: Watched = { socket, received: '', closed: false };
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (w.received += d.length < 4096 ? d : d.slice(0, 4096)));
  socket.on('error', () => undefined);
  socket.on('close', () => (w.closed = true));
  return w;
}

describe('slowloris', () => {
  let t: TestApi;
  const sockets: Watched[] = [];
  beforeAll(async () => {
    t = await startTestApi({ JR_HTTP_HEAD_TIMEOUT: '2s', JR_HTTP_READ_TIMEOUT: '4s', JR_KEEPALIVE_TIMEOUT: '1s' });
  });
  afterAll(async () => {
    for (const w of sockets) w.socket.destroy();
    await t?.cleanup();
  });

  it('closes 1,000 sockets that never finish their request head within the header timeout, while a normal client is served', async () => {
    const openedAt = Date.now();
    for (let i = 0; i < 1_000; i++) {
      const w = watch(await rawConnection(t));
      sockets.push(w);
      // half send nothing at all, half a request head that never ends
      if (i % 2 === 1) w.socket.write(`GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: a`);
    }
    // all of them still open, and a normal client is answered meanwhile
    const normal = await http(t, 'GET', '/v1/agents');
    expect(normal.status).toBe(200);
    // the header timeout (2 s) plus the server's check interval (a quarter of it), and slack for a loaded machine
    await waitFor(() => sockets.every((w) => w.closed), { what: 'every slow socket closed', timeoutMs: 10_000 });
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(2_000);
    expect(sockets.filter((w) => w.received.startsWith('HTTP/1.1 408')).length).toBeGreaterThan(0);
    expect(sockets.some((w) => w.received.includes('200 OK'))).toBe(false);
    expect((await http(t, 'GET', '/v1/agents')).status).toBe(200);
  });

  it('closes an idle keep-alive connection after JR_KEEPALIVE_TIMEOUT', async () => {
    const w = watch(await rawConnection(t));
    sockets.push(w);
    w.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    await waitFor(() => w.received.startsWith('HTTP/1.1 200'), { what: 'the answer' });
    expect(w.received.toLowerCase()).toMatch(/keep-alive: timeout=1/);
    await waitFor(() => w.closed, { what: 'the idle connection to be closed', timeoutMs: 5_000 });
  });

  it('drops connections past JR_MAX_CONNECTIONS at once', async () => {
    const capped = await startTestApi({ JR_MAX_CONNECTIONS: '16' });
    const held: Watched[] = [];
    try {
      for (let i = 0; i < 16; i++) held.push(watch(await rawConnection(capped)));
      // over TLS the dropped connection fails its handshake; in plain text it is closed before any answer
      const extra = await rawConnection(capped).then(
        (socket) => watch(socket),
        () => undefined,
      );
      if (extra) {
        held.push(extra);
        extra.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await waitFor(() => extra.closed, { what: 'the connection over the cap to be dropped' });
        expect(extra.received).toBe('');
      }
      expect(held.slice(0, 16).every((w) => !w.closed)).toBe(true);
      for (const w of held) w.socket.destroy();
      await waitFor(async () => (await http(capped, 'GET', '/healthz').catch(() => undefined))?.status === 200, {
        what: 'the API to serve again below the cap',
      });
    } finally {
      for (const w of held) w.socket.destroy();
      await capped.cleanup();
    }
  });
});

describe('authentication before the body', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => t?.cleanup());

  /** Streams up to `total` bytes of body after the head, honouring back-pressure, until the server closes. */
  async function pushBody(head: string, total: number, chunked = false): Promise<{ written: number; w: Watched }> {
    const w = watch(await rawConnection(t));
    w.socket.write(head);
    const data = Buffer.alloc(64 * 1024, 0x20);
    const chunk = chunked ? Buffer.concat([Buffer.from('10000\r\n'), data, Buffer.from('\r\n')]) : data;
    let written = 0;
    while (written < total && !w.closed && !w.socket.destroyed) {
      const more = w.socket.write(chunk);
      written += chunk.length;
      if (!more)
        await new Promise<void>((resolve) => {
          w.socket.once('drain', resolve);
          w.socket.once('close', resolve);
        });
    }
    await waitFor(() => w.closed, { what: 'the server to close the connection' });
    return { written, w };
  }

  it('answers an unauthenticated 100 MB POST with 401 and closes the connection without reading the body', async () => {
    const total = 100 * 1024 * 1024;
    const head = `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`;
    const { written, w } = await pushBody(head, total);
    expect(w.received).toMatch(/^HTTP\/1\.1 401 /);
    expect(w.received.toLowerCase()).toContain('connection: close');
    // what the client got into the socket before the server hung up: socket buffers, not 100 MB
    expect(written).toBeLessThan(total / 4);
  });

  it('does the same with a wrong token and a chunked body of unknown length', async () => {
    const head =
      'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n' +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const total = 100 * 1024 * 1024;
    const { written, w } = await pushBody(head, total, true);
    expect(w.received).toMatch(/^HTTP\/1\.1 401 /);
    expect(written).toBeLessThan(total / 4);
  });

  it('still reads and accepts the body of an authenticated request', async () => {
    const r = await http(t, 'POST', '/v1/jobs', { body: job });
    expect(r.status).toBe(202);
  });

  it('drops a body that stalls past JR_BODY_IDLE_TIMEOUT', async () => {
    const quick = await startTestApi({ JR_BODY_IDLE_TIMEOUT: '500ms' });
    try {
      const w = watch(await rawConnection(quick));
      w.socket.write(
        `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"steps":',
      );
      await waitFor(() => w.closed, { what: 'the stalled upload to be cut' });
      expect(w.received).not.toMatch(/^HTTP\/1\.1 202/);
    } finally {
      await quick.cleanup();
    }
  });
});

describe('Redis down', () => {
  let base: string;
  let redis: PrivateService;
  let t: TestApi;
  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-limits-redis-'));
    redis = await startPrivateRedis(base);
    t = await startTestApi({ REDIS_URL: redis.url, JR_RATE_LIMIT_TOKEN: '1000/1h', JR_RATE_LIMIT_ADDRESS: 'off' });
  });
  afterAll(async () => {
    await t?.cleanup();
    await redis?.stop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('fails open: intake still acknowledges durable jobs, limited per process, and counts the store errors', async () => {
    const before = await http(t, 'POST', '/v1/jobs', { body: job });
    expect(before.status).toBe(202);
    expect(before.headers.get('ratelimit')).toMatch(/^"token";r=\d+;t=\d+/);
    await redis.stop();
    // the first ones may still be spent from the block of points taken before (10 of 1,000); past it the
    // replica asks Redis, fails, and counts on its own
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await http(t, 'POST', '/v1/jobs', { body: job }));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(202));
    const during = answers[11]!;
    expect(during.json.state).toBe('queued');
    // the in-process twin of the limit answers meanwhile
    expect(during.headers.get('ratelimit-policy')).toBe('"token";q=1000;w=3600');
    const metrics = (await http(t, 'GET', '/metrics')).text;
    expect(Number(/^jr_rate_limit_store_errors_total (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    await redis.start();
    const after = await waitFor(async () => (await http(t, 'GET', `/v1/jobs/${during.json.id}`)).json);
    expect(after.id).toBe(during.json.id);
  });
});
