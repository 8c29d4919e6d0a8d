import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentList, JobView } from '@jr/contracts';
import { newGate, Stack, waitFor, type ManagedProcess } from '@jr/testing';

// Real jr-agent processes against a real jr-api: operator enroll tokens fix what an agent may be, the enroll
// token alone takes over nobody, and a revoked agent stops at once while its job finishes elsewhere.
describe('enrolling and revoking real agents', () => {
  const stack = new Stack('1s');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  const view = async (name: string) => (await stack.get<AgentList>('/v1/agents')).items.find((a) => a.name === name);

  /** The one-line reasons the agent printed on stderr (`jr-agent: …`), from `from` (a log offset) on. */
  const stopLines = (agent: ManagedProcess, from = 0): string[] =>
    agent
      .log()
      .slice(from)
      .split('\n')
      .filter((l) => l.startsWith('jr-agent: '));

  const submit = async (pool: string, script: string): Promise<string> => {
    const r = await stack.cli(['submit', '--pool', pool, '--json', '--shell', script]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { id: string }).id;
  };

  const jobWhen = (id: string, ready: (job: JobView) => boolean, what: string): Promise<JobView> =>
    waitFor(
      async () => {
        const job = await stack.job(id);
        return ready(job) ? job : undefined;
      },
      { timeoutMs: 30_000, what },
    );

  it('an operator token fixes the pool and labels: a rogue agent cannot enroll into another pool or add labels', async () => {
    const made = await stack.cli([
      'tokens',
      'create-enroll',
      '--pool',
      'p2',
      '--label',
      'os=linux',
      '--uses',
      '3',
      '--ttl',
      '1h',
      '--json',
    ]);
    expect(made.code).toBe(0);
    const token = (JSON.parse(made.stdout) as { id: string; token: string }).token;
    const rogue = await stack.startAgent('rogue', {
      pool: 'p1',
      waitActive: false,
      extraEnv: { JR_ENROLL_TOKEN: token },
    });
    expect((await rogue.exited()).code).toBe(77);
    expect(stopLines(rogue)).toEqual([expect.stringContaining('is for pool "p2", not "p1"')]);
    const widen = await stack.startAgent('widen', {
      pool: 'p2',
      waitActive: false,
      extraEnv: { JR_ENROLL_TOKEN: token, JR_LABELS: 'os=linux,gpu=yes' },
    });
    expect((await widen.exited()).code).toBe(77);
    expect(stopLines(widen)).toEqual([expect.stringContaining('gpu=yes')]);
    const narrow = await stack.startAgent('narrow', {
      pool: 'p2',
      extraEnv: { JR_ENROLL_TOKEN: token, JR_LABELS: 'os=linux' },
    });
    expect(await view('narrow')).toMatchObject({ pool: 'p2', labels: { os: 'linux' }, state: 'active' });
    expect(await view('rogue')).toBeUndefined();
    const list = await stack.cli(['tokens', 'list-enroll', '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject({ items: [{ pool: 'p2', used: 1, uses: 3, state: 'active' }] });
    // revoked, the token admits nobody more; the agent it admitted keeps running
    const { id: tokenId } = JSON.parse(made.stdout) as { id: string };
    expect((await stack.cli(['tokens', 'revoke-enroll', tokenId])).code).toBe(0);
    expect((await stack.cli(['tokens', 'revoke-enroll', 'et_00000000000000000000'])).code).toBe(4);
    const late = await stack.startAgent('late', {
      pool: 'p2',
      waitActive: false,
      extraEnv: { JR_ENROLL_TOKEN: token, JR_LABELS: 'os=linux' },
    });
    expect((await late.exited()).code).toBe(77);
    expect(stopLines(late)).toEqual([
      expect.stringMatching(/enroll token et_\w+ was revoked by an operator\); check JR_ENROLL_TOKEN/),
    ]);
    expect(narrow.running).toBe(true);
  });

  it('the enroll token with the real agent’s name or id is refused (77); the real agent keeps running jobs', async () => {
    const real = await stack.startAgent('web-01', { pool: 'tk' });
    const realId = (await view('web-01'))!.id;
    const twin = await stack.startAgent('twin', { pool: 'tk', waitActive: false, extraEnv: { JR_NAME: 'web-01' } });
    expect((await twin.exited()).code).toBe(77);
    expect(stopLines(twin)).toEqual([expect.stringContaining(realId)]);
    // a machine that read the id off /metrics and forged a credential for it
    const forgerDir = path.join(stack.dir, 'agent-forger');
    fs.mkdirSync(forgerDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(
      path.join(forgerDir, 'credential.json'),
      JSON.stringify({
        agentId: realId,
        credential: `${realId}.${'x'.repeat(43)}`,
        apiAddress: stack.grpcAddress,
        enrolledAt: new Date().toISOString(),
      }),
      { mode: 0o600 },
    );
    const forger = await stack.startAgent('forger', { pool: 'tk', waitActive: false });
    expect((await forger.exited()).code).toBe(77);
    expect(stopLines(forger)).toEqual([expect.stringContaining('needs its current credential')]);
    expect(real.running).toBe(true);
    const jobId = await submit('tk', 'echo still mine');
    const wait = await stack.cli(['wait', jobId, '--timeout', '30s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    expect((await stack.job(jobId)).attempts).toMatchObject([{ agentId: realId, state: 'succeeded' }]);
    expect((await stack.get<AgentList>('/v1/agents')).items.filter((a) => a.name === 'web-01')).toHaveLength(1);
  });

  it('jr agents revoke: the agent exits 77 once with its line, its running job succeeds on another agent', async () => {
    const victim = await stack.startAgent('victim', { pool: 'rv', slots: 1 });
    const victimId = (await view('victim'))!.id;
    const gate = newGate();
    const jobId = await submit('rv', `echo start-$JR_ATTEMPT; ${gate.wait}; echo done-$JR_ATTEMPT`);
    await jobWhen(
      jobId,
      (j) => j.state === 'running' && j.attempts[0]?.agentId === victimId,
      'the job to run on victim',
    );
    await stack.startAgent('heir', { pool: 'rv', slots: 1 });
    const heirId = (await view('heir'))!.id;

    expect((await stack.cli(['agents', 'revoke', 'a_00000000000000000000'])).code).toBe(4);
    const revoked = await stack.cli(['agents', 'revoke', victimId]);
    expect(revoked.code).toBe(0);
    expect((await victim.exited()).code).toBe(77);
    expect(stopLines(victim)).toEqual([expect.stringContaining('revoked by an operator')]);
    await jobWhen(
      jobId,
      (j) => j.attempts.length === 2 && j.attempts[1]?.agentId === heirId && j.attempts[1]?.state === 'running',
      'attempt 2 to run on heir',
    );
    gate.open();
    const wait = await stack.cli(['wait', jobId, '--timeout', '30s']);
    if (wait.code !== 0) console.error(stack.diagnostics());
    expect(wait.code).toBe(0);
    expect((await stack.job(jobId)).attempts).toMatchObject([
      { n: 1, agentId: victimId, state: 'lost' },
      { n: 2, agentId: heirId, state: 'succeeded' },
    ]);
    expect(await stack.logs(jobId)).toContain('done-2\n');
    const listed = await stack.cli(['agents']);
    expect(listed.stdout).toMatch(new RegExp(`${victimId}.*revoked`));

    // restarted, it stays out; once an operator removes it, the machine enrolls afresh
    const from = victim.log().length;
    const again = await stack.startAgent('victim', { pool: 'rv', slots: 1, waitActive: false });
    expect((await again.exited()).code).toBe(77);
    expect(stopLines(again, from)).toEqual([expect.stringContaining('revoked by an operator')]);
    expect((await stack.cli(['agents', 'rm', victimId])).code).toBe(0);
    await stack.startAgent('victim', { pool: 'rv', slots: 1 });
    expect((await view('victim'))?.id).not.toBe(victimId);
  });
});
