import {
  isTerminal,
  type AttemptState,
  type JobState,
  type JobView,
  type NormalizedJob,
  type StepState,
  type StepView,
} from '@jr/contracts';

/**
 * Steps and run time of a job view, derived at read time from what the agents reported: the latest
 * `step_started` and the latest `step_finished` event of each step of one attempt (the query picks
 * them, see jobs.repository.ts), and the attempts' start and end times.
 */

/** The latest event of one kind for one step (detail as stored from the agent's report: untrusted). */
export interface StepEventRow {
  step: number;
  kind: 'step_started' | 'step_finished';
  seq: string | number;
  at: Date | string;
  detail: unknown;
}

/** The attempt whose steps a view shows: the latest that got past leasing. */
export interface StepAttempt {
  state: AttemptState;
  endedAt: Date | null;
}

type StepFields = Pick<JobView, 'steps' | 'failedStep'>;
type RunTimeFields = Pick<JobView, 'startedAt' | 'endedAt' | 'durationMs'>;

const STOPPED: ReadonlySet<StepState> = new Set(['failed', 'timed_out', 'cancelled']);
const LIVE: ReadonlySet<AttemptState> = new Set(['leased', 'running']);
const OUTCOMES: ReadonlyMap<string, StepState> = new Map([
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['timed_out', 'timed_out'],
  ['cancelled', 'cancelled'],
]);

interface StepEvents {
  started?: { seq: number; at: Date; try: number | null };
  finished?: { seq: number; at: Date; exitCode: number | null; outcome: string };
}

interface StepContext {
  attempt: StepAttempt | undefined;
  /** An earlier step failed, timed out or was cancelled: this one never runs. */
  stopped: boolean;
  retries: number;
  nowMs: number;
}

export function stepViews(
  spec: NormalizedJob,
  attempt: StepAttempt | undefined,
  events: StepEventRow[],
  nowMs: number,
): StepFields {
  const byStep = groupByStep(events);
  let stopped = false;
  const steps = spec.steps.map((s, index): StepView => {
    const view = {
      index,
      name: s.name,
      ...stepState(byStep.get(index) ?? {}, { attempt, stopped, retries: s.retries, nowMs }),
    };
    if (STOPPED.has(view.state)) stopped = true;
    return view;
  });
  const failed = steps.find((s) => STOPPED.has(s.state));
  return { steps, failedStep: failed ? { index: failed.index, name: failed.name } : null };
}

function stepState(ev: StepEvents, c: StepContext): Omit<StepView, 'index' | 'name'> {
  const idle = { exitCode: null, startedAt: null, endedAt: null, durationMs: null };
  if (!c.attempt) return { state: 'pending', ...idle };
  const live = LIVE.has(c.attempt.state);
  const { started, finished } = ev;
  if (finished && (!started || finished.seq > started.seq)) {
    const state = OUTCOMES.get(finished.outcome) ?? (finished.exitCode === 0 ? 'succeeded' : 'failed');
    // a failed try of a step with tries left, in a live attempt: the agent runs it again next
    const retrying = state === 'failed' && live && started?.try != null && started.try <= c.retries;
    if (retrying) return { state: 'running', exitCode: null, ...span(started.at, null, c.nowMs) };
    return { state, exitCode: finished.exitCode, ...span(started?.at ?? null, finished.at, c.nowMs) };
  }
  if (!started) return { state: c.stopped || !live ? 'skipped' : 'pending', ...idle };
  if (live) return { state: 'running', exitCode: null, ...span(started.at, null, c.nowMs) };
  // started, never finished, and the attempt is over: the step ended with it
  return { state: unfinishedState(c.attempt.state), exitCode: null, ...span(started.at, c.attempt.endedAt, c.nowMs) };
}

function unfinishedState(attempt: AttemptState): StepState {
  if (attempt === 'timed_out' || attempt === 'cancelled' || attempt === 'succeeded') return attempt;
  return 'failed';
}

function span(
  start: Date | null,
  end: Date | null,
  nowMs: number,
): { startedAt: string | null; endedAt: string | null; durationMs: number | null } {
  const durationMs = start === null ? null : Math.max(0, (end?.getTime() ?? nowMs) - start.getTime());
  return { startedAt: start?.toISOString() ?? null, endedAt: end?.toISOString() ?? null, durationMs };
}

function groupByStep(events: StepEventRow[]): Map<number, StepEvents> {
  const out = new Map<number, StepEvents>();
  for (const e of events) {
    const at = toDate(e.at);
    if (at === null) continue;
    const entry = out.get(e.step) ?? {};
    const seq = Number(e.seq);
    const d = isRecord(e.detail) ? e.detail : {};
    if (e.kind === 'step_started' && (!entry.started || seq > entry.started.seq))
      entry.started = { seq, at, try: intOrNull(d.try) };
    if (e.kind === 'step_finished' && (!entry.finished || seq > entry.finished.seq)) {
      entry.finished = {
        seq,
        at,
        exitCode: intOrNull(d.exitCode),
        outcome: typeof d.outcome === 'string' ? d.outcome : '',
      };
    }
    out.set(e.step, entry);
  }
  return out;
}

/**
 * The job's own run time: from the first attempt's start to the end of the last one (the job's end
 * when no attempt has one), or to now while it is not over; all null before any attempt started.
 */
export function runTime(
  job: { state: JobState; ended_at: Date | null },
  attempts: Array<{ started_at: Date | null; ended_at: Date | null }>,
  nowMs: number,
): RunTimeFields {
  const starts = attempts.map((a) => a.started_at).filter((d): d is Date => d !== null);
  if (starts.length === 0) return { startedAt: null, endedAt: null, durationMs: null };
  const start = new Date(Math.min(...starts.map((d) => d.getTime())));
  const ends = attempts.map((a) => a.ended_at).filter((d): d is Date => d !== null);
  const end = !isTerminal(job.state)
    ? null
    : ends.length > 0
      ? new Date(Math.max(...ends.map((d) => d.getTime())))
      : job.ended_at;
  return span(start, end, nowMs);
}

function toDate(v: Date | string): Date | null {
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function intOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
