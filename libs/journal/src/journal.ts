import { access, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_FILE, CHECKPOINT_TMP, readCheckpoint, writeCheckpoint } from './checkpoint.store';
import { fsyncDir, mkdirDurable, type SyncCounter } from './durable-fs.util';
import {
  isNoSpaceError,
  JournalClosedError,
  JournalCorruptError,
  JournalFullError,
  toAppendError,
} from './journal.errors';
import { parseJournalOptions, type JournalConfig, type JournalOptions } from './journal.options';
import { allocRecord, MAX_BATCH_BYTES, MAX_RECORD_BYTES, stampRecord } from './record.codec';
import { scanSegment } from './segment.reader';
import { recoverLog, type SegmentInfo, type TruncationReport } from './segment.recovery';
import { SegmentSet } from './segment.set';

export interface JournalRecord {
  lsn: number;
  data: Buffer;
}

export interface JournalStats {
  segments: number;
  bytes: number;
  unappliedBytes: number;
  fsyncs: number;
  appends: number;
}

/** Addition: what open() found and repaired. */
export interface JournalRecovery {
  truncated: TruncationReport | null;
  staleSegmentsRemoved: number;
}

interface PendingAppend {
  buf: Buffer;
  resolve: (lsn: number) => void;
  reject: (err: Error) => void;
}

/** Directories open in this process: two Journal objects on one directory would corrupt it. */
const openDirs = new Set<string>();

/**
 * A crash-safe append-only log of opaque records with group commit. `append` resolves only once its
 * record is fdatasync'd; appends arriving while a write+sync is in flight form the next batch.
 */
export class Journal {
  private readonly queue: PendingAppend[] = [];
  private reservedBytes = 0;
  private writer: Promise<void> | null = null;
  private maintenance: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private appended = 0;

  private constructor(
    private readonly cfg: JournalConfig,
    private readonly counter: SyncCounter,
    private readonly files: SegmentSet,
    private synced: number,
    private applied: number,
    readonly recovery: JournalRecovery,
  ) {}

  static async open(options: JournalOptions): Promise<Journal> {
    const parsed = parseJournalOptions(options);
    const counter: SyncCounter = { fsyncs: 0 };
    await mkdirDurable(parsed.dir, parsed.fsync ? counter : null);
    const dir = await realpath(parsed.dir);
    if (openDirs.has(dir)) throw new Error(`journal ${dir} is already open in this process`);
    openDirs.add(dir);
    try {
      return await Journal.recover({ ...parsed, dir }, counter);
    } catch (err) {
      openDirs.delete(dir);
      throw err;
    }
  }

  private static async recover(cfg: JournalConfig, counter: SyncCounter): Promise<Journal> {
    await rm(join(cfg.dir, CHECKPOINT_TMP), { force: true });
    const applied = await readCheckpoint(cfg.dir);
    const ctx = { sync: cfg.fsync, counter, logger: cfg.logger };
    const log = await recoverLog(cfg.dir, applied, join(cfg.dir, CHECKPOINT_FILE), ctx);
    await ensureCheckpointFile(cfg, counter);
    const synced = log.segments.at(-1)?.lastLsn ?? applied;
    const files = await SegmentSet.open(cfg, counter, log.segments, synced);
    const journal = new Journal(cfg, counter, files, synced, applied, {
      truncated: log.truncated,
      staleSegmentsRemoved: log.stale.length,
    });
    try {
      await journal.removeStale(log.stale);
    } catch (err) {
      await files.close();
      throw err;
    }
    return journal;
  }

  /** Appends one record; resolves with its LSN once it is on disk (fdatasync'd). */
  append(data: Buffer): Promise<number> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new TypeError('journal append takes a Buffer'));
    if (data.byteLength > MAX_RECORD_BYTES) {
      return Promise.reject(
        new RangeError(`journal record of ${data.byteLength} bytes exceeds the maximum of ${MAX_RECORD_BYTES}`),
      );
    }
    if (this.closing !== null) return Promise.reject(new JournalClosedError());
    if (this.files.failure !== null) return Promise.reject(this.files.failure);
    const buf = allocRecord(data);
    const full = this.wouldExceedLimit(buf.length);
    if (full !== null) return Promise.reject(full);
    this.reservedBytes += buf.length;
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ buf, resolve, reject });
      this.startWriter();
    });
  }

  private wouldExceedLimit(bytes: number): JournalFullError | null {
    if (this.cfg.maxTotalBytes === Infinity) return null;
    const used = this.files.bytes(this.applied).unapplied + this.reservedBytes;
    if (used + bytes <= this.cfg.maxTotalBytes) return null;
    return new JournalFullError(`journal full: ${used} of ${this.cfg.maxTotalBytes} bytes unapplied or pending`);
  }

  /**
   * Records with lsn > afterLsn, in order, read from the files: every record synced when this is
   * called (later ones are not included). Records at or below the checkpoint whose segment has been
   * deleted are skipped.
   */
  readFrom(afterLsn: number): AsyncIterable<JournalRecord> {
    if (!Number.isSafeInteger(afterLsn) || afterLsn < 0)
      throw new RangeError(`readFrom needs a non-negative integer LSN, got ${String(afterLsn)}`);
    if (this.closing !== null) throw new JournalClosedError();
    const limit = this.synced;
    const segments = this.files.snapshot(afterLsn, limit);
    return { [Symbol.asyncIterator]: () => this.iterate(segments, afterLsn, limit) };
  }

  private async *iterate(segments: SegmentInfo[], afterLsn: number, limit: number): AsyncGenerator<JournalRecord> {
    for (const seg of segments) {
      const fh = await this.files.openForRead(seg, this.applied);
      if (fh === null) continue;
      try {
        let expect = seg.firstLsn;
        for await (const item of scanSegment(fh, seg.bytes, afterLsn)) {
          if (item.kind === 'invalid') throw new JournalCorruptError(seg.path, item.offset, item.reason);
          if (item.lsn !== expect)
            throw new JournalCorruptError(seg.path, item.offset, `LSN ${item.lsn} where ${expect} was expected`);
          expect += 1;
          if (item.lsn > limit) return;
          if (item.lsn > afterLsn) yield { lsn: item.lsn, data: item.data };
        }
      } finally {
        await fh.close();
      }
    }
  }

  /**
   * Durably records "applied through lsn" (atomic file replace), then deletes the segments wholly at
   * or below it. Monotonic: a value at or below the current checkpoint is ignored.
   */
  checkpoint(lsn: number): Promise<void> {
    if (!Number.isSafeInteger(lsn) || lsn < 0)
      return Promise.reject(new RangeError(`checkpoint needs a non-negative integer LSN, got ${String(lsn)}`));
    if (this.closing !== null) return Promise.reject(new JournalClosedError());
    if (lsn > this.synced)
      return Promise.reject(new RangeError(`checkpoint ${lsn} is past the last synced LSN ${this.synced}`));
    const run = this.maintenance.then(() => this.applyCheckpoint(lsn));
    this.maintenance = run.catch(() => undefined);
    return run;
  }

  private async applyCheckpoint(lsn: number): Promise<void> {
    if (lsn <= this.applied) return;
    try {
      await writeCheckpoint(this.cfg.dir, lsn, this.cfg.fsync, this.counter);
    } catch (err) {
      throw isNoSpaceError(err) ? toAppendError(err) : err;
    }
    this.applied = lsn;
    await this.files.prune(lsn);
  }

  /** Addition: set once a failed write could not be rolled back; appends then reject until reopened. */
  get failure(): Error | null {
    return this.files.failure;
  }

  get checkpointLsn(): number {
    return this.applied;
  }

  /** The last synced LSN. */
  get lastLsn(): number {
    return this.synced;
  }

  get stats(): JournalStats {
    const { total, unapplied } = this.files.bytes(this.applied);
    return {
      segments: this.files.count,
      bytes: total,
      unappliedBytes: unapplied,
      fsyncs: this.counter.fsyncs,
      appends: this.appended,
    };
  }

  /** Lets pending appends finish (resolve or reject), then closes; later calls reject with JournalClosedError. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    while (this.writer !== null) await this.writer;
    await this.maintenance;
    try {
      await this.files.close();
    } finally {
      openDirs.delete(this.cfg.dir);
    }
  }

  private startWriter(): void {
    if (this.writer !== null || this.queue.length === 0) return;
    this.writer = this.drain().finally(() => {
      this.writer = null;
      this.startWriter();
    });
  }

  /** The single writer: one batch at a time, until the queue is empty. Never rejects. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.files.failure !== null) {
        this.settle(this.queue.splice(0), this.files.failure);
        return;
      }
      await this.commitNextBatch();
    }
  }

  private async commitNextBatch(): Promise<void> {
    try {
      const rotated = await this.files.rotateIfNeeded((this.queue[0] as PendingAppend).buf.length, this.applied);
      if (rotated) await this.pruneQuietly();
    } catch (err) {
      this.settle(this.queue.splice(0), toAppendError(err));
      return;
    }
    const batch = this.takeBatch();
    const bytes = batch.reduce((sum, p) => sum + p.buf.length, 0);
    batch.forEach((p, i) => stampRecord(p.buf, this.synced + 1 + i));
    try {
      await this.files.writeBatch(
        batch.map((p) => p.buf),
        bytes,
        batch.length,
      );
    } catch (err) {
      this.settle(batch, toAppendError(err));
      return;
    }
    this.reservedBytes -= bytes;
    this.appended += batch.length;
    batch.forEach((p, i) => p.resolve(this.synced + 1 + i));
    this.synced += batch.length;
  }

  /** After a rotation the old segment may be wholly applied: delete it now; a failure only costs disk. */
  private async pruneQuietly(): Promise<void> {
    await this.files
      .prune(this.applied)
      .catch((err: unknown) =>
        this.cfg.logger.warn('journal: deleting applied segments failed', { error: String(err) }),
      );
  }

  /** Takes queued appends that fit in the active segment and in one write (at least one). */
  private takeBatch(): PendingAppend[] {
    const room = this.cfg.segmentMaxBytes - this.files.active.bytes;
    let bytes = 0;
    let count = 0;
    for (const p of this.queue) {
      const size = p.buf.length;
      if (count > 0 && (bytes + size > room || bytes + size > MAX_BATCH_BYTES)) break;
      bytes += size;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private settle(batch: PendingAppend[], err: Error): void {
    for (const p of batch) {
      this.reservedBytes -= p.buf.length;
      p.reject(err);
    }
  }

  /** Deletes the segments a crash left behind below the checkpoint (see recoverLog). */
  private async removeStale(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    for (const path of paths) await rm(path, { force: true });
    if (this.cfg.fsync) await fsyncDir(this.cfg.dir, this.counter);
  }
}

/** A journal without a checkpoint file gets one (LSN 0), so a full disk can always rewrite it in place. */
async function ensureCheckpointFile(cfg: JournalConfig, counter: SyncCounter): Promise<void> {
  const path = join(cfg.dir, CHECKPOINT_FILE);
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists) return;
  try {
    await writeCheckpoint(cfg.dir, 0, cfg.fsync, counter);
  } catch (err) {
    if (!isNoSpaceError(err)) throw err;
  }
}
