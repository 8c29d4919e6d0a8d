import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AGENT_MAIN, REPO_ROOT, baseEnv, startAgentProcess, waitFor, type ManagedProcess } from '@jr/testing';
import { shell, spec, tempDataDir } from './agent-harness';
import { FakeAgentApi } from './fake-agent-api';

jest.setTimeout(120_000);

/** The real daemon: `node apps/agent/dist/main.js` with env only, as the e2e tier and `npm run agent` start it. */
describe('jr-agent as a process (dist/main.js)', () => {
  let api: FakeAgentApi;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let proc: ManagedProcess | undefined;

  beforeAll(() => {
    const build = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b', 'apps/agent'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`tsc -b apps/agent failed:\n${build.stdout}${build.stderr}`);
  });
  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    data = await tempDataDir();
  });
  afterEach(async () => {
    await proc?.kill();
    proc = undefined;
    await api.stop();
    await data.remove();
  });

  const logLines = (p: ManagedProcess): Array<Record<string, unknown>> =>
    p.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('prints the ready line with its agent id, runs a job, and exits 0 on SIGTERM', async () => {
    proc = startAgentProcess({ grpcTarget: api.address, dataDir: data.dir, enrollToken: 'enroll-secret', name: 'proc-agent', heartbeatInterval: '200ms' }, path.join(data.dir, 'agent.log'));
    const ready = await waitFor(() => logLines(proc!).find((l) => l.msg === 'jr-agent ready'), { timeoutMs: 20_000, what: 'the ready line' });
    const stored = JSON.parse(await readFile(path.join(data.dir, 'credential.json'), 'utf8')) as { agentId: string };
    expect(ready.agentId).toBe(stored.agentId);
    const jobId = api.enqueue(spec([shell('echo "token=${JR_ENROLL_TOKEN:-unset}"')]));
    await waitFor(() => api.completion(jobId), { timeoutMs: 20_000 });
    expect(api.output(jobId)).toBe('token=unset\n');
    await expect(proc.stop(10_000)).resolves.toEqual({ code: 0, signal: null });
    expect(logLines(proc).pop()).toMatchObject({ msg: 'jr-agent stopped', code: 0 });
  });

  it('exits 2 with one line on stderr naming every bad variable', () => {
    const r = spawnSync(process.execPath, [AGENT_MAIN], { env: { ...baseEnv(), JR_SLOTS: 'lots', JR_LABELS: '=x', JR_LOG_LEVEL: 'chatty' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    for (const v of ['JR_SLOTS', 'JR_LABELS', 'JR_LOG_LEVEL']) expect(lines[0]).toContain(v);
  });
});
