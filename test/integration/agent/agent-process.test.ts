import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AGENT_MAIN, baseEnv, waitFor } from '@jr/testing';
import { logLines, shell, spec, useAgentFixture } from './agent-harness';

jest.setTimeout(120_000);

/** The real daemon: `node apps/agent/dist/main.js` with env only, as the e2e tier and `npm run agent` start it. */
describe('jr-agent as a process (dist/main.js)', () => {
  const f = useAgentFixture({ build: true });

  it('prints the ready line with its agent id, runs a job, and exits 0 on SIGTERM', async () => {
    const proc = f.spawn({ name: 'proc-agent' });
    const ready = await waitFor(() => logLines(proc).find((l) => l.msg === 'jr-agent ready'), {
      timeoutMs: 20_000,
      what: 'the ready line',
    });
    const stored = JSON.parse(await readFile(path.join(f.dataDir, 'credential.json'), 'utf8')) as { agentId: string };
    expect(ready.agentId).toBe(stored.agentId);
    const jobId = f.api.enqueue(spec([shell('echo "token=${JR_ENROLL_TOKEN:-unset}"')]));
    await waitFor(() => f.api.completion(jobId), { timeoutMs: 20_000 });
    expect(f.api.output(jobId)).toBe('token=unset\n');
    await expect(proc.stop(10_000)).resolves.toEqual({ code: 0, signal: null });
    expect(logLines(proc).pop()).toMatchObject({ msg: 'jr-agent stopped', code: 0 });
  });

  it('exits 2 with one line on stderr naming every bad variable', () => {
    const r = spawnSync(process.execPath, [AGENT_MAIN], {
      env: { ...baseEnv(), JR_SLOTS: 'lots', JR_LABELS: '=x', JR_LOG_LEVEL: 'chatty' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    for (const v of ['JR_SLOTS', 'JR_LABELS', 'JR_LOG_LEVEL']) expect(lines[0]).toContain(v);
  });
});
