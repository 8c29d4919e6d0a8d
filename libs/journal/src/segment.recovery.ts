import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readAt, type SyncCounter } from './durable-fs.util';
import { JournalCorruptError } from './journal.errors';
import { findValidRecord, MAX_TORN_BYTES } from './record.codec';
import { scanSegment } from './segment.reader';

/** One segment file as the journal tracks it. An empty segment has lastLsn = firstLsn - 1. */
export interface SegmentInfo {
  path: string;
  firstLsn: number;
  lastLsn: number;
  bytes: number;
}

/** What recovery cut off the end of the last segment (a write torn by a crash). */
export interface TruncationReport {
  file: string;
  offset: number;
  bytesCut: number;
  reason: string;
}

export interface RecoveredLog {
  /** Segments still needed, oldest first, contiguous in LSN. */
  segments: SegmentInfo[];
  /** Segments wholly below the checkpoint that a crash left behind (deleted by the caller). */
  stale: string[];
  truncated: TruncationReport | null;
}

export interface JournalLogger {
  warn(message: string, details?: Record<string, unknown>): void;
}

const SEGMENT_NAME = /^seg-(\d{16})\.log$/;

export function segmentFileName(firstLsn: number): string {
  return `seg-${String(firstLsn).padStart(16, '0')}.log`;
}

/** Segment files in `dir`, ordered by first LSN. Other files are ignored. */
export async function listSegments(dir: string): Promise<Array<{ path: string; firstLsn: number }>> {
  const found: Array<{ path: string; firstLsn: number }> = [];
  for (const name of await readdir(dir)) {
    const m = SEGMENT_NAME.exec(name);
    if (m === null) continue;
    const firstLsn = Number(m[1]);
    const path = join(dir, name);
    if (firstLsn < 1 || !Number.isSafeInteger(firstLsn))
      throw new JournalCorruptError(path, 0, 'segment name holds an invalid LSN');
    found.push({ path, firstLsn });
  }
  return found.sort((a, b) => a.firstLsn - b.firstLsn);
}

interface VerifyContext {
  sync: boolean;
  counter: SyncCounter;
  logger: JournalLogger;
}

/**
 * Verifies every record of one segment (magic, CRC, LSNs contiguous from the name's LSN). A bad
 * record ends the segment only if this is the last segment and nothing valid follows it (a torn
 * write): the tail is then truncated durably and reported. Anything else is JournalCorruptError.
 */
export async function verifySegment(
  path: string,
  firstLsn: number,
  isLast: boolean,
  ctx: VerifyContext,
): Promise<{ info: SegmentInfo; truncated: TruncationReport | null }> {
  const fh = await open(path, isLast ? 'r+' : 'r');
  try {
    const size = (await fh.stat()).size;
    let expect = firstLsn;
    for await (const item of scanSegment(fh, size, Infinity)) {
      if (item.kind === 'record') {
        if (item.lsn !== expect)
          throw new JournalCorruptError(path, item.offset, `LSN ${item.lsn} where ${expect} was expected`);
        expect += 1;
        continue;
      }
      if (!isLast) throw new JournalCorruptError(path, item.offset, `${item.reason} (not the last segment)`);
      await assertTornTail(fh, path, item.offset, size, item.reason);
      const truncated = await cutTail(
        fh,
        { file: path, offset: item.offset, bytesCut: size - item.offset, reason: item.reason },
        ctx,
      );
      return { info: { path, firstLsn, lastLsn: expect - 1, bytes: item.offset }, truncated };
    }
    return { info: { path, firstLsn, lastLsn: expect - 1, bytes: size }, truncated: null };
  } finally {
    await fh.close();
  }
}

/** A bad record is a torn tail only if it is within one write of the end and no valid record follows. */
async function assertTornTail(
  fh: FileHandle,
  path: string,
  offset: number,
  size: number,
  reason: string,
): Promise<void> {
  const rest = size - offset;
  if (rest > MAX_TORN_BYTES) {
    throw new JournalCorruptError(
      path,
      offset,
      `${reason}, followed by ${rest} bytes (more than one write could tear)`,
    );
  }
  const tail = await readAt(fh, offset, rest);
  const valid = findValidRecord(tail, 1);
  if (valid >= 0)
    throw new JournalCorruptError(path, offset, `${reason}, and a valid record follows at offset ${offset + valid}`);
}

async function cutTail(fh: FileHandle, report: TruncationReport, ctx: VerifyContext): Promise<TruncationReport> {
  await fh.truncate(report.offset);
  if (ctx.sync) {
    await fh.datasync();
    ctx.counter.fsyncs += 1;
  }
  ctx.logger.warn('journal: truncated a torn tail left by a crash', { ...report });
  return report;
}

/**
 * Recovery across segments. Segments whose successor starts at or below checkpoint + 1 hold only
 * applied records (a crash between the checkpoint and their deletion): they are not read, only
 * listed as stale. The rest must be contiguous in LSN, start at or below checkpoint + 1 and reach at
 * least the checkpoint.
 */
export async function recoverLog(
  dir: string,
  checkpointLsn: number,
  checkpointPath: string,
  ctx: VerifyContext,
): Promise<RecoveredLog> {
  const files = await listSegments(dir);
  let firstLive = 0;
  while (firstLive + 1 < files.length && (files[firstLive + 1] as { firstLsn: number }).firstLsn <= checkpointLsn + 1)
    firstLive += 1;
  const live = files.slice(firstLive);
  const segments: SegmentInfo[] = [];
  let truncated: TruncationReport | null = null;
  for (const [i, file] of live.entries()) {
    const expected = i === 0 ? checkpointLsn + 1 : (segments[i - 1] as SegmentInfo).lastLsn + 1;
    if (i === 0 ? file.firstLsn > expected : file.firstLsn !== expected) {
      throw new JournalCorruptError(
        file.path,
        0,
        `segment starts at LSN ${file.firstLsn} where ${expected} was expected (records missing)`,
      );
    }
    const r = await verifySegment(file.path, file.firstLsn, i === live.length - 1, ctx);
    segments.push(r.info);
    truncated = r.truncated ?? truncated;
  }
  const lastLsn = segments.at(-1)?.lastLsn ?? checkpointLsn;
  if (lastLsn < checkpointLsn) {
    throw new JournalCorruptError(checkpointPath, 0, `checkpoint ${checkpointLsn} is past the last record ${lastLsn}`);
  }
  return { segments, stale: files.slice(0, firstLive).map((f) => f.path), truncated };
}
