import type { pb } from '@jr/contracts';
import { ATTR, extractFromCarrier, SPANS, SpanKind, withSpan } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { CallOpts } from '../api-client/agent-api.client';
import { isApiCallError, stopErrorFor, type AgentStopError } from '../errors';
import type { AttemptBox, BoxEntry } from './outbox-box';
import type { Outbox } from './outbox';
import { toProtoEvent } from './outbox-record';
import { isBreakerOpenError, type ReportingBreaker } from './reporting-breaker';
import type { ReplayMarks } from './replay-marks';

/** The two calls reporting needs (AgentApiClient has them). */
export interface ReportTransport {
  report(req: pb.ReportRequest, opts: CallOpts): Promise<pb.ReportResponse__Output>;
  complete(req: pb.CompleteRequest, opts: CallOpts): Promise<pb.CompleteResponse__Output>;
}

/** Per Report call (LogChunks are at most 64 KiB). */
export const MAX_BATCH_EVENTS = 100;
export const MAX_BATCH_BYTES = 256 * 1024;

export interface DeliveryDeps {
  outbox: Outbox;
  breaker: ReportingBreaker;
  transport: ReportTransport;
  logger: Logger;
  /** The gRPC deadline of one try (cockatiel's per-try timeout fires first). */
  deadlineMs: number;
  onSuperseded(key: string): void;
  /** The API asked this attempt's sender to wait (RESOURCE_EXHAUSTED with grpc-retry-pushback-ms). */
  onPushback?(key: string, ms: number): void;
  onFatal(err: AgentStopError): void;
  counters: DeliveryCounters;
  /** The backlog at the last re-enable (replayed events are counted against it). */
  replay: ReplayMarks;
}

export interface DeliveryCounters {
  reportsSent: number;
  eventsSent: number;
  completionsSent: number;
  /** Events and completions delivered that were queued when reporting was re-enabled. */
  replayed: number;
  superseded: number;
  dropped: number;
  failures: number;
}

/**
 * What one delivery step achieved: progress (go on), a failure while the breaker is closed (back
 * off, then go on), the breaker open (wait for it), nothing left to send, or stop for good.
 */
export type StepResult = 'progress' | 'failed' | 'suspended' | 'idle' | 'stop';

/**
 * One step of an attempt's delivery: its next batch of events, else its completion (only once
 * every event is acknowledged), through the breaker. The outbox is updated with what the API holds.
 */
export async function deliverNext(deps: DeliveryDeps, box: AttemptBox, lifetime: AbortSignal): Promise<StepResult> {
  if (box.events.length > 0) return sendEvents(deps, box, lifetime);
  if (box.completion) return sendCompletion(deps, box, lifetime);
  if (box.recovered && !box.pendingGap) {
    // Loaded from disk without an outcome: the process that ran it is gone; its events are delivered.
    deps.outbox.settle(box.key, 'orphaned');
    deps.logger.info(
      { jobId: box.ref.jobId, attempt: box.ref.attempt },
      'delivered the events of an attempt interrupted by a restart (the API ends it lost)',
    );
  }
  return 'idle';
}

/**
 * A client span (Report or Complete) around one call through the breaker (its retries included),
 * child of the attempt span whose context the outbox kept with the attempt's records.
 */
function traced<T>(
  name: string,
  box: AttemptBox,
  attributes: Record<string, number>,
  call: () => Promise<T>,
): Promise<T> {
  const attrs = { [ATTR.jobId]: box.ref.jobId, [ATTR.attempt]: box.ref.attempt, ...attributes };
  return withSpan(name, attrs, call, { parent: extractFromCarrier(box.trace), kind: SpanKind.CLIENT });
}

async function sendEvents(deps: DeliveryDeps, box: AttemptBox, lifetime: AbortSignal): Promise<StepResult> {
  const batch = nextBatch(box.events);
  const lastSent = (batch[batch.length - 1] as BoxEntry).event.seq;
  box.sentThrough = Math.max(box.sentThrough, lastSent);
  const req = { ...box.ref, events: batch.map((e) => toProtoEvent(e.event)) };
  try {
    const report = (): Promise<pb.ReportResponse__Output> =>
      deps.breaker.execute((signal) => deps.transport.report(req, { deadlineMs: deps.deadlineMs, signal }), lifetime);
    const res = await traced(SPANS.report, box, { 'jr.report.events': batch.length }, report);
    deps.counters.reportsSent += 1;
    deps.counters.eventsSent += batch.length;
    deps.counters.replayed += deps.replay.eventsDelivered(
      box.key,
      batch.map((e) => e.event.seq),
    );
    deps.outbox.acknowledge(box.key, Math.max(lastSent, Number(res.ackedSeq) || 0));
    return 'progress';
  } catch (err) {
    return failed(deps, box, 'Report', err, lifetime, () => deps.outbox.acknowledge(box.key, lastSent));
  }
}

async function sendCompletion(deps: DeliveryDeps, box: AttemptBox, lifetime: AbortSignal): Promise<StepResult> {
  const completion = (box.completion as NonNullable<AttemptBox['completion']>).completion;
  const req = { ...box.ref, ...completion };
  try {
    const complete = (): Promise<pb.CompleteResponse__Output> =>
      deps.breaker.execute((signal) => deps.transport.complete(req, { deadlineMs: deps.deadlineMs, signal }), lifetime);
    const res = await traced(SPANS.complete, box, {}, complete);
    deps.counters.completionsSent += 1;
    deps.counters.replayed += deps.replay.completionDelivered(box.key);
    deps.outbox.settle(box.key, 'completed');
    deps.logger.info(
      { jobId: box.ref.jobId, attempt: box.ref.attempt, outcome: completion.outcome, jobState: res.jobState },
      'completion delivered',
    );
    return 'progress';
  } catch (err) {
    return failed(deps, box, 'Complete', err, lifetime, () => deps.outbox.settle(box.key, 'dropped'));
  }
}

/** What a failed send means, per the status table; `drop` forgets what the API refused as malformed. */
function failed(
  deps: DeliveryDeps,
  box: AttemptBox,
  method: 'Report' | 'Complete',
  err: unknown,
  lifetime: AbortSignal,
  drop: () => void,
): StepResult {
  if (lifetime.aborted) return 'stop';
  if (isBreakerOpenError(err)) return 'suspended';
  const log = deps.logger.child({ jobId: box.ref.jobId, attempt: box.ref.attempt, method });
  if (!isApiCallError(err)) {
    deps.counters.failures += 1;
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'report failed; kept in the outbox');
    return 'failed';
  }
  switch (err.action) {
    case 'retry':
      deps.counters.failures += 1;
      if (err.pushbackMs !== undefined) deps.onPushback?.(box.key, err.pushbackMs);
      log.warn({ code: err.code, details: err.details }, 'report failed after its retries; kept in the outbox');
      return 'failed';
    case 'superseded':
      deps.counters.superseded += 1;
      deps.outbox.discardEvents(box.key);
      if (method === 'Complete') {
        deps.outbox.settle(box.key, 'superseded');
        log.info({ details: err.details }, 'late result refused: the API records this attempt as superseded');
      } else {
        log.info({ details: err.details }, 'attempt superseded: no longer reporting its events, stopping it');
        deps.onSuperseded(box.key);
      }
      return 'progress';
    case 'drop':
      deps.counters.dropped += 1;
      log.error({ code: err.code, details: err.details }, 'the API refused the report as invalid; dropping it');
      drop();
      return 'progress';
    case 'stop':
      deps.onFatal(stopErrorFor(err));
      return 'stop';
  }
}

function nextBatch(events: readonly BoxEntry[]): BoxEntry[] {
  const batch: BoxEntry[] = [];
  let size = 0;
  for (const e of events) {
    if (batch.length >= MAX_BATCH_EVENTS || (batch.length > 0 && size + e.bytes > MAX_BATCH_BYTES)) break;
    batch.push(e);
    size += e.bytes;
  }
  return batch;
}
