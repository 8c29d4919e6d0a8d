import type { TraceCarrier } from '@jr/telemetry';
import type { AttemptRef, Completion } from './reporter';
import { eventCost, gapText, type OutboxEvent } from './outbox-record';

/** One queued event; `lsn` is its record in the live journal generation once it is on disk. */
export interface BoxEntry {
  event: OutboxEvent;
  bytes: number;
  order: number;
  lsn: number | undefined;
}

export interface BoxCompletion {
  completion: Completion;
  bytes: number;
  order: number;
  lsn: number | undefined;
}

/** Log bytes dropped while the outbox was full and not yet written as a gap marker. */
export interface PendingGap {
  seq: number;
  atMs: number;
  step: number;
  stream: string;
  bytes: number;
}

export const COMPLETION_COST = 256;

export function keyOf(ref: { jobId: string; attempt: number }): string {
  return `${ref.jobId}#${ref.attempt}`;
}

export function isDroppable(entry: BoxEntry): boolean {
  return entry.event.kind === 'log' && entry.event.gapBytes === undefined;
}

/** What the outbox holds for one attempt, in memory (the journal holds the same on disk). */
export class AttemptBox {
  readonly key: string;
  /** Events not yet acknowledged by the API, in seq order. */
  readonly events: BoxEntry[] = [];
  completion: BoxCompletion | undefined;
  acked = 0;
  /** The highest seq seen, sent or not. */
  lastSeq = 0;
  /**
   * The highest seq ever put on the wire. The API may hold such an event even when the call failed
   * (a deadline after it arrived), so compaction never turns one into a gap marker: the API would keep
   * the event and drop the marker as a duplicate seq, and the gap would be counted but never shown.
   */
  sentThrough = 0;
  pendingGap: PendingGap | undefined;
  /** The API moved this attempt's lease on (a lease_lost cancel): heartbeats stop listing it. */
  leaseLost = false;
  /** The API refused the attempt's events as superseded: later ones are discarded. */
  discarding = false;
  /** Bytes of events whose write to disk has not finished (the runner's back-pressure). */
  unsyncedBytes = 0;
  /** The attempt span's context: written with each record, the parent of its Report/Complete spans. */
  trace: TraceCarrier | undefined;
  private lowWaiters: Array<{ bytes: number; resume(): void }> = [];

  constructor(
    readonly ref: AttemptRef,
    /** Loaded from disk at start-up: no runner in this process owns it. */
    readonly recovered: boolean,
  ) {
    this.key = keyOf(ref);
  }

  get pending(): number {
    return this.events.length + (this.completion ? 1 : 0) + (this.pendingGap ? 1 : 0);
  }

  /** When the oldest thing still queued happened. */
  oldestAtMs(): number | undefined {
    return this.events[0]?.event.atMs ?? this.pendingGap?.atMs ?? this.completion?.completion.endedAtMs;
  }

  /**
   * The lowest journal LSN still needed by this attempt. Records are written in queue order, so the
   * first event on disk has the lowest (events whose write failed have none: they are in memory only).
   */
  minLsn(): number | undefined {
    for (const e of this.events) if (e.lsn !== undefined) return e.lsn;
    return this.completion?.lsn;
  }

  onBacklogBelow(bytes: number, resume: () => void): void {
    if (this.unsyncedBytes <= bytes) resume();
    else this.lowWaiters.push({ bytes, resume });
  }

  wakeBacklogWaiters(all = false): void {
    const waiting = this.lowWaiters;
    this.lowWaiters = [];
    for (const w of waiting) {
      if (all || this.unsyncedBytes <= w.bytes) w.resume();
      else this.lowWaiters.push(w);
    }
  }
}

/** A gap marker event standing for `bytes` of dropped output. */
export function gapEvent(seq: number, atMs: number, step: number, stream: string, bytes: number): OutboxEvent {
  return { seq, atMs, kind: 'log', log: { step, stream, data: gapText(bytes) }, gapBytes: bytes };
}

export function gapEntry(gap: PendingGap, order: number): BoxEntry {
  const event = gapEvent(gap.seq, gap.atMs, gap.step, gap.stream, gap.bytes);
  return { event, bytes: eventCost(event), order, lsn: undefined };
}

/**
 * Replaces every run of consecutive entries that are dropped or already gap markers (with at least
 * one dropped, or more than one marker) by a single marker at the run's first seq.
 */
export function mergeGaps(
  events: readonly BoxEntry[],
  dropped: ReadonlySet<BoxEntry>,
  nextOrder: () => number,
): BoxEntry[] {
  const out: BoxEntry[] = [];
  let run: BoxEntry[] = [];
  const flush = (): void => {
    if (run.length === 1 && !dropped.has(run[0] as BoxEntry)) out.push(run[0] as BoxEntry);
    else if (run.length > 0) out.push(mergedMarker(run, nextOrder()));
    run = [];
  };
  for (const e of events) {
    if (dropped.has(e) || e.event.gapBytes !== undefined) run.push(e);
    else {
      flush();
      out.push(e);
    }
  }
  flush();
  return out;
}

function mergedMarker(run: BoxEntry[], order: number): BoxEntry {
  const first = (run[0] as BoxEntry).event;
  const bytes = run.reduce((sum, e) => sum + (e.event.gapBytes ?? e.event.log?.data.length ?? 0), 0);
  const event = gapEvent(first.seq, first.atMs, first.log?.step ?? 0, first.log?.stream ?? 'stdout', bytes);
  return { event, bytes: eventCost(event), order, lsn: undefined };
}
