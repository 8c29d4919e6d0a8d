import { rename } from 'node:fs/promises';
import type { TraceCarrier } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AttemptRef, Completion } from './reporter';
import { AttemptBox, COMPLETION_COST, gapEntry, isDroppable, keyOf, type BoxEntry } from './outbox-box';
import { planDrops, type CompactionHost } from './outbox-compaction';
import { OutboxJournal } from './outbox-journal';
import { eventCost, type OutboxEvent, type OutboxRecord, type SettleStatus } from './outbox-record';

export interface OutboxOptions {
  /** $JR_DATA_DIR/outbox */
  dir: string;
  /** The size cap: past it the oldest log chunks give way to gap markers (statuses never do). */
  maxBytes: number;
  logger: Logger;
  now?: () => number;
}

export interface OutboxStats {
  /** Events and completions not yet acknowledged by the API. */
  depth: number;
  oldestAgeMs: number;
  attempts: number;
  /** Bytes of what is queued, and of the journal on disk. */
  bytes: number;
  diskBytes: number;
  /** Log bytes replaced by gap markers since start. */
  gapBytes: number;
  compactions: number;
}

/** Room kept per attempt for its gap marker when deciding whether compaction can help. */
const MARKER_ALLOWANCE = 512;
const MAX_SETTLED_KEYS = 4_096;

/**
 * The durable outbox: every event and completion of every attempt, written to a journal before it
 * is sent, removed (acknowledged) once the API holds it. Replayed at start-up, so a SIGKILLed agent
 * loses nothing it had written. Never larger than `maxBytes` for long: the oldest log chunks are
 * replaced by gap markers (compaction into a new journal generation); statuses and completions stay.
 */
export class Outbox implements CompactionHost {
  readonly boxes = new Map<string, AttemptBox>();
  private order = 0;
  private liveBytes = 0;
  private droppableBytes = 0;
  private closed = false;
  private gapBytes = 0;
  private disk!: OutboxJournal;
  /** Recently settled attempts: a straggling event must not open a new box for them. */
  private readonly settledKeys = new Set<string>();

  private constructor(private readonly o: OutboxOptions) {}

  /** Opens (or creates) the outbox and loads what it holds; a corrupt one is moved aside, loudly. */
  static async open(o: OutboxOptions): Promise<Outbox> {
    try {
      return await Outbox.load(o);
    } catch (err) {
      if (!isCorruption(err)) throw err;
      const aside = `${o.dir}.corrupt-${Date.now()}`;
      o.logger.error(
        { err: describe(err), movedTo: aside },
        'outbox: unreadable; moved aside, starting with an empty one (its events are NOT delivered)',
      );
      await rename(o.dir, aside);
      return Outbox.load(o);
    }
  }

  private static async load(o: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(o);
    outbox.disk = await OutboxJournal.open({
      root: o.dir,
      maxBytes: o.maxBytes,
      logger: o.logger,
      minLiveLsn: () => outbox.minLiveLsn(),
    });
    try {
      const skipped = await outbox.disk.replay((record, lsn) => outbox.apply(record, lsn));
      const s = outbox.stats();
      if (s.depth > 0 || skipped > 0)
        o.logger.info({ depth: s.depth, attempts: s.attempts, skipped }, 'outbox: loaded undelivered reports');
    } catch (err) {
      await outbox.disk.close();
      throw err;
    }
    return outbox;
  }

  private apply(record: OutboxRecord, lsn: number): void {
    switch (record.type) {
      case 'event': {
        const entry = this.pushEvent(this.boxFor(record.ref, true, record.trace), record.event);
        if (entry) entry.lsn = lsn;
        return;
      }
      case 'complete': {
        const box = this.boxFor(record.ref, true, record.trace);
        if (!box.completion) this.setCompletion(box, record.completion).lsn = lsn;
        return;
      }
      case 'acked':
        return this.dropAcked(this.boxes.get(keyOf(record)), record.seq);
      case 'settled':
        return this.forget(this.boxes.get(keyOf(record)));
    }
  }

  /**
   * Queues one event of an attempt (duplicates and events after `discard` are ignored). `trace`: the
   * attempt span's context, kept with the attempt's records (the first one given sticks).
   */
  addEvent(ref: AttemptRef, event: OutboxEvent, trace?: TraceCarrier): void {
    if (this.closed)
      return this.o.logger.error({ jobId: ref.jobId, seq: event.seq }, 'outbox: event after close dropped');
    if (this.settledKeys.has(keyOf(ref))) return;
    const box = this.boxFor(ref, false, trace);
    if (event.seq <= box.lastSeq) return;
    if (box.discarding) {
      box.lastSeq = event.seq;
      return;
    }
    if (event.kind === 'log' && !this.admitLog(box, event)) return;
    this.flushGap(box);
    const entry = this.pushEvent(box, event);
    if (!entry) return;
    box.unsyncedBytes += entry.bytes;
    void this.disk
      .write({ type: 'event', ref: box.ref, event, trace: box.trace }, (lsn) => (entry.lsn = lsn))
      .finally(() => {
        box.unsyncedBytes -= entry.bytes;
        box.wakeBacklogWaiters();
      });
  }

  /** Queues the attempt's outcome; resolves once it is on disk (or kept in memory after a write error). */
  addCompletion(ref: AttemptRef, completion: Completion, trace?: TraceCarrier): Promise<void> {
    if (this.closed) {
      this.o.logger.error({ jobId: ref.jobId }, 'outbox: completion after close dropped');
      return Promise.resolve();
    }
    if (this.settledKeys.has(keyOf(ref))) return Promise.resolve();
    const box = this.boxFor(ref, false, trace);
    this.flushGap(box);
    if (box.completion) return Promise.resolve();
    const entry = this.setCompletion(box, completion);
    return this.disk.write(
      { type: 'complete', ref: box.ref, completion, trace: box.trace },
      (lsn) => (entry.lsn = lsn),
    );
  }

  /** The API holds this attempt's events up to `seq`. */
  acknowledge(key: string, seq: number): void {
    const box = this.boxes.get(key);
    if (!box || seq <= box.acked) return;
    this.dropAcked(box, seq);
    void this.disk.write({ type: 'acked', jobId: box.ref.jobId, attempt: box.ref.attempt, seq });
    this.disk.scheduleCheckpoint();
  }

  /** Drops the attempt's queued events and every later one (the API refused them as superseded). */
  discardEvents(key: string): void {
    const box = this.boxes.get(key);
    if (!box) return;
    box.discarding = true;
    if (box.pendingGap) box.lastSeq = Math.max(box.lastSeq, box.pendingGap.seq);
    box.pendingGap = undefined;
    this.acknowledge(key, box.lastSeq);
    box.wakeBacklogWaiters(true);
  }

  /** Nothing more of this attempt will be sent. */
  settle(key: string, status: SettleStatus): void {
    const box = this.boxes.get(key);
    if (!box) return;
    this.forget(box);
    this.settledKeys.add(key);
    if (this.settledKeys.size > MAX_SETTLED_KEYS)
      this.settledKeys.delete(this.settledKeys.values().next().value as string);
    box.wakeBacklogWaiters(true);
    void this.disk.write({ type: 'settled', jobId: box.ref.jobId, attempt: box.ref.attempt, status });
    this.disk.scheduleCheckpoint();
  }

  get(key: string): AttemptBox | undefined {
    return this.boxes.get(key);
  }

  stats(): OutboxStats {
    const now = (this.o.now ?? Date.now)();
    let depth = 0;
    let oldest = now;
    for (const box of this.boxes.values()) {
      depth += box.pending;
      oldest = Math.min(oldest, box.oldestAtMs() ?? now);
    }
    return {
      depth,
      oldestAgeMs: Math.max(0, now - oldest),
      attempts: this.boxes.size,
      bytes: this.liveBytes,
      diskBytes: this.disk.diskBytes(),
      gapBytes: this.gapBytes,
      compactions: this.disk.compactions,
    };
  }

  /** Resolves once pruning and compaction in progress are done. */
  idle(): Promise<void> {
    return this.disk.idle();
  }

  /** Lets writes and a compaction in progress finish, then closes the journal. */
  async close(): Promise<void> {
    this.closed = true;
    await this.disk.close();
  }

  /** The lowest journal LSN still needed. */
  private minLiveLsn(): number | undefined {
    let min: number | undefined;
    for (const box of this.boxes.values()) {
      const m = box.minLsn();
      if (m !== undefined && (min === undefined || m < min)) min = m;
    }
    return min;
  }

  // --- memory -------------------------------------------------------------------------------

  private boxFor(ref: AttemptRef, recovered: boolean, trace: TraceCarrier | undefined): AttemptBox {
    const key = keyOf(ref);
    let box = this.boxes.get(key);
    if (!box) {
      box = new AttemptBox(ref, recovered);
      this.boxes.set(key, box);
    }
    box.trace ??= trace;
    return box;
  }

  private pushEvent(box: AttemptBox, event: OutboxEvent): BoxEntry | undefined {
    if (event.seq <= box.lastSeq || event.seq <= box.acked) return undefined;
    const entry: BoxEntry = { event, bytes: eventCost(event), order: ++this.order, lsn: undefined };
    box.events.push(entry);
    box.lastSeq = event.seq;
    this.count(entry, 1);
    return entry;
  }

  private setCompletion(box: AttemptBox, completion: Completion): NonNullable<AttemptBox['completion']> {
    box.completion = { completion, bytes: COMPLETION_COST, order: ++this.order, lsn: undefined };
    this.liveBytes += COMPLETION_COST;
    return box.completion;
  }

  private dropAcked(box: AttemptBox | undefined, seq: number): void {
    if (!box) return;
    box.acked = Math.max(box.acked, seq);
    while (box.events.length > 0 && (box.events[0] as BoxEntry).event.seq <= seq)
      this.count(box.events.shift() as BoxEntry, -1);
  }

  private forget(box: AttemptBox | undefined): void {
    if (!box) return;
    for (const e of box.events.splice(0)) this.count(e, -1);
    if (box.completion) this.liveBytes -= box.completion.bytes;
    box.completion = undefined;
    box.pendingGap = undefined;
    this.boxes.delete(box.key);
  }

  private count(entry: BoxEntry, sign: 1 | -1): void {
    this.liveBytes += sign * entry.bytes;
    if (isDroppable(entry)) this.droppableBytes += sign * entry.bytes;
  }

  /** Recomputes the byte counters (after compaction rewrote the boxes). */
  recount(): void {
    this.liveBytes = 0;
    this.droppableBytes = 0;
    for (const box of this.boxes.values()) {
      for (const e of box.events) this.count(e, 1);
      if (box.completion) this.liveBytes += box.completion.bytes;
    }
  }

  nextOrder(): number {
    return ++this.order;
  }

  // --- the size cap ---------------------------------------------------------------------------

  /** True when the chunk may be queued; false when it went into the attempt's pending gap. */
  private admitLog(box: AttemptBox, event: OutboxEvent): boolean {
    const cost = eventCost(event);
    // While compacting, the old journal's size means nothing: what is queued is what will be on disk.
    const used = this.disk.compacting ? this.liveBytes : this.disk.diskBytes();
    if (used + cost <= this.o.maxBytes) return true;
    if (!this.disk.compacting && this.canCompact()) {
      this.startCompaction();
      return true;
    }
    const bytes = event.log?.data.length ?? 0;
    this.gapBytes += bytes;
    box.lastSeq = event.seq;
    if (box.pendingGap) box.pendingGap.bytes += bytes;
    else
      box.pendingGap = {
        seq: event.seq,
        atMs: event.atMs,
        step: event.log?.step ?? 0,
        stream: event.log?.stream ?? 'stdout',
        bytes,
      };
    return false;
  }

  /** Compaction only helps when what cannot be dropped fits in half the cap. */
  private canCompact(): boolean {
    return this.liveBytes - this.droppableBytes + MARKER_ALLOWANCE * this.boxes.size <= this.o.maxBytes / 2;
  }

  /** Writes the attempt's pending gap as a marker event (before its next event or completion). */
  private flushGap(box: AttemptBox): void {
    const gap = box.pendingGap;
    if (!gap) return;
    box.pendingGap = undefined;
    const entry = gapEntry(gap, ++this.order);
    box.events.push(entry);
    this.count(entry, 1);
    void this.disk.write(
      { type: 'event', ref: box.ref, event: entry.event, trace: box.trace },
      (lsn) => (entry.lsn = lsn),
    );
  }

  private startCompaction(): void {
    for (const box of this.boxes.values()) this.flushGap(box);
    this.gapBytes += planDrops(this, Math.floor(this.o.maxBytes / 2));
    this.disk.compact(this);
  }
}

function isCorruption(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'JOURNAL_CORRUPT';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
