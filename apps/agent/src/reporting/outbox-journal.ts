import { Journal, type JournalLogger } from '@jr/journal';
import type { Logger } from 'pino';
import { CompactionError, compactOutbox, type CompactionHost } from './outbox-compaction';
import { generationDir, openGeneration } from './outbox-generations';
import { decodeRecord, encodeRecord, type OutboxRecord } from './outbox-record';

export interface OutboxJournalOptions {
  root: string;
  maxBytes: number;
  logger: Logger;
  /** The lowest LSN the outbox still needs (undefined: none); everything below it may be pruned. */
  minLiveLsn(): number | undefined;
}

interface Deferred {
  data: Buffer;
  onDurable?: (lsn: number) => void;
  resolve(): void;
}

/**
 * The outbox's disk side: a journal generation, written with group commit, checkpointed below the
 * oldest record still needed, and compacted into the next generation when the outbox is full.
 * Writes during a compaction wait in memory and follow it in order.
 */
export class OutboxJournal {
  private inflightBytes = 0;
  private deferred: Deferred[] = [];
  private deferredBytes = 0;
  private compaction: Promise<void> | undefined;
  private checkpointing: Promise<void> | undefined;
  private checkpointAgain = false;
  /** After a failed compaction: nothing is pruned any more, so nothing can be lost (until restart). */
  private checkpointsDisabled = false;
  /** The journal could not be reopened after a failed compaction: records stay in memory only. */
  private broken = false;
  private closed = false;
  compactions = 0;

  private constructor(
    private readonly o: OutboxJournalOptions,
    private journal: Journal,
    private gen: number,
  ) {}

  static async open(o: OutboxJournalOptions): Promise<OutboxJournal> {
    const gen = await openGeneration(o.root, (msg, details) => o.logger.warn(details, msg));
    return new OutboxJournal(o, await Journal.open(journalOptions(o, gen)), gen);
  }

  /** Every record after the checkpoint, in order; unreadable records are logged and skipped. */
  async replay(apply: (record: OutboxRecord, lsn: number) => void): Promise<number> {
    let skipped = 0;
    for await (const { lsn, data } of this.journal.readFrom(this.journal.checkpointLsn)) {
      let record: OutboxRecord;
      try {
        record = decodeRecord(data);
      } catch (err) {
        skipped += 1;
        this.o.logger.error({ err: describe(err), lsn }, 'outbox: skipping a record it cannot read');
        continue;
      }
      apply(record, lsn);
    }
    return skipped;
  }

  get compacting(): boolean {
    return this.compaction !== undefined;
  }

  /** Journal bytes not yet pruned, plus writes on their way. */
  diskBytes(): number {
    return this.journal.stats.unappliedBytes + this.inflightBytes + this.deferredBytes;
  }

  /** Resolves once the record is on disk (or was kept in memory only after a write error). */
  write(record: OutboxRecord, onDurable?: (lsn: number) => void): Promise<void> {
    // After close only acknowledgements of calls still in flight can come: losing one costs a
    // resend at the next start (the API deduplicates), never a record.
    if (this.broken || this.closed) return Promise.resolve();
    const data = encodeRecord(record);
    if (this.compaction) {
      this.deferredBytes += data.length;
      return new Promise((resolve) => this.deferred.push({ data, onDurable, resolve }));
    }
    return this.append(data, onDurable);
  }

  private append(data: Buffer, onDurable?: (lsn: number) => void): Promise<void> {
    const gen = this.gen;
    this.inflightBytes += data.length;
    return this.journal
      .append(data)
      .then(
        (lsn) => {
          // A write to a generation compaction has replaced since: its new LSN is set by compaction.
          if (gen === this.gen) onDurable?.(lsn);
        },
        (err: unknown) =>
          this.o.logger.error({ err: describe(err) }, 'outbox: write failed; the record is kept in memory only'),
      )
      .finally(() => (this.inflightBytes -= data.length));
  }

  /**
   * Starts rewriting what `host` holds into the next generation; writes wait until it is done. The
   * host's snapshot is taken synchronously, now.
   */
  compact(host: CompactionHost): void {
    if (this.compaction || this.broken || this.closed) return;
    const fromGen = this.gen;
    this.gen += 1;
    const plan = {
      root: this.o.root,
      fromGen,
      toGen: this.gen,
      open: (gen: number) => Journal.open(journalOptions(this.o, gen)),
    };
    this.compaction = compactOutbox(host, this.journal, plan)
      .then(
        (journal) => {
          this.journal = journal;
          this.compactions += 1;
        },
        (err: unknown) => this.compactionFailed(fromGen, err),
      )
      .finally(() => {
        this.compaction = undefined;
        this.flushDeferred();
      });
  }

  private compactionFailed(fromGen: number, err: unknown): void {
    this.gen = fromGen;
    this.checkpointsDisabled = true;
    const reopened = err instanceof CompactionError ? err.journal : undefined;
    if (reopened) this.journal = reopened;
    else this.broken = true;
    this.o.logger.error(
      { err: describe(err instanceof CompactionError ? err.error : err), journal: reopened ? 'reopened' : 'unusable' },
      'outbox: compaction failed; nothing is pruned until restart (and nothing more is written if the journal is unusable)',
    );
  }

  private flushDeferred(): void {
    const deferred = this.deferred.splice(0);
    this.deferredBytes = 0;
    for (const d of deferred) {
      if (this.broken) d.resolve();
      else void this.append(d.data, d.onDurable).then(() => d.resolve());
    }
  }

  /** Prunes below the oldest record still needed; calls while one runs coalesce into one more. */
  scheduleCheckpoint(): void {
    if (this.checkpointsDisabled || this.closed || this.broken) return;
    if (this.checkpointing) {
      this.checkpointAgain = true;
      return;
    }
    this.checkpointing = this.runCheckpoints().finally(() => (this.checkpointing = undefined));
  }

  /** Resolves once no compaction or checkpoint is running. */
  async idle(): Promise<void> {
    while (this.compaction || this.checkpointing) await (this.compaction ?? this.checkpointing);
  }

  private async runCheckpoints(): Promise<void> {
    do {
      this.checkpointAgain = false;
      if (this.compaction) await this.compaction;
      if (this.closed || this.checkpointsDisabled || this.broken) return;
      const min = this.o.minLiveLsn();
      const last = this.journal.lastLsn;
      const target = min === undefined ? last : Math.min(last, min - 1);
      if (target > this.journal.checkpointLsn) {
        await this.journal
          .checkpoint(target)
          .catch((err: unknown) => this.o.logger.warn({ err: describe(err) }, 'outbox: checkpoint failed'));
      }
    } while (this.checkpointAgain);
  }

  /** Lets a compaction and the writes in flight finish, then closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.compaction) await this.compaction;
    if (!this.broken) await this.journal.close();
  }
}

function journalOptions(o: OutboxJournalOptions, gen: number) {
  const logger: JournalLogger = { warn: (message, details) => o.logger.warn(details ?? {}, message) };
  const segmentMaxBytes = Math.min(16 * 1024 * 1024, Math.max(64 * 1024, Math.floor(o.maxBytes / 8)));
  return { dir: generationDir(o.root, gen), segmentMaxBytes, logger };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
