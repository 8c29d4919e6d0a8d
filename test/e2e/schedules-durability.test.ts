import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { JobPage, JobView, ScheduleView } from '@jr/contracts';
import { deleteRedisPrefix, replicatedStackOptions, Stack, waitFor, type ApiReplica } from '@jr/testing';

// A schedule that fires every second, made with the real CLI, on two real jr-api replicas and a real agent.
// Mid-run the leading replica is SIGKILLed (at a fire time: one fires every second), then the stack's Redis
// keys are deleted, then the killed replica comes back. Every fire time from the first job to the pause must
// have made exactly one job (catch-up `all` fills the seconds nobody led; the unique key refuses a second),
// every job succeeded, and each ran as often as it had attempts that started (a marker file counts runs).
jest.setTimeout(150_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a schedule across a SIGKILL of the leader, an emptied Redis and a second replica', () => {
  let stack: Stack;
  let b: ApiReplica;

  beforeAll(async () => {
    stack = await new Stack('1s', await replicatedStackOptions()).start();
    b = await stack.startReplica('b');
    await stack.startAgent('w1', { slots: 8, grpcTarget: `${stack.grpcAddress},${b.grpcAddress}` });
  });
  afterAll(() => stack?.close());

  async function allJobs(id: string): Promise<JobView[]> {
    const out: JobView[] = [];
    let cursor: string | null = null;
    do {
      const page: JobPage = await stack.get<JobPage>(
        `/v1/jobs?schedule=${id}&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
      );
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out.reverse();
  }

  it('makes exactly one job per fire time, and each job runs', async () => {
    const marker = path.join(stack.dropDir, 'runs');
    const made = await stack.cli([
      'schedule',
      'create',
      'every-second',
      '--cron',
      '* * * * * *',
      '--overlap',
      'allow',
      '--catchup',
      'all',
      '--catchup-window',
      '10m',
      '--json',
      '--',
      'sh',
      '-c',
      `echo "$JR_JOB_ID" >> ${marker}`,
    ]);
    expect(made.code).toBe(0);
    const { id } = JSON.parse(made.stdout) as { id: string };
    await sleep(4_000);
    stack.useRestOf(b);
    await stack.api.kill(); // the first replica led (it started first)
    await sleep(3_000); // b takes over the duty and catches up the seconds nobody led
    await deleteRedisPrefix(stack.redisUrl, stack.prefix);
    await sleep(3_000);
    await stack.startApi();
    await sleep(3_000);
    const paused = await stack.cli(['schedule', 'pause', 'every-second']);
    expect(paused.code).toBe(0);

    const jobs = await allJobs(id);
    await waitFor(
      async () => (await Promise.all(jobs.map((j) => stack.job(j.id)))).every((j) => j.state === 'succeeded'),
      { timeoutMs: 90_000, intervalMs: 500, what: 'every scheduled job to succeed' },
    );
    // one job per fire time, and no second missing between the first and the last
    const times = jobs.map((j) => Date.parse(j.fireTime ?? ''));
    expect(new Set(times).size).toBe(jobs.length);
    const sorted = [...times].sort((x, y) => x - y);
    const first = sorted[0] as number;
    expect(sorted).toEqual(sorted.map((_, i) => first + i * 1_000));
    expect(jobs.length).toBeGreaterThanOrEqual(12);
    const view = await stack.get<ScheduleView>(`/v1/schedules/${id}`);
    expect(view.missed).toEqual([]);
    // each ran once per attempt that started (a rerun is the lease policy's, never a second job)
    const runs = new Map<string, number>();
    for (const line of readFileSync(marker, 'utf8').split('\n').filter(Boolean))
      runs.set(line, (runs.get(line) ?? 0) + 1);
    const finals = await Promise.all(jobs.map((j) => stack.job(j.id)));
    const wrong = finals.filter((j) => {
      const n = runs.get(j.id) ?? 0;
      return n < 1 || n > j.attempts.filter((a) => a.startedAt !== null).length;
    });
    expect(wrong.map((j) => `${j.id} ran ${runs.get(j.id) ?? 0}x, attempts ${j.attempts.length}`)).toEqual([]);
    console.log(
      `[figures] schedule every second: ${jobs.length} fire times, ${jobs.length} jobs; ` +
        `runs ${[...runs.values()].reduce((x, y) => x + y, 0)}; jobs with more than one attempt ${finals.filter((j) => j.attempts.length > 1).length}`,
    );
  });
});
