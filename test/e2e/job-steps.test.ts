import type { JobPage, JobView } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

// What a real agent reports about steps is what GET /v1/jobs/:id shows: each step's state, exit code
// and duration, the step that failed, and the job's own run time; and a job no agent can take says why.
describe('job view with a real agent', () => {
  const stack = new Stack('1s');

  beforeAll(async () => {
    await stack.start();
    await stack.startAgent('steps-a', { slots: 2 });
  });

  afterAll(() => stack.close());

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
  });

  async function submit(body: object): Promise<string> {
    const res = await stack.fetch('/v1/jobs', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  it('a step that fails (after its retry) is named, the steps after it are skipped, and the run time is the job own', async () => {
    const id = await submit({
      name: 'three-steps',
      steps: [
        { name: 'prepare', run: 'echo ready' },
        { name: 'flaky', run: ['sh', '-c', 'echo trying; exit 3'], retries: 1 },
        { name: 'never', run: 'echo never' },
      ],
    });
    const job = await waitFor(
      async () => {
        const v = await stack.job(id);
        return v.state === 'failed' ? v : undefined;
      },
      { timeoutMs: 30_000, what: 'the job to fail' },
    );
    expect(job.steps.map((s) => [s.index, s.name, s.state, s.exitCode])).toEqual([
      [0, 'prepare', 'succeeded', 0],
      [1, 'flaky', 'failed', 3],
      [2, 'never', 'skipped', null],
    ]);
    for (const s of job.steps.slice(0, 2)) {
      expect(s.durationMs).toBe(Date.parse(s.endedAt as string) - Date.parse(s.startedAt as string));
    }
    expect(job.steps[2]).toMatchObject({ startedAt: null, endedAt: null, durationMs: null });
    expect(job.failedStep).toEqual({ index: 1, name: 'flaky' });
    expect(job.startedAt).toBe(job.attempts[0]?.startedAt);
    expect(job.endedAt).toBe(job.attempts[0]?.endedAt);
    expect(job.durationMs).toBe(Date.parse(job.endedAt as string) - Date.parse(job.startedAt as string));
    const page = await stack.get<JobPage>('/v1/jobs?limit=10');
    expect(page.items.find((j) => j.id === id)).toMatchObject({
      steps: job.steps,
      failedStep: job.failedStep,
      durationMs: job.durationMs,
      exitCode: 3,
    });
  });

  it('a queued job whose labels no agent has says so; the running ones say nothing', async () => {
    const id = await submit({ labels: { gpu: 'true' }, steps: [{ run: 'true' }] });
    const waiting = await waitFor(
      async () => {
        const v: JobView = await stack.job(id);
        return v.waiting ?? undefined;
      },
      { timeoutMs: 20_000, what: 'the job to say why it waits' },
    );
    expect(waiting).toEqual({
      code: 'no_agent_with_labels',
      message: 'no active agent in pool default has labels gpu=true',
    });
    expect((await stack.job(id)).state).toBe('queued');
    const ok = await submit({ steps: [{ run: 'true' }] });
    const done = await waitFor(
      async () => {
        const v = await stack.job(ok);
        return v.state === 'succeeded' ? v : undefined;
      },
      { timeoutMs: 30_000, what: 'the other job to run' },
    );
    expect(done.waiting).toBeNull();
  });
});
