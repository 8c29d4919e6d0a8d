import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Backoff } from '@jr/resilience';
import { parseAgentConfig } from '../config/agent-config';
import { ArtifactCache } from './artifact-cache';
import { JobUserPool } from './job-users';
import { AttemptRun, type AttemptDeps } from './attempt-runner';
import {
  LOOPBACK_HTTP,
  RecordingReporter,
  argvStep,
  assignment,
  shellStep,
  silentLogger,
  tempDir,
} from './runner.test-helper';

describe('AttemptRun (real child processes)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let reporter: RecordingReporter;
  let deps: AttemptDeps;
  beforeEach(async () => {
    tmp = await tempDir('attempt');
    reporter = new RecordingReporter();
    const parsed = parseAgentConfig({
      PATH: process.env.PATH,
      HOME: '/home/agent',
      JR_ENROLL_TOKEN: 'enroll-secret',
      JR_POOL: 'default',
    });
    if (!parsed.ok) throw new Error('config');
    deps = {
      reporter,
      dataDir: tmp.dir,
      workRoot: path.join(tmp.dir, 'work'),
      jobUsers: new JobUserPool([]),
      killGraceMs: 200,
      childEnv: parsed.config.childEnv,
      logger: silentLogger,
      artifacts: new ArtifactCache({
        cacheDir: path.join(tmp.dir, 'cache'),
        urlPolicy: LOOPBACK_HTTP,
        backoff: new Backoff({ initialMs: 5, maxMs: 10 }),
      }),
    };
  });
  afterEach(() => tmp.remove());

  it('gives steps JR_JOB_ID, JR_ATTEMPT and the job env, never the enroll token', async () => {
    const a = assignment([shellStep('echo "$JR_JOB_ID/$JR_ATTEMPT/$STAGE/${JR_ENROLL_TOKEN:-none}/$HOME"')], {
      env: { STAGE: 'prod', HOME: '/job-home' },
    });
    await new AttemptRun(a, deps).run();
    expect(reporter.output(0)).toBe(`${a.jobId}/1/prod/none//job-home\n`);
  });

  it('gives steps the secrets of the lease as environment variables and masks them in both streams', async () => {
    const secret = 'tok-3x4mpl3/+=';
    const a = assignment(
      [
        shellStep(
          'echo "out $DEPLOY_TOKEN"; printf "%s" "$DEPLOY_TOKEN" | base64; echo "err $DEPLOY_TOKEN" >&2; printf "%s" "$DEPLOY_TOKEN" | wc -c',
        ),
      ],
      {},
      undefined,
      { DEPLOY_TOKEN: secret },
    );
    await new AttemptRun(a, deps).run();
    expect(reporter.output(0, 'stdout')).toBe('out [masked:DEPLOY_TOKEN]\n[masked:DEPLOY_TOKEN]\n14\n');
    expect(reporter.output(0, 'stderr')).toBe('err [masked:DEPLOY_TOKEN]\n');
  });

  it('reports every event in one gapless sequence and completes with lastSeq', async () => {
    const a = assignment([
      shellStep('echo one; echo two >&2', { name: 'first' }),
      argvStep(['/bin/echo', 'three'], { name: 'second' }),
    ]);
    const result = await new AttemptRun(a, deps).run();
    expect(result).toEqual({ status: 'completed', jobState: 'done' });
    expect(reporter.events.map((e) => e.seq)).toEqual(reporter.events.map((_e, i) => i + 1));
    expect(reporter.kinds()[0]).toBe('start:0:1');
    expect(reporter.kinds()).toContain('finish:0:succeeded');
    expect(reporter.kinds().slice(-3)).toEqual(['start:1:1', 'log:1:stdout', 'finish:1:succeeded']);
    expect(reporter.events[0]?.stepStarted).toEqual({ step: 0, name: 'first', try: 1 });
    expect(reporter.completions).toEqual([
      expect.objectContaining({
        jobId: a.jobId,
        attempt: 1,
        leaseToken: 'lt-1',
        outcome: 'OUTCOME_SUCCEEDED',
        exitCode: 0,
        lastSeq: reporter.events.length,
      }),
    ]);
    const c = reporter.completions[0]!;
    expect(c.endedAtMs).toBeGreaterThanOrEqual(c.startedAtMs);
    expect(existsSync(path.join(tmp.dir, 'work', `${a.jobId}-1`))).toBe(false);
  });

  it('re-runs a failing step up to its retries and succeeds when a later try does', async () => {
    const script = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo try $n; [ $n -ge 3 ]';
    await new AttemptRun(assignment([shellStep(script, { retries: 2 })]), deps).run();
    expect(reporter.kinds().filter((k) => k.startsWith('start'))).toEqual(['start:0:1', 'start:0:2', 'start:0:3']);
    expect(reporter.kinds().filter((k) => k.startsWith('finish'))).toEqual([
      'finish:0:failed',
      'finish:0:failed',
      'finish:0:succeeded',
    ]);
    expect(reporter.completions[0]?.outcome).toBe('OUTCOME_SUCCEEDED');
  });

  it('ends the attempt FAILED with the exit code of a step that keeps failing, later steps not run', async () => {
    await new AttemptRun(assignment([shellStep('exit 4', { retries: 1 }), shellStep('echo never')]), deps).run();
    expect(reporter.kinds()).toEqual(['start:0:1', 'finish:0:failed', 'start:0:2', 'finish:0:failed']);
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_FAILED', exitCode: 4, reason: 'step_failed' });
  });

  it('fails with exit 127 when an argv program does not exist', async () => {
    await new AttemptRun(assignment([argvStep(['no-such-program-jr'])]), deps).run();
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_FAILED', exitCode: 127 });
    expect(reporter.output(0, 'stderr')).toContain('cannot start "no-such-program-jr"');
  });

  it('times out a step: TIMED_OUT, reason timeout', async () => {
    await new AttemptRun(assignment([shellStep('sleep 1000', { timeoutMs: 200, retries: 3 })]), deps).run();
    expect(reporter.kinds()).toEqual(['start:0:1', 'finish:0:timed_out']);
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_TIMED_OUT', reason: 'timeout' });
  });

  it('times out the whole attempt across steps', async () => {
    await new AttemptRun(assignment([shellStep('sleep 0.1'), shellStep('sleep 1000')], { timeoutMs: 400 }), deps).run();
    expect(reporter.kinds()).toEqual(['start:0:1', 'finish:0:succeeded', 'start:1:1', 'finish:1:timed_out']);
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_TIMED_OUT', reason: 'timeout' });
  });

  it('cancels mid-run: kills the step and completes CANCELLED with the reason given', async () => {
    const run = new AttemptRun(assignment([shellStep('echo started; sleep 1000'), shellStep('echo never')]), deps);
    const done = run.run();
    while (!reporter.output(0).includes('started')) await new Promise((r) => setTimeout(r, 20));
    run.stop({ outcome: 'cancelled', reason: 'lease_lost' });
    await done;
    expect(reporter.kinds().filter((k) => !k.startsWith('log'))).toEqual(['start:0:1', 'finish:0:cancelled']);
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'lease_lost', exitCode: -1 });
  });

  it('kills the attempt when the reporter learns it was superseded', async () => {
    const run = new AttemptRun(assignment([shellStep('echo started; sleep 1000')]), deps);
    const done = run.run();
    while (!reporter.output(0).includes('started')) await new Promise((r) => setTimeout(r, 20));
    reporter.superseders[0]?.();
    await done;
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_CANCELLED', reason: 'superseded' });
  });

  it.each([['../../etc'], ['a/b'], [''], ['.']])(
    'refuses a hostile job id %j without touching the disk outside',
    async (jobId) => {
      await new AttemptRun(assignment([shellStep('touch pwned')], {}, jobId), deps).run();
      expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_FAILED', reason: 'invalid_assignment' });
      expect(reporter.events).toEqual([]);
    },
  );

  it('fails an assignment without a spec or with a step that has nothing to run', async () => {
    const noSpec = { ...assignment([]), spec: null };
    await new AttemptRun(noSpec, deps).run();
    await new AttemptRun(assignment([{ name: 's', timeoutMs: 0, retries: 0 }]), deps).run();
    await new AttemptRun(assignment([argvStep([])]), deps).run();
    expect(reporter.completions.map((c) => c.reason)).toEqual(['invalid_spec', 'invalid_spec', 'invalid_spec']);
  });

  describe('with artifacts', () => {
    let server: http.Server;
    let base: string;
    beforeEach(async () => {
      server = http.createServer((req, res) => res.end(req.url === '/tool.sh' ? 'echo tool ran' : 'other'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it('provides verified artifacts in JR_ARTIFACTS_DIR before the first step', async () => {
      const uses = [{ url: `${base}/tool.sh`, sha256: createHash('sha256').update('echo tool ran').digest('hex') }];
      await new AttemptRun(assignment([shellStep('sh "$JR_ARTIFACTS_DIR/tool.sh"')], { uses }), deps).run();
      expect(reporter.output(0)).toBe('tool ran\n');
      expect(reporter.completions[0]?.outcome).toBe('OUTCOME_SUCCEEDED');
    });

    it('fails checksum_mismatch without running a step', async () => {
      const uses = [{ url: `${base}/tool.sh`, sha256: 'f'.repeat(64) }];
      await new AttemptRun(assignment([shellStep('echo ran')], { uses }), deps).run();
      expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_FAILED', reason: 'checksum_mismatch' });
      expect(reporter.kinds()).toEqual(['log:0:stderr']);
      expect(reporter.output(0, 'stderr')).toContain('checksum mismatch');
    });
  });
});

describe('AttemptRun with hostile numbers in the assignment', () => {
  it('caps step retries and ignores absurd timeouts instead of firing at once', async () => {
    const tmp = await tempDir('hostile');
    const reporter = new RecordingReporter();
    const deps: AttemptDeps = {
      reporter,
      dataDir: tmp.dir,
      workRoot: path.join(tmp.dir, 'work'),
      jobUsers: new JobUserPool([]),
      killGraceMs: 100,
      childEnv: { PATH: process.env.PATH ?? '/bin' },
      logger: silentLogger,
      artifacts: new ArtifactCache({ cacheDir: path.join(tmp.dir, 'cache'), urlPolicy: LOOPBACK_HTTP }),
    };
    try {
      await new AttemptRun(
        assignment([shellStep('exit 1', { retries: 1_000_000, timeoutMs: 2 ** 40 })], { timeoutMs: -5 }),
        deps,
      ).run();
      expect(reporter.kinds().filter((k) => k.startsWith('start'))).toHaveLength(11);
      expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_FAILED', exitCode: 1 });
    } finally {
      await tmp.remove();
    }
  });
});
