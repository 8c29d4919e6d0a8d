import * as net from 'node:net';
import { FaultProxy } from './proxy';

/** An echo server on loopback: what the proxy forwards comes straight back. */
async function echoServer(): Promise<{ port: number; close(): Promise<void>; connections: net.Socket[] }> {
  const connections: net.Socket[] = [];
  const server = net.createServer((s) => {
    connections.push(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    close: () => {
      for (const c of connections) c.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client that collects what it receives and how the connection ended. */
function client(port: number): { socket: net.Socket; received: () => Buffer; ended: Promise<string> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<string>((resolve) => {
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('close', () => resolve('closed'));
  });
  return { socket, received: () => Buffer.concat(chunks), ended };
}

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('FaultProxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;

  beforeEach(async () => {
    echo = await echoServer();
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: echo.port });
  });
  afterEach(async () => {
    await proxy.close();
    await echo.close();
  });

  it('passes bytes both ways unchanged', async () => {
    const c = client(proxy.port);
    const payload = Buffer.from('hello through the proxy');
    c.socket.write(payload);
    await until(() => c.received().length === payload.length);
    expect(c.received().equals(payload)).toBe(true);
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesUp: payload.length, bytesDown: payload.length });
    c.socket.destroy();
  });

  it('delays every chunk by at least the latency, keeping their order', async () => {
    proxy.setMode({ kind: 'latency', ms: 150 });
    const c = client(proxy.port);
    const started = Date.now();
    for (const part of ['a', 'b', 'c', 'd']) c.socket.write(part);
    await until(() => c.received().length === 4);
    // Up and down are each delayed: the echo needs at least two latencies (a lower bound, never flaky).
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(c.received().toString()).toBe('abcd');
    c.socket.destroy();
  });

  it('blackhole holds what arrives (nothing answered), and releases it when healed', async () => {
    proxy.setMode({ kind: 'blackhole' });
    const c = client(proxy.port);
    c.socket.write('held');
    await until(() => proxy.stats.accepted === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.received().length).toBe(0);
    expect(echo.connections).toHaveLength(0);
    proxy.setMode({ kind: 'pass' });
    await until(() => c.received().length === 4);
    expect(c.received().toString()).toBe('held');
    c.socket.destroy();
  });

  it('blackhole stalls connections that were already open', async () => {
    const c = client(proxy.port);
    c.socket.write('1');
    await until(() => c.received().length === 1);
    proxy.setMode({ kind: 'blackhole' });
    c.socket.write('2');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.received().toString()).toBe('1');
    proxy.setMode({ kind: 'pass' });
    await until(() => c.received().length === 2);
    expect(c.received().toString()).toBe('12');
    c.socket.destroy();
  });

  it('reset cuts open connections with a RST and refuses new ones the same way', async () => {
    const open = client(proxy.port);
    open.socket.write('x');
    await until(() => open.received().length === 1);
    proxy.setMode({ kind: 'reset' });
    expect(await open.ended).toBe('ECONNRESET');
    const fresh = client(proxy.port);
    expect(await fresh.ended).toMatch(/ECONNRESET|closed/);
    expect(proxy.stats.resets).toBeGreaterThanOrEqual(2);
  });

  it('dropAfter forwards exactly N bytes of a connection, then cuts it', async () => {
    proxy.setMode({ kind: 'dropAfter', bytes: 10 });
    const c = client(proxy.port);
    c.socket.write('0123456789abcdef');
    expect(await c.ended).toMatch(/ECONNRESET|closed/);
    // 10 bytes went up; nothing was left of the budget for the echo coming back.
    expect(proxy.stats.bytesUp).toBe(10);
    expect(c.received().length).toBe(0);
  });

  it('dropAfter counts both directions together', async () => {
    proxy.setMode({ kind: 'dropAfter', bytes: 6 });
    const c = client(proxy.port);
    c.socket.write('abc');
    await until(() => c.received().length === 3);
    c.socket.write('defg');
    // the cut can reach the client before or while it writes 'defg': a reset, a close, or EPIPE on the write
    expect(await c.ended).toMatch(/ECONNRESET|EPIPE|closed/);
    expect(proxy.stats.bytesUp + proxy.stats.bytesDown).toBe(6);
  });

  it('switching back to pass serves new connections normally', async () => {
    proxy.setMode({ kind: 'reset' });
    expect(await client(proxy.port).ended).toMatch(/ECONNRESET|closed/);
    proxy.setMode({ kind: 'pass' });
    const c = client(proxy.port);
    c.socket.write('back');
    await until(() => c.received().length === 4);
    c.socket.destroy();
  });

  it('refuses nonsense modes', () => {
    expect(() => proxy.setMode({ kind: 'latency', ms: -1 })).toThrow(RangeError);
    expect(() => proxy.setMode({ kind: 'latency', ms: Number.NaN })).toThrow(RangeError);
    expect(() => proxy.setMode({ kind: 'dropAfter', bytes: 1.5 })).toThrow(RangeError);
    expect(proxy.currentMode).toEqual({ kind: 'pass' });
  });

  it('resets the client when the target refuses connections', async () => {
    await echo.close();
    const c = client(proxy.port);
    c.socket.write('anyone?');
    expect(await c.ended).toMatch(/ECONNRESET|closed/);
    echo = await echoServer();
  });
});
