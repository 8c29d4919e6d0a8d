import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Counts every fsync/fdatasync the journal issues (data, directories, checkpoint). */
export interface SyncCounter {
  fsyncs: number;
}

const IOV_MAX = 1024;

/** fsync a directory so entries created, renamed or unlinked in it survive a power loss. */
export async function fsyncDir(dir: string, counter: SyncCounter): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
    counter.fsyncs += 1;
  } finally {
    await fh.close();
  }
}

/** mkdir -p, then fsync the parent of every directory it created so the new entries are durable. */
export async function mkdirDurable(dir: string, counter: SyncCounter | null): Promise<void> {
  const target = resolve(dir);
  const firstCreated = await mkdir(target, { recursive: true, mode: 0o700 });
  if (firstCreated === undefined || counter === null) return;
  const parents: string[] = [];
  for (let d = target; d !== dirname(firstCreated); d = dirname(d)) parents.push(dirname(d));
  for (const parent of parents) await fsyncDir(parent, counter);
}

/**
 * Writes all buffers at `position`, looping over short writes (a nearly full disk writes part of a
 * batch and then fails with ENOSPC; writev also caps the number of buffers per call).
 */
export async function writeFully(fh: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
  let pending = buffers.slice();
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending.slice(0, IOV_MAX), at);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    at += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  let left = count;
  let i = 0;
  while (i < buffers.length && left >= (buffers[i] as Buffer).length) {
    left -= (buffers[i] as Buffer).length;
    i += 1;
  }
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = (rest[0] as Buffer).subarray(left);
  return rest;
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file). */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Opens (creating if needed) a file for positional reads and writes, owner-only. */
export function openReadWrite(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
}
