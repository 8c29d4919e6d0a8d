import type { AgentView, JobView } from '@jr/contracts';
import type { FaultJobs, FaultRecord } from './faults';
import { topologyRows, type TopologyEvidence } from './invariants-topology';
import { faultTarget, type JobKind } from './plan';
import type { RunMark, RunsByJob } from './runs';
import type { Ack } from './stream';

export interface Evidence {
  acks: Ack[];
  cancelNotes: Map<string, string>;
  /** `jr cancel` of an acknowledged job answered "unknown job" by the replica that had not acknowledged it. */
  unknownAfterAck: string[];
  refused: string[];
  faultJobs: FaultJobs;
  faults: FaultRecord[];
  jobs: Map<string, JobView>;
  runs: RunsByJob;
  agents: AgentView[];
}

/** One row of the printed table; `ok: undefined` is information, not an invariant. */
export interface Row {
  name: string;
  value: string;
  ok?: boolean;
}

export interface Verdict {
  rows: Row[];
  /** Details of every failed invariant (job ids, attempts), for the report. */
  failures: string[];
}

const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];

const EXPECTED: Record<JobKind, string> = {
  quick: 'succeeded',
  flaky: 'succeeded',
  download: 'succeeded',
  fails: 'failed',
  'bad-checksum': 'failed',
  'cancel-queued': 'cancelled',
  'cancel-running': 'cancelled',
};

/** Checks every invariant of the soak over the evidence gathered after the settle phase. */
export function verify(e: Evidence & TopologyEvidence): Verdict {
  const failures: string[] = [];
  const rows: Row[] = [];
  const fail = (list: string[]): boolean => (failures.push(...list), list.length === 0);
  rows.push({
    name: 'acknowledged',
    value: `${e.acks.length} (+${e.faultJobs.ids.length} probe/load jobs)`,
    ok: fail(duplicateIds(e)),
  });
  rows.push({
    name: 'refused submissions (not 503/429)',
    value: String(e.refused.length + e.faultJobs.refused.length),
    ok: fail([...e.refused, ...e.faultJobs.refused]),
  });
  const notTerminal = [...e.acks.map((a) => a.id), ...e.faultJobs.ids.map((p) => p.id)].filter(
    (id) => !TERMINAL.includes(e.jobs.get(id)?.state ?? ''),
  );
  rows.push({ name: 'terminal, by state', value: byState(e) });
  rows.push({
    name: 'lost (acknowledged, not terminal / unknown)',
    value: String(notTerminal.length),
    ok: fail(notTerminal.map((id) => `not terminal: ${describe(e.jobs.get(id), id)}`)),
  });
  const outcomes = unexpectedOutcomes(e);
  rows.push({
    name: 'unexpected outcome (not explained by lost attempts)',
    value: `${outcomes.bugs.length} (${outcomes.explained} explained)`,
    ok: fail(outcomes.bugs),
  });
  const probes = e.faultJobs.ids.filter((p) => e.jobs.get(p.id)?.state !== 'succeeded');
  rows.push({
    name: 'probe / partition-load jobs not succeeded',
    value: String(probes.length),
    ok: fail(probes.map((p) => `${p.why}: ${describe(e.jobs.get(p.id), p.id)}`)),
  });
  const reruns = classifyReruns(e);
  rows.push({ name: 'ran more than once', value: reruns.summary, ok: fail(reruns.bugs) });
  const results = resultsLost(e);
  rows.push({
    name: 'results lost (run ended, API lacks it)',
    value: `${results.bugs.length} (${results.orphans} runs orphaned by agent SIGKILL)`,
    ok: fail(results.bugs),
  });
  const outlived = stepsOutlivingRestart(e);
  rows.push({
    name: 'steps still running after their agent restarted',
    value: String(outlived.length),
    ok: fail(outlived),
  });
  const strangers = [...e.runs.keys()].filter((id) => !e.jobs.has(id));
  rows.push({
    name: 'ran but never acknowledged',
    value: String(strangers.length),
    ok: fail(strangers.map((id) => `ran, not acknowledged: ${id}`)),
  });
  const undrained = e.agents.filter((a) => a.spoolDepth !== 0 || a.breakerState !== 'closed');
  rows.push({
    name: 'agent outboxes drained, breakers closed',
    value: e.agents.map((a) => `${a.name}:${a.spoolDepth}/${a.breakerState}`).join(' '),
    ok: fail(undrained.map((a) => `agent ${a.name} spool ${a.spoolDepth} breaker ${a.breakerState}`)),
  });
  rows.push(...topologyRows(e, fail));
  const retried = e.acks.filter((a) => a.tries > 1).length;
  rows.push({ name: 'submissions that needed a retry (same key)', value: String(retried) });
  return { rows, failures };
}

function duplicateIds(e: Evidence): string[] {
  const ids = new Map<string, string>();
  const out: string[] = [];
  for (const a of e.acks) {
    const other = ids.get(a.id);
    if (other) out.push(`keys ${other} and ${a.key} got the same job ${a.id}`);
    ids.set(a.id, a.key);
  }
  return out;
}

function byState(e: Evidence): string {
  const counts = new Map<string, number>();
  for (const a of e.acks) {
    const j = e.jobs.get(a.id);
    const k = j ? `${j.state}${j.reason && j.state === 'failed' ? `/${j.reason}` : ''}` : 'missing';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts]
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

export function describe(j: JobView | undefined, id: string): string {
  if (!j) return `${id} unknown to the API`;
  return `${j.id} ${j.name} ${j.state}${j.reason ? `/${j.reason}` : ''} attempts ${j.attempts.map((a) => `${a.n}:${a.state}:${a.exitCode ?? '-'}@${a.agentId.slice(0, 8)}`).join(',')}`;
}

function unexpectedOutcomes(e: Evidence): { bugs: string[]; explained: number } {
  const bugs: string[] = [];
  let explained = 0;
  for (const a of e.acks) {
    const j = e.jobs.get(a.id);
    if (!j || !TERMINAL.includes(j.state) || j.state === EXPECTED[a.plan.kind]) continue;
    if (j.reason === 'attempts_exhausted' && j.attempts.some((t) => t.state === 'lost')) explained++;
    else
      bugs.push(
        `expected ${EXPECTED[a.plan.kind]}: ${describe(j, a.id)}${e.cancelNotes.has(a.id) ? ` (cancel: ${e.cancelNotes.get(a.id)})` : ''}`,
      );
  }
  return { bugs, explained };
}

/** Every run beyond a job's first, with the reason the API's attempts give for it. */
function classifyReruns(e: Evidence): { summary: string; bugs: string[] } {
  const why = new Map<string, number>();
  const bugs: string[] = [];
  let jobsRerun = 0;
  for (const [id, byAttempt] of e.runs) {
    const j = e.jobs.get(id);
    if (!j) continue;
    const attempts = [...byAttempt.keys()].sort((x, y) => x - y);
    for (const [n, marks] of byAttempt) {
      if (marks.filter((m) => m.what === 'start').length > 1)
        bugs.push(`attempt ${n} started twice: ${describe(j, id)}`);
      if (!j.attempts.some((t) => t.n === n))
        bugs.push(`attempt ${n} ran but the API has no such attempt: ${describe(j, id)}`);
    }
    if (attempts.length > 1) jobsRerun++;
    for (const n of attempts.slice(1)) {
      const prev = j.attempts.find((t) => t.n === attempts[attempts.indexOf(n) - 1]);
      const reason =
        prev?.state === 'failed'
          ? 'retry of a failed attempt (by design)'
          : prev?.state === 'lost' || prev?.state === 'superseded'
            ? `previous attempt ${prev.state} (at-least-once)`
            : `previous attempt ${prev?.state ?? 'missing'}: no lost attempt`;
      why.set(reason, (why.get(reason) ?? 0) + 1);
      if (reason.endsWith('no lost attempt'))
        bugs.push(`double run with no lost attempt (attempt ${n}): ${describe(j, id)}`);
    }
  }
  const parts = [...why].map(([r, k]) => `${k} ${r}`);
  return { summary: `${jobsRerun} jobs${parts.length ? `: ${parts.join('; ')}` : ''}`, bugs };
}

/** Runs that ended (an `end` mark) whose outcome the API does not hold, except runs orphaned by an agent SIGKILL. */
function resultsLost(e: Evidence): { bugs: string[]; orphans: number } {
  const bugs: string[] = [];
  let orphans = 0;
  const names = new Map(e.agents.map((a) => [a.id, a.name]));
  for (const [id, byAttempt] of e.runs) {
    const j = e.jobs.get(id);
    if (!j) continue;
    for (const [n, marks] of byAttempt) {
      const end = marks.find((m) => m.what === 'end');
      if (!end) continue;
      const t = j.attempts.find((x) => x.n === n);
      const verdict = attemptResult(
        t?.state,
        t?.exitCode ?? null,
        end,
        killedWhileRunning(e, names.get(t?.agentId ?? ''), marks),
      );
      if (verdict === 'orphan') orphans++;
      if (verdict !== 'ok' && verdict !== 'orphan')
        bugs.push(`attempt ${n} ended with ${end.rc} on the agent, API says ${verdict}: ${describe(j, id)}`);
    }
  }
  return { bugs, orphans };
}

function attemptResult(state: string | undefined, exitCode: number | null, end: RunMark, killed: boolean): string {
  if (state === 'cancelled' || state === 'timed_out') return 'ok';
  if (state === 'succeeded' || state === 'failed' || state === 'superseded')
    return exitCode === null || exitCode === end.rc ? 'ok' : `${state} with exit code ${exitCode}`;
  return killed ? 'orphan' : (state ?? 'no such attempt');
}

/** True when the agent that ran these marks was SIGKILLed between the run's start and its end mark. */
function killedWhileRunning(e: Evidence, agentName: string | undefined, marks: RunMark[]): boolean {
  const start = marks.find((m) => m.what === 'start')?.atMs ?? 0;
  const end = marks.find((m) => m.what === 'end')?.atMs ?? Infinity;
  return e.faults.some(
    (f) =>
      f.plan.kind === 'agent-kill' &&
      `a${f.plan.agent}` === agentName &&
      f.startedAt <= end + 50 &&
      f.startedAt >= start - 50,
  );
}

/**
 * A step of a SIGKILLed agent goes on running (its own process group) until the agent is restarted
 * on the same data directory, which kills it: no run may end after that restart.
 */
function stepsOutlivingRestart(e: Evidence): string[] {
  const out: string[] = [];
  const names = new Map(e.agents.map((a) => [a.id, a.name]));
  for (const [id, byAttempt] of e.runs) {
    for (const [n, marks] of byAttempt) {
      const start = marks.find((m) => m.what === 'start')?.atMs ?? 0;
      const end = marks.find((m) => m.what === 'end')?.atMs;
      const agent = names.get(e.jobs.get(id)?.attempts.find((t) => t.n === n)?.agentId ?? '');
      const kill = e.faults.find(
        (f) =>
          f.plan.kind === 'agent-kill' &&
          `a${f.plan.agent}` === agent &&
          f.startedAt >= start &&
          f.healedAt < (end ?? 0),
      );
      if (kill && end !== undefined)
        out.push(
          `attempt ${n} of ${id} ended ${end - kill.healedAt} ms after its agent ${agent} was restarted: ${describe(e.jobs.get(id), id)}`,
        );
    }
  }
  return out;
}

/** The table, as printed. */
export function formatTable(rows: Row[]): string {
  const w = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => `${r.ok === undefined ? '    ' : r.ok ? ' ok ' : 'FAIL'}  ${r.name.padEnd(w)}  ${r.value}`)
    .join('\n');
}

export function formatFaults(faults: FaultRecord[]): string {
  const head = 'fault                    target  held ms  ready ms  probe ms  note';
  const lines = faults.map(
    (f) =>
      `${f.plan.kind.padEnd(24)} ${faultTarget(f.plan).padEnd(6)} ${String(f.healedAt - f.startedAt).padStart(8)} ${String(f.readyMs).padStart(9)} ${String(f.probeMs).padStart(9)}  ${f.note}`,
  );
  return [head, ...lines].join('\n');
}
