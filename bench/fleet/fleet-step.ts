import type { Fleet } from './fleet';
import { Probes, type ProbeResult } from './probes';
import { cpuSeconds, rssMiB, socketCount } from './proc-stats';
import { addCounts, delay, round, summarize, type Summary } from './stats';
import { Trickle } from './trickle';

export interface StepPlan {
  agents: number;
  holdMs: number;
  enrollConcurrency: number;
  /** Longest the enrollment of a step may take: an API falling over must not hold the bench for ever. */
  enrollDeadlineMs: number;
  /** Jobs per second submitted to the simulated pool while the step holds. */
  jobRate: number;
}

export interface StepTarget {
  fleet: Fleet;
  apiPid: number;
  baseUrl: string;
  databaseUrl: string;
  /** The API's CA (PEM) for https; undefined: plain text. */
  caPem?: string;
  adminToken: string;
  pool: string;
}

export interface StepResult {
  /** The N of the step, and how many agents actually enrolled. */
  planned: number;
  agents: number;
  holdS: number;
  enrollWallS: number;
  enrollCallMs: Summary;
  enrollFailed: number;
  heartbeatMs: Summary;
  leaseMs: Summary;
  jobsSubmitted: number;
  apiCpuPercent: number;
  /** Agent calls answered OK per second during the hold, and the API's CPU time per such call. */
  callsPerSecond: number;
  apiCpuMsPerCall: number;
  apiRssMiB: number;
  /** Sockets the API holds at the end of the hold: about one per agent when each has its own connection. */
  apiSockets: number;
  generatorsCpuPercent: number;
  generatorLoopDelayP99Ms: number;
  errors: Record<string, number>;
  errorCount: number;
  /** Calls of the step (enrollment and hold) answered OK, % of all calls made. */
  okPercent: number;
  probes: ProbeResult;
}

/**
 * One step: grow the fleet to `plan.agents`, then hold for `plan.holdMs` while a trickle of jobs goes
 * to the pool; heartbeat RTTs, lease latencies and the API's CPU are those of the hold only.
 */
export async function runStep(t: StepTarget, plan: StepPlan, log: (line: string) => void): Promise<StepResult> {
  const grown = await t.fleet.grow(plan.agents, plan.enrollConcurrency, plan.enrollDeadlineMs);
  log(
    `${grown.agents} agents enrolled (${grown.failed} failed) in ${round(grown.wallMs / 1_000)} s; holding ${plan.holdMs / 1_000} s`,
  );
  const enrolling = await t.fleet.collect(); // the enrollment phase: only its errors count
  const trickle = new Trickle(t.baseUrl, t.adminToken, t.pool, plan.jobRate, t.caPem);
  const cpu0 = cpuSeconds(t.apiPid);
  const gen0 = t.fleet.pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  const probes = new Probes(t.baseUrl, t.databaseUrl, t.caPem);
  await probes.start();
  const started = performance.now();
  trickle.start();
  await delay(plan.holdMs);
  await trickle.stop();
  const probed = await probes.stop();
  const holdS = (performance.now() - started) / 1_000;
  const cpu1 = cpuSeconds(t.apiPid);
  const gen1 = t.fleet.pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
  await delay(1_000); // assignments of the last submissions
  const held = await t.fleet.collect();
  const leaseMs = held.assignments.flatMap(([id, at]) => {
    const answered = trickle.answeredAt.get(id);
    return answered === undefined ? [] : [at - answered];
  });
  const errors = addCounts(addCounts({}, enrolling.errors), held.errors);
  if (trickle.errors > 0) errors['POST /v1/jobs'] = trickle.errors;
  return {
    planned: plan.agents,
    agents: grown.agents,
    holdS,
    enrollWallS: grown.wallMs / 1_000,
    enrollCallMs: summarize(grown.enrollMs),
    enrollFailed: grown.failed,
    heartbeatMs: summarize(held.heartbeatMs),
    leaseMs: summarize(leaseMs),
    jobsSubmitted: trickle.answeredAt.size,
    apiCpuPercent: ((cpu1 - cpu0) / holdS) * 100,
    callsPerSecond: held.okCalls / holdS,
    apiCpuMsPerCall: held.okCalls > 0 ? ((cpu1 - cpu0) * 1_000) / held.okCalls : NaN,
    apiRssMiB: rssMiB(t.apiPid),
    apiSockets: socketCount(t.apiPid),
    generatorsCpuPercent: ((gen1 - gen0) / holdS) * 100,
    generatorLoopDelayP99Ms: held.loopDelayP99Ms,
    errors,
    errorCount: Object.values(errors).reduce((s, v) => s + v, 0) + grown.failed,
    okPercent: okPercent(
      enrolling.okCalls + held.okCalls,
      Object.values(errors).reduce((s, v) => s + v, 0),
    ),
    probes: probed,
  };
}

function okPercent(ok: number, failed: number): number {
  return ok + failed === 0 ? NaN : (100 * ok) / (ok + failed);
}

export interface IdleBaseline {
  apiRssMiB: number;
  probes: ProbeResult;
}

/** The same probes with no agent at all: the references of the per-step figures. */
export async function measureIdle(
  t: Pick<StepTarget, 'apiPid' | 'baseUrl' | 'databaseUrl' | 'caPem'>,
  ms: number,
): Promise<IdleBaseline> {
  const probes = new Probes(t.baseUrl, t.databaseUrl, t.caPem);
  await probes.start();
  await delay(ms);
  return { probes: await probes.stop(), apiRssMiB: rssMiB(t.apiPid) };
}
