import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { generateSigningKeyPair, parseSigningKey, parseVerifyKeys, signJob, type pb } from '@jr/contracts';
import { Backoff } from '@jr/resilience';
import { metricValue, testMetrics } from '../telemetry.test-helper';
import { ArtifactCache } from './artifact-cache';
import { AttemptRun, type AttemptDeps } from './attempt-runner';
import { JobUserPool } from './job-users';
import { LOOPBACK_HTTP, RecordingReporter, assignment, shellStep, silentLogger, tempDir } from './runner.test-helper';

const pair = generateSigningKeyPair();
const signer = parseSigningKey(pair.privatePem);
const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();

function signed(a: pb.Assignment__Output, notAfter = inAnHour()): pb.Assignment__Output {
  const spec = a.spec as pb.JobSpec__Output;
  return { ...a, spec: { ...spec, signature: signJob({ ...spec, signature: null }, signer, notAfter) } };
}

describe('AttemptRun with JR_JOB_VERIFY_KEYS (real child processes)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let reporter: RecordingReporter;
  let deps: AttemptDeps;
  let metrics: ReturnType<typeof testMetrics>;
  let downloads = 0;
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      downloads++;
      res.end('tool');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tool`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(async () => {
    tmp = await tempDir('signed');
    reporter = new RecordingReporter();
    metrics = testMetrics();
    downloads = 0;
    deps = {
      reporter,
      dataDir: tmp.dir,
      workRoot: path.join(tmp.dir, 'work'),
      jobUsers: new JobUserPool([]),
      killGraceMs: 200,
      childEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      logger: silentLogger,
      artifacts: new ArtifactCache({
        cacheDir: path.join(tmp.dir, 'cache'),
        urlPolicy: LOOPBACK_HTTP,
        backoff: new Backoff({ initialMs: 5, maxMs: 10 }),
      }),
      metrics,
      verifyKeys: parseVerifyKeys(pair.publicPem),
    };
  });
  afterEach(() => tmp.remove());

  /** A job that leaves a mark when its step runs, and needs an artifact first. */
  function markingJob(): pb.Assignment__Output {
    const marker = path.join(tmp.dir, 'ran');
    return assignment([shellStep(`touch ${marker}; echo ran`)], {
      uses: [{ url, sha256: '0'.repeat(64) }],
      env: { DEPLOY_TOKEN: 'not-for-logs' },
    });
  }

  async function refused(a: pb.Assignment__Output, cause: string): Promise<void> {
    await new AttemptRun(a, deps).run();
    expect(reporter.completions).toEqual([
      expect.objectContaining({ outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'signature_invalid' }),
    ]);
    expect(reporter.kinds()).toEqual(['log:0:stderr']); // no step started
    expect(reporter.output(0, 'stderr')).toMatch(/^jr-agent: refused to run this job \(signature_invalid\): /);
    expect(existsSync(path.join(tmp.dir, 'ran'))).toBe(false);
    expect(downloads).toBe(0);
    expect(await metricValue(metrics, 'jr_agent_jobs_refused_total', { reason: 'signature_invalid', cause })).toBe(1);
  }

  it('refuses an unsigned job before downloading or running anything', async () => {
    await refused(markingJob(), 'missing');
    expect(reporter.output(0, 'stderr')).toContain('the job is not signed');
  });

  it('refuses a signed job whose command was changed afterwards', async () => {
    const a = signed(markingJob());
    const spec = a.spec as pb.JobSpec__Output;
    const tampered = { ...a, spec: { ...spec, steps: [shellStep(`touch ${path.join(tmp.dir, 'ran')}; id`)] } };
    await refused(tampered, 'bad_signature');
  });

  it('refuses an expired signature and one by a key it does not hold', async () => {
    await refused(signed(markingJob(), new Date(Date.now() - 1_000).toISOString()), 'expired');
    deps.verifyKeys = parseVerifyKeys(generateSigningKeyPair().publicPem);
    reporter.completions.length = 0;
    reporter.events.length = 0;
    await new AttemptRun(signed(markingJob()), deps).run();
    expect(reporter.completions[0]?.reason).toBe('signature_invalid');
    expect(await metricValue(metrics, 'jr_agent_jobs_refused_total', { cause: 'unknown_key' })).toBe(1);
  });

  it('runs a job signed by one of its keys', async () => {
    const a = signed(
      assignment([shellStep(`touch ${path.join(tmp.dir, 'ran')}; echo "$STAGE"`)], { env: { STAGE: 'prod' } }),
    );
    await new AttemptRun(a, deps).run();
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
    expect(reporter.output(0)).toBe('prod\n');
    expect(existsSync(path.join(tmp.dir, 'ran'))).toBe(true);
    expect((await metricValue(metrics, 'jr_agent_jobs_refused_total', { cause: 'missing' })) ?? 0).toBe(0);
  });

  it("covers the job's secrets by their digests: the lease's values must be the signed ones", async () => {
    const job = (value: string): pb.Assignment__Output =>
      assignment([shellStep(`touch ${path.join(tmp.dir, 'ran')}; echo ok`)], {}, undefined, { DEPLOY_TOKEN: value });
    const spec = job('the-signed-value').spec as pb.JobSpec__Output;
    const signature = signJob(
      { ...spec, signature: null, secrets: { DEPLOY_TOKEN: 'the-signed-value' } },
      signer,
      inAnHour(),
    );
    await new AttemptRun({ ...job('the-signed-value'), spec: { ...spec, signature } }, deps).run();
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
    // a compromised API hands out another value under the same signature
    reporter.completions.length = 0;
    reporter.events.length = 0;
    await rm(path.join(tmp.dir, 'ran'));
    await refused({ ...job('swapped-by-the-api'), spec: { ...spec, signature } }, 'bad_signature');
  });

  it('runs a job of built-in steps only unsigned (a canary runs no code); one with env still needs a signature', async () => {
    const noop: pb.Step__Output = { name: 'noop', run: 'builtin', builtin: 'noop', timeoutMs: 0, retries: 0 };
    await new AttemptRun(assignment([noop]), deps).run();
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0 });
    expect(reporter.output(0)).toBe('jr-agent: built-in no-op step\n');
    reporter.completions.length = 0;
    reporter.events.length = 0;
    await refused(assignment([noop, shellStep(`touch ${path.join(tmp.dir, 'ran')}`)]), 'missing');
    reporter.completions.length = 0;
    reporter.events.length = 0;
    await new AttemptRun(assignment([noop], { env: { A: 'b' } }), deps).run();
    expect(reporter.completions[0]?.reason).toBe('signature_invalid');
  });

  it('without verify keys runs unsigned jobs as before', async () => {
    delete deps.verifyKeys;
    await new AttemptRun(assignment([shellStep('echo plain')]), deps).run();
    expect(reporter.completions[0]).toMatchObject({ outcome: 'OUTCOME_SUCCEEDED' });
    expect(reporter.output(0)).toBe('plain\n');
  });
});
