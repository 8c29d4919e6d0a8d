import { open, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { HEADER_BYTES, MAX_RECORD_BYTES, type Journal } from '@jr/journal';
import { quarantineRecord } from '../journal/quarantine';

const SEGMENT = /^seg-\d{16}\.log$/;
/** The journal cuts at most one write (one record at most MAX_RECORD_BYTES plus its header) off the tail. */
const TAIL_BYTES = MAX_RECORD_BYTES + HEADER_BYTES;

/** The end of a journal's last segment, read before `Journal.open` may truncate a torn write off it. */
export interface SegmentTail {
  file: string;
  /** Offset of `bytes[0]` in the file. */
  start: number;
  bytes: Buffer;
}

/** Reads the last segment's tail (undefined: no segment). The data dir is locked: nothing writes meanwhile. */
export async function readLastSegmentTail(journalDir: string): Promise<SegmentTail | undefined> {
  const names = (await readdir(journalDir).catch(() => [] as string[])).filter((n) => SEGMENT.test(n)).sort();
  const last = names.at(-1);
  if (last === undefined) return undefined;
  const file = path.join(journalDir, last);
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const bytes = Buffer.alloc(size - start);
    await fh.read(bytes, 0, bytes.length, start);
    return { file, start, bytes };
  } finally {
    await fh.close();
  }
}

/**
 * What `Journal.open` cut off as a torn write is kept as `<dataDir>/quarantine/<journal>-torn-<lsn>.bin`
 * (the LSN it would have had), so the replay of a dead replica's volume destroys nothing. Returns the
 * bytes kept (0: nothing was torn).
 */
export async function keepTornTail(
  dataDir: string,
  name: string,
  journal: Journal,
  tail: SegmentTail | undefined,
): Promise<number> {
  const cut = journal.recovery.truncated;
  if (!cut || !tail || path.resolve(cut.file) !== path.resolve(tail.file)) return 0;
  const from = cut.offset - tail.start;
  if (from < 0) return 0;
  const bytes = tail.bytes.subarray(from, from + cut.bytesCut);
  await quarantineRecord(dataDir, `${name}-torn`, journal.lastLsn + 1, bytes);
  return bytes.length;
}
