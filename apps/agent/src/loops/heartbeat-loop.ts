import type { pb } from '@jr/contracts';
import { Backoff, jittered, sleep } from '@jr/resilience';
import type { Logger } from 'pino';
import type { AgentApiClient } from '../api-client/agent-api.client';
import { isApiCallError, retryDelayMs, stopErrorFor, type AgentStopError } from '../errors';

export interface HeartbeatDeps {
  api: Pick<AgentApiClient, 'heartbeat'>;
  /** The attempts whose leases we hold (jobId, attempt, leaseToken). */
  leases(): pb.RunningAttempt[];
  state(): pb.AgentState;
  interval: { get(): number; set(ms: number): void };
  /** Every answer's directives, once per answer (an empty list too: no drain directive means not drained). */
  onDirectives(directives: pb.Directive__Output[]): void;
  onFatal(err: AgentStopError): void;
  logger: Logger;
  random?: () => number;
  /** Told about every beat: whether it was answered, and how late its timer fired (event-loop lag). */
  observe?(beat: { ok: boolean; lagMs: number }): void;
  /** The clock lag is measured with (injected by tests). */
  now?: () => number;
  /** Client certificate renewal (mutual TLS): a CSR to send when due, and the answer's new chain. */
  renewal?: {
    csr(): string;
    accept(chainPem: string): Promise<void>;
  };
}

/** The API may tune the interval, within sane bounds. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 3_600_000;

/** The API refuses heartbeats listing more attempts than this. */
const MAX_LISTED_LEASES = 1_024;

/**
 * The leases the heartbeat extends: running attempts, and attempts whose outcome still waits in the
 * outbox (their slot is free, but the API must not reap them as lost before it has the result).
 */
export function heartbeatLeases(running: pb.RunningAttempt[], undelivered: pb.RunningAttempt[]): pb.RunningAttempt[] {
  const seen = new Set<string>();
  const out: pb.RunningAttempt[] = [];
  for (const lease of [...running, ...undelivered]) {
    const key = `${lease.jobId}#${lease.attempt}`;
    if (seen.has(key) || out.length >= MAX_LISTED_LEASES) continue;
    seen.add(key);
    out.push(lease);
  }
  return out;
}

/** One heartbeat: extends our leases, carries our state, applies the directives of the answer. Throws. */
export async function heartbeatOnce(deps: HeartbeatDeps, signal: AbortSignal): Promise<void> {
  const intervalMs = deps.interval.get();
  const res = await deps.api.heartbeat(
    { running: deps.leases(), state: deps.state(), sentAtMs: Date.now(), csrPem: deps.renewal?.csr() ?? '' },
    // Never longer than an interval: a late beat is worth less than the next one.
    { deadlineMs: Math.max(1_000, Math.min(intervalMs, 10_000)), signal },
  );
  if (res.heartbeatIntervalMs > 0)
    deps.interval.set(Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, res.heartbeatIntervalMs)));
  deps.onDirectives(res.directives);
  if (res.certificateChainPem) await deps.renewal?.accept(res.certificateChainPem);
}

/**
 * The heartbeat loop: its own timer, jittered so a fleet does not beat in step, and nothing on its
 * path waits for job work or does synchronous I/O. Failures retry sooner (backoff capped at the
 * interval) so an agent that lost the API for a moment is back before it is declared lost.
 */
export async function runHeartbeatLoop(deps: HeartbeatDeps, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff({ initialMs: 250, maxMs: deps.interval.get(), random: deps.random });
  let delayMs = jittered(deps.interval.get(), 0.1, deps.random);
  const now = deps.now ?? Date.now;
  while (!signal.aborted) {
    const due = now() + delayMs;
    if (
      !(await sleep(delayMs, signal).then(
        () => true,
        () => false,
      ))
    )
      return;
    const lagMs = Math.max(0, now() - due);
    try {
      await heartbeatOnce(deps, signal);
      deps.observe?.({ ok: true, lagMs });
      backoff.reset();
      delayMs = jittered(deps.interval.get(), 0.1, deps.random);
    } catch (err) {
      if (signal.aborted) return;
      if (isApiCallError(err) && err.action === 'stop') return deps.onFatal(stopErrorFor(err));
      deps.observe?.({ ok: false, lagMs });
      deps.logger.warn({ err: describe(err) }, 'heartbeat failed; retrying');
      delayMs = retryDelayMs(err, Math.min(jittered(deps.interval.get(), 0.1, deps.random), backoff.next()));
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
