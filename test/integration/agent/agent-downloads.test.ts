import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@jr/testing';
import type { AgentHandle } from '../../../apps/agent/src/agent';
import { agentConfig, runAgent, shell, spec, tempDataDir } from './agent-harness';
import { FakeAgentApi } from './fake-agent-api';

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
    res.writeHead(m ? 206 : 200, { 'content-length': String(body.length - start), ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
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
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('jobs with `uses` artifacts (local HTTP server)', () => {
  let api: FakeAgentApi;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let agent: AgentHandle | undefined;
  let srv: Awaited<ReturnType<typeof artifactServer>> | undefined;
  const tool = Buffer.from(Array.from({ length: 400_000 }, (_v, i) => (i * 7) % 256));

  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    data = await tempDataDir();
    ({ agent } = await runAgent(agentConfig(api.address, data.dir)));
  });
  afterEach(async () => {
    await agent?.stopNow();
    agent = undefined;
    await srv?.close();
    srv = undefined;
    await api.stop();
    await data.remove();
  });

  it('retries a server failing the first requests, resumes a cut transfer, verifies, and hands the file to the steps', async () => {
    srv = await artifactServer({ '/dl/tool.bin': tool }, { failFirst: 2, cutAfter: 150_000 });
    const jobId = api.enqueue(spec([shell('sha256sum "$JR_ARTIFACTS_DIR/tool.bin" | cut -c1-64')], { uses: [{ url: srv.url('/dl/tool.bin'), sha256: sha(tool) }] }));
    await waitFor(() => api.completion(jobId), { timeoutMs: 30_000 });
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(api.output(jobId)).toBe(`${sha(tool)}\n`);
    expect(srv.hits('/dl/tool.bin')).toBe(4);
    expect(srv.ranges).toHaveLength(1);
  });

  it('fails the job (not retried) with checksum_mismatch and a clear line in its log', async () => {
    srv = await artifactServer({ '/evil.bin': Buffer.from('tampered') });
    const jobId = api.enqueue(spec([shell('echo must not run')], { uses: [{ url: srv.url('/evil.bin'), sha256: sha(tool) }] }));
    await waitFor(() => api.completion(jobId), { timeoutMs: 30_000 });
    expect(api.completion(jobId)).toMatchObject({ outcome: 'OUTCOME_FAILED', reason: 'checksum_mismatch', exitCode: -1 });
    expect(api.output(jobId)).toMatch(new RegExp(`^jr-agent: checksum mismatch for http://.*/evil\\.bin: expected sha256 ${sha(tool)}, got ${sha(Buffer.from('tampered'))}\\n$`));
    expect(srv.hits('/evil.bin')).toBe(1);
  });

  it('serves the second job from the content-addressed cache, without a request', async () => {
    srv = await artifactServer({ '/a/tool.bin': tool, '/b/same.bin': tool });
    const first = api.enqueue(spec([shell('wc -c < "$JR_ARTIFACTS_DIR/tool.bin"')], { uses: [{ url: srv.url('/a/tool.bin'), sha256: sha(tool) }] }));
    await waitFor(() => api.completion(first), { timeoutMs: 30_000 });
    const second = api.enqueue(spec([shell('wc -c < "$JR_ARTIFACTS_DIR/same.bin"')], { uses: [{ url: srv.url('/b/same.bin'), sha256: sha(tool) }] }));
    await waitFor(() => api.completion(second), { timeoutMs: 30_000 });
    expect(api.output(second).trim()).toBe(String(tool.length));
    expect(srv.hits('/a/tool.bin')).toBe(1);
    expect(srv.hits('/b/same.bin')).toBe(0);
  });
});
