import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDir, readAt, type SyncCounter } from './durable-fs.util';
import { isNoSpaceError, JournalCorruptError } from './journal.errors';

/**
 * The checkpoint file: "JRC" 0x01, the LSN as u64 LE, CRC-32 of the first 12 bytes. 16 bytes, so an
 * in-place rewrite stays inside one disk sector.
 */
export const CHECKPOINT_FILE = 'checkpoint';
export const CHECKPOINT_TMP = 'checkpoint.tmp';
const MAGIC = Buffer.from([0x4a, 0x52, 0x43, 0x01]);
const FILE_BYTES = 16;
const TWO_32 = 2 ** 32;

export function encodeCheckpoint(lsn: number): Buffer {
  const buf = Buffer.alloc(FILE_BYTES);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(lsn % TWO_32, 4);
  buf.writeUInt32LE(Math.floor(lsn / TWO_32), 8);
  buf.writeUInt32LE(crc32(buf.subarray(0, 12)), 12);
  return buf;
}

/** The durable checkpoint LSN: 0 when the file is absent; a damaged file is JournalCorruptError. */
export async function readCheckpoint(dir: string): Promise<number> {
  const path = join(dir, CHECKPOINT_FILE);
  let buf: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      buf = await readAt(fh, 0, FILE_BYTES + 1);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return 0;
    throw err;
  }
  return decodeCheckpoint(buf, path);
}

function decodeCheckpoint(buf: Buffer, path: string): number {
  if (buf.length !== FILE_BYTES) throw new JournalCorruptError(path, 0, `checkpoint file is not ${FILE_BYTES} bytes`);
  if (buf.compare(MAGIC, 0, 4, 0, 4) !== 0) throw new JournalCorruptError(path, 0, 'checkpoint bad magic/version');
  if (crc32(buf.subarray(0, 12)) !== buf.readUInt32LE(12))
    throw new JournalCorruptError(path, 12, 'checkpoint CRC mismatch');
  const high = buf.readUInt32LE(8);
  const lsn = high * TWO_32 + buf.readUInt32LE(4);
  if (!Number.isSafeInteger(lsn)) throw new JournalCorruptError(path, 4, 'checkpoint LSN out of range');
  return lsn;
}

/**
 * Writes the checkpoint atomically: tmp file, fsync, rename over, fsync the directory. On a full disk
 * (the tmp file cannot get a block) it falls back to rewriting the existing 16-byte file in place,
 * which needs no new space and stays within one sector; otherwise a full disk could never be freed,
 * since segments are only deleted after the checkpoint covering them is durable.
 */
export async function writeCheckpoint(dir: string, lsn: number, sync: boolean, counter: SyncCounter): Promise<void> {
  const tmp = join(dir, CHECKPOINT_TMP);
  const bytes = encodeCheckpoint(lsn);
  try {
    await writeFileSynced(tmp, bytes, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, sync, counter);
  } catch (err) {
    await rm(tmp, { force: true });
    if (isNoSpaceError(err) && (await rewriteInPlace(join(dir, CHECKPOINT_FILE), bytes, sync, counter))) return;
    throw err;
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE));
  if (sync) await fsyncDir(dir, counter);
}

async function writeFileSynced(
  path: string,
  bytes: Buffer,
  flags: number,
  sync: boolean,
  counter: SyncCounter,
): Promise<void> {
  const fh = await open(path, flags, 0o600);
  try {
    const { bytesWritten } = await fh.write(bytes, 0, bytes.length, 0);
    if (bytesWritten !== bytes.length) throw Object.assign(new Error('short checkpoint write'), { code: 'ENOSPC' });
    if (sync) {
      await fh.sync();
      counter.fsyncs += 1;
    }
  } finally {
    await fh.close();
  }
}

/** In-place rewrite of an existing checkpoint file; false when there is none to rewrite. */
async function rewriteInPlace(path: string, bytes: Buffer, sync: boolean, counter: SyncCounter): Promise<boolean> {
  try {
    await writeFileSynced(path, bytes, constants.O_WRONLY, sync, counter);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
}
