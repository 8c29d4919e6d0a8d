import type { JobView } from '@jr/contracts';
import { Stack, groupAlive, waitFor, writeFile } from '@jr/testing';

// The whole path with real processes: CLI -> REST -> journal/Postgres/BullMQ -> gRPC lease -> agent -> result.
describe('a job from the CLI to an agent and back', () => {
  const stack = new Stack('1s');

  beforeAll(async () => {
    await stack.start();
    await stack.startAgent('e2e-a', { slots: 4 });
  });

  afterAll(() => stack.close());

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
  });

  it('runs a two-step job file with --wait: output, exit code and states are right', async () => {
    const file = writeFile(
      stack,
      'job.yaml',
      [
        'name: two-steps',
        'env:',
        '  GREETING: hello',
        'steps:',
        '  - name: first',
        '    run: echo "$GREETING from $JR_JOB_ID attempt $JR_ATTEMPT"',
        '  - name: second',
        '    run: ["sh", "-c", "echo second step; echo to-stderr >&2"]',
        '',
      ].join('\n'),
    );
    const submit = await stack.cli(['submit', '-f', file, '--wait', '--json']);
    expect(submit.code).toBe(0);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    const job = await stack.job(id);
    expect(job.state).toBe('succeeded');
    expect(job.exitCode).toBe(0);
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0]).toMatchObject({ n: 1, state: 'succeeded', exitCode: 0 });
    const logs = await stack.logs(id);
    expect(logs).toContain(`hello from ${id} attempt 1`);
    expect(logs).toContain('second step');
    expect(logs).toContain('to-stderr');
    expect(logs.indexOf('hello from')).toBeLessThan(logs.indexOf('second step'));

    const status = await stack.cli(['status', id, '--json']);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as JobView).state).toBe('succeeded');
  });

  it('reports a failing command as failed with exit code 1 from --wait and the step exit code in status', async () => {
    const submit = await stack.cli(['submit', '--wait', '--json', '--', 'sh', '-c', 'echo failing; exit 3']);
    expect(submit.code).toBe(1);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    const job = await stack.job(id);
    expect(job.state).toBe('failed');
    expect(job.exitCode).toBe(3);
    expect(job.attempts[0]?.exitCode).toBe(3);
  });

  it('ends a step that exceeds its timeout as timed_out, with no process of its group left', async () => {
    const file = writeFile(
      stack,
      'slow.yaml',
      [
        'steps:',
        '  - run: |',
        '      echo "pgid=$$"',
        '      sh -c \'trap "" TERM; sleep 300\' &',
        '      sleep 300',
        '    timeout: 2s',
        '',
      ].join('\n'),
    );
    const submit = await stack.cli(['submit', '-f', file, '--wait', '--json']);
    expect(submit.code).toBe(3);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    expect((await stack.job(id)).state).toBe('timed_out');
    const pgid = Number(/pgid=(\d+)/.exec(await stack.logs(id))?.[1]);
    expect(pgid).toBeGreaterThan(1);
    await waitFor(() => !groupAlive(pgid), { timeoutMs: 5_000, what: `process group ${pgid} to be gone` });
  });

  it('cancels a running job: cancel exits 0, wait exits 2, a second cancel exits 5', async () => {
    const submit = await stack.cli(['submit', '--json', '--', 'sh', '-c', 'echo started; sleep 300']);
    expect(submit.code).toBe(0);
    const { id } = JSON.parse(submit.stdout) as { id: string };
    await waitFor(async () => (await stack.job(id)).state === 'running', { timeoutMs: 15_000, what: 'the job to run' });
    expect((await stack.cli(['cancel', id])).code).toBe(0);
    expect((await stack.cli(['wait', id, '--timeout', '30s'])).code).toBe(2);
    expect((await stack.job(id)).state).toBe('cancelled');
    expect((await stack.cli(['cancel', id])).code).toBe(5);
  });

  it('answers 4 for an unknown job id', async () => {
    expect((await stack.cli(['status', 'j_0000000000aaaaaaaaaaaaaaaa'])).code).toBe(4);
  });
});
