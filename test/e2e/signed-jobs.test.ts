import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  generateSigningKeyPair,
  parseJobSpec,
  parseSigningKey,
  signJob,
  toProtoSpec,
  type JobView,
} from '@jr/contracts';
import { freePort, Stack, waitFor, writeFile } from '@jr/testing';
import { sample, scrape } from '../integration/agent/metrics-text';

// Signed jobs with the real API, agents and CLI: the CLI signs with JR_JOB_SIGNING_KEY, agents with
// JR_JOB_VERIFY_KEYS run only what a known key signed. Unsigned, re-signed by a stranger, expired, or
// changed in Postgres after submission: each ends failed/signature_invalid at once (no retry), nothing
// of it runs, `jr status` says why, and the agent's /metrics counts it by cause.
describe('signed jobs', () => {
  const stack = new Stack('1s');
  let keys: { keyId: string; privateKeyFile: string; publicKeyFile: string };
  let strangerKeyFile: string;
  let verifyMetrics: string;
  let tamperMetrics: string;
  const agentEnv = (port: number): Record<string, string> => ({
    JR_JOB_VERIFY_KEYS: keys.publicKeyFile,
    JR_METRICS_PORT: String(port),
  });

  beforeAll(async () => {
    await stack.start();
    const made = await stack.cli(['keys', 'generate', '--out', path.join(stack.dir, 'keys'), '--json']);
    expect(made.code).toBe(0);
    keys = JSON.parse(made.stdout) as typeof keys;
    strangerKeyFile = writeFile(stack, 'stranger.key', generateSigningKeyPair().privatePem);
    fs.chmodSync(strangerKeyFile, 0o600);
    const port = await freePort();
    verifyMetrics = `http://127.0.0.1:${port}/metrics`;
    await stack.startAgent('verify-a', { slots: 2, extraEnv: agentEnv(port) });
  });

  afterAll(() => stack.close());

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
  });

  const signedEnv = (keyFile = keys.privateKeyFile): Record<string, string> => ({ JR_JOB_SIGNING_KEY: keyFile });
  const marker = (name: string): string => path.join(stack.dropDir, `ran-${name}`);

  async function submit(args: string[], env: Record<string, string> = {}): Promise<string> {
    const r = await stack.cli(['submit', '--json', ...args], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    return (JSON.parse(r.stdout) as { id: string }).id;
  }

  function ended(id: string): Promise<JobView> {
    return waitFor(
      async () => {
        const v = await stack.job(id);
        return ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(v.state) ? v : undefined;
      },
      { timeoutMs: 30_000, what: `job ${id} to end` },
    );
  }

  async function expectRefused(id: string, mark: string): Promise<void> {
    const job = await ended(id);
    expect({ state: job.state, reason: job.reason, exitCode: job.exitCode }).toEqual({
      state: 'failed',
      reason: 'signature_invalid',
      exitCode: -1,
    });
    expect(job.attempts).toHaveLength(1); // terminal: another agent with the same keys would refuse it too
    expect(job.attempts[0]).toMatchObject({ state: 'failed' });
    expect(fs.existsSync(mark)).toBe(false);
    const status = await stack.cli(['status', id]);
    expect(status.stdout).toMatch(/^state: +failed \(signature_invalid\)$/m);
    expect(await stack.logs(id)).toContain('jr-agent: refused to run this job (signature_invalid)');
  }

  it('runs a job the CLI signed, and jr status names the key', async () => {
    const r = await stack.cli(['submit', '--wait', '--', 'sh', '-c', `touch ${marker('signed')}; echo signed-ok`], {
      ...signedEnv(),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('signed-ok\n');
    expect(r.stderr).toContain(`signing with key ${keys.keyId}`);
    expect(fs.existsSync(marker('signed'))).toBe(true);
    const id = /submitted (\S+)/.exec(r.stderr)?.[1] as string;
    const status = await stack.cli(['status', id]);
    expect(status.stdout).toMatch(new RegExp(`^signed: +key ${keys.keyId}, valid until \\S+Z$`, 'm'));
  });

  it('runs a signed job file with several steps, env and timeouts', async () => {
    const file = writeFile(
      stack,
      'job.yaml',
      [
        'name: signed-file',
        'timeout: 2m',
        'env: {STAGE: prod}',
        'steps:',
        '  - {name: one, run: "echo one-$STAGE", timeout: 30s, retries: 1}',
        '  - {run: [sh, -c, "echo two"]}',
      ].join('\n'),
    );
    const id = await submit(['-f', file], signedEnv());
    const job = await ended(id);
    expect(job.state).toBe('succeeded');
    expect(await stack.logs(id)).toBe('one-prod\ntwo\n');
  });

  it('refuses an unsigned job on an agent with verify keys, without retrying it', async () => {
    const id = await submit([
      '--retries',
      '3',
      '--env',
      'PROBE=zz-env-of-a-refused-job',
      '--',
      'touch',
      marker('unsigned'),
    ]);
    await expectRefused(id, marker('unsigned'));
    // the agent says why, once, naming the job but none of its env
    const log = stack.agents.get('verify-a')?.log() ?? '';
    expect(log.split('\n').filter((l) => l.includes(id) && l.includes('refused the job'))).toHaveLength(1);
    expect(log).not.toContain('zz-env-of-a-refused-job');
  });

  it('refuses a job signed by a key the agent does not hold', async () => {
    const id = await submit(['--', 'touch', marker('stranger')], signedEnv(strangerKeyFile));
    await expectRefused(id, marker('stranger'));
  });

  it('refuses a job whose signature expired before an agent took it', async () => {
    const doc = { steps: [{ run: ['touch', marker('expired')] }] };
    const parsed = parseJobSpec(doc);
    if (!parsed.ok) throw new Error('bad doc');
    const key = parseSigningKey(fs.readFileSync(keys.privateKeyFile, 'utf8'));
    const signature = signJob(toProtoSpec(parsed.job), key, new Date(Date.now() - 60_000).toISOString());
    // a document signed elsewhere is submitted as it is (no JR_JOB_SIGNING_KEY here)
    const id = await submit(['-f', writeFile(stack, 'expired.json', JSON.stringify({ ...doc, signature }))]);
    await expectRefused(id, marker('expired'));
  });

  it('refuses a signed job whose command was changed in Postgres while it was queued', async () => {
    // pool "tamper" has no agent yet: the job waits queued while its row is changed underneath
    const id = await submit(['--pool', 'tamper', '--', 'echo', 'harmless'], signedEnv());
    await waitFor(async () => (await stack.job(id)).state === 'queued', { what: 'the job in Postgres' });
    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      const res = await db.query(
        `UPDATE jobs SET spec = jsonb_set(spec, '{steps,0,run}', $2::jsonb) WHERE id = $1 AND state = 'queued'`,
        [id, JSON.stringify(['touch', marker('tampered')])],
      );
      expect(res.rowCount).toBe(1);
    } finally {
      await db.end();
    }
    expect((await stack.job(id)).spec.steps[0]?.run).toEqual(['touch', marker('tampered')]);
    const port = await freePort();
    tamperMetrics = `http://127.0.0.1:${port}/metrics`;
    await stack.startAgent('tamper-a', { pool: 'tamper', extraEnv: agentEnv(port) });
    await expectRefused(id, marker('tampered'));
  });

  it("counts every refusal by cause on the agents' /metrics", async () => {
    const text = await scrape(verifyMetrics);
    const refused = (cause: string, from = text): number | undefined =>
      sample(from, 'jr_agent_jobs_refused_total', { reason: 'signature_invalid', cause });
    expect({
      missing: refused('missing'),
      unknown_key: refused('unknown_key'),
      expired: refused('expired'),
      bad_signature: refused('bad_signature'),
      malformed: refused('malformed'),
    }).toEqual({ missing: 1, unknown_key: 1, expired: 1, bad_signature: 0, malformed: 0 });
    expect(refused('bad_signature', await scrape(tamperMetrics))).toBe(1);
  });
});
