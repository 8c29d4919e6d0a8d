/**
 * What replicas-burst.test.ts reads back after its burst: every job's view (Postgres, through REST) and
 * each run of its own process (its output: `date +%s%N` at the start, `end <ns>` at the end of a long
 * job), and what it concludes from them: which jobs ran other than once, how long each waited.
 */
import type { AgentList, JobPage, JobView } from '@jr/contracts';
import { waitFor, type Stack } from '@jr/testing';

export interface Submitted {
  n: number;
  id: string;
  ackedAtMs: number;
  tries: number;
}

/** One run of a job's process, epoch ms (a short job prints no end). */
export interface Run {
  startMs: number;
  endMs: number | undefined;
}

export interface Kill {
  killedAtMs: number;
  readyAtMs: number;
  /** Which agents were on the killed replica. */
  agents: readonly string[];
}

export interface Outcome {
  views: Map<string, JobView>;
  runs: Map<string, Run[]>;
  agentNames: Map<string, string>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

/** Every job of the default pool, a page at a time, from the replica the stack's REST calls go to. */
async function allJobs(stack: Stack): Promise<JobView[]> {
  const jobs: JobView[] = [];
  let cursor: string | null = null;
  do {
    const page: JobPage = await stack.get(`/v1/jobs?pool=default&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    jobs.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return jobs;
}

export function runsOf(output: string): Run[] {
  const ms = (ns: string) => Number(BigInt(ns) / 1_000_000n);
  const ends = [...output.matchAll(/^end (\d{16,})$/gm)].map((m) => ms(m[1]!));
  return [...output.matchAll(/^(\d{16,})$/gm)].map((m, i) => ({ startMs: ms(m[1]!), endMs: ends[i] }));
}

/** Waits until every job has ended, then reads views, outputs and agent names. */
export async function readOutcome(stack: Stack, submitted: Submitted[]): Promise<Outcome> {
  await waitFor(async () => (await allJobs(stack)).filter((j) => TERMINAL.has(j.state)).length >= submitted.length, {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: `${submitted.length} jobs to end`,
  });
  const views = new Map((await allJobs(stack)).map((j) => [j.id, j]));
  const runs = new Map<string, Run[]>();
  for (let i = 0; i < submitted.length; i += 10)
    await Promise.all(submitted.slice(i, i + 10).map(async (s) => runs.set(s.id, runsOf(await stack.logs(s.id)))));
  const agentNames = new Map((await stack.get<AgentList>('/v1/agents')).items.map((a) => [a.id, a.name]));
  return { views, runs, agentNames };
}

/**
 * A second run the lease policy explains: the first run had ended on an agent of the killed replica before
 * the SIGKILL, its attempt ended `superseded` (its lease expired, then its result arrived: the replica had
 * acknowledged it, journaled, and not applied it to Postgres when it died, and replayed it too late).
 */
function explainedRerun(o: Outcome, s: Submitted, k: Kill): boolean {
  const [first, second] = o.runs.get(s.id) ?? [];
  const attempts = o.views.get(s.id)?.attempts.filter((a) => a.startedAt) ?? [];
  return (
    first !== undefined &&
    second !== undefined &&
    (first.endMs ?? first.startMs) < k.killedAtMs &&
    attempts.length === 2 &&
    attempts[0]!.state === 'superseded' &&
    k.agents.includes(o.agentNames.get(attempts[0]!.agentId) ?? '')
  );
}

/** Jobs not succeeded, or whose process did not run exactly once (one run, one started attempt). */
export function ranOtherThanOnce(
  o: Outcome,
  submitted: Submitted[],
  k: Kill,
): { wrong: Submitted[]; reruns: Submitted[] } {
  const wrong: Submitted[] = [];
  const reruns: Submitted[] = [];
  for (const s of submitted) {
    const v = o.views.get(s.id);
    const once = o.runs.get(s.id)?.length === 1 && v?.attempts.filter((a) => a.startedAt).length === 1;
    if (v?.state === 'succeeded' && once) continue;
    if (v?.state === 'succeeded' && explainedRerun(o, s, k)) reruns.push(s);
    else wrong.push(s);
  }
  return { wrong, reruns };
}

/** Jobs whose process was running on one of the killed replica's agents at the SIGKILL (long jobs print their end). */
export function runningAtKill(o: Outcome, submitted: Submitted[], k: Kill): Submitted[] {
  return submitted.filter((s) => {
    const first = o.runs.get(s.id)?.[0];
    const attempt = o.views.get(s.id)?.attempts.find((a) => a.startedAt);
    const onKilled = k.agents.includes(o.agentNames.get(attempt?.agentId ?? '') ?? '');
    return onKilled && first?.endMs !== undefined && first.startMs < k.killedAtMs && first.endMs > k.killedAtMs;
  });
}

export function describeJob(o: Outcome, s: Submitted): string {
  const v = o.views.get(s.id);
  const attempts = (v?.attempts ?? []).map(
    (a) => `#${a.n} ${o.agentNames.get(a.agentId)} ${a.state}/${a.reason} ${a.startedAt}..${a.endedAt}`,
  );
  const iso = (ms: number) => new Date(ms).toISOString();
  const runs = (o.runs.get(s.id) ?? []).map((r) => `${iso(r.startMs)}..${r.endMs ? iso(r.endMs) : ''}`);
  return `job ${s.n} ${v?.state} acked ${iso(s.ackedAtMs)} ran ${runs.join(', ')}; ${attempts.join('; ')}`;
}

/** Acknowledgement → the job's first process start, ms. */
export function waitOf(o: Outcome, s: Submitted): number {
  return (o.runs.get(s.id)?.[0]?.startMs ?? Infinity) - s.ackedAtMs;
}

/** Jobs holding a slot at `atMs`: their process had started and their attempt had not ended. */
export function occupancy(o: Outcome, atMs: number): number {
  let busy = 0;
  for (const [id, v] of o.views) {
    const start = o.runs.get(id)?.[0]?.startMs;
    const end = v.attempts.at(-1)?.endedAt;
    if (start !== undefined && end && start <= atMs && atMs < Date.parse(end)) busy++;
  }
  return busy;
}
