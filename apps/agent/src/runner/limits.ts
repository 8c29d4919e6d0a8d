import { LIMITS } from '@jr/contracts';

/** setTimeout fires at once for delays above 2^31-1 ms: clamp, and read <= 0 or NaN as "no timeout". */
export const MAX_TIMER_MS = 2_147_483_647;

export function timeoutOrNone(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_TIMER_MS) : 0;
}

/** Local step re-runs, whatever the assignment says (the API validates; the agent does not trust). */
export function stepRetries(retries: number): number {
  return Number.isInteger(retries) && retries > 0 ? Math.min(retries, LIMITS.maxRetries) : 0;
}
