import type { pb } from '@jr/contracts';
import { Backoff, jittered, sleep } from '@jr/resilience';
import type { Context } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AgentApiClient } from '../api-client/agent-api.client';
import { isApiCallError, isEndpointSwitched, retryDelayMs, stopErrorFor, type AgentStopError } from '../errors';

export interface LeaseDeps {
  api: Pick<AgentApiClient, 'lease'>;
  /**
   * Waits for a free slot and reserves it in the same step (undefined once `signal` aborts), so
   * parallel loops never lease more than the free slots. The returned function gives it back.
   */
  slots: { reserve(signal: AbortSignal): Promise<(() => void) | undefined> };
  /** How long the API may hold the long poll; the call's deadline is this + 5 s. */
  waitMs: number;
  /** `traceContext`: the lease span's context from the answer's metadata (the attempt span's parent). */
  onAssignment(assignment: pb.Assignment__Output, traceContext: Context | undefined): void;
  onFatal(err: AgentStopError): void;
  logger: Logger;
  newBackoff?: () => Backoff;
}

/**
 * Lease calls an agent keeps open at once (each for one slot): one call at a time would cap an agent
 * at one job per round trip, and a burst would queue behind it.
 */
export const MAX_PARALLEL_LEASES = 8;

/** An empty answer faster than this means the API is not long-polling: pause instead of spinning. */
const MIN_EMPTY_POLL_MS = 1_000;

/**
 * One lease loop: while there is a free slot and leasing is on (`signal` not aborted by drain or
 * shutdown), reserve it, long-poll Lease for it and hand the assignment over. Errors back off with
 * jitter. The agent runs up to MAX_PARALLEL_LEASES of these side by side.
 */
export async function runLeaseLoop(deps: LeaseDeps, signal: AbortSignal): Promise<void> {
  const backoff = deps.newBackoff?.() ?? new Backoff({ initialMs: 500, maxMs: 30_000 });
  while (!signal.aborted) {
    const release = await deps.slots.reserve(signal);
    if (!release || signal.aborted) return release?.();
    const startedAt = Date.now();
    try {
      const res = await deps.api.lease(
        { freeSlots: 1, waitMs: deps.waitMs },
        { deadlineMs: deps.waitMs + 5_000, signal },
      );
      release();
      backoff.reset();
      for (const assignment of res.assignments) deps.onAssignment(assignment, res.traceContext);
      if (res.assignments.length === 0 && Date.now() - startedAt < MIN_EMPTY_POLL_MS)
        await pause(jittered(MIN_EMPTY_POLL_MS, 0.2), signal);
    } catch (err) {
      release();
      if (signal.aborted) return;
      if (isEndpointSwitched(err)) continue; // parked on an endpoint given up on: lease again on the new one
      if (isApiCallError(err) && err.action === 'stop') return deps.onFatal(stopErrorFor(err));
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease failed; backing off');
      await pause(retryDelayMs(err, backoff.next()), signal);
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}
