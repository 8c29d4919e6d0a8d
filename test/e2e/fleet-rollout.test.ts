import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { JobView, TargetPage, TargetView } from '@jr/contracts';
import { deleteRedisPrefix, Stack, waitFor } from '@jr/testing';

// The issue's fleet scenario with real processes: 12 agents labelled role=web; m01-m03 are stopped before the
// job starts and m02 comes back within the delivery deadline. A rolling fleet job (batch 25 % = 3 in flight,
// maxFailures 2) whose step fails on m04-m06: m02's target runs, m01 and m03 end undelivered, the third failure
// aborts the rollout and what was not started is skipped. (m02's run lasts past m01's and m03's deadline, so
// the slots they hold free before m04-m06 start: they end undelivered, not skipped.) Meanwhile jr-api is SIGKILLed (and restarted) and the
// stack's Redis keys are deleted. A marker file counts each target's runs: every target that ran ran once. Then
// `jr retry --remaining` makes a job over exactly the targets that never ran.
jest.setTimeout(240_000);

const NAMES = Array.from({ length: 12 }, (_, i) => `m${String(i + 1).padStart(2, '0')}`);
const STOPPED = ['m01', 'm02', 'm03'];
const FAILING = ['m04', 'm05', 'm06'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a rolling fleet job over 12 agents, 3 offline, through a SIGKILL and an emptied Redis', () => {
  let stack: Stack;
  const agentOpts = { slots: 2, pool: 'web', extraEnv: { JR_LABELS: 'role=web', JR_LOG_LEVEL: 'warn' } };

  beforeAll(async () => {
    stack = await new Stack('1s').start();
    await Promise.all(NAMES.map((n) => stack.startAgent(n, agentOpts)));
    for (const n of STOPPED) await stack.agents.get(n)!.stop();
    await sleep(3_000); // silent for more than two heartbeat intervals: offline
  });
  afterAll(() => stack?.close());

  async function allTargets(id: string): Promise<TargetView[]> {
    const out: TargetView[] = [];
    let cursor: string | null = null;
    do {
      const page: TargetPage = await stack.get<TargetPage>(
        `/v1/jobs/${id}/targets${cursor ? `?cursor=${cursor}` : ''}`,
      );
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out;
  }

  it('aborts after the third failure, delivers the returning agent, and retries exactly what never ran', async () => {
    const marker = path.join(stack.dropDir, 'runs');
    const step = [
      `echo "$PWD" >> ${marker}`,
      `case "$PWD" in *agent-m04-work*|*agent-m05-work*|*agent-m06-work*) exit 1;; *agent-m02-work*) sleep 20;; esac`,
    ].join('; ');
    const submitted = await stack.cli([
      'submit',
      '--pool',
      'web',
      '--target',
      'role=web',
      '--batch',
      '25%',
      '--max-failures',
      '2',
      '--delivery-timeout',
      '20s',
      '--json',
      '--shell',
      step,
    ]);
    expect(submitted.code).toBe(0);
    const { id } = JSON.parse(submitted.stdout) as { id: string };

    await waitFor(async () => (await stack.job(id)).targets?.total === 12, { timeoutMs: 20_000, what: 'expansion' });
    await stack.api.kill(); // mid-rollout: m01-m03 are due and waiting for their agents
    await sleep(1_000);
    await stack.startApi();
    await stack.startAgent('m02', agentOpts); // back within the 20 s delivery deadline
    await deleteRedisPrefix(stack.redisUrl, stack.prefix); // while m02's run is queued or running

    const done = await waitFor(
      async () =>
        ((v: JobView) => (v.state === 'failed' || v.state === 'succeeded' ? v : undefined))(await stack.job(id)),
      { timeoutMs: 120_000, intervalMs: 500, what: 'the fleet job to end' },
    );
    expect(done).toMatchObject({ state: 'failed', reason: 'rollout_aborted', targets: { total: 12, aborted: true } });
    const byName = Object.fromEntries((await allTargets(id)).map((x) => [x.name, x.state]));
    expect(byName).toMatchObject({ m01: 'undelivered', m02: 'succeeded', m03: 'undelivered' });
    for (const n of FAILING) expect({ n, state: byName[n] }).toEqual({ n, state: 'failed' });
    // after the third failure nothing started: the targets after those that ran are skipped
    const after = NAMES.slice(6).map((n) => byName[n]);
    expect(after.every((s) => s === 'skipped' || s === 'succeeded')).toBe(true);
    expect(after.filter((s) => s === 'skipped').length).toBeGreaterThanOrEqual(4);

    // every target that ran ran exactly once; none of the others ran
    const runs = new Map<string, number>();
    for (const line of readFileSync(marker, 'utf8').split('\n').filter(Boolean)) {
      const name = /agent-(m\d\d)-work/.exec(line)?.[1] ?? line;
      runs.set(name, (runs.get(name) ?? 0) + 1);
    }
    for (const n of NAMES) {
      const ran = ['succeeded', 'failed'].includes(byName[n] ?? '');
      expect({ n, runs: runs.get(n) ?? 0 }).toEqual({ n, runs: ran ? 1 : 0 });
    }

    // jr retry --remaining: a new fleet job over exactly the targets that never ran
    const retried = await stack.cli(['retry', id, '--remaining', '--json']);
    expect(retried.code).toBe(0);
    const again = JSON.parse(retried.stdout) as { id: string };
    const notRun = NAMES.filter((n) => ['undelivered', 'skipped'].includes(byName[n] ?? '')).sort();
    await waitFor(async () => ((await stack.job(again.id)).targets?.total ?? 0) > 0, { what: 'the retry expanded' });
    expect((await allTargets(again.id)).map((x) => x.name).sort()).toEqual(notRun);
    expect((await stack.cli(['cancel', again.id])).code).toBe(0);
    console.log(
      `[figures] fleet rollout: ${JSON.stringify(byName)}; runs ${JSON.stringify(Object.fromEntries(runs))}; retry over ${notRun.length}`,
    );
  });
});
