/**
 * Fleet scale: a real jr-api holding N simulated agents that enroll, heartbeat and
 * long-poll like real ones (bench/fleet), N stepping 1k -> 5k -> 10k with a trickle of jobs to measure
 * lease latency. The figure: the largest N whose heartbeat p99 stays under 100 ms.
 */
import { Stack } from '@jr/testing';
import { BENCH_LIMITS } from '../lib/bench-stack';
import { figure, type BenchSection, type Figure, type SectionResult } from '../lib/report';
import { Fleet } from '../fleet/fleet';
import { measureIdle, runStep, type IdleBaseline, type StepResult } from '../fleet/fleet-step';
import { ensureOpenFiles } from '../fleet/proc-stats';
import { round } from '../fleet/stats';

const HEARTBEAT_TARGET_MS = 100;
const POOL = 'fleet';
/** apps/api/src/database/database.module.ts: `new Pool({ max: 16 })`. */
const API_PG_POOL = 16;

interface Plan {
  steps: number[];
  heartbeatInterval: string;
  heartbeatIntervalMs: number;
  holdMs: number;
  enrollDeadlineMs: number;
  processes: number;
  enrollConcurrency: number;
  jobRate: number;
}

function plan(quick: boolean): Plan {
  // --quick: a 1 s interval so that a 3 s hold still sees every agent beat a few times
  if (quick)
    return {
      steps: [50, 100],
      heartbeatInterval: '1s',
      heartbeatIntervalMs: 1_000,
      holdMs: 3_000,
      enrollDeadlineMs: 15_000,
      processes: 2,
      enrollConcurrency: 32,
      jobRate: 10,
    };
  // full: JR_HEARTBEAT_INTERVAL=10s (the default), each step held 3 intervals after all enrolled
  return {
    steps: [1_000, 5_000, 10_000],
    heartbeatInterval: '10s',
    heartbeatIntervalMs: 10_000,
    holdMs: 31_000,
    enrollDeadlineMs: 180_000,
    processes: 4,
    enrollConcurrency: 64,
    jobRate: 10,
  };
}

export const fleetScale: BenchSection = async (ctx) => {
  const p = plan(ctx.quick);
  const stack = await new Stack(p.heartbeatInterval, { apiEnv: { ...BENCH_LIMITS } }).start();
  let fleet: Fleet | undefined;
  try {
    const maxAgents = Math.max(...p.steps);
    const limits: Record<string, string> = { api: ensureOpenFiles(stack.api.pid, maxAgents + 1_024) };
    fleet = await Fleet.start({
      processes: p.processes,
      target: stack.grpcAddress,
      enrollToken: stack.enrollToken,
      pool: POOL,
      leaseWaitMs: 25_000,
      ...(stack.caPem !== undefined ? { caPem: stack.caPem } : {}),
    });
    fleet.pids.forEach(
      (pid, i) => (limits[`generator${i}`] = ensureOpenFiles(pid, Math.ceil(maxAgents / p.processes) + 1_024)),
    );
    ctx.log(
      `open-file limits: ${Object.entries(limits)
        .map(([k, v]) => `${k} ${v}`)
        .join('; ')}`,
    );
    const target = {
      fleet,
      apiPid: stack.api.pid,
      baseUrl: stack.baseUrl,
      databaseUrl: stack.databaseUrl,
      ...(stack.caPem !== undefined ? { caPem: stack.caPem } : {}),
      adminToken: stack.adminToken,
      pool: POOL,
    };
    const idle = await measureIdle(target, ctx.quick ? 1_000 : 3_000);
    const steps: StepResult[] = [];
    for (const agents of p.steps) {
      const step = await runStep(
        target,
        {
          agents,
          holdMs: p.holdMs,
          enrollDeadlineMs: p.enrollDeadlineMs,
          enrollConcurrency: p.enrollConcurrency,
          jobRate: p.jobRate,
        },
        ctx.log,
      );
      ctx.log(
        `N=${step.planned} (${step.agents} enrolled): heartbeat p50/p99 ${round(step.heartbeatMs.p50)}/${round(step.heartbeatMs.p99)} ms, lease p50/p99 ${round(step.leaseMs.p50)}/${round(step.leaseMs.p99)} ms, ` +
          `API ${round(step.apiCpuPercent)} %CPU (${round(step.apiCpuMsPerCall, 2)} ms per call, ${round(step.callsPerSecond)} calls/s) ${round(step.apiRssMiB)} MiB ${step.apiSockets} sockets, generators ${round(step.generatorsCpuPercent)} %CPU (loop lag p99 ${round(step.generatorLoopDelayP99Ms)} ms), ` +
          `API pg pool busy mean/max ${round(step.probes.apiPgActiveMean)}/${step.probes.apiPgActiveMax} of ${API_PG_POOL}, SELECT 1 p99 ${round(step.probes.pgPingMs.p99)} ms, ` +
          `/healthz p99 ${round(step.probes.healthzMs.p99)} ms, machine ${round(step.probes.machineCpuPercent)} %CPU, errors ${JSON.stringify(step.errors)}`,
      );
      steps.push(step);
      if (!stack.api.running) throw new Error(`jr-api exited at N=${agents}:\n${stack.api.log().slice(-2_000)}`);
    }
    return result(p, idle, steps, limits);
  } finally {
    await fleet?.stop();
    await stack.close();
  }
};

function result(p: Plan, idle: IdleBaseline, steps: StepResult[], limits: Record<string, string>): SectionResult {
  // a step counts only if every agent of it enrolled and its heartbeat p99 met the target
  const held = steps.filter((s) => s.heartbeatMs.p99 < HEARTBEAT_TARGET_MS && s.agents === s.planned);
  const largest = Math.max(0, ...held.map((s) => s.planned));
  const figures: Figure[] = [
    figure({
      key: 'fleet.max_agents',
      label: `largest N with heartbeat p99 < ${HEARTBEAT_TARGET_MS} ms (every ${p.heartbeatInterval})`,
      value: largest,
      unit: 'agents',
      reference: { label: 'largest N tried', value: Math.max(...p.steps) },
      note: `${p.processes} generator processes, one gRPC connection per agent${largest === 0 ? `; no step held: ${whyNoneHeld(idle, steps)}` : ''}`,
      // A capacity verdict: on a machine whose cores are already busy nothing may hold, and that is the answer.
      zeroIsResult: true,
    }),
    ...steps.flatMap((s) => stepFigures(s, p, idle, steps[0] ?? s)),
  ];
  return {
    id: 'fleet',
    title: `Fleet scale: N simulated agents (heartbeat ${p.heartbeatInterval}, ${p.jobRate} jobs/s)`,
    figures,
    details: { plan: p, limits, idle, steps },
  };
}

/** Why no step met the target: other work on the cores (before any agent), or the fleet itself. */
function whyNoneHeld(idle: IdleBaseline, steps: StepResult[]): string {
  const first = steps[0];
  const idleCpu = `machine ${round(idle.probes.machineCpuPercent)} %CPU with no agent, GET /healthz p99 ${round(idle.probes.healthzMs.p99)} ms`;
  if (!first) return idleCpu;
  return `${idleCpu}; at N=${first.planned} heartbeat p99 ${round(first.heartbeatMs.p99)} ms with jr-api at ${round(first.apiCpuPercent)} %CPU`;
}

function stepFigures(s: StepResult, p: Plan, idle: IdleBaseline, first: StepResult): Figure[] {
  const k = `fleet.n${s.planned}`;
  const n = `N=${s.planned}`;
  const target = { label: 'target', value: HEARTBEAT_TARGET_MS };
  const smallest = (v: number) => ({ label: `at N=${first.planned}`, value: round(v, 3) });
  return [
    figure({
      key: `${k}.heartbeat_p50`,
      label: `${n} heartbeat RTT p50`,
      value: round(s.heartbeatMs.p50, 2),
      unit: 'ms',
      reference: target,
      note: `${s.heartbeatMs.n} beats`,
    }),
    figure({
      key: `${k}.heartbeat_p99`,
      label: `${n} heartbeat RTT p99`,
      value: round(s.heartbeatMs.p99, 2),
      unit: 'ms',
      reference: target,
      note: `generator loop lag p99 ${round(s.generatorLoopDelayP99Ms)} ms`,
    }),
    figure({
      key: `${k}.lease_p50`,
      label: `${n} lease latency p50 (202 -> assignment)`,
      value: round(s.leaseMs.p50, 2),
      unit: 'ms',
      reference: smallest(first.leaseMs.p50),
      note: `${s.leaseMs.n} of ${s.jobsSubmitted} jobs`,
    }),
    figure({
      key: `${k}.lease_p99`,
      label: `${n} lease latency p99 (202 -> assignment)`,
      value: round(s.leaseMs.p99, 2),
      unit: 'ms',
      reference: smallest(first.leaseMs.p99),
    }),
    figure({
      key: `${k}.api_cpu`,
      label: `${n} jr-api CPU`,
      value: round(s.apiCpuPercent),
      unit: '%CPU',
      reference: { label: 'one core', value: 100 },
      note: `load generators ${round(s.generatorsCpuPercent)} %CPU on the same cores`,
    }),
    figure({
      key: `${k}.api_cpu_per_call`,
      label: `${n} jr-api CPU per agent call answered`,
      value: round(s.apiCpuMsPerCall, 3),
      unit: 'ms',
      reference: smallest(first.apiCpuMsPerCall),
      note: `${round(s.callsPerSecond)} calls/s answered OK`,
    }),
    figure({
      key: `${k}.api_rss`,
      label: `${n} jr-api RSS`,
      value: round(s.apiRssMiB),
      unit: 'MiB',
      reference: { label: 'no agents', value: round(idle.apiRssMiB) },
      note: `${s.apiSockets} open sockets`,
    }),
    figure({
      key: `${k}.enroll`,
      label: `${n} enrolling the step's new agents`,
      value: round(s.enrollWallS, 2),
      unit: 's',
      reference: { label: 'heartbeat interval', value: p.heartbeatIntervalMs / 1_000 },
      note: `${s.agents} enrolled, ${s.enrollFailed} failed or given up; per call p50 ${round(s.enrollCallMs.p50)} ms, p99 ${round(s.enrollCallMs.p99)} ms`,
    }),
    figure({
      key: `${k}.calls_ok`,
      label: `${n} agent calls answered OK`,
      value: round(s.okPercent, 3),
      unit: '%',
      reference: { label: 'all', value: 100 },
      note:
        Object.entries(s.errors)
          .map(([e, c]) => `${e} ${c}`)
          .join(', ') || 'no errors',
    }),
    figure({
      key: `${k}.pg_p99`,
      label: `${n} PostgreSQL SELECT 1 p99 (probe)`,
      value: round(s.probes.pgPingMs.p99, 2),
      unit: 'ms',
      reference: { label: 'no agents', value: round(idle.probes.pgPingMs.p99, 2) },
      note: `jr-api pool busy mean ${round(s.probes.apiPgActiveMean)}, max ${s.probes.apiPgActiveMax} of ${API_PG_POOL}; GET /healthz p99 ${round(s.probes.healthzMs.p99)} ms; machine ${round(s.probes.machineCpuPercent)} %CPU`,
    }),
  ];
}
