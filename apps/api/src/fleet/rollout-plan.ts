import { batchSize, countsByState, failuresCrossLimit, successesNeeded } from './rollout-math';
import type {
  FleetOutcome,
  PlanTarget,
  RolloutPolicy,
  RolloutSnapshot,
  RolloutStep,
  TargetInBatch,
  TargetState,
} from './rollout-types';

export { batchSize, countsByState, failureLimit, successesNeeded } from './rollout-math';
export type * from './rollout-types';

/**
 * The rollout planner: given a fleet job's targets now, what to do next. Pure and deterministic (time is
 * `nowMs`), so the service can run it after every target change and on every timer, on any replica, and
 * apply the answer in one transaction. The rules:
 *
 *  - Targets go in the given order. A target becomes *due* when its turn comes (batching: its batch starts;
 *    rolling: a slot frees); it starts when its agent is online. A due target whose agent is offline holds
 *    its slot until it is delivered or its deliveryTimeout (counted from when it became due) runs out and
 *    it ends `undelivered`, even if the agent shows up at that very moment: so never more than `batch`
 *    targets are in flight, which is what a rollout promises (the price: a batch, or a slot, waits for an
 *    offline machine up to deliveryTimeout).
 *  - batching: the next batch becomes due once every target of the last one ended and `pause` passed since
 *    the last of them ended. rolling: keep `batch` targets in flight; with a `pause`, a slot freed by a target
 *    that ran is used again only `pause` after it ended (bake time: watch that machine before the next goes).
 *  - Abort (failures > failureLimit once minSample targets have a verdict): nothing starts any more; every
 *    pending target, due or not, is `skipped`, even one whose agent comes back a second later (the command
 *    was judged failing; `jr retry --remaining` runs it there later); running targets finish (stopping them
 *    half-way could leave machines worse than either state). The job ends failed, rollout_aborted, when the
 *    last running target ended. Cancel: the same, and the job ends cancelled; an abort decided before wins.
 *  - Otherwise the job ends when every target ended: succeeded when enough succeeded (successCriteria,
 *    default all; so an undelivered target fails the job unless the criteria allow for it), else failed,
 *    success_criteria_unmet. No targets at all: failed, no_targets (a selector that matches nothing is
 *    more likely a typo than a success). A continuous job does not end this way while it stays open.
 */
export function planStep(snapshot: RolloutSnapshot, nowMs: number): RolloutStep {
  const { rollout } = snapshot;
  const late = (t: PlanTarget) => isPastDeadline(t, rollout, nowMs);
  const undeliver = snapshot.targets.filter(late).map((t) => t.agentId);
  const targets: readonly PlanTarget[] =
    undeliver.length === 0
      ? snapshot.targets
      : snapshot.targets.map((t) => (late(t) ? { ...t, state: 'undelivered', endedAtMs: nowMs } : t));
  const counts = countsByState(targets);
  const abort = !snapshot.aborted && !snapshot.cancelled && failuresCrossLimit(counts, rollout, targets.length);
  const currentBatch = highestBatch(targets);
  if (snapshot.aborted || abort || snapshot.cancelled) {
    const done = counts.running > 0 ? null : stoppedOutcome(snapshot.aborted || abort);
    return { due: [], start: [], undeliver, skip: idsIn(targets, 'pending'), abort, done, currentBatch };
  }
  const moves =
    rollout.mode === 'batching' ? planBatching(targets, rollout, nowMs) : planRolling(targets, rollout, nowMs);
  const finished = counts.pending === 0 && counts.running === 0 && snapshot.continuous !== true;
  return {
    ...moves,
    undeliver,
    skip: [],
    abort,
    done: finished ? endedOutcome(counts, rollout, targets.length) : null,
    currentBatch: moves.due.reduce((highest, d) => Math.max(highest, d.batch), currentBatch),
  };
}

interface Moves {
  due: TargetInBatch[];
  start: TargetInBatch[];
  waitUntilMs?: number;
}

function isPastDeadline(t: PlanTarget, rollout: RolloutPolicy, nowMs: number): boolean {
  return t.state === 'pending' && t.due !== null && nowMs >= t.due.sinceMs + rollout.deliveryTimeoutMs;
}

function stoppedOutcome(aborted: boolean): FleetOutcome {
  return aborted ? { state: 'failed', reason: 'rollout_aborted' } : { state: 'cancelled', reason: 'cancelled' };
}

function endedOutcome(counts: Record<TargetState, number>, rollout: RolloutPolicy, total: number): FleetOutcome {
  if (total === 0) return { state: 'failed', reason: 'no_targets' };
  return counts.succeeded >= successesNeeded(rollout, total)
    ? { state: 'succeeded', reason: null }
    : { state: 'failed', reason: 'success_criteria_unmet' };
}

function planBatching(targets: readonly PlanTarget[], rollout: RolloutPolicy, nowMs: number): Moves {
  const waiting = targets.filter(isWaiting);
  if (waiting.length > 0 || targets.some((t) => t.state === 'running')) return holdOn(waiting, rollout);
  const next = targets.filter(isNotYetDue);
  if (next.length === 0) return { due: [], start: [] };
  const current = highestBatch(targets);
  const resumeAtMs = lastEndedAtMs(targets, current) + rollout.pauseMs;
  if (current > 0 && rollout.pauseMs > 0 && nowMs < resumeAtMs) return { due: [], start: [], waitUntilMs: resumeAtMs };
  const chosen = next.slice(0, batchSize(rollout, targets.length));
  return makeDue(
    chosen.map((t) => ({ target: t, batch: current + 1 })),
    rollout,
    nowMs,
  );
}

function planRolling(targets: readonly PlanTarget[], rollout: RolloutPolicy, nowMs: number): Moves {
  const size = batchSize(rollout, targets.length);
  const waiting = targets.filter(isWaiting);
  const baking = targets.filter((t) => isBaking(t, rollout, nowMs));
  const running = targets.filter((t) => t.state === 'running').length;
  const free = Math.max(0, size - running - waiting.length - baking.length);
  const next = targets.filter(isNotYetDue);
  const chosen = numberWaves(next.slice(0, free), targets, size);
  const held = holdOn(waiting, rollout);
  const fresh = makeDue(chosen, rollout, nowMs);
  const bakeEndMs = next.length > free ? earliest(baking.map((t) => (t.endedAtMs ?? 0) + rollout.pauseMs)) : undefined;
  const waitUntilMs = earliest([held.waitUntilMs, fresh.waitUntilMs, bakeEndMs]);
  return {
    due: fresh.due,
    start: [...held.start, ...fresh.start],
    ...(waitUntilMs === undefined ? {} : { waitUntilMs }),
  };
}

/** Rolling mode's batch numbers: every `size` targets made due are one "batch", for status and metrics. */
function numberWaves(
  chosen: readonly PlanTarget[],
  targets: readonly PlanTarget[],
  size: number,
): Array<{ target: PlanTarget; batch: number }> {
  let batch = highestBatch(targets);
  let inBatch = targets.filter((t) => t.due !== null && t.due.batch === batch).length;
  return chosen.map((target) => {
    if (batch === 0 || inBatch >= size) [batch, inBatch] = [batch + 1, 0];
    inBatch += 1;
    return { target, batch };
  });
}

/** Due targets still pending: the online ones start; the offline ones wait for their agent or their deadline. */
function holdOn(waiting: readonly PlanTarget[], rollout: RolloutPolicy): Moves {
  const start = waiting.filter((t) => t.online).map((t) => ({ agentId: t.agentId, batch: t.due?.batch ?? 0 }));
  const deadlines = waiting.filter((t) => !t.online).map((t) => (t.due?.sinceMs ?? 0) + rollout.deliveryTimeoutMs);
  const waitUntilMs = earliest(deadlines);
  return { due: [], start, ...(waitUntilMs === undefined ? {} : { waitUntilMs }) };
}

function makeDue(chosen: ReadonlyArray<{ target: PlanTarget; batch: number }>, rollout: RolloutPolicy, nowMs: number) {
  const due = chosen.map(({ target, batch }) => ({ agentId: target.agentId, batch }));
  const start = chosen
    .filter(({ target }) => target.online)
    .map(({ target, batch }) => ({ agentId: target.agentId, batch }));
  const offline = chosen.some(({ target }) => !target.online);
  return { due, start, ...(offline ? { waitUntilMs: nowMs + rollout.deliveryTimeoutMs } : {}) };
}

function isWaiting(t: PlanTarget): boolean {
  return t.state === 'pending' && t.due !== null;
}

function isNotYetDue(t: PlanTarget): boolean {
  return t.state === 'pending' && t.due === null;
}

/** Ended states whose slot the bake time holds: the targets that ran something. */
const RAN: ReadonlySet<TargetState> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

function isBaking(t: PlanTarget, rollout: RolloutPolicy, nowMs: number): boolean {
  return rollout.pauseMs > 0 && RAN.has(t.state) && t.endedAtMs !== undefined && t.endedAtMs + rollout.pauseMs > nowMs;
}

function highestBatch(targets: readonly PlanTarget[]): number {
  let highest = 0;
  for (const t of targets) if (t.due !== null && t.due.batch > highest) highest = t.due.batch;
  return highest;
}

function lastEndedAtMs(targets: readonly PlanTarget[], batch: number): number {
  let last = -Infinity;
  for (const t of targets) {
    if (t.due?.batch === batch && t.endedAtMs !== undefined && t.endedAtMs > last) last = t.endedAtMs;
  }
  return last;
}

function earliest(times: ReadonlyArray<number | undefined>): number | undefined {
  let min: number | undefined;
  for (const time of times) if (time !== undefined && (min === undefined || time < min)) min = time;
  return min;
}

function idsIn(targets: readonly PlanTarget[], state: TargetState): string[] {
  return targets.filter((t) => t.state === state).map((t) => t.agentId);
}
