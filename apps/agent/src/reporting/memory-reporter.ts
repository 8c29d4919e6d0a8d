import type { pb } from '@jr/contracts';
import { Backoff, sleep } from '@jr/resilience';
import type { Logger } from 'pino';
import { DEADLINES_MS, type CallOpts } from '../api-client/agent-api.client';
import { isApiCallError, stopErrorFor, type AgentStopError } from '../errors';
import type { AttemptRef, AttemptReporter, Completion, CompletionResult, Reporter, ReporterStats } from './reporter';

/** The two calls the reporter needs (AgentApiClient has them). */
export interface ReportTransport {
  report(req: pb.ReportRequest, opts: CallOpts): Promise<pb.ReportResponse__Output>;
  complete(req: pb.CompleteRequest, opts: CallOpts): Promise<pb.CompleteResponse__Output>;
}

export interface MemoryReporterOptions {
  transport: ReportTransport;
  logger: Logger;
  /** Called once when the API refuses the agent itself (UNAUTHENTICATED after re-enrolling, …). */
  onFatal(err: AgentStopError): void;
  newBackoff?: () => Backoff;
  now?: () => number;
}

/** Per Report call (the API's body limit is 256 KiB; LogChunks are at most 64 KiB). */
export const MAX_BATCH_EVENTS = 100;
export const MAX_BATCH_BYTES = 256 * 1024;
const EVENT_OVERHEAD_BYTES = 64;

/**
 * Reporting with an in-memory queue per attempt: events leave in seq order in batches, transient
 * failures are retried with jittered backoff (bounded per try, unbounded overall), each attempt on
 * its own so a stuck one never delays another or the heartbeat.
 */
export class MemoryReporter implements Reporter {
  private readonly queues = new Set<AttemptQueue>();
  private readonly closing = new AbortController();

  constructor(private readonly o: MemoryReporterOptions) {}

  open(ref: AttemptRef, hooks: { onSuperseded(): void }): AttemptReporter {
    const queue = new AttemptQueue(ref, hooks, this.o, this.closing.signal, () => this.queues.delete(queue));
    this.queues.add(queue);
    return queue;
  }

  stats(): ReporterStats {
    const now = (this.o.now ?? Date.now)();
    let pendingEvents = 0;
    let oldest = now;
    for (const q of this.queues) {
      pendingEvents += q.pendingEvents();
      oldest = Math.min(oldest, q.oldestQueuedAt() ?? now);
    }
    return { pendingEvents, oldestAgeMs: now - oldest };
  }

  close(): void {
    this.closing.abort(new Error('reporter closed'));
  }
}

interface Queued {
  event: pb.AttemptEvent;
  bytes: number;
  queuedAt: number;
}

type SendResult<T> = { ok: true; value: T } | { ok: false; status: 'superseded' | 'dropped' | 'abandoned'; detail: string };

class AttemptQueue implements AttemptReporter {
  private readonly events: Queued[] = [];
  private bytes = 0;
  private completion: { value: Completion; resolve(r: CompletionResult): void } | undefined;
  private result: CompletionResult | undefined;
  private pumping = false;
  private superseded = false;
  private readonly backoff: Backoff;
  private readonly lowWaiters: Array<{ bytes: number; resume(): void }> = [];

  constructor(
    private readonly ref: AttemptRef,
    private readonly hooks: { onSuperseded(): void },
    private readonly o: MemoryReporterOptions,
    private readonly closed: AbortSignal,
    private readonly forget: () => void,
  ) {
    this.backoff = o.newBackoff?.() ?? new Backoff({ initialMs: 250, maxMs: 30_000 });
  }

  event(event: pb.AttemptEvent): void {
    if (this.result || this.superseded) return;
    const bytes = EVENT_OVERHEAD_BYTES + (event.log?.data?.length ?? 0) + (event.stepStarted?.name?.length ?? 0);
    this.events.push({ event, bytes, queuedAt: (this.o.now ?? Date.now)() });
    this.bytes += bytes;
    this.kick();
  }

  complete(value: Completion): Promise<CompletionResult> {
    if (this.result) return Promise.resolve(this.result);
    return new Promise((resolve) => {
      this.completion = { value, resolve };
      this.kick();
    });
  }

  backlogBytes(): number {
    return this.bytes;
  }

  onBacklogBelow(bytes: number, resume: () => void): void {
    if (this.bytes <= bytes || this.result) resume();
    else this.lowWaiters.push({ bytes, resume });
  }

  pendingEvents(): number {
    return this.events.length;
  }

  oldestQueuedAt(): number | undefined {
    return this.events[0]?.queuedAt;
  }

  private kick(): void {
    if (this.pumping || this.result) return;
    this.pumping = true;
    void this.pump()
      .catch((err: unknown) => this.o.logger.error({ err, jobId: this.ref.jobId }, 'reporting stopped unexpectedly'))
      .finally(() => {
        this.pumping = false;
        if (!this.result && (this.events.length > 0 || this.completion)) this.kick();
      });
  }

  private async pump(): Promise<void> {
    while (!this.result) {
      if (this.events.length > 0) {
        const outcome = await this.sendBatch();
        if (outcome) return this.finish(outcome);
      } else if (this.completion) {
        return this.finish(await this.sendCompletion(this.completion.value));
      } else {
        return;
      }
    }
  }

  /** Sends the next batch; returns a final result when the attempt cannot be reported further. */
  private async sendBatch(): Promise<CompletionResult | undefined> {
    const batch = this.nextBatch();
    const sent = await this.send('Report', (opts) =>
      this.o.transport.report({ ...this.ref, events: batch.map((q) => q.event) }, opts),
    );
    if (!sent.ok && sent.status === 'abandoned') return { status: 'abandoned' };
    if (!sent.ok && sent.status === 'superseded') {
      this.supersede();
      return undefined;
    }
    const lastSent = Number(batch[batch.length - 1]?.event.seq ?? 0);
    this.acknowledge(sent.ok ? Math.max(lastSent, sent.value.ackedSeq) : lastSent);
    return undefined;
  }

  /**
   * The lease is no longer ours: drop every event (now and later) and have the runner kill the
   * attempt. Complete is still tried once it comes (the API expects it to be refused; it may log it).
   */
  private supersede(): void {
    if (this.superseded) return;
    this.superseded = true;
    this.events.length = 0;
    this.bytes = 0;
    this.wakeLowWaiters();
    this.hooks.onSuperseded();
  }

  private async sendCompletion(c: Completion): Promise<CompletionResult> {
    const sent = await this.send('Complete', (opts) => this.o.transport.complete({ ...this.ref, ...c }, opts));
    if (sent.ok) return { status: 'completed', jobState: sent.value.jobState };
    return sent.status === 'dropped' ? { status: 'dropped', detail: sent.detail } : { status: sent.status };
  }

  private nextBatch(): Queued[] {
    const batch: Queued[] = [];
    let size = 0;
    for (const q of this.events) {
      if (batch.length >= MAX_BATCH_EVENTS || (batch.length > 0 && size + q.bytes > MAX_BATCH_BYTES)) break;
      batch.push(q);
      size += q.bytes;
    }
    return batch;
  }

  /** Forgets every queued event up to `seq` (the API holds them) and wakes paused steps. */
  private acknowledge(seq: number): void {
    while (this.events.length > 0 && Number(this.events[0]?.event.seq ?? 0) <= seq) {
      this.bytes -= (this.events.shift() as Queued).bytes;
    }
    this.wakeLowWaiters();
  }

  private wakeLowWaiters(): void {
    for (let i = this.lowWaiters.length - 1; i >= 0; i--) {
      const w = this.lowWaiters[i] as { bytes: number; resume(): void };
      if (this.bytes <= w.bytes) {
        this.lowWaiters.splice(i, 1);
        w.resume();
      }
    }
  }

  /** One call with retries per the status table; never throws. */
  private async send<T>(method: 'Report' | 'Complete', call: (opts: CallOpts) => Promise<T>): Promise<SendResult<T>> {
    const deadlineMs = method === 'Report' ? DEADLINES_MS.report : DEADLINES_MS.complete;
    for (;;) {
      if (this.closed.aborted) return { ok: false, status: 'abandoned', detail: 'reporter closed' };
      try {
        const value = await call({ deadlineMs, signal: this.closed });
        this.backoff.reset();
        return { ok: true, value };
      } catch (err) {
        const verdict = this.classify(method, err);
        if (verdict !== 'retry') return verdict;
        await sleep(this.backoff.next(), this.closed).catch(() => undefined);
      }
    }
  }

  private classify(method: string, err: unknown): 'retry' | { ok: false; status: 'superseded' | 'dropped' | 'abandoned'; detail: string } {
    const log = this.o.logger.child({ jobId: this.ref.jobId, attempt: this.ref.attempt, method });
    if (this.closed.aborted) return { ok: false, status: 'abandoned', detail: 'reporter closed' };
    if (!isApiCallError(err)) {
      log.error({ err }, 'report failed locally; dropping it');
      return { ok: false, status: 'dropped', detail: String(err) };
    }
    switch (err.action) {
      case 'retry':
        log.warn({ code: err.code, details: err.details }, 'report failed; retrying');
        return 'retry';
      case 'superseded':
        log.info({ details: err.details }, 'attempt superseded; no longer reporting it');
        return { ok: false, status: 'superseded', detail: err.details };
      case 'drop':
        log.error({ code: err.code, details: err.details }, 'the API refused the report as invalid; dropping it');
        return { ok: false, status: 'dropped', detail: err.details };
      case 'stop':
        this.o.onFatal(stopErrorFor(err));
        return { ok: false, status: 'abandoned', detail: err.message };
    }
  }

  private finish(result: CompletionResult): void {
    this.result = result;
    this.events.length = 0;
    this.bytes = 0;
    for (const w of this.lowWaiters.splice(0)) w.resume();
    this.forget();
    this.completion?.resolve(result);
  }
}
