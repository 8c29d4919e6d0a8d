import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@jr/testing';
import { LOOPBACK_ARTIFACTS, shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(60_000);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A local artifact server: the first `failFirst` requests of a path answer 503, the next one is cut
 * after `cutAfter` bytes (if set); Range requests are honoured. Counts requests and Range headers.
 */
async function artifactServer(files: Record<string, Buffer>, o: { failFirst?: number; cutAfter?: number } = {}) {
  const hits = new Map<string, number>();
  const ranges: string[] = [];
  const server = http.createServer((req, res) => {
    const n = (hits.get(req.url ?? '') ?? 0) + 1;
    hits.set(req.url ?? '', n);
    const body = files[req.url ?? ''];
    if (!body) return void res.writeHead(404).end();
    if (n <= (o.failFirst ?? 0)) return void res.writeHead(503).end('busy');
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) ranges.push(req.headers.range as string);
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, {
      'content-length': String(body.length - start),
      ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (n === (o.failFirst ?? 0) + 1 && o.cutAfter !== undefined) {
      res.write(body.subarray(start, start + o.cutAfter), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p: string) => `http://127.0.0.1:${port}${p}`,
    hits: (p: string) => hits.get(p) ?? 0,
    ranges,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('jobs with `uses` artifacts (local HTTP server)', () => {
  const f = useAgentFixture();
  let srv: Awaited<ReturnType<typeof artifactServer>> | undefined;
  const tool = Buffer.from(Array.from({ length: 400_000 }, (_v, i) => (i * 7) % 256));

  beforeEach(async () => {
    await f.start(LOOPBACK_ARTIFACTS);
  });
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('retries a server failing the first requests, resumes a cut transfer, verifies, and hands the file to the steps', async () => {
    srv = await artifactServer({ '/dl/tool.bin': tool }, { failFirst: 2, cutAfter: 150_000 });
    const jobId = f.api.enqueue(
      spec([shell('sha256sum "$JR_ARTIFACTS_DIR/tool.bin" | cut -c1-64')], {
        uses: [{ url: srv.url('/dl/tool.bin'), sha256: sha(tool) }],
      }),
    );
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 30_000 });
    expect(f.api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(f.api.output(jobId)).toBe(`${sha(tool)}\n`);
    expect(srv.hits('/dl/tool.bin')).toBe(4);
    expect(srv.ranges).toHaveLength(1);
  });

  it('fails the job (not retried) with checksum_mismatch and a clear line in its log', async () => {
    srv = await artifactServer({ '/evil.bin': Buffer.from('tampered') });
    const jobId = f.api.enqueue(
      spec([shell('echo must not run')], { uses: [{ url: srv.url('/evil.bin'), sha256: sha(tool) }] }),
    );
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 30_000 });
    expect(f.api.completion(jobId)).toMatchObject({
      outcome: 'OUTCOME_FAILED',
      reason: 'checksum_mismatch',
      exitCode: -1,
    });
    expect(f.api.output(jobId)).toMatch(
      new RegExp(
        `^jr-agent: checksum mismatch for http://.*/evil\\.bin: expected sha256 ${sha(tool)}, got ${sha(Buffer.from('tampered'))}\\n$`,
      ),
    );
    expect(srv.hits('/evil.bin')).toBe(1);
  });

  it('serves the second job from the content-addressed cache, without a request', async () => {
    srv = await artifactServer({ '/a/tool.bin': tool, '/b/same.bin': tool });
    const first = f.api.enqueue(
      spec([shell('wc -c < "$JR_ARTIFACTS_DIR/tool.bin"')], {
        uses: [{ url: srv.url('/a/tool.bin'), sha256: sha(tool) }],
      }),
    );
    await waitFor(() => f.api.completion(first), { timeoutMs: 30_000 });
    const second = f.api.enqueue(
      spec([shell('wc -c < "$JR_ARTIFACTS_DIR/same.bin"')], {
        uses: [{ url: srv.url('/b/same.bin'), sha256: sha(tool) }],
      }),
    );
    await waitFor(() => f.api.completion(second), { timeoutMs: 30_000 });
    expect(f.api.output(second).trim()).toBe(String(tool.length));
    expect(srv.hits('/a/tool.bin')).toBe(1);
    expect(srv.hits('/b/same.bin')).toBe(0);
  });
});
