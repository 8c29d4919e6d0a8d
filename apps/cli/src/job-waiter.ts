import { formatDurationMs } from '@jr/contracts';
import type { JobAnswer } from './api-schemas';
import { ApiError, CliError, UnreachableError } from './cli-error';
import { EXIT, exitCodeForJob, isTransientStatus, type ExitCode } from './exit-codes';
import { stateCounts } from './fleet-render';
import type { JobsApi } from './jobs-api';
import { clean } from './output';
import { describe, type Progress } from './progress';
import { Backoff, type Clock } from './timing';

export interface WaitOptions {
  /** The wait gives up (exit 7) after this long; undefined waits for ever. */
  timeoutMs?: number;
  /** Right after a submit the job may not be visible yet: a 404 is retried for this long. */
  notFoundGraceMs?: number;
  /** The API has answered already (after a submit), so an outage from the first poll on is transient. */
  reachable?: boolean;
  /** Called once, when the job has been seen (the API knows it): the moment to start following its output. */
  onVisible?: (job: JobAnswer) => void;
  /** Awaited once the job is terminal, before the outcome line (the job's output is all printed first). */
  settle?: () => Promise<void>;
}

export interface WaitResult {
  code: ExitCode;
  job: JobAnswer | undefined;
}

const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 2_000;
/** A fleet job's progress moves target by target: polled at a steady pace. */
export const FLEET_POLL_MS = 1_000;

/**
 * Polls the job with a growing interval (200 ms -> 2 s) until it is terminal, riding out API
 * outages once the API has been reached (a never-reachable API is exit 69 at once).
 */
export async function waitForJob(
  api: JobsApi,
  id: string,
  options: WaitOptions,
  progress: Progress,
  clock: Clock,
): Promise<WaitResult> {
  const startedAt = clock.now();
  const deadline = options.timeoutMs === undefined ? Infinity : startedAt + options.timeoutMs;
  const outage = new Backoff(250, 5_000);
  let reachable = options.reachable ?? false;
  let interval = FIRST_POLL_MS;
  let last: JobAnswer | undefined;
  let down = false;
  try {
    for (;;) {
      let delay: number;
      try {
        const job = await api.getJob(id, 0);
        if (down) progress.note('the API answers again');
        reachable = true;
        down = false;
        outage.reset();
        if (last === undefined) options.onVisible?.(job);
        last = job;
        const code = exitCodeForJob(job.state, job.reason);
        if (code !== undefined) {
          await options.settle?.();
          progress.finish(summary(job));
          return { code, job };
        }
        progress.update(job);
        delay = job.targets ? FLEET_POLL_MS : interval;
        interval = Math.min(MAX_POLL_MS, Math.round(interval * 1.5));
      } catch (err) {
        if (!isTransient(err, reachable, clock.now() - startedAt, options.notFoundGraceMs ?? 0)) throw err;
        if (!down) progress.note(`${(err as CliError).message}; retrying`);
        down = true;
        delay = outage.next();
      }
      const remaining = deadline - clock.now();
      if (remaining <= 0) {
        progress.finish(
          `gave up waiting after ${formatDurationMs(clock.now() - startedAt)}: ${clean(id)} is ${last ? describe(last) : 'not visible'}`,
        );
        return { code: EXIT.WAIT_TIMED_OUT, job: last };
      }
      await clock.sleep(Math.min(delay, remaining));
    }
  } finally {
    progress.stop();
  }
}

function isTransient(err: unknown, reachable: boolean, elapsedMs: number, notFoundGraceMs: number): boolean {
  if (err instanceof UnreachableError) return reachable;
  if (!(err instanceof ApiError)) return false;
  if (err.status === 404) return elapsedMs < notFoundGraceMs;
  return isTransientStatus(err.status);
}

/**
 * The outcome line: state, reason, exit code and the job's own run time (not how long the CLI waited); of a
 * fleet job also its targets by state.
 */
export function summary(job: JobAnswer): string {
  const exit = job.exitCode === null ? '' : `, exit code ${job.exitCode}`;
  const ms = runTimeMs(job);
  const ran = ms === undefined ? ', never started' : ` after ${formatDurationMs(ms)}`;
  const fleet = job.targets ? ` · targets: ${stateCounts(job.targets)}` : '';
  return `${clean(job.id)} ${clean(job.state)}${job.reason && job.state !== 'succeeded' ? ` (${clean(job.reason)})` : ''}${exit}${ran}${fleet}`;
}

/** durationMs of the job view; else its startedAt..endedAt; else the first attempt's start to the last one's end. */
export function runTimeMs(job: JobAnswer): number | undefined {
  if (job.durationMs !== null && Number.isFinite(job.durationMs) && job.durationMs >= 0) return job.durationMs;
  const starts = [job.startedAt, ...job.attempts.map((a) => a.startedAt)].map(parse).filter((t) => t !== undefined);
  if (starts.length === 0) return undefined;
  const ends = [job.endedAt, ...job.attempts.map((a) => a.endedAt)].map(parse).filter((t) => t !== undefined);
  const start = parse(job.startedAt) ?? Math.min(...starts);
  const end = parse(job.endedAt) ?? (ends.length > 0 ? Math.max(...ends) : parse(job.updatedAt));
  return end === undefined || end < start ? undefined : end - start;
}

function parse(iso: string | null | undefined): number | undefined {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? undefined : t;
}
