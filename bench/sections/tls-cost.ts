/**
 * What TLS costs (the product's default) against plain text (JR_INSECURE=1), in the same run on the
 * same machine: durable intake (closed loop, concurrency 64, to a pool no agent serves) and dispatch
 * latency (202 → the job's process ran, two agents × 8 slots, open loop). Each mode gets a fresh stack
 * of its own, twice, in the order TLS, plain, plain, TLS (the first stack of a run meets a colder machine);
 * the plain-text one is the reference, so the ratio is the price of encryption. On a machine shared
 * with other work the open-loop dispatch percentiles swing more between runs than TLS moves them.
 */
import { withStack } from '../lib/bench-stack';
import { round, summarize, type LatencySummary } from '../lib/load';
import { figure, type BenchContext, type Figure, type SectionResult } from '../lib/report';
import { measureJr, type Sizes } from '../lib/dispatch-latency';
import { durableStep } from './intake';

const UNSERVED_POOL = 'bench-tls-unserved';

interface ModeRun {
  intakePerSecond: number;
  /** 202 → process ran, ms, one per job. */
  dispatchMs: number[];
}

interface ModeResult {
  intakePerSecond: number;
  dispatch: LatencySummary;
}

const sizes = (quick: boolean): { intakeSeconds: number; dispatch: Sizes } => ({
  intakeSeconds: quick ? 1 : 10,
  dispatch: quick
    ? { jobs: 20, rate: 25, agents: 2, slots: 8, loadRate: 0, warmUpMs: 0 }
    : { jobs: 500, rate: 50, agents: 2, slots: 8, loadRate: 0, warmUpMs: 0 },
});

async function measureMode(ctx: BenchContext, insecure: boolean): Promise<ModeRun> {
  const o = sizes(ctx.quick);
  const mode = insecure ? 'plain text' : 'TLS';
  return withStack({ agents: o.dispatch.agents, slots: o.dispatch.slots, insecure }, async (stack) => {
    ctx.log(`${mode}: durable POST /v1/jobs, concurrency 64, ${o.intakeSeconds} s`);
    const intake = await durableStep(stack, 64, o.intakeSeconds, UNSERVED_POOL);
    ctx.log(`${mode}: ${o.dispatch.jobs} jobs at ${o.dispatch.rate}/s, 202 → process ran`);
    const dispatchMs = await measureJr(stack, o.dispatch, insecure ? 'plain' : 'tls');
    const dispatch = summarize(dispatchMs);
    const intakePerSecond = intake.accepted / intake.elapsedS;
    ctx.log(
      `${mode}: intake ${round(intakePerSecond)}/s, dispatch p50 ${round(dispatch.p50)} ms, p99 ${round(dispatch.p99)} ms`,
    );
    return { intakePerSecond, dispatchMs };
  });
}

function combine(runs: ModeRun[]): ModeResult {
  return {
    intakePerSecond: runs.reduce((sum, r) => sum + r.intakePerSecond, 0) / runs.length,
    dispatch: summarize(runs.flatMap((r) => r.dispatchMs)),
  };
}

export async function tlsCostSection(ctx: BenchContext): Promise<SectionResult> {
  // A B B A: whichever stack runs first meets a colder machine; each mode gets one early and one late run
  // (--quick, a smoke test of the section: A B only)
  const runs: Record<'tls' | 'plain', ModeRun[]> = { tls: [], plain: [] };
  for (const insecure of ctx.quick ? [false, true] : [false, true, true, false])
    runs[insecure ? 'plain' : 'tls'].push(await measureMode(ctx, insecure));
  const tls = combine(runs.tls);
  const plain = combine(runs.plain);
  const figures: Figure[] = [
    figure({
      key: 'tls.intake.c64.rate',
      label: 'durable POST /v1/jobs over HTTPS, concurrency 64',
      value: round(tls.intakePerSecond),
      unit: 'ops/s',
      reference: { label: 'the same over plain HTTP (JR_INSECURE=1)', value: round(plain.intakePerSecond) },
    }),
    ...(['p50', 'p99'] as const).map((q) =>
      figure({
        key: `tls.dispatch.${q}`,
        label: `dispatch 202 → process ran over TLS, ${q}`,
        value: round(tls.dispatch[q], 1),
        unit: 'ms',
        reference: { label: 'the same in plain text (JR_INSECURE=1)', value: round(plain.dispatch[q], 1) },
      }),
    ),
  ];
  return {
    id: 'tls',
    title: 'The cost of TLS: intake and dispatch, TLS on vs off',
    figures,
    details: {
      tls,
      plain,
      intakeRuns: { tls: runs.tls.map((r) => r.intakePerSecond), plain: runs.plain.map((r) => r.intakePerSecond) },
    },
  };
}
