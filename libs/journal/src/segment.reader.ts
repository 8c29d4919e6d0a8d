import type { FileHandle } from 'node:fs/promises';
import { readAt } from './durable-fs.util';
import { decodeRecordAt } from './record.codec';

export type SegmentItem =
  | { kind: 'record'; offset: number; end: number; lsn: number; data: Buffer }
  | { kind: 'invalid'; offset: number; reason: string };

const WINDOW_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Walks the records of one segment file from offset 0 to `end`, reading it in windows. Yields every
 * record that decodes cleanly; the first thing that does not decode (bad magic, bad CRC, a record
 * running past `end`) is yielded as `invalid` and ends the walk. Data is copied out (so a kept record
 * does not pin a window) only for records with lsn > `copyAfterLsn` (Infinity: none).
 */
export async function* scanSegment(fh: FileHandle, end: number, copyAfterLsn: number): AsyncGenerator<SegmentItem> {
  let limit = end;
  let pos = 0;
  let need = 0;
  while (pos < limit) {
    const want = Math.min(Math.max(WINDOW_BYTES, need), limit - pos);
    const buf = await readAt(fh, pos, want);
    if (buf.length < want) limit = pos + buf.length; // the file is shorter than we were told
    let off = 0;
    need = 0;
    while (off < buf.length) {
      const d = decodeRecordAt(buf, off);
      if (d.kind === 'record') {
        const data = d.lsn > copyAfterLsn ? Buffer.from(buf.subarray(d.dataStart, d.end)) : EMPTY;
        yield { kind: 'record', offset: pos + off, end: pos + d.end, lsn: d.lsn, data };
        off = d.end;
      } else if (d.kind === 'short' && pos + off + d.need <= limit) {
        need = d.need; // the record continues past this window: read again from its start
        break;
      } else {
        const reason = d.kind === 'short' ? 'record runs past the end of the file' : d.reason;
        yield { kind: 'invalid', offset: pos + off, reason };
        return;
      }
    }
    pos += off;
  }
}
