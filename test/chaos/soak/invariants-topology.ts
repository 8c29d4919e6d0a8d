import type { JobView } from '@jr/contracts';
import type { Evidence, Row } from './invariants';
import type { Readiness } from './replicas';
import type { RunMark } from './runs';

/** What the replicated topology adds to the evidence, gathered after the settle phase. */
export interface TopologyEvidence {
  /** Each replica's own listing of the jobs (undefined: it did not answer). */
  replicaJobs: Array<Map<string, JobView> | undefined>;
  /** Each replica's /readyz leadership part. */
  leadership: Array<Readiness['leadership'] | undefined>;
  /** Per agent: endpoint failovers and fail-backs its log shows. */
  switches: Array<{ agent: string; failovers: number; failbacks: number }>;
}

/** The rows of the replicated topology's invariants; `fail` records the details of a broken one. */
export function topologyRows(e: Evidence & TopologyEvidence, fail: (list: string[]) => boolean): Row[] {
  const rows: Row[] = [];
  const overlaps = concurrentAttempts(e);
  rows.push({
    name: 'two attempts of one job running at once',
    value: `${overlaps.bugs.length} (${overlaps.explained} after a lease handed on: earlier attempt lost/superseded)`,
    ok: fail(overlaps.bugs),
  });
  const disagree = replicasDisagree(e);
  rows.push({
    name: 'replicas agree on every job',
    value: `${disagree.length} differ (${e.replicaJobs.filter(Boolean).length} of ${e.replicaJobs.length} answered)`,
    ok: fail(disagree),
  });
  const leaders = leadership(e);
  rows.push({ name: 'one leader, known to every replica', value: leaders.summary, ok: fail(leaders.bugs) });
  rows.push({
    name: 'jr cancel: acknowledged job unknown to the other replica',
    value: `${e.unknownAfterAck.length} (product gap: pending submissions are per replica; resent until known)`,
  });
  rows.push({
    name: 'agent endpoint switches (failover/fail-back)',
    value: e.switches.map((s) => `${s.agent}:${s.failovers}/${s.failbacks}`).join(' '),
  });
  return rows;
}

/**
 * From the marker file: two attempts of one job whose runs overlap in time. The lease policy allows it
 * only when the earlier attempt's lease was handed on (it shows `lost` or `superseded`: its agent was
 * cut off or killed and the job went to another); a run with no end mark counts as running on.
 */
function concurrentAttempts(e: Evidence): { bugs: string[]; explained: number } {
  const bugs: string[] = [];
  let explained = 0;
  for (const [id, byAttempt] of e.runs) {
    const j = e.jobs.get(id);
    if (!j) continue;
    const spans = [...byAttempt].map(([n, marks]) => ({ n, ...span(marks) })).sort((x, y) => x.start - y.start);
    for (let k = 1; k < spans.length; k++) {
      const [prev, cur] = [spans[k - 1], spans[k]];
      if (!prev || !cur || cur.start >= prev.end) continue;
      const state = j.attempts.find((t) => t.n === prev.n)?.state;
      if (state === 'lost' || state === 'superseded') explained++;
      else bugs.push(`attempts ${prev.n} (${state ?? 'unknown'}) and ${cur.n} of ${id} ran at once`);
    }
  }
  return { bugs, explained };
}

function span(marks: RunMark[]): { start: number; end: number } {
  return {
    start: marks.find((m) => m.what === 'start')?.atMs ?? 0,
    end: marks.find((m) => m.what === 'end')?.atMs ?? Infinity,
  };
}

/** Every acknowledged job in the same state, with the same attempts, on each replica's listing. */
function replicasDisagree(e: Evidence & TopologyEvidence): string[] {
  const out: string[] = [];
  const ids = [...e.acks.map((a) => a.id), ...e.faultJobs.ids.map((p) => p.id)];
  const views = e.replicaJobs;
  if (views.some((v) => v === undefined)) return ['a replica did not list its jobs after the settle phase'];
  for (const id of ids) {
    const seen = views.map((v) => v?.get(id)).map((j) => (j ? `${j.state}/${j.attempts.length}` : 'missing'));
    if (new Set(seen).size > 1) out.push(`${id}: ${seen.map((s, i) => `${'AB'[i] ?? i}=${s}`).join(' ')}`);
  }
  return out;
}

function leadership(e: TopologyEvidence): { summary: string; bugs: string[] } {
  const views = e.leadership;
  const leaders = views.filter((l) => l?.leader).map((l) => l?.replica ?? '?');
  const holders = new Set(views.map((l) => l?.holder ?? 'none'));
  const bugs: string[] = [];
  if (leaders.length !== 1) bugs.push(`${leaders.length} leaders after the settle phase: ${leaders.join(', ')}`);
  if (holders.size !== 1 || !holders.has(leaders[0] ?? ''))
    bugs.push(`replicas name different leaders: ${[...holders].join(', ')}`);
  return { summary: `leader ${leaders.join(',') || 'none'}; seen as ${[...holders].join(',')}`, bugs };
}
