import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Backoff } from '@jr/resilience';
import { ArtifactCache, contentRangeStart, DownloadError, fileNameFor } from './artifact-cache';
import { LOOPBACK_HTTP, tempDir } from './runner.test-helper';

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A real HTTP server on 127.0.0.1 counting requests per path. */
async function serve(
  handler: Handler,
): Promise<{ url(p: string): string; hits(p: string): number; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const n = (hits.get(req.url ?? '') ?? 0) + 1;
    hits.set(req.url ?? '', n);
    handler(req, res, n);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits: (p) => hits.get(p) ?? 0,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('ArtifactCache (local HTTP server)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let srv: Awaited<ReturnType<typeof serve>> | undefined;
  const signal = new AbortController().signal;
  beforeEach(async () => (tmp = await tempDir('cache')));
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
    await tmp.remove();
  });

  const cache = (o: Partial<ConstructorParameters<typeof ArtifactCache>[0]> = {}): ArtifactCache =>
    new ArtifactCache({
      cacheDir: path.join(tmp.dir, 'cache'),
      backoff: new Backoff({ initialMs: 10, maxMs: 20 }),
      urlPolicy: LOOPBACK_HTTP,
      ...o,
    });

  it('retries a server failing the first two requests and provides the file under its basename', async () => {
    srv = await serve((_req, res, n) => (n <= 2 ? res.writeHead(503).end('busy') : res.end('tool-bytes')));
    const dir = path.join(tmp.dir, 'a1');
    await cache().materialize([{ url: srv.url('/dl/tool.tgz'), sha256: sha('tool-bytes') }], dir, signal);
    expect(await readFile(path.join(dir, 'tool.tgz'), 'utf8')).toBe('tool-bytes');
    expect(srv.hits('/dl/tool.tgz')).toBe(3);
  });

  it('gives up after 3 tries with download_failed', async () => {
    srv = await serve((_req, res) => res.writeHead(502).end());
    const err: unknown = await cache()
      .get({ url: srv.url('/x'), sha256: sha('x') }, signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).reason).toBe('download_failed');
    expect((err as Error).message).toMatch(/after 3 tries: HTTP 502/);
    expect(srv.hits('/x')).toBe(3);
  });

  it('does not retry a 404', async () => {
    srv = await serve((_req, res) => res.writeHead(404).end());
    await expect(cache().get({ url: srv.url('/missing'), sha256: sha('x') }, signal)).rejects.toMatchObject({
      reason: 'download_failed',
    });
    expect(srv.hits('/missing')).toBe(1);
  });

  it('fails a checksum mismatch without retrying and caches nothing', async () => {
    srv = await serve((_req, res) => res.end('evil'));
    const c = cache();
    const err: unknown = await c.get({ url: srv.url('/t'), sha256: sha('good') }, signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'checksum_mismatch' });
    expect((err as Error).message).toContain(sha('evil'));
    expect(srv.hits('/t')).toBe(1);
    expect(await readdir(path.join(tmp.dir, 'cache'))).toEqual([]);
  });

  it('serves a second request from the cache without asking the server', async () => {
    srv = await serve((_req, res) => res.end('payload'));
    const c = cache();
    const a = { url: srv.url('/p.bin'), sha256: sha('payload') };
    await c.materialize([a], path.join(tmp.dir, 'one'), signal);
    await cache().materialize([a], path.join(tmp.dir, 'two'), signal);
    expect(srv.hits('/p.bin')).toBe(1);
    expect(await readFile(path.join(tmp.dir, 'two', 'p.bin'), 'utf8')).toBe('payload');
  });

  it('re-hashes every cache hit: a tampered entry is evicted and downloaded again, the copy is the verified file', async () => {
    srv = await serve((_req, res) => res.end('payload'));
    const evicted: string[] = [];
    const c = cache({ onEvict: (_sha, actual) => evicted.push(actual) });
    const a = { url: srv.url('/p.bin'), sha256: sha('payload') };
    await c.materialize([a], path.join(tmp.dir, 'one'), signal);
    const entry = path.join(tmp.dir, 'cache', a.sha256);
    expect((await stat(entry)).mode & 0o777).toBe(0o444);
    await chmod(entry, 0o644);
    await writeFile(entry, 'tampered');
    await c.materialize([a], path.join(tmp.dir, 'two'), signal);
    expect(await readFile(path.join(tmp.dir, 'two', 'p.bin'), 'utf8')).toBe('payload');
    expect(await readFile(entry, 'utf8')).toBe('payload');
    expect({ evicted, hits: srv.hits('/p.bin') }).toEqual({ evicted: [sha('tampered')], hits: 2 });
  });

  it('downloads the same artifact once when two attempts want it at the same time', async () => {
    srv = await serve((_req, res) => setTimeout(() => res.end('shared'), 50));
    const c = cache();
    const a = { url: srv.url('/s'), sha256: sha('shared') };
    await Promise.all([c.get(a, signal), c.get(a, signal)]);
    expect(srv.hits('/s')).toBe(1);
  });

  it('refuses a body larger than the limit', async () => {
    srv = await serve((_req, res) => res.end(Buffer.alloc(10_000)));
    await expect(
      cache({ maxBytes: 1_000 }).get({ url: srv.url('/big'), sha256: sha('x') }, signal),
    ).rejects.toMatchObject({ reason: 'download_failed' });
  });

  it('abandons and retries a download that stalls', async () => {
    srv = await serve((_req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        return;
      }
      res.end('whole');
    });
    await expect(
      cache({ idleTimeoutMs: 200 }).get({ url: srv.url('/slow'), sha256: sha('whole') }, signal),
    ).resolves.toContain(sha('whole'));
    expect(srv.hits('/slow')).toBe(2);
  });

  it('stops downloading when the attempt is cancelled', async () => {
    srv = await serve(() => undefined);
    const ac = new AbortController();
    const pending = cache().get({ url: srv.url('/never'), sha256: sha('x') }, ac.signal);
    setTimeout(() => ac.abort({ outcome: 'cancelled', reason: 'cancelled' }), 50);
    await expect(pending).rejects.toEqual({ outcome: 'cancelled', reason: 'cancelled' });
  });

  it('reports an unreachable host as download_failed', async () => {
    await expect(cache().get({ url: 'http://127.0.0.1:1/x', sha256: sha('x') }, signal)).rejects.toMatchObject({
      reason: 'download_failed',
    });
  });

  it('refuses an invalid sha256 before fetching anything', async () => {
    await expect(
      cache().get({ url: 'http://127.0.0.1:1/x', sha256: '../../etc/passwd' }, signal),
    ).rejects.toMatchObject({ reason: 'download_failed' });
  });
});

/** Serves `body` with Range support; `cutAt(n)` makes request n stop after that many bytes (then drop the connection). */
function rangeServer(
  body: Buffer,
  o: { cutAt?: (n: number) => number | undefined; etag?: string; bodyFor?: (n: number) => Buffer } = {},
): Handler {
  return (req, res, n) => {
    const data = o.bodyFor?.(n) ?? body;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const honour = range && (!ifRange || ifRange === o.etag);
    const start = honour ? Number(range[1]) : 0;
    if (start >= data.length && honour) {
      res.writeHead(416).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-length': String(data.length - start),
      ...(o.etag ? { etag: o.etag } : {}),
    };
    if (honour) headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(honour ? 206 : 200, headers);
    const cut = o.cutAt?.(n);
    if (cut === undefined) {
      res.end(data.subarray(start));
      return;
    }
    res.write(data.subarray(start, start + cut), () => setTimeout(() => res.destroy(), 50));
  };
}

describe('ArtifactCache resuming (Range)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let srv: Awaited<ReturnType<typeof serve>> | undefined;
  const ranges: Array<string | undefined> = [];
  const signal = new AbortController().signal;
  const body = Buffer.from(Array.from({ length: 300_000 }, (_v, i) => i % 251));
  beforeEach(async () => {
    tmp = await tempDir('resume');
    ranges.length = 0;
  });
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
    await tmp.remove();
  });
  const cache = (): ArtifactCache =>
    new ArtifactCache({
      cacheDir: path.join(tmp.dir, 'cache'),
      backoff: new Backoff({ initialMs: 10, maxMs: 20 }),
      urlPolicy: LOOPBACK_HTTP,
    });
  const recording =
    (h: Handler): Handler =>
    (req, res, n) => {
      ranges.push(req.headers.range);
      h(req, res, n);
    };

  it('resumes where a cut download stopped instead of starting over', async () => {
    srv = await serve(recording(rangeServer(body, { cutAt: (n) => (n === 1 ? 100_000 : undefined), etag: '"v1"' })));
    const file = await cache().get({ url: srv.url('/big.bin'), sha256: sha(body) }, signal);
    expect((await readFile(file)).equals(body)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(ranges[1] ?? '')?.[0])).toBeGreaterThan(0);
  });

  it('keeps going while tries make progress (only tries without progress count against the limit)', async () => {
    srv = await serve(recording(rangeServer(body, { cutAt: () => 70_000 })));
    const file = await cache().get({ url: srv.url('/drip'), sha256: sha(body) }, signal);
    expect((await readFile(file)).equals(body)).toBe(true);
    expect(ranges.length).toBeGreaterThan(3);
  });

  it('starts over when the server ignores the range (200)', async () => {
    srv = await serve(
      recording((req, res, n) => {
        if (n === 1) return rangeServer(body, { cutAt: () => 50_000 })(req, res, n);
        res.end(body);
      }),
    );
    const file = await cache().get({ url: srv.url('/plain'), sha256: sha(body) }, signal);
    expect((await readFile(file)).equals(body)).toBe(true);
    expect(ranges).toHaveLength(2);
  });

  it('starts over (not a checksum failure) when the resource changed between tries', async () => {
    const old = Buffer.from(body).fill(7, 0, 200_000);
    srv = await serve(
      recording(
        rangeServer(body, { cutAt: (n) => (n === 1 ? 100_000 : undefined), bodyFor: (n) => (n === 1 ? old : body) }),
      ),
    );
    const file = await cache().get({ url: srv.url('/changed'), sha256: sha(body) }, signal);
    expect((await readFile(file)).equals(body)).toBe(true);
    expect(ranges[1]).toBeDefined();
    expect(ranges[2]).toBeUndefined();
  });

  it('resumes a partial file left by an earlier run, and starts over on 416', async () => {
    await mkdir(path.join(tmp.dir, 'cache'), { recursive: true });
    await writeFile(path.join(tmp.dir, 'cache', `${sha(body)}.partial`), body.subarray(0, 123_456));
    srv = await serve(recording(rangeServer(body)));
    await cache().get({ url: srv.url('/again'), sha256: sha(body) }, signal);
    expect(ranges).toEqual(['bytes=123456-']);
    await writeFile(path.join(tmp.dir, 'cache', `${sha('tiny')}.partial`), Buffer.alloc(99));
    ranges.length = 0;
    await srv.close();
    srv = await serve(recording(rangeServer(Buffer.from('tiny'))));
    await expect(
      readFile(await cache().get({ url: srv.url('/t'), sha256: sha('tiny') }, signal), 'utf8'),
    ).resolves.toBe('tiny');
    expect(ranges).toEqual(['bytes=99-', undefined]);
  });

  it.each([
    ['bytes 5-9/10', 5],
    ['bytes 0-0/*', 0],
    ['bytes 5-9', undefined],
    ['items 5-9/10', undefined],
    ['bytes -5-9/10', undefined],
    [null, undefined],
  ])('reads Content-Range %j as start %j', (header, start) => expect(contentRangeStart(header)).toBe(start));
});

describe('fileNameFor', () => {
  const s1 = 'a'.repeat(64);
  const s2 = 'b'.repeat(64);

  it('uses the URL basename, decoded', () => {
    expect(fileNameFor({ url: 'https://x/a/tool%20v1.tgz?x=1', sha256: s1 }, new Map())).toBe('tool v1.tgz');
  });

  it.each([
    ['https://x/'],
    ['https://x/a/..%2F..%2Fetc%2Fpasswd'],
    ['https://x/%2e%2e'],
    ['https://x/bad%ZZ'],
    ['https://x/a%00b'],
  ])('falls back to the sha256 for the hostile or empty name in %s', (url) => {
    expect(fileNameFor({ url, sha256: s1 }, new Map())).toBe(s1);
  });

  it('disambiguates two artifacts with the same basename and skips exact duplicates', () => {
    const taken = new Map<string, string>();
    expect(fileNameFor({ url: 'https://x/1/tool', sha256: s1 }, taken)).toBe('tool');
    expect(fileNameFor({ url: 'https://y/2/tool', sha256: s2 }, taken)).toBe(`${s2.slice(0, 12)}-tool`);
    expect(fileNameFor({ url: 'https://z/tool', sha256: s1 }, taken)).toBeUndefined();
  });
});
