/**
 * `jr-api journal replay --data-dir DIR` (the real bin) on the volume of a replica that died while cut
 * off from PostgreSQL: replica A acknowledges submissions and agents' results it cannot apply (its link
 * to Postgres blackholed), is SIGKILLed, and its data dir is replayed by a separate process while replica
 * B serves. Every acknowledged job becomes visible through B and runs once; results are applied once;
 * a replay while A lives is refused and changes nothing; a second replay applies nothing; a torn tail is
 * kept in quarantine/ and the rest applied; Postgres unreachable and bad arguments are clear errors.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobView } from '@jr/contracts';
import {
  AGENT_MAIN,
  baseEnv,
  FaultProxy,
  freePort,
  REPO_ROOT,
  Stack,
  startAgentProcess,
  startApiProcess,
  TEST_API_LIMITS,
  waitFor,
  type ManagedProcess,
} from '@jr/testing';

jest.setTimeout(240_000);

const JR_API = path.join(REPO_ROOT, 'apps/api/bin/jr-api.js');
const HEARTBEAT = '10s'; // leases last 30 s: the replay comes well before A's leases could be reaped

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface Summary {
  journals: Record<
    'intake' | 'results',
    { found: number; applied: number; alreadyApplied: number; fenced: number; quarantined: number; tornBytes: number }
  >;
}

function run(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [JR_API, ...args], { env: { ...baseEnv(), ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr });
    });
  });
}

let stack: Stack;
let pgProxy: FaultProxy;
const cutReplicas: ManagedProcess[] = [];

const replayEnv = (databaseUrl = stack.databaseUrl): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: stack.redisUrl,
  JR_QUEUE_PREFIX: stack.prefix,
  JR_LOG_LEVEL: 'warn',
});

async function replay(dir: string, databaseUrl?: string): Promise<Run & { summary?: Summary }> {
  const r = await run(['journal', 'replay', '--data-dir', dir, '--json'], replayEnv(databaseUrl));
  return r.code === 0 ? { ...r, summary: JSON.parse(r.stdout) as Summary } : r;
}

/** Replica A: on the stack's database and queues, but reaching Postgres only through `pgProxy`. */
async function startCutReplica(
  name: string,
): Promise<{ proc: ManagedProcess; dir: string; httpPort: number; grpcPort: number }> {
  const url = new URL(stack.databaseUrl);
  url.port = String(pgProxy.port);
  const dir = path.join(stack.dir, `api-${name}`);
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const proc = await startApiProcess(
    {
      httpPort,
      grpcPort,
      dataDir: dir,
      redisUrl: stack.redisUrl,
      databaseUrl: url.toString(),
      adminToken: stack.adminToken,
      enrollToken: stack.enrollToken,
      queuePrefix: stack.prefix,
      heartbeatInterval: HEARTBEAT,
      extraEnv: { ...TEST_API_LIMITS, JR_INSECURE: '1', JR_REPLICA_ID: name },
    },
    path.join(stack.dir, `api-${name}.log`),
  );
  cutReplicas.push(proc); // stopped after the tests even when one fails before it kills the replica
  return { proc, dir, httpPort, grpcPort };
}

async function submit(httpPort: number, name: string, pool: string, shell: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, pool, steps: [{ run: ['/bin/sh', '-c', shell] }] }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** The job as B (the stack's API) sees it, undefined while B does not know it. */
async function onB(id: string): Promise<JobView | undefined> {
  const res = await stack.fetch(`/v1/jobs/${id}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  if (res.status === 404) return undefined;
  return (await res.json()) as JobView;
}

/** B answers 503 for `id`, naming replica a as the one that holds it unapplied. */
async function heldByA(id: string): Promise<boolean> {
  const res = await stack.fetch(`/v1/jobs/${id}`, { headers: { authorization: `Bearer ${stack.adminToken}` } });
  const body = (await res.json()) as { code?: string; detail?: string };
  return res.status === 503 && body.code === 'DEPENDENCY_DOWN' && (body.detail ?? '').includes('replica a ');
}

async function agentIdle(dataDir: string): Promise<boolean> {
  const r = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [AGENT_MAIN, 'status', '--json'], {
      env: { ...baseEnv(), JR_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('close', () => resolve(out));
  });
  const s = JSON.parse(r || '{}') as {
    outbox?: { depth: number };
    attempts?: { running: number; undelivered: number };
  };
  return s.outbox?.depth === 0 && s.attempts?.running === 0 && s.attempts.undelivered === 0;
}

const snapshot = (dir: string): string[] =>
  ['intake', 'results'].flatMap((j) =>
    fs.existsSync(path.join(dir, j))
      ? fs
          .readdirSync(path.join(dir, j))
          .map((f) => `${j}/${f}:${fs.readFileSync(path.join(dir, j, f)).toString('hex')}`)
      : [],
  );

beforeAll(async () => {
  stack = new Stack(HEARTBEAT, { apiEnv: { JR_INSECURE: '1', JR_REPLICA_ID: 'b' } });
  await stack.start();
  const pg = new URL(stack.databaseUrl);
  pgProxy = await FaultProxy.start({ host: pg.hostname, port: Number(pg.port || 5432) });
  await stack.startAgent('b1', { slots: 4 });
}, 60_000);

afterAll(async () => {
  for (const proc of cutReplicas) await proc.stop(10_000).catch(() => undefined);
  await stack?.close();
  await pgProxy?.close();
});

describe('jr-api journal replay', () => {
  it("applies a SIGKILLed replica's acknowledged jobs and results once; refused while it lives; 0 the second time", async () => {
    const a = await startCutReplica('a');
    const agentDir = path.join(stack.dir, 'agent-a1');
    const agent = startAgentProcess(
      {
        grpcTarget: `127.0.0.1:${a.grpcPort}`,
        dataDir: agentDir,
        enrollToken: stack.enrollToken,
        name: 'a1',
        pool: 'pa',
        slots: 3,
        heartbeatInterval: HEARTBEAT,
        extraEnv: { JR_INSECURE: '1' },
      },
      path.join(stack.dir, 'agent-a1.log'),
    );
    stack.agents.set('a1', agent);
    // results: 3 jobs A leases while it reaches Postgres; they finish after its link is cut
    const leased = await Promise.all(
      [0, 1, 2].map((i) => submit(a.httpPort, `r${i}`, 'pa', `sleep 3; echo done-r${i}`)),
    );
    await waitFor(async () => (await Promise.all(leased.map(onB))).every((j) => j?.state === 'running'), {
      timeoutMs: 30_000,
      what: 'the pa jobs to run on a1',
    });
    pgProxy.setMode({ kind: 'reset' }); // A's queries fail at once (a blackhole only delays the same outcome by timeouts)
    await waitFor(() => agentIdle(agentDir), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'A to acknowledge every result',
    });
    // intake: 20 submissions A acknowledges and cannot apply
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(a.httpPort, `s${i}`, 'default', 'true')));
    // B knows them as acknowledged by A and not stored: 503 (retry), not 404 (unknown)
    expect(await heldByA(ids[0] ?? '')).toBe(true);

    const before = snapshot(a.dir);
    const refused = await replay(a.dir);
    expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
      code: 75,
      stderr: expect.stringMatching(
        new RegExp(`^jr-api journal replay: refused: .* in use by jr-api pid ${a.proc.pid}`),
      ),
    });
    expect(snapshot(a.dir)).toEqual(before);
    expect(await heldByA(ids[0] ?? '')).toBe(true);

    await a.proc.kill();
    await agent.kill();
    const first = await replay(a.dir);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
    const intake = first.summary?.journals.intake;
    expect(intake).toMatchObject({ applied: 20, quarantined: 0 });
    expect(intake?.found).toBe((intake?.applied ?? 0) + (intake?.alreadyApplied ?? 0)); // pa jobs A applied itself, if not checkpointed
    expect(first.summary?.journals.results).toMatchObject({ quarantined: 0, fenced: 0 });
    expect(first.summary?.journals.results.applied).toBeGreaterThanOrEqual(3); // at least the 3 completions

    await waitFor(async () => (await Promise.all(ids.map(onB))).every((j) => j?.state === 'succeeded'), {
      timeoutMs: 60_000,
      what: "A's 20 submissions to run through B",
    });
    for (const id of [...ids, ...leased]) {
      const job = await onB(id);
      expect({ id, state: job?.state, attempts: job?.attempts.length }).toEqual({
        id,
        state: 'succeeded',
        attempts: 1,
      });
    }
    for (const [i, id] of leased.entries()) expect((await stack.logs(id)).split(`done-r${i}`).length - 1).toBe(1);

    const second = await replay(a.dir);
    expect(second.code).toBe(0);
    for (const j of Object.values(second.summary?.journals ?? {})) expect(j).toMatchObject({ found: 0, applied: 0 });
  });

  it('keeps a torn tail in quarantine and applies the rest; Postgres unreachable exits 69 and loses nothing', async () => {
    pgProxy.setMode({ kind: 'pass' });
    const a = await startCutReplica('t');
    pgProxy.setMode({ kind: 'reset' }); // A's queries fail at once (a blackhole only delays the same outcome by timeouts)
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(a.httpPort, `t${i}`, 'nowhere', 'true')); // one record each
    await a.proc.kill();
    const segDir = path.join(a.dir, 'intake');
    const seg =
      fs
        .readdirSync(segDir)
        .filter((f) => f.startsWith('seg-'))
        .sort()
        .at(-1) ?? '';
    fs.truncateSync(path.join(segDir, seg), fs.statSync(path.join(segDir, seg)).size - 10); // the last record torn

    const down = await replay(a.dir, `postgres://postgres@127.0.0.1:${await freePort()}/nothing`);
    expect({ code: down.code, stderr: down.stderr.trim() }).toEqual({
      code: 69,
      stderr: expect.stringMatching(
        /^jr-api journal replay: PostgreSQL unreachable \(.*\): every record not applied stays/,
      ),
    });

    const r = await replay(a.dir);
    expect(r.code).toBe(0);
    expect(r.summary?.journals.intake).toMatchObject({ found: 4, applied: 4, quarantined: 0 });
    expect(r.summary?.journals.intake.tornBytes).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(a.dir, 'quarantine')).filter((f) => f.startsWith('intake-torn-'))).toHaveLength(1);
    for (const id of ids.slice(0, 4)) expect((await onB(id))?.state).toBe('queued');
    // the torn record is lost, and the replay removed t's set: B says unknown, not "held by t"
    expect(await onB(ids[4] ?? '')).toBeUndefined();
  });

  it('refuses bad arguments with one clear line: no --data-dir, a directory that is not a data dir, one that does not exist', async () => {
    const missing = await run(['journal', 'replay'], replayEnv());
    expect({ code: missing.code, stderr: missing.stderr.trim() }).toEqual({
      code: 64,
      stderr: "jr-api: required option '--data-dir <dir>' not specified",
    });
    const notData = await replay(stack.dropDir);
    expect({ code: notData.code, stderr: notData.stderr.trim() }).toEqual({
      code: 64,
      stderr: `jr-api journal replay: ${stack.dropDir} is not a jr-api data directory (no intake/ or results/ journal in it)`,
    });
    expect(fs.readdirSync(stack.dropDir)).toEqual([]); // no lock file, no journal left behind
    const nowhere = path.join(stack.dir, 'no-such-dir');
    expect((await replay(nowhere)).code).toBe(64);
    expect(fs.existsSync(nowhere)).toBe(false);
  });
});
