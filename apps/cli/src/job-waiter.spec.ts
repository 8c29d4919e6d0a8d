import type { JobState } from '@jr/contracts';
import { jobViewSchema, type JobAnswer } from './api-schemas';
import { ApiError, CliError, UnreachableError } from './cli-error';
import { EXIT } from './exit-codes';
import type { JobsApi } from './jobs-api';
import { summary, waitForJob } from './job-waiter';
import type { Progress } from './progress';
import type { Clock } from './timing';

/** A clock whose sleeps pass instantly and are recorded. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

function job(state: JobState, reason: JobAnswer['reason'] = null): JobAnswer {
  return jobViewSchema.parse({ id: 'j_1', state, reason, attempts: [], exitCode: null });
}

/** Answers `getJob` from a script: a job view, or an error to throw. */
function scriptedApi(script: Array<JobAnswer | Error>): JobsApi & { calls: number } {
  const api = {
    calls: 0,
    getJob: async () => {
      const step = script[Math.min(api.calls++, script.length - 1)];
      if (step instanceof Error) throw step;
      return step as JobAnswer;
    },
  };
  return api as unknown as JobsApi & { calls: number };
}

function recorder(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    update: (j) => lines.push(`update ${j.state}`),
    note: (l) => lines.push(`note ${l}`),
    finish: (l) => lines.push(`finish ${l}`),
    stop: () => undefined,
    beside: (out) => out,
  };
}

const unreachable = (): UnreachableError => new UnreachableError('cannot reach the API at http://x (ECONNREFUSED)');

describe('waitForJob', () => {
  it('polls with a growing interval from 200 ms up to 2 s until the job is terminal', async () => {
    const clock = fakeClock();
    const running = Array.from({ length: 9 }, () => job('running'));
    const result = await waitForJob(
      scriptedApi([job('queued'), ...running, job('succeeded')]),
      'j_1',
      {},
      recorder(),
      clock,
    );
    expect(result.code).toBe(EXIT.OK);
    expect(clock.sleeps).toEqual([200, 300, 450, 675, 1013, 1520, 2000, 2000, 2000, 2000]);
  });

  it.each([
    [job('failed', 'exit_code'), EXIT.FAILED],
    [job('failed', 'attempts_exhausted'), EXIT.GAVE_UP],
    [job('cancelled', 'cancelled'), EXIT.CANCELLED],
    [job('timed_out', 'timeout'), EXIT.TIMED_OUT],
  ])('exits with the outcome of %j', async (end, code) => {
    expect((await waitForJob(scriptedApi([job('running'), end]), 'j_1', {}, recorder(), fakeClock())).code).toBe(code);
  });

  it('gives up with 7 when its own timeout passes, reporting the last state', async () => {
    const clock = fakeClock();
    const progress = recorder();
    const result = await waitForJob(scriptedApi([job('running')]), 'j_1', { timeoutMs: 5_000 }, progress, clock);
    expect(result.code).toBe(EXIT.WAIT_TIMED_OUT);
    expect(result.job?.state).toBe('running');
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(5_000);
    expect(progress.lines.at(-1)).toContain('gave up waiting after 5.0s');
  });

  it('fails with 69 when the API is never reachable', async () => {
    const api = scriptedApi([unreachable()]);
    await expect(waitForJob(api, 'j_1', { timeoutMs: 60_000 }, recorder(), fakeClock())).rejects.toMatchObject({
      exitCode: EXIT.UNREACHABLE,
    });
    expect(api.calls).toBe(1);
  });

  it('rides out an outage once the API has answered, with backoff and one message each way', async () => {
    const clock = fakeClock();
    const progress = recorder();
    const api503 = new ApiError(EXIT.UNREACHABLE, 'not accepting (HTTP 503)', 503, undefined);
    const script = [job('running'), unreachable(), unreachable(), api503, unreachable(), job('succeeded')];
    const result = await waitForJob(scriptedApi(script), 'j_1', {}, progress, clock);
    expect(result.code).toBe(EXIT.OK);
    expect(progress.lines.filter((l) => l.startsWith('note'))).toEqual([
      'note cannot reach the API at http://x (ECONNREFUSED); retrying',
      'note the API answers again',
    ]);
    const outageSleeps = clock.sleeps.slice(1, 5);
    expect(outageSleeps.every((ms) => ms >= 250 && ms <= 5_000)).toBe(true);
  });

  it('treats an outage right after a submit as transient (the API answered the submit)', async () => {
    const result = await waitForJob(
      scriptedApi([unreachable(), job('succeeded')]),
      'j_1',
      { reachable: true },
      recorder(),
      fakeClock(),
    );
    expect(result.code).toBe(EXIT.OK);
  });

  it('retries 404 only within the grace after a submit', async () => {
    const notFound = (): ApiError => new ApiError(EXIT.UNKNOWN_ID, 'unknown job j_1', 404, undefined);
    const clock = fakeClock();
    expect(
      (
        await waitForJob(
          scriptedApi([notFound(), notFound(), job('succeeded')]),
          'j_1',
          { notFoundGraceMs: 30_000, reachable: true },
          recorder(),
          clock,
        )
      ).code,
    ).toBe(0);
    await expect(
      waitForJob(
        scriptedApi([notFound()]),
        'j_1',
        { notFoundGraceMs: 2_000, reachable: true },
        recorder(),
        fakeClock(),
      ),
    ).rejects.toMatchObject({ exitCode: EXIT.UNKNOWN_ID });
    await expect(waitForJob(scriptedApi([notFound()]), 'j_1', {}, recorder(), fakeClock())).rejects.toMatchObject({
      exitCode: EXIT.UNKNOWN_ID,
    });
  });

  it('stops at once on auth refusal and on unusable answers', async () => {
    const auth = new ApiError(EXIT.AUTH_REFUSED, 'authentication refused', 401, undefined);
    await expect(
      waitForJob(scriptedApi([job('running'), auth]), 'j_1', {}, recorder(), fakeClock()),
    ).rejects.toMatchObject({ exitCode: 77 });
    const bad = new CliError(EXIT.BAD_ANSWER, 'not JSON');
    await expect(
      waitForJob(scriptedApi([job('running'), bad]), 'j_1', {}, recorder(), fakeClock()),
    ).rejects.toMatchObject({ exitCode: 70 });
  });
});

describe('summary', () => {
  const job = {
    id: 'j_1',
    state: 'cancelled',
    reason: 'cancelled',
    exitCode: null,
    attempts: [],
    steps: [],
    failedStep: null,
    waiting: null,
    startedAt: null,
    endedAt: null,
    durationMs: null,
  } as unknown as JobAnswer;

  it("says the job's run time, or that it never started", () => {
    expect(summary(job)).toBe('j_1 cancelled (cancelled), never started');
    expect(summary({ ...job, state: 'succeeded', exitCode: 0, durationMs: 1_500 })).toBe(
      'j_1 succeeded, exit code 0 after 1.5s',
    );
    expect(summary({ ...job, startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:01:30Z' })).toBe(
      'j_1 cancelled (cancelled) after 1m30s',
    );
  });
});
