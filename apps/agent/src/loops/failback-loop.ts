import { jittered, sleep } from '@jr/resilience';

export interface FailbackDeps {
  /**
   * One probe of the primary endpoint (its channel reaches READY within `timeoutMs`); the client
   * switches back when the fail-back rule says so. Answers false at once while on the primary.
   */
  probePrimary(timeoutMs: number): Promise<boolean>;
  /** True while the agent talks to another endpoint than its primary. */
  awayFromPrimary(): boolean;
  /** JR_API_FAILBACK_AFTER: the probe interval is derived from it. */
  failbackAfterMs: number;
  random?: () => number;
}

/** Probes every 2 s (more often for a short JR_API_FAILBACK_AFTER, never under 200 ms), jittered. */
export function probeIntervalMs(failbackAfterMs: number): number {
  return Math.min(2_000, Math.max(200, Math.floor(failbackAfterMs / 5)));
}

/**
 * The fail-back loop: while the agent is away from its primary endpoint, probe the primary in the
 * background; the client goes back once it has been healthy for JR_API_FAILBACK_AFTER without a miss.
 * On the primary it only sleeps. Runs only for a list of endpoints.
 */
export async function runFailbackLoop(deps: FailbackDeps, signal: AbortSignal): Promise<void> {
  const intervalMs = probeIntervalMs(deps.failbackAfterMs);
  while (!signal.aborted) {
    const slept = await sleep(jittered(intervalMs, 0.1, deps.random), signal).then(
      () => true,
      () => false,
    );
    if (!slept) return;
    if (deps.awayFromPrimary()) await deps.probePrimary(intervalMs);
  }
}
