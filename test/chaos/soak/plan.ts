import { Rng } from './rng';

/**
 * What a soak run does, derived from its seed alone: the job stream (kinds, durations, arrival times)
 * and the fault schedule. Printing the seed is enough to replay the same plan.
 */

export type JobKind =
  | 'quick' // sleeps 0–3 s, succeeds
  | 'flaky' // fails its first attempt (JR_ATTEMPT=1), has retries: succeeds
  | 'fails' // exits 3 with no retries: failed / exit_code
  | 'download' // `uses:` an artifact from the soak's HTTP server (normal, slow or failing its first request)
  | 'bad-checksum' // `uses:` an artifact whose sha256 does not match: failed
  | 'cancel-queued' // asks for a label no agent has, so it waits queued until `jr cancel`
  | 'cancel-running'; // sleeps 30 s, `jr cancel` once it runs

export type ArtifactMode = 'normal' | 'slow' | 'fail-first';

export interface JobPlan {
  i: number;
  kind: JobKind;
  /** Step duration in seconds. */
  sleepS: number;
  retries: number;
  artifact?: ArtifactMode;
  /** Arrival, ms after the stream starts. */
  atMs: number;
}

export const FAULT_KINDS = [
  'api-kill',
  'replica-kill',
  'postgres-promotion',
  'redis-sentinel-failover',
  'redis-empty',
  'postgres-restart',
  'agent-kill',
  'partition',
  'slow-network',
  'disk-full',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  kind: FaultKind;
  /** Earliest start, ms after the stream starts (a fault never starts before the previous one recovered). */
  atMs: number;
  /** How long the fault is held (for a partition: after the agent's breaker opened). */
  holdMs: number;
  /** The agent it hits (agent faults), 0-based; replica faults hit replica `agent % 2` (A, B). */
  agent: number;
  /** Added latency each way (slow-network). */
  latencyMs: number;
  /** A slow network may go on while the next fault starts (a degraded link during an outage is realistic). */
  overlapsNext: boolean;
}

const KIND_WEIGHTS: Array<[JobKind, number]> = [
  ['quick', 40],
  ['flaky', 14],
  ['fails', 5],
  ['download', 20],
  ['bad-checksum', 3],
  ['cancel-queued', 8],
  ['cancel-running', 10],
];

function pickKind(rng: Rng): JobKind {
  const total = KIND_WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let x = rng.next() * total;
  for (const [kind, w] of KIND_WEIGHTS) if ((x -= w) < 0) return kind;
  return 'quick';
}

/** Jobs arriving at `ratePerS` on average (exponential gaps) for `durationMs`. */
export function planJobs(seed: number, durationMs: number, ratePerS: number): JobPlan[] {
  const rng = new Rng(seed).fork(1);
  const jobs: JobPlan[] = [];
  for (let at = 0, i = 0; ; i++) {
    at += (-Math.log(1 - rng.next()) / ratePerS) * 1_000;
    if (at >= durationMs) break;
    const kind = pickKind(rng);
    const sleepS = kind === 'cancel-running' ? 30 : Math.round(rng.between(0, 3) * 10) / 10;
    const retries = kind === 'flaky' ? rng.int(1, 2) : kind === 'quick' ? rng.int(0, 1) : 0;
    const artifact =
      kind === 'download' ? rng.pick<ArtifactMode>(['normal', 'normal', 'slow', 'fail-first']) : undefined;
    jobs.push({ i, kind, sleepS, retries, artifact, atMs: Math.round(at) });
  }
  return jobs;
}

/**
 * Every fault kind once per round, in a seeded order, spread over the window between a warm-up and
 * the last 15 % of the stream (which is kept quiet so the tail of the stream meets a healthy system).
 * Faults do not overlap, except a slow network (half of them) with the fault after it: each other fault
 * starts once the previous one has recovered, or later.
 */
export function planFaults(
  seed: number,
  durationMs: number,
  agents: number,
  rounds: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): FaultPlan[] {
  const rng = new Rng(seed).fork(2);
  const overlap = new Rng(seed).fork(3); // its own stream: the other numbers of a seed's plan stay as they were
  const order: FaultKind[] = [];
  for (let r = 0; r < rounds; r++) order.push(...rng.shuffle(kinds));
  const start = Math.min(5_000, durationMs * 0.08);
  const slot = (durationMs * 0.85 - start) / Math.max(1, order.length);
  return order.map((kind, k) => ({
    kind,
    atMs: Math.round(start + k * slot + rng.between(0, slot * 0.3)),
    holdMs: Math.round(holdRange(kind, rng)),
    agent: rng.int(0, agents - 1),
    latencyMs: rng.int(100, 400),
    overlapsNext: kind === 'slow-network' && overlap.next() < 0.5,
  }));
}

export const AGENT_FAULTS: readonly FaultKind[] = ['agent-kill', 'partition', 'slow-network'];
export const REPLICA_FAULTS: readonly FaultKind[] = ['replica-kill', 'disk-full'];

/** What a fault hits, as the report names it: an agent (a0…), a replica (A, B) or the whole of one kind (-). */
export function faultTarget(f: FaultPlan): string {
  if (AGENT_FAULTS.includes(f.kind)) return `a${f.agent}`;
  if (REPLICA_FAULTS.includes(f.kind)) return f.agent % 2 === 0 ? 'A' : 'B';
  return '-';
}

function holdRange(kind: FaultKind, rng: Rng): number {
  switch (kind) {
    case 'api-kill':
    case 'replica-kill':
      return rng.between(300, 2_000);
    case 'postgres-promotion':
      return rng.between(500, 3_000); // no writable host until the promotion (a health check's detection)
    case 'redis-sentinel-failover':
      return rng.between(0, 2_000); // after Sentinel promoted the replica: the set runs with no replica
    case 'redis-empty':
      return rng.between(500, 3_000);
    case 'postgres-restart':
      return rng.between(500, 4_000);
    case 'agent-kill':
      return rng.between(500, 4_000);
    case 'partition':
      return rng.between(500, 3_000);
    case 'slow-network':
      return rng.between(3_000, 8_000);
    case 'disk-full':
      return rng.between(1_000, 4_000);
  }
}
