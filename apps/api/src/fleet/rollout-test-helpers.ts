import { planStep } from './rollout-plan';
import type {
  FleetOutcome,
  PlanTarget,
  RolloutPolicy,
  RolloutSnapshot,
  RolloutStep,
  TargetState,
} from './rollout-types';

/** Test helpers for the rollout planner: builders, and a tiny simulator that plays a fleet job in fake time. */

/** The rollout a job gets with no `rollout` field (fleet-spec.ts's defaults), with `overrides`. */
export function policy(overrides: Partial<RolloutPolicy> = {}): RolloutPolicy {
  return {
    batch: { kind: 'percent', p: 100 },
    mode: 'rolling',
    maxFailures: { kind: 'count', n: 0 },
    minSample: 0,
    deliveryTimeoutMs: 600_000,
    pauseMs: 0,
    undeliveredCountsAsFailure: false,
    successCriteria: null,
    ...overrides,
  };
}

export function target(agentId: string, overrides: Partial<PlanTarget> = {}): PlanTarget {
  return { agentId, state: 'pending', due: null, online: true, ...overrides };
}

/** `n` pending online targets a01, a02, … */
export function targets(n: number, overrides: Partial<PlanTarget> = {}): PlanTarget[] {
  return Array.from({ length: n }, (_, i) => target(`a${String(i + 1).padStart(2, '0')}`, overrides));
}

export function snapshot(rollout: RolloutPolicy, list: PlanTarget[], extra: Partial<RolloutSnapshot> = {}) {
  return { rollout, targets: list, aborted: false, cancelled: false, ...extra };
}

/** The snapshot after the service applied `step` at `nowMs`. */
export function apply(s: RolloutSnapshot, step: RolloutStep, nowMs: number): RolloutSnapshot {
  const due = new Map(step.due.map((d) => [d.agentId, d.batch]));
  const started = new Set(step.start.map((d) => d.agentId));
  const ended = new Map<string, TargetState>([
    ...step.undeliver.map((id): [string, TargetState] => [id, 'undelivered']),
    ...step.skip.map((id): [string, TargetState] => [id, 'skipped']),
  ]);
  const next = s.targets.map((t): PlanTarget => {
    const batch = due.get(t.agentId);
    const withDue = batch === undefined ? t : { ...t, due: { batch, sinceMs: nowMs } };
    const end = ended.get(t.agentId);
    if (end) return { ...withDue, state: end, endedAtMs: nowMs };
    return started.has(t.agentId) ? { ...withDue, state: 'running' } : withDue;
  });
  return { ...s, targets: next, aborted: s.aborted || step.abort };
}

/** How a simulated agent behaves: online from `onlineAtMs` (never: Infinity), its run lasts `runMs`. */
export interface SimAgent {
  id: string;
  onlineAtMs?: number;
  runMs?: number;
  result?: 'succeeded' | 'failed' | 'timed_out';
}

export interface SimResult {
  outcome: FleetOutcome | null;
  states: Record<string, TargetState>;
  /** Starts in order: who, when, in which batch. */
  starts: Array<{ agentId: string; atMs: number; batch: number }>;
  /** Most targets running at once. */
  peakRunning: number;
  abortedAtMs?: number;
  endedAtMs: number;
}

/** Plays the job: plan, apply, advance to the next event (a run ending, an agent arriving, a wake-up). */
export function simulate(rollout: RolloutPolicy, agents: SimAgent[], limitMs = 86_400_000): SimResult {
  const onlineAt = (a: SimAgent) => a.onlineAtMs ?? 0;
  let s: RolloutSnapshot = snapshot(
    rollout,
    agents.map((a) => target(a.id, { online: onlineAt(a) <= 0 })),
  );
  const endsAt = new Map<string, number>();
  const result: SimResult = { outcome: null, states: {}, starts: [], peakRunning: 0, endedAtMs: 0 };
  for (let now = 0, guard = 0; now <= limitMs && guard < 100_000; guard++) {
    s = endRuns(s, agents, endsAt, now);
    s = { ...s, targets: s.targets.map((t, i) => ({ ...t, online: onlineAt(agents[i]!) <= now })) };
    const step = planStep(s, now);
    s = apply(s, step, now);
    for (const st of step.start) {
      endsAt.set(st.agentId, now + (agents.find((a) => a.id === st.agentId)?.runMs ?? 10_000));
      result.starts.push({ agentId: st.agentId, atMs: now, batch: st.batch });
    }
    if (step.abort) result.abortedAtMs = now;
    result.peakRunning = Math.max(result.peakRunning, s.targets.filter((t) => t.state === 'running').length);
    if (step.done) return finish(result, step.done, s, now);
    const arrivals = agents.map(onlineAt).filter((t) => t > now);
    now = Math.min(...endsAt.values(), ...arrivals, step.waitUntilMs ?? Infinity);
    if (!Number.isFinite(now)) break; // nothing will ever change: the job is stuck (a test failure)
  }
  return finish(result, null, s, limitMs);
}

function endRuns(s: RolloutSnapshot, agents: SimAgent[], endsAt: Map<string, number>, now: number): RolloutSnapshot {
  const next = s.targets.map((t, i): PlanTarget => {
    const end = endsAt.get(t.agentId);
    if (end === undefined || end > now) return t;
    endsAt.delete(t.agentId);
    return { ...t, state: agents[i]?.result ?? 'succeeded', endedAtMs: end };
  });
  return { ...s, targets: next };
}

function finish(r: SimResult, outcome: FleetOutcome | null, s: RolloutSnapshot, now: number): SimResult {
  return { ...r, outcome, endedAtMs: now, states: Object.fromEntries(s.targets.map((t) => [t.agentId, t.state])) };
}
