import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, openReadWrite, writeFully, type SyncCounter } from './durable-fs.util';
import { JournalCorruptError, JournalFailedError } from './journal.errors';
import type { JournalConfig } from './journal.options';
import { segmentFileName, type SegmentInfo } from './segment.recovery';

/**
 * The segment files of one journal: the oldest-first list, the handle of the active (last) segment,
 * rotation, deletion of checkpointed segments, and the one write+sync of a batch with its rollback.
 * Only the journal's single writer calls `rotateIfNeeded`/`writeBatch`.
 */
export class SegmentSet {
  /** Set when a failed batch could not be rolled back: the file may hold a partial record. */
  failure: JournalFailedError | null = null;

  private constructor(
    private readonly cfg: JournalConfig,
    private readonly counter: SyncCounter,
    private readonly segments: SegmentInfo[],
    private activeFile: FileHandle,
  ) {}

  /** Takes over recovered segments (creating the first one if there is none) and opens the active one. */
  static async open(
    cfg: JournalConfig,
    counter: SyncCounter,
    recovered: SegmentInfo[],
    lastLsn: number,
  ): Promise<SegmentSet> {
    const segments = recovered.slice();
    let last = segments.at(-1);
    if (last === undefined) {
      last = await createSegment(cfg, counter, lastLsn + 1);
      segments.push(last);
    }
    return new SegmentSet(cfg, counter, segments, await openReadWrite(last.path));
  }

  get active(): SegmentInfo {
    return this.segments.at(-1) as SegmentInfo;
  }

  get count(): number {
    return this.segments.length;
  }

  /** Total bytes, and bytes of segments holding any record above the checkpoint. */
  bytes(checkpointLsn: number): { total: number; unapplied: number } {
    let total = 0;
    let unapplied = 0;
    for (const s of this.segments) {
      total += s.bytes;
      if (s.lastLsn > checkpointLsn) unapplied += s.bytes;
    }
    return { total, unapplied };
  }

  /** Copies of the segments that may hold records in (afterLsn, limitLsn], for a reader. */
  snapshot(afterLsn: number, limitLsn: number): SegmentInfo[] {
    return this.segments.filter((s) => s.lastLsn > afterLsn && s.firstLsn <= limitLsn).map((s) => ({ ...s }));
  }

  /**
   * Starts a new segment when the active one is non-empty and either full for this record or wholly
   * applied (so that it can be deleted). Returns whether it rotated.
   */
  async rotateIfNeeded(nextRecordBytes: number, checkpointLsn: number): Promise<boolean> {
    const active = this.active;
    if (active.bytes === 0) return false;
    if (active.bytes + nextRecordBytes <= this.cfg.segmentMaxBytes && active.lastLsn > checkpointLsn) return false;
    const next = await createSegment(this.cfg, this.counter, active.lastLsn + 1);
    const file = await openReadWrite(next.path);
    const old = this.activeFile;
    this.activeFile = file;
    this.segments.push(next);
    await old
      .close()
      .catch((err: unknown) => this.cfg.logger.warn('journal: closing a full segment failed', { error: String(err) }));
    return true;
  }

  /**
   * Writes the batch at the end of the active segment and syncs it. On any failure the segment is
   * truncated back to the batch start (no partial record stays) and the error rethrown; if even that
   * fails, `failure` is set and the journal stops taking appends until reopened.
   */
  async writeBatch(buffers: Buffer[], bytes: number, records: number): Promise<void> {
    const active = this.active;
    const start = active.bytes;
    try {
      await writeFully(this.activeFile, buffers, start);
      if (this.cfg.fsync) await this.datasync();
    } catch (err) {
      await this.rollback(active, start, err);
      throw err;
    }
    active.bytes = start + bytes;
    active.lastLsn += records;
  }

  private async rollback(active: SegmentInfo, start: number, cause: unknown): Promise<void> {
    try {
      await this.activeFile.truncate(start);
      if (this.cfg.fsync) await this.datasync();
    } catch (err) {
      this.failure = new JournalFailedError(
        `journal: cannot truncate ${active.path} back to ${start} after a failed write (${String(cause)}): ${String(err)}`,
        { cause: err },
      );
      this.cfg.logger.warn(this.failure.message);
    }
  }

  private async datasync(): Promise<void> {
    const started = process.hrtime.bigint();
    await this.activeFile.datasync();
    this.counter.fsyncs += 1;
    if (this.cfg.onSync) reportSync(this.cfg.onSync, Number(process.hrtime.bigint() - started) / 1e9);
  }

  /** Deletes segments (never the active one) whose records are all at or below the checkpoint. */
  async prune(checkpointLsn: number): Promise<void> {
    const doomed = this.segments.slice(0, -1).filter((s) => s.lastLsn <= checkpointLsn);
    if (doomed.length === 0) return;
    for (const seg of doomed) {
      await rm(seg.path, { force: true });
      const at = this.segments.indexOf(seg);
      if (at >= 0) this.segments.splice(at, 1);
    }
    if (this.cfg.fsync) await fsyncDir(this.cfg.dir, this.counter);
  }

  /** Opens a segment for reading; null when it was deleted because the checkpoint covers it. */
  async openForRead(seg: SegmentInfo, checkpointLsn: number): Promise<FileHandle | null> {
    try {
      return await open(seg.path, 'r');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT' && seg.lastLsn <= checkpointLsn) return null;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.activeFile.close();
  }
}

/** Creates an empty segment file durably (its directory entry fsync'd before anything is written to it). */
async function createSegment(cfg: JournalConfig, counter: SyncCounter, firstLsn: number): Promise<SegmentInfo> {
  const path = join(cfg.dir, segmentFileName(firstLsn));
  const fh = await openReadWrite(path);
  try {
    const { size } = await fh.stat();
    if (size !== 0)
      throw new JournalCorruptError(path, 0, 'a segment the journal is about to start already holds data');
  } finally {
    await fh.close();
  }
  if (cfg.fsync) await fsyncDir(cfg.dir, counter);
  return { path, firstLsn, lastLsn: firstLsn - 1, bytes: 0 };
}

/** A metrics hook must never fail a write. */
function reportSync(onSync: (seconds: number) => void, seconds: number): void {
  try {
    onSync(seconds);
  } catch {
    // ignored: observability only
  }
}
