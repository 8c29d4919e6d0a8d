import { TARGET_STATES } from '@jr/contracts';
import type { FleetProgressAnswer, JobAnswer, TargetAnswer } from './api-schemas';
import type { Colors } from './colors';
import { clean, formatTable, timestamp } from './output';

/** Rows of the targets table `jr status` prints; the rest is in `--json`. */
export const MAX_TARGET_ROWS = 200;

/** Target states after which nothing more happens to the target. */
const ENDED_STATES: ReadonlySet<string> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'undelivered',
  'skipped',
]);

/** Failed runs (a failure the rollout counts; undelivered is shown on its own). */
const FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'timed_out']);

/** States by count, in the contract's order then any a newer API added: only those with targets. */
function nonZeroStates(progress: FleetProgressAnswer): Array<[string, number]> {
  const known = TARGET_STATES as readonly string[];
  const extra = Object.keys(progress.byState).filter((s) => !known.includes(s));
  return [...known, ...extra].map((s): [string, number] => [s, progress.byState[s] ?? 0]).filter(([, n]) => n > 0);
}

/** `12 (succeeded 7, failed 3, undelivered 2)`: the total, and the states that have targets. */
export function stateCounts(progress: FleetProgressAnswer): string {
  const parts = nonZeroStates(progress).map(([s, n]) => `${clean(s, 40)} ${n}`);
  return parts.length > 0 ? `${progress.total} (${parts.join(', ')})` : String(progress.total);
}

/** `jr status` lines of a fleet job: counts by state, the batch, and whether the rollout was aborted. */
export function fleetFields(progress: FleetProgressAnswer): Array<[string, string]> {
  return [
    ['targets', stateCounts(progress)],
    ['batch', progress.batch > 0 ? String(progress.batch) : 'none yet'],
    ...(progress.aborted
      ? [['rollout', 'aborted (failures crossed maxFailures: nothing more starts)'] as [string, string]]
      : []),
  ];
}

/** `jr status` lines of one target's run: the fleet job it belongs to and the agent it is pinned to. */
export function runFields(job: JobAnswer): Array<[string, string]> {
  if (!job.parentId) return [];
  return [
    ['fleet job', clean(job.parentId)],
    ['agent', job.targetAgent ? clean(job.targetAgent) : '-'],
  ];
}

/** The targets table (at most MAX_TARGET_ROWS rows, then how many more and where to see them). */
export function renderTargets(jobId: string, targets: readonly TargetAnswer[], colors: Colors): string {
  if (targets.length === 0) return 'target list: none\n';
  const shown = targets.slice(0, MAX_TARGET_ROWS);
  const rows = shown.map((t) => [
    clean(t.name || t.agentId, 60),
    clean(t.state),
    t.exitCode === null ? '-' : String(t.exitCode),
    t.batch === null ? '-' : String(t.batch),
    t.jobId === null ? '-' : clean(t.jobId),
    timestamp(t.endedAt),
  ]);
  const paint = (row: number, col: number, text: string): string =>
    col === 1 ? colors.state(text, shown[row]?.state ?? '') : text;
  const table = formatTable(['NAME', 'STATE', 'EXIT', 'BATCH', 'RUN', 'ENDED'], rows, paint);
  const more = targets.length - shown.length;
  const tail = more > 0 ? `… ${more} more (jr status ${clean(jobId)} --json)\n` : '';
  return `target list:\n${indent(table + tail)}`;
}

/** The wait's progress of a fleet job: `12/40 done, 2 failed, batch 3` (state first while not running). */
export function fleetProgressLine(job: JobAnswer, progress: FleetProgressAnswer): string {
  const count = (states: ReadonlySet<string>): number =>
    Object.entries(progress.byState).reduce((sum, [s, n]) => sum + (states.has(s) ? n : 0), 0);
  const undelivered = progress.byState.undelivered ?? 0;
  const parts = [
    `${count(ENDED_STATES)}/${progress.total} done`,
    `${count(FAILED_STATES)} failed`,
    ...(undelivered > 0 ? [`${undelivered} undelivered`] : []),
    ...(progress.batch > 0 ? [`batch ${progress.batch}`] : []),
    ...(progress.aborted ? ['rollout aborted'] : []),
  ];
  return `${job.state === 'running' ? '' : `${clean(job.state)}, `}${parts.join(', ')}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}
