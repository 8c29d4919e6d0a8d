import type { JobPage, JobView } from '@jr/contracts';
import { runFault, type FaultJobs, type FaultRecord } from './faults';
import { describe as describeJob, formatFaults, formatTable, verify, type Verdict } from './invariants';
import type { TopologyEvidence } from './invariants-topology';
import { agentViews, enableIfOpen, sleep } from './observe';
import { FAULT_KINDS, planFaults, planJobs, type FaultKind } from './plan';
import { readRuns } from './runs';
import { runStream, type StreamStats } from './stream';
import { SoakWorld } from './world';

export interface SoakOptions {
  seed: number;
  /** How long jobs are submitted and faults injected; the settle phase comes after. */
  durationMs: number;
  /** Fault rounds (each covers every kind in `kinds` once, in a seeded order). */
  rounds: number;
  kinds?: readonly FaultKind[];
  agents?: number;
  slots?: number;
  /** Average submissions per second. */
  rate?: number;
  settleTimeoutMs?: number;
  log: (line: string) => void;
}

export interface SoakResult extends Verdict {
  ok: boolean;
  faults: FaultRecord[];
  diskMode: string;
  /** The printed report: header, invariant table, fault table. */
  report: string;
}

/**
 * The seeded soak: a job stream and a fault schedule run together on one stack, then a settle phase
 * (every acknowledged job terminal, every outbox drained), then the invariants.
 */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const agents = o.agents ?? 4;
  const plans = planJobs(o.seed, o.durationMs, o.rate ?? 3);
  const schedule = planFaults(o.seed, o.durationMs, agents, o.rounds, o.kinds ?? FAULT_KINDS);
  o.log(
    `seed ${o.seed}: ${plans.length} jobs over ${o.durationMs / 1000} s, faults ${schedule.map((f) => f.kind).join(', ')}`,
  );
  const world = await SoakWorld.create(agents, o.slots ?? 4, o.log);
  const t0 = Date.now();
  try {
    const faultJobs: FaultJobs = { ids: [], refused: [] };
    const streaming = runStream(world, o.seed, plans, o.log);
    const faults = await runSchedule(world, schedule, faultJobs, t0, o.log);
    const stream = await streaming;
    o.log(`stream done: ${stream.acks.length} acknowledged in ${Date.now() - t0} ms; settling`);
    const jobs = await settle(world, stream, faultJobs, o.settleTimeoutMs ?? 300_000, o.log);
    const verdict = verify({
      acks: stream.acks,
      cancelNotes: stream.cancelNotes,
      unknownAfterAck: stream.cancels.unknown,
      refused: stream.refused,
      faultJobs,
      faults,
      jobs,
      runs: readRuns(world.marker),
      agents: await agentViews(world),
      ...(await topologyEvidence(world, idsOf(stream, faultJobs))),
    });
    const ok = verdict.failures.length === 0;
    const sla = await world.sloTable(Math.max(1, Math.ceil((Date.now() - t0) / 3_600_000)));
    const report = [
      `chaos soak seed=${o.seed} duration=${o.durationMs / 1000}s replicas=${world.replicas.count} agents=${agents} disk-full via ${world.diskMode} (wall ${Math.round((Date.now() - t0) / 1000)} s): ${ok ? 'PASS' : 'FAIL'}`,
      formatTable(verdict.rows),
      '',
      formatFaults(faults),
      '',
      'service levels of this run (jr slo; canaries every 5 s):',
      sla,
      ...(ok ? [] : ['', 'failures:', ...verdict.failures.slice(0, 40).map((f) => `  ${f}`)]),
    ].join('\n');
    if (!ok) o.log(world.stack.diagnostics());
    return { ...verdict, ok, faults, diskMode: world.diskMode, report };
  } finally {
    await world.close();
  }
}

async function runSchedule(
  world: SoakWorld,
  schedule: ReturnType<typeof planFaults>,
  jobs: FaultJobs,
  t0: number,
  log: (line: string) => void,
): Promise<FaultRecord[]> {
  const running: Array<Promise<FaultRecord>> = [];
  for (const f of schedule) {
    await sleep(f.atMs - (Date.now() - t0));
    const fault = runFault(world, f, jobs, log);
    running.push(fault);
    if (!f.overlapsNext) await fault;
  }
  return Promise.all(running);
}

/** Waits until every acknowledged job is terminal and every agent's outbox is empty; the operator re-enables reporting where needed. */
async function settle(
  world: SoakWorld,
  stream: StreamStats,
  faultJobs: FaultJobs,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<Map<string, JobView>> {
  const ids = idsOf(stream, faultJobs);
  const deadline = Date.now() + timeoutMs;
  let jobs = new Map<string, JobView>();
  for (let k = 0; Date.now() < deadline; k++) {
    jobs = await fetchJobs(world, ids, jobs);
    const open = ids.filter(
      (id) => !['succeeded', 'failed', 'cancelled', 'timed_out'].includes(jobs.get(id)?.state ?? ''),
    );
    const agents = await agentViews(world).catch(() => []);
    const drained = agents.length > 0 && agents.every((a) => a.spoolDepth === 0 && a.breakerState === 'closed');
    if (open.length === 0 && drained) return jobs;
    if (k % 10 === 0)
      log(
        `settling: ${open.length} not terminal${open[0] ? ` (e.g. ${describeJob(jobs.get(open[0]), open[0])})` : ''}, outboxes ${agents.map((a) => `${a.name}:${a.spoolDepth}/${a.breakerState}`).join(' ')}`,
      );
    await enableIfOpen(world).catch(() => false);
    await sleep(1_000);
  }
  return jobs;
}

const idsOf = (stream: StreamStats, faultJobs: FaultJobs): string[] => [
  ...stream.acks.map((a) => a.id),
  ...faultJobs.ids.map((p) => p.id),
];

/** The acknowledged jobs by paging GET /v1/jobs (one pool) on replica `on` (or any); a hiccup leaves `previous`. */
async function fetchJobs(
  world: SoakWorld,
  ids: string[],
  previous: Map<string, JobView>,
  on?: number,
): Promise<Map<string, JobView>> {
  const wanted = new Set(ids);
  const all: JobView[] = [];
  let cursor: string | null = null;
  try {
    do {
      const route = `/v1/jobs?pool=default&limit=500${cursor ? `&cursor=${cursor}` : ''}`;
      const page: JobPage =
        on === undefined ? await world.replicas.get<JobPage>(route) : await pageOn(world, on, route);
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
  } catch {
    return previous;
  }
  return new Map(all.filter((j) => wanted.has(j.id)).map((j) => [j.id, j]));
}

async function pageOn(world: SoakWorld, i: number, route: string): Promise<JobPage> {
  const res = await world.replicas.on(i, route, {
    headers: { authorization: `Bearer ${world.stack.adminToken}` },
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok) throw new Error(`GET ${route} on replica ${i}: ${res.status}`);
  return (await res.json()) as JobPage;
}

/** Each replica's own view of the jobs and of the leadership, and the agents' endpoint switches. */
async function topologyEvidence(world: SoakWorld, jobIds: string[]): Promise<TopologyEvidence> {
  const replicas = [...Array(world.replicas.count).keys()];
  const empty = new Map<string, JobView>();
  const listed = await Promise.all(replicas.map((i) => fetchJobs(world, jobIds, empty, i)));
  const leadership = await Promise.all(
    replicas.map(async (i) => (await world.replicas.readiness(i))?.view?.leadership),
  );
  const count = (log: string, what: string): number => log.split(what).length - 1;
  return {
    replicaJobs: listed.map((m) => (m === empty ? undefined : m)),
    leadership,
    switches: world.agentNames.map((name, k) => ({
      agent: name,
      failovers: count(world.agent(k).log(), 'API endpoint: failing over'),
      failbacks: count(world.agent(k).log(), 'API endpoint: back on the primary'),
    })),
  };
}
