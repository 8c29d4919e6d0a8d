import { crc32 } from 'node:zlib';

/**
 * One record on disk, all integers little-endian except the magic:
 *   [0..4)   magic + format version: "JRL" 0x01
 *   [4..8)   data length (u32)
 *   [8..16)  LSN (u64, < 2^53)
 *   [16..20) CRC-32 over bytes [0..16) followed by the data
 *   [20..)   data
 */
export const HEADER_BYTES = 20;
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** The most one group-commit write puts on disk (a single record may exceed it by its header). */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** A torn tail is at most one write: anything longer after a bad record cannot be one. */
export const MAX_TORN_BYTES = Math.max(MAX_BATCH_BYTES, HEADER_BYTES + MAX_RECORD_BYTES);

const MAGIC = Buffer.from([0x4a, 0x52, 0x4c, 0x01]);
const TWO_32 = 2 ** 32;
const MAX_LSN_HIGH = 2 ** 21; // LSN < 2^53

export type Decoded =
  | { kind: 'record'; lsn: number; dataStart: number; end: number }
  | { kind: 'short'; need: number } // fewer bytes than the record needs (header, or header + length)
  | { kind: 'invalid'; reason: string };

/** A record buffer with the data copied in and the header still to be stamped with its LSN. */
export function allocRecord(data: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + data.byteLength);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(data.byteLength, 4);
  buf.set(data, HEADER_BYTES);
  return buf;
}

/** Writes the LSN and the CRC into a buffer made by `allocRecord`. */
export function stampRecord(buf: Buffer, lsn: number): void {
  buf.writeUInt32LE(lsn % TWO_32, 8);
  buf.writeUInt32LE(Math.floor(lsn / TWO_32), 12);
  buf.writeUInt32LE(recordCrc(buf, 0, buf.length), 16);
}

function recordCrc(buf: Buffer, start: number, end: number): number {
  return crc32(buf.subarray(start + HEADER_BYTES, end), crc32(buf.subarray(start, start + 16)));
}

/** Decodes the record starting at `off`, checking magic, length, LSN range and CRC. */
export function decodeRecordAt(buf: Buffer, off: number): Decoded {
  if (buf.length - off < HEADER_BYTES) return { kind: 'short', need: HEADER_BYTES };
  if (buf.compare(MAGIC, 0, 4, off, off + 4) !== 0) return { kind: 'invalid', reason: 'bad magic/version' };
  const length = buf.readUInt32LE(off + 4);
  if (length > MAX_RECORD_BYTES) return { kind: 'invalid', reason: `length ${length} exceeds the maximum` };
  const high = buf.readUInt32LE(off + 12);
  if (high >= MAX_LSN_HIGH) return { kind: 'invalid', reason: 'LSN out of range' };
  const end = off + HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'short', need: HEADER_BYTES + length };
  if (recordCrc(buf, off, end) !== buf.readUInt32LE(off + 16)) return { kind: 'invalid', reason: 'CRC mismatch' };
  const lsn = high * TWO_32 + buf.readUInt32LE(off + 8);
  return { kind: 'record', lsn, dataStart: off + HEADER_BYTES, end };
}

/** Offset of the first wholly valid record starting at or after `from`, or -1. */
export function findValidRecord(buf: Buffer, from: number): number {
  let at = buf.indexOf(MAGIC, from);
  while (at >= 0) {
    if (decodeRecordAt(buf, at).kind === 'record') return at;
    at = buf.indexOf(MAGIC, at + 1);
  }
  return -1;
}

/** Bytes a record of `dataBytes` takes on disk. */
export function recordBytes(dataBytes: number): number {
  return HEADER_BYTES + dataBytes;
}
