/**
 * Fleet job: one job over N simulated agents (bench/fleet: real gRPC agents that enroll, heartbeat, long-poll
 * and Complete every assignment at once), `targets: {all: true}` and `rollout: {batch: '100%'}`. Figures: the
 * time from the 202 to the last target's run started (as the API recorded it) and to the fleet job's end, and
 * the API's CPU per target run (its process CPU over the job, divided by N). The reference: N ordinary jobs
 * submitted to the same agents, 32 at a time (acknowledged, last started, ended; CPU per job).
 */
import type { JobView } from '@jr/contracts';
import { Client } from 'pg';
import { Stack, waitFor } from '@jr/testing';
import { BENCH_LIMITS } from '../lib/bench-stack';
import { figure, type BenchSection, type SectionResult } from '../lib/report';
import { Fleet } from '../fleet/fleet';
import { cpuSeconds, ensureOpenFiles } from '../fleet/proc-stats';
import { round } from '../fleet/stats';

const POOL = 'fleet-job';

export const fleetJobSection: BenchSection = async (ctx) => {
  const agents = ctx.quick ? 100 : 1_000;
  const stack = await new Stack('10s', { apiEnv: { ...BENCH_LIMITS } }).start();
  let fleet: Fleet | undefined;
  try {
    ensureOpenFiles(stack.api.pid, agents + 1_024);
    fleet = await Fleet.start({
      processes: ctx.quick ? 1 : 2,
      target: stack.grpcAddress,
      enrollToken: stack.enrollToken,
      pool: POOL,
      leaseWaitMs: 25_000,
      ...(stack.caPem !== undefined ? { caPem: stack.caPem } : {}),
    });
    for (const pid of fleet.pids) ensureOpenFiles(pid, agents + 1_024);
    const grown = await fleet.grow(agents, 64, 180_000);
    if (grown.agents < agents) throw new Error(`only ${grown.agents} of ${agents} simulated agents enrolled`);
    await new Promise((r) => setTimeout(r, 11_000)); // a heartbeat from every agent: all online
    const run = await runFleetJob(stack, agents);
    const plain = await runPlainJobs(stack, agents);
    ctx.log(
      `reference, ${agents} ordinary jobs to the same pool: all acknowledged ${round(plain.ackedS, 2)} s, last started ${round(plain.lastStartedS, 2)} s, all ended ${round(plain.doneS, 2)} s after the first POST; API ${round(plain.cpuMsPerJob, 2)} ms CPU per job`,
    );
    ctx.log(
      `fleet job over ${agents} agents: runs of all made ${round(run.lastCreatedS, 2)} s and the last started on its agent ${round(run.lastStartedS, 2)} s after the 202, job ended after ${round(run.doneS, 2)} s, API ${round(run.cpuMsPerTarget, 2)} ms CPU per target run`,
    );
    return result(agents, run, plain);
  } finally {
    await fleet?.stop();
    await stack.close();
  }
};

interface FleetJobRun {
  /** The 202 -> the last target's run made by the coordinator. */
  lastCreatedS: number;
  /** The 202 -> the last run started on its agent (its attempt's first event). */
  lastStartedS: number;
  doneS: number;
  cpuMsPerTarget: number;
  byState: Record<string, number>;
}

async function runFleetJob(stack: Stack, agents: number): Promise<FleetJobRun> {
  const cpu0 = cpuSeconds(stack.api.pid);
  const t0 = Date.now();
  const res = await stack.fetch('/v1/jobs', {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pool: POOL, targets: { all: true }, rollout: { batch: '100%' }, steps: [{ run: 'true' }] }),
  });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  const done = await waitFor(
    async () => ((v: JobView) => (['succeeded', 'failed'].includes(v.state) ? v : undefined))(await stack.job(id)),
    { timeoutMs: 300_000, intervalMs: 100, what: 'the fleet job to end' },
  );
  const doneS = (Date.now() - t0) / 1_000;
  const cpuMsPerTarget = ((cpuSeconds(stack.api.pid) - cpu0) * 1_000) / agents;
  const starts = await runStarts(stack, id);
  return {
    lastCreatedS: (starts.lastCreatedMs - t0) / 1_000,
    lastStartedS: (starts.lastStartedMs - t0) / 1_000,
    doneS,
    cpuMsPerTarget,
    byState: done.targets?.byState ?? {},
  };
}

/** When the last run was made (by the coordinator) and when the last one started on its agent (its first event). */
async function runStarts(stack: Stack, id: string): Promise<{ lastCreatedMs: number; lastStartedMs: number }> {
  const pg = new Client({ connectionString: stack.databaseUrl });
  await pg.connect();
  try {
    const res = await pg.query<{ created: Date; started: Date }>(
      `SELECT max(j.created_at) AS created, max(a.started_at) AS started
       FROM jobs j JOIN attempts a ON a.job_id = j.id WHERE j.parent_id = $1`,
      [id],
    );
    const row = res.rows[0];
    return { lastCreatedMs: row?.created.getTime() ?? NaN, lastStartedMs: row?.started.getTime() ?? NaN };
  } finally {
    await pg.end();
  }
}

interface PlainRun {
  ackedS: number;
  lastStartedS: number;
  doneS: number;
  cpuMsPerJob: number;
}

/** The reference: as many ordinary jobs (no targets) submitted 32 at a time to the same simulated agents. */
async function runPlainJobs(stack: Stack, n: number): Promise<PlainRun> {
  const cpu0 = cpuSeconds(stack.api.pid);
  const t0 = Date.now();
  const ids: string[] = [];
  const body = JSON.stringify({ pool: POOL, steps: [{ run: 'true' }] });
  const headers = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        next++;
        const res = await stack.fetch('/v1/jobs', { method: 'POST', headers, body });
        if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
        ids.push(((await res.json()) as { id: string }).id);
      }
    }),
  );
  const ackedS = (Date.now() - t0) / 1_000;
  const pg = new Client({ connectionString: stack.databaseUrl });
  await pg.connect();
  try {
    const ended = async () =>
      (
        await pg.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state = 'succeeded'`,
          [ids],
        )
      ).rows[0]?.n ?? 0;
    await waitFor(async () => (await ended()) === n, { timeoutMs: 300_000, intervalMs: 100, what: 'the jobs to end' });
    const doneS = (Date.now() - t0) / 1_000;
    const cpuMsPerJob = ((cpuSeconds(stack.api.pid) - cpu0) * 1_000) / n;
    const res = await pg.query<{ started: Date }>(
      'SELECT max(started_at) AS started FROM attempts WHERE job_id = ANY($1)',
      [ids],
    );
    const lastStartedS = ((res.rows[0]?.started.getTime() ?? NaN) - t0) / 1_000;
    return { ackedS, lastStartedS, doneS, cpuMsPerJob };
  } finally {
    await pg.end();
  }
}

function result(agents: number, r: FleetJobRun, p: PlainRun): SectionResult {
  return {
    id: 'fleet-job',
    title: `Fleet job: one job over ${agents} simulated agents, batch 100 %`,
    figures: [
      figure({
        key: 'fleet_job.last_run_made',
        label: `202 -> runs of all ${agents} targets made`,
        value: round(r.lastCreatedS, 2),
        unit: 's',
        reference: { label: `${agents} ordinary jobs acknowledged, 32 at a time`, value: round(p.ackedS, 2) },
      }),
      figure({
        key: 'fleet_job.last_started',
        label: `202 -> last of ${agents} targets started on its agent`,
        value: round(r.lastStartedS, 2),
        unit: 's',
        reference: { label: `the last of ${agents} ordinary jobs started`, value: round(p.lastStartedS, 2) },
      }),
      figure({
        key: 'fleet_job.done',
        label: `202 -> fleet job ended (${agents} targets)`,
        value: round(r.doneS, 2),
        unit: 's',
        reference: { label: `${agents} ordinary jobs ended`, value: round(p.doneS, 2) },
      }),
      figure({
        key: 'fleet_job.api_cpu_per_target',
        label: 'jr-api CPU per target run',
        value: round(r.cpuMsPerTarget, 2),
        unit: 'ms',
        reference: { label: 'jr-api CPU per ordinary job', value: round(p.cpuMsPerJob, 2) },
        note: `targets by state: ${JSON.stringify(r.byState)}`,
      }),
    ],
    details: { agents, fleet: r, plain: p },
  };
}
