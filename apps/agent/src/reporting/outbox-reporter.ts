import type { pb } from '@jr/contracts';
import { Backoff, sleep } from '@jr/resilience';
import type { AgentMetrics } from '@jr/telemetry';
import type { Logger } from 'pino';
import { MAX_PUSHBACK_MS, type AgentStopError } from '../errors';
import { deliverNext, type DeliveryCounters, type DeliveryDeps, type ReportTransport } from './attempt-delivery';
import { keyOf } from './outbox-box';
import type { Outbox } from './outbox';
import { toOutboxEvent } from './outbox-record';
import type { ReportingBreaker } from './reporting-breaker';
import { ReplayMarks } from './replay-marks';
import type {
  AttemptRef,
  AttemptReporter,
  AttemptReportOptions,
  Completion,
  CompletionResult,
  Reporter,
  ReporterStats,
} from './reporter';

export interface OutboxReporterOptions {
  outbox: Outbox;
  breaker: ReportingBreaker;
  transport: ReportTransport;
  logger: Logger;
  /** gRPC deadline of one try. */
  deadlineMs: number;
  onFatal(err: AgentStopError): void;
  /** Pause between failed reports while the breaker is still closed. */
  newBackoff?: () => Backoff;
  metrics?: Pick<AgentMetrics, 'outboxReplayed'>;
}

/**
 * Reporting through the durable outbox: the runner's events and outcomes are written to the outbox
 * and delivered by one loop per attempt (so a stuck attempt never delays another, or the heartbeat),
 * in seq order, through the reporting breaker. While the breaker is open the loops wait for it to
 * be re-enabled; what is queued stays on disk for as long as it takes, across restarts.
 */
export class OutboxReporter implements Reporter {
  private readonly lifetime = new AbortController();
  private readonly delivering = new Set<string>();
  private readonly hooks = new Map<string, { onSuperseded(): void }>();
  /** Push-back the API asked of an attempt's delivery loop, honoured on its next back-off. */
  private readonly pushback = new Map<string, number>();
  private waiters: Array<() => void> = [];
  readonly counters: DeliveryCounters = {
    reportsSent: 0,
    eventsSent: 0,
    completionsSent: 0,
    replayed: 0,
    superseded: 0,
    dropped: 0,
    failures: 0,
  };
  private readonly deps: DeliveryDeps;
  private readonly replay: ReplayMarks;

  constructor(private readonly o: OutboxReporterOptions) {
    this.replay = new ReplayMarks((n) => o.metrics?.outboxReplayed.inc(n));
    this.deps = {
      outbox: o.outbox,
      breaker: o.breaker,
      transport: o.transport,
      logger: o.logger,
      deadlineMs: o.deadlineMs,
      onFatal: (err) => o.onFatal(err),
      counters: this.counters,
      onSuperseded: (key) => this.hooks.get(key)?.onSuperseded(),
      onPushback: (key, ms) => this.pushback.set(key, ms),
      replay: this.replay,
    };
  }

  open(ref: AttemptRef, options: AttemptReportOptions): AttemptReporter {
    const key = keyOf(ref);
    this.hooks.set(key, options);
    const { outbox } = this.o;
    const { trace } = options;
    return {
      event: (e: pb.AttemptEvent) => {
        outbox.addEvent(ref, toOutboxEvent(e), trace);
        this.kick(key);
      },
      complete: async (c: Completion): Promise<CompletionResult> => {
        await outbox.addCompletion(ref, c, trace);
        this.hooks.delete(key);
        this.kick(key);
        return { status: 'queued' };
      },
      backlogBytes: () => outbox.get(key)?.unsyncedBytes ?? 0,
      onBacklogBelow: (bytes, resume) => {
        const box = outbox.get(key);
        if (box) box.onBacklogBelow(bytes, resume);
        else resume();
      },
    };
  }

  /**
   * Reporting was re-enabled: what the outbox holds now is the backlog a suspension built up, counted
   * in jr_agent_outbox_replayed_events_total as it is delivered. Then delivery resumes.
   */
  resumeAfterEnable(): void {
    this.replay.mark(this.o.outbox.boxes.values());
    this.resumeAll();
  }

  /** Starts delivering what the outbox held at start-up (and anything else queued). */
  resumeAll(): void {
    for (const key of [...this.o.outbox.boxes.keys()]) this.kick(key);
  }

  stats(): ReporterStats {
    const s = this.o.outbox.stats();
    return { pendingEvents: s.depth, oldestAgeMs: s.oldestAgeMs };
  }

  /**
   * Attempts whose outcome waits in the outbox: the heartbeat keeps listing them so their leases
   * stay ours until the API has the result (unless the API said the lease is gone).
   */
  undeliveredLeases(): pb.RunningAttempt[] {
    const out: pb.RunningAttempt[] = [];
    for (const box of this.o.outbox.boxes.values()) if (box.completion && !box.leaseLost) out.push({ ...box.ref });
    return out;
  }

  /** The API no longer extends this attempt's lease (a lease_lost cancel): stop listing it. */
  leaseLost(jobId: string, attempt: number): boolean {
    const box = this.o.outbox.get(keyOf({ jobId, attempt }));
    if (!box?.completion) return false;
    box.leaseLost = true;
    return true;
  }

  /** Resolves when nothing is left to deliver, when the breaker is open, or when `signal` aborts. */
  async whenDelivered(signal: AbortSignal): Promise<void> {
    while (
      !signal.aborted &&
      this.o.outbox.boxes.size > 0 &&
      this.o.breaker.state === 'closed' &&
      !this.lifetime.signal.aborted
    ) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  close(): void {
    this.lifetime.abort(new Error('reporter closed'));
    this.notify();
  }

  private kick(key: string): void {
    if (this.delivering.has(key) || this.lifetime.signal.aborted) return;
    this.delivering.add(key);
    void this.deliver(key)
      .catch((err: unknown) => this.o.logger.error({ err, key }, 'delivery stopped unexpectedly'))
      .finally(() => {
        this.delivering.delete(key);
        this.notify();
        const box = this.o.outbox.get(key);
        // Work queued while the loop was finishing (on the next turn: never a hot loop).
        if (box && (box.events.length > 0 || box.completion) && !this.lifetime.signal.aborted)
          setImmediate(() => this.kick(key));
      });
  }

  /** One attempt's delivery loop: until nothing is left, or the agent stops. */
  private async deliver(key: string): Promise<void> {
    const backoff = this.o.newBackoff?.() ?? new Backoff({ initialMs: 1_000, maxMs: 30_000 });
    const lifetime = this.lifetime.signal;
    for (;;) {
      const box = this.o.outbox.get(key);
      if (!box || lifetime.aborted) return;
      if (this.o.breaker.state === 'open') {
        this.notify();
        await this.o.breaker.whenClosed(lifetime);
        continue;
      }
      const step = await deliverNext(this.deps, box, lifetime);
      this.notify();
      switch (step) {
        case 'idle':
          return;
        case 'stop':
          // An unrecoverable refusal (the agent is stopping): every loop stops, the outbox keeps it all.
          this.lifetime.abort(new Error('reporting stopped'));
          return;
        case 'progress':
          backoff.reset();
          break;
        case 'suspended':
          break;
        case 'failed': {
          const pushbackMs = Math.min(this.pushback.get(key) ?? 0, MAX_PUSHBACK_MS);
          this.pushback.delete(key);
          await sleep(Math.max(backoff.next(), pushbackMs), lifetime).catch(() => undefined);
          break;
        }
      }
    }
  }

  private notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
