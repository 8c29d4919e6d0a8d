import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack, waitFor } from '@jr/testing';

// The 60 s seeded soak (`npm run chaos -- --duration 60s --seed 6060`) ran here until it hung in two CI
// runs in a row (a probe job for one agent not run for 3 min after the slow-network fault, under the
// suite's parallel load; every run alone or beside other e2e suites here passed): it runs through
// `npm run chaos` until that is found. What stays in `npm test` is the scenario the soak found.
jest.setTimeout(120_000);

/** Members of process group `pgid` that are more than zombies (a PID 1 here may never reap). */
function liveMembers(pgid: number): number {
  let n = 0;
  for (const name of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const stat = (() => {
      try {
        return fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        return '';
      }
    })();
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') n++;
  }
  return n;
}

// Found by the soak (seed 4242, "runs orphaned by agent SIGKILL"): a SIGKILLed agent's step kept
// running in its own process group beside the job's next attempt. The restarted agent now kills it.
it('an agent SIGKILLed mid-step: its restart kills the step left running, and only the next attempt finishes', async () => {
  const stack = new Stack('1s');
  await stack.start();
  try {
    await stack.startAgent('victim', { slots: 1 });
    const pidFile = path.join(stack.dropDir, 'step.pid');
    const marker = path.join(stack.dropDir, 'finished');
    const script = `if [ "$JR_ATTEMPT" = 1 ]; then echo $$ > ${pidFile}; sleep 20; fi; echo "attempt $JR_ATTEMPT" >> ${marker}`;
    const submit = await stack.cli(['submit', '--json', '--', 'sh', '-c', script]);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    const pgid = await waitFor(() => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8').trim()), {
      timeoutMs: 20_000,
      what: 'the step to start',
    });
    await stack.agents.get('victim')?.kill();
    expect(liveMembers(pgid)).toBeGreaterThan(0);
    const restarted = await stack.startAgent('victim', { slots: 1, waitActive: false });
    await waitFor(() => restarted.log().split('"jr-agent ready"').length === 3, {
      timeoutMs: 20_000,
      what: 'the agent to start again',
    });
    expect(liveMembers(pgid)).toBe(0);
    const wait = await stack.cli(['wait', id, '--timeout', '60s']);
    expect(wait.code).toBe(0);
    expect((await stack.job(id)).attempts.map((a) => a.state)).toEqual(['lost', 'succeeded']);
    await new Promise((r) => setTimeout(r, 500));
    expect(fs.readFileSync(marker, 'utf8')).toBe('attempt 2\n');
  } finally {
    await stack.close();
  }
});
