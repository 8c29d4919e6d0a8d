/**
 * Cross-replica dispatch, part of the dispatch section: two real jr-api replicas on one Postgres and one
 * Redis, the agents connected to B only. Jobs submitted open-loop to A (cross: A journals, relays and
 * enqueues, B's worker fetches for its agents' Lease calls) against jobs submitted to B (same replica), in
 * one stack, measured as the dispatch figure is (202 → the job's own `date +%s%N` ran). Rounds alternate
 * same, cross, cross, same (after a warm-up round left out), so each side meets the machine early and
 * late. A is restarted once the agents are enrolled, so it runs a worker for their pool as a long-lived
 * replica does: without demand-driven dispatch that worker would hold up to 32 of A's jobs with no agent
 * to take them.
 */
import type { ApiReplica, Stack } from '@jr/testing';
import type { ApiTarget } from '../lib/api-client';
import { withStack } from '../lib/bench-stack';
import { measureJr, type Sizes } from '../lib/dispatch-latency';
import { round, summarize, type LatencySummary } from '../lib/load';
import { figure, type BenchContext, type Figure } from '../lib/report';

type Side = 'same' | 'cross';

export interface ReplicaDispatch {
  sizes: Sizes;
  order: Side[];
  same: LatencySummary;
  cross: LatencySummary;
  /** Each round on its own, in run order: the spread between rounds of one side is the machine's noise. */
  rounds: Array<{ side: Side } & LatencySummary>;
}

/** 25/s: the rate this 2-core machine keeps up with (at 50/s the single-API figure measures a backlog). */
const sizes = (quick: boolean): { round: Sizes; order: Side[] } => ({
  round: { jobs: quick ? 20 : 250, rate: 25, agents: 2, slots: 8, loadRate: 0, warmUpMs: 0 },
  order: quick ? ['cross', 'same'] : ['same', 'cross', 'cross', 'same'],
});

function restTarget(stack: Stack, replica?: ApiReplica): ApiTarget {
  return {
    baseUrl: stack.baseUrlOf(replica),
    adminToken: stack.adminToken,
    ...(stack.caPem !== undefined ? { caPem: stack.caPem } : {}),
  };
}

export async function measureReplicas(ctx: BenchContext): Promise<ReplicaDispatch> {
  const o = sizes(ctx.quick);
  const { agents, slots } = o.round;
  return withStack({ agents, slots, agentsOnReplica: 'b' }, async (stack) => {
    await stack.api.stop();
    await stack.startApi(); // A now knows the agents' pool and runs a worker for it
    const a = restTarget(stack);
    const b = restTarget(stack, stack.replicas.get('b'));
    const samples: Record<Side, number[]> = { same: [], cross: [] };
    const rounds: ReplicaDispatch['rounds'] = [];
    // a round left out of the figures: the first measured round met the previous stack's teardown every time
    if (!ctx.quick) await measureJr(b, { ...o.round, jobs: 100 }, 'warm-up', a);
    for (const [i, side] of o.order.entries()) {
      ctx.log(
        `replicas ${side} (${i + 1}/${o.order.length}): ${o.round.jobs} jobs at ${o.round.rate}/s to ${side === 'cross' ? 'A' : 'B'}, ${agents} agents × ${slots} slots on B`,
      );
      const ms = await measureJr(b, o.round, `${side}-${i}`, side === 'cross' ? a : b);
      samples[side].push(...ms);
      rounds.push({ side, ...summarize(ms) });
    }
    const same = summarize(samples.same);
    const cross = summarize(samples.cross);
    ctx.log(
      `replicas: cross p50 ${round(cross.p50)} ms p99 ${round(cross.p99)} ms; same p50 ${round(same.p50)} ms p99 ${round(same.p99)} ms`,
    );
    return { sizes: o.round, order: o.order, same, cross, rounds };
  });
}

export function replicaFigures(m: ReplicaDispatch): Figure[] {
  return (['p50', 'p99', 'max'] as const).map((p) =>
    figure({
      key: `dispatch.cross_replica.${p}`,
      label: `202 → process ran, submitted to A, agents on B, ${p} of ${m.cross.n}`,
      value: round(m.cross[p], 2),
      unit: 'ms',
      reference: { label: `the same submitted to B (same replica), ${p}`, value: round(m.same[p], 2) },
      note: `two replicas, ${m.sizes.agents} agents × ${m.sizes.slots} slots on B, ${m.sizes.rate}/s, rounds ${m.order.join(', ')}`,
    }),
  );
}
