import type { pb } from '@jr/contracts';
import { Backoff, jittered, sleep } from '@jr/resilience';
import type { Logger } from 'pino';
import type { AgentApiClient } from '../api-client/agent-api.client';
import { isApiCallError, stopErrorFor, type AgentStopError } from '../errors';

export interface LeaseDeps {
  api: Pick<AgentApiClient, 'lease'>;
  slots: { free(): number; whenFree(signal: AbortSignal): Promise<void> };
  /** How long the API may hold the long poll; the call's deadline is this + 5 s. */
  waitMs: number;
  onAssignment(assignment: pb.Assignment__Output): void;
  onFatal(err: AgentStopError): void;
  logger: Logger;
  newBackoff?: () => Backoff;
}

/** An empty answer faster than this means the API is not long-polling: pause instead of spinning. */
const MIN_EMPTY_POLL_MS = 1_000;

/**
 * The lease loop: while there are free slots and leasing is on (`signal` not aborted by drain or
 * shutdown), long-poll Lease and hand every assignment to a slot. Errors back off with jitter.
 */
export async function runLeaseLoop(deps: LeaseDeps, signal: AbortSignal): Promise<void> {
  const backoff = deps.newBackoff?.() ?? new Backoff({ initialMs: 500, maxMs: 30_000 });
  while (!signal.aborted) {
    await deps.slots.whenFree(signal);
    if (signal.aborted) return;
    const startedAt = Date.now();
    try {
      const res = await deps.api.lease({ freeSlots: deps.slots.free(), waitMs: deps.waitMs }, { deadlineMs: deps.waitMs + 5_000, signal });
      backoff.reset();
      for (const assignment of res.assignments) deps.onAssignment(assignment);
      if (res.assignments.length === 0 && Date.now() - startedAt < MIN_EMPTY_POLL_MS) await pause(jittered(MIN_EMPTY_POLL_MS, 0.2), signal);
    } catch (err) {
      if (signal.aborted) return;
      if (isApiCallError(err) && err.action === 'stop') return deps.onFatal(stopErrorFor(err));
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease failed; backing off');
      await pause(backoff.next(), signal);
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}
