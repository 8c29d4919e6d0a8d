import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { AGENT_MAIN, Stack, baseEnv, waitFor } from '@jr/testing';

// Heartbeats that survive starvation: every slot runs a CPU-hungry job (half of them also flood
// their output through the agent) for several heartbeat intervals. An agent silent for 3 intervals
// (3s here) would lose its leases: every job must end on its first attempt.
describe('heartbeats under CPU starvation and output floods', () => {
  const stack = new Stack('1s');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  function agentStatus(dataDir: string): Promise<{ heartbeats: { ok: number; failed: number; maxLagMs: number } }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [AGENT_MAIN, 'reporting', 'status', '--json'], {
        env: { ...baseEnv(), JR_DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.once('close', (code) =>
        code === 0 ? resolve(JSON.parse(out) as never) : reject(new Error(`status exited ${code}`)),
      );
    });
  }

  it('keeps every lease while all slots burn CPU and flood output', async () => {
    const slots = Math.max(4, os.cpus().length * 2);
    await stack.startAgent('busy', { slots });
    const burn =
      'end=$(( $(date +%s) + 7 )); while [ "$(date +%s)" -lt "$end" ]; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; done; echo burned';
    const flood = `${burn} & head -c 24000000 /dev/zero | tr '\\0' 'x' | fold -w 100; wait`;
    const ids: string[] = [];
    for (let i = 0; i < slots; i++) {
      const r = await stack.cli(['submit', '--json', '--', 'sh', '-c', i % 2 === 0 ? burn : flood]);
      expect(r.code).toBe(0);
      ids.push((JSON.parse(r.stdout) as { id: string }).id);
    }
    for (const id of ids) {
      const wait = await stack.cli(['wait', id, '--timeout', '120s']);
      if (wait.code !== 0) console.error(stack.diagnostics());
      expect(wait.code).toBe(0);
    }
    for (const id of ids) expect((await stack.job(id)).attempts.map((a) => a.state)).toEqual(['succeeded']);
    const status = await waitFor(() => agentStatus(path.join(stack.dir, 'agent-busy')), { timeoutMs: 10_000 });
    // For the record (see the agent's report): how late the heartbeat timer fired at worst.
    console.log(
      `starvation: ${slots} slots, heartbeats ok=${status.heartbeats.ok} failed=${status.heartbeats.failed} maxLagMs=${status.heartbeats.maxLagMs}`,
    );
    expect(status.heartbeats.failed).toBe(0);
  });
});
