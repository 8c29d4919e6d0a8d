/**
 * Durable intake throughput: POST /v1/jobs answered 202 (the submission fdatasync'd in the intake
 * journal, group commit) at a fixed concurrency for N seconds, against a real jr-api process on
 * loopback; then, in the same run and on the same Redis, raw BullMQ `add` at the same concurrency for
 * N seconds. Prints both rates, their ratio, the fdatasyncs per second the group commit needed, and how
 * long the relay took to apply the backlog to Postgres/BullMQ.
 *
 *   npm run bench:intake -- [--seconds 10] [--concurrency 64]
 *   JR_BENCH_API_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:intake   # profile jr-api
 *
 * Client, jr-api, Redis and Postgres share this machine's CPUs: the figures are for this machine.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { createTestDatabase, deleteRedisPrefix, freePort, startApiProcess, testRedisUrl, uniquePrefix, waitFor, type ManagedProcess } from '@jr/testing';

interface Options {
  seconds: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 10, concurrency: 64 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(key in o) || !Number.isInteger(value) || value <= 0) throw new Error(`usage: intake-bench [--seconds N] [--concurrency N] (bad: ${argv[i]})`);
    o[key] = value;
  }
  return o;
}

/** Runs `concurrency` loops of `op` until `seconds` have passed; returns completed ops and elapsed seconds. */
async function closedLoop(concurrency: number, seconds: number, op: () => Promise<void>): Promise<{ ops: number; elapsedS: number }> {
  const started = performance.now();
  const deadline = started + seconds * 1_000;
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        ops++;
      }
    }),
  );
  return { ops, elapsedS: (performance.now() - started) / 1_000 };
}

function request(agent: http.Agent, port: number, token: string, body: string | null): Promise<number> {
  const headers = body === null ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: body === null ? 'GET' : 'POST', path: body === null ? '/healthz' : '/v1/jobs', agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

async function benchIntake(api: ManagedProcess, port: number, token: string, o: Options) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const body = JSON.stringify({ name: 'bench', steps: [{ run: ['true'] }] });
  const fsyncsBefore = await metric(port, 'jr_journal_fsyncs_total{journal="intake"}');
  let refused = 0;
  const run = await closedLoop(o.concurrency, o.seconds, async () => {
    const status = await request(agent, port, token, body);
    if (status !== 202) refused++;
  });
  const fsyncs = (await metric(port, 'jr_journal_fsyncs_total{journal="intake"}')) - fsyncsBefore;
  const drainStarted = performance.now();
  await waitFor(async () => /"0 submissions not yet applied"/.test(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text()), {
    timeoutMs: 600_000,
    intervalMs: 100,
    what: 'the relay to apply the backlog',
  });
  const drainS = (performance.now() - drainStarted) / 1_000;
  agent.destroy();
  if (!api.running) throw new Error(`jr-api exited during the bench:\n${api.log().slice(-2_000)}`);
  return { accepted: run.ops - refused, refused, elapsedS: run.elapsedS, fsyncs, drainS };
}

/** GET /healthz through the same client and HTTP stack: the ceiling any route of this API has here. */
async function benchHttpCeiling(port: number, token: string, o: Options) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const run = await closedLoop(o.concurrency, Math.min(5, o.seconds), async () => void (await request(agent, port, token, null)));
  agent.destroy();
  return run.ops / run.elapsedS;
}

async function benchRawBullmq(redisUrl: string, prefix: string, o: Options) {
  const queue = new Queue('bench-raw', { connection: { url: redisUrl }, prefix });
  await queue.waitUntilReady();
  let n = 0;
  const run = await closedLoop(o.concurrency, o.seconds, async () => {
    await queue.add('job', { jobId: `raw-${n}`, pool: 'default', labels: {} }, { jobId: `raw-${n++}` });
  });
  await queue.close();
  return run;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const redisUrl = testRedisUrl();
  const db = await createTestDatabase();
  const prefix = uniquePrefix('bench');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-bench-intake-'));
  const httpPort = await freePort();
  const token = 'bench-admin-token';
  const api = await startApiProcess(
    {
      httpPort, grpcPort: await freePort(), dataDir: path.join(dir, 'api'), redisUrl, databaseUrl: db.url, adminToken: token,
      enrollToken: 'bench-enroll-token', queuePrefix: prefix, extraEnv: { JR_LOG_LEVEL: 'warn', ...(process.env.JR_BENCH_API_NODE_OPTIONS ? { NODE_OPTIONS: process.env.JR_BENCH_API_NODE_OPTIONS } : {}) },
    },
    path.join(dir, 'api.log'),
  );
  try {
    console.log(`intake: POST /v1/jobs, concurrency ${o.concurrency}, ${o.seconds} s, fsync on (jr-api pid ${api.pid}, ${os.cpus().length} CPUs)`);
    const intake = await benchIntake(api, httpPort, token, o);
    const intakeRate = intake.accepted / intake.elapsedS;
    const ceiling = await benchHttpCeiling(httpPort, token, o);
    console.log(`raw BullMQ add: concurrency ${o.concurrency}, ${o.seconds} s, same Redis`);
    const raw = await benchRawBullmq(redisUrl, `${prefix}-raw`, o);
    const rawRate = raw.ops / raw.elapsedS;
    const result = {
      at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, concurrency: o.concurrency, seconds: o.seconds,
      intake: { accepted: intake.accepted, refused: intake.refused, perSecond: Math.round(intakeRate), fdatasyncs: intake.fsyncs, fdatasyncsPerSecond: Math.round(intake.fsyncs / intake.elapsedS), recordsPerFdatasync: +(intake.accepted / Math.max(1, intake.fsyncs)).toFixed(1), relayDrainSeconds: +intake.drainS.toFixed(2) },
      rawBullmqAdd: { added: raw.ops, perSecond: Math.round(rawRate) },
      ratio: +(intakeRate / rawRate).toFixed(3),
      httpCeilingPerSecond: Math.round(ceiling),
    };
    console.log(`durable submissions/s: ${result.intake.perSecond} (${intake.accepted} in ${intake.elapsedS.toFixed(1)} s, ${intake.refused} refused)`);
    console.log(`raw BullMQ add/s:      ${result.rawBullmqAdd.perSecond}`);
    console.log(`ratio intake/raw:      ${result.ratio}`);
    console.log(`fdatasyncs/s:          ${result.intake.fdatasyncsPerSecond} (${result.intake.recordsPerFdatasync} records per fdatasync)`);
    console.log(`relay backlog applied: ${result.intake.relayDrainSeconds} s after the load stopped`);
    console.log(`GET /healthz/s:        ${result.httpCeilingPerSecond} (same client and HTTP stack, no work: the ceiling of any route here)`);
    const out = path.join(__dirname, '..', 'results', `intake-${Date.now()}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`written: ${path.relative(process.cwd(), out)}`);
  } finally {
    await api.stop(10_000);
    await db.drop();
    await deleteRedisPrefix(redisUrl, prefix);
    await deleteRedisPrefix(redisUrl, `${prefix}-raw`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exitCode = 1;
});
