import { Stack, waitFor } from '@jr/testing';

// An agent SIGKILLed mid-run: after 3 silent heartbeat intervals its attempt ends `lost` and the job
// runs again, on a second agent, to success.
describe('a lost agent', () => {
  const stack = new Stack('1s');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  it('has its job retried on another agent', async () => {
    const first = await stack.startAgent('doomed', { slots: 1 });
    const submit = await stack.cli([
      'submit',
      '--json',
      '--',
      'sh',
      '-c',
      'echo "attempt $JR_ATTEMPT"; sleep 3; echo finished',
    ]);
    expect(submit.code).toBe(0);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    await waitFor(async () => (await stack.job(id)).state === 'running', {
      timeoutMs: 15_000,
      what: 'the job to run on the first agent',
    });
    await first.kill();
    await stack.startAgent('rescuer', { slots: 1 });
    const wait = await stack.cli(['wait', id, '--timeout', '60s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    const job = await stack.job(id);
    expect(job.state).toBe('succeeded');
    expect(job.attempts.map((a) => a.state)).toEqual(['lost', 'succeeded']);
    expect(job.attempts[0]?.agentId).not.toBe(job.attempts[1]?.agentId);
    expect(await stack.logs(id)).toContain('attempt 2');
  });
});
