import { mkdir, open, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Journal, JournalFullError } from '@jr/journal';
import { tryMountTmpfs, tryUnmount } from '@jr/testing';
import { layout, readAll, removeDir, tempDir } from '../../../libs/journal/src/testing/journal-fixtures';

/**
 * A real full disk: a 1 MiB tmpfs (we run as root). Where mounting is not permitted the same
 * scenario runs against maxTotalBytes instead, and says so: then ENOSPC itself is not exercised.
 */
const RECORD = 10_000; // not page-aligned, so the write that hits the wall lands partly first

function data(lsn: number): Buffer {
  return Buffer.alloc(RECORD, lsn % 251);
}

/** Appends one record at a time until one fails; returns that failure. */
async function fillUntilFull(journal: Journal): Promise<unknown> {
  for (let i = 0; i < 10_000; i++) {
    const err = await journal.append(data(journal.lastLsn + 1)).then(
      () => null,
      (e: unknown) => e,
    );
    if (err !== null) return err;
  }
  throw new Error('the disk never filled up');
}

/** Takes the last free bytes of the file system (so not even a 16-byte file fits). */
async function plug(path: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (const size of [65536, 4096, 512, 16, 1]) {
      for (;;) {
        const wrote = await fh.write(Buffer.alloc(size)).then(
          (r) => r.bytesWritten,
          () => 0,
        );
        if (wrote < size) break;
      }
    }
  } finally {
    await fh.close();
  }
  await expect(writeFile(`${path}.probe`, 'x')).rejects.toMatchObject({ code: 'ENOSPC' });
}

async function expectIntact(dir: string, lastLsn: number): Promise<void> {
  const j = await Journal.open({ dir, logger: { warn: () => undefined } });
  try {
    expect(j.recovery.truncated).toBeNull(); // no partial record was left behind
    expect(j.lastLsn).toBe(lastLsn);
    const all = await readAll(j, j.checkpointLsn);
    all.forEach((r) => expect(r.data.equals(data(r.lsn))).toBe(true));
    expect(all.length).toBe(lastLsn - j.checkpointLsn);
  } finally {
    await j.close();
  }
}

describe('journal on a full disk', () => {
  let mnt: string;
  let mounted = false;
  beforeAll(async () => {
    mnt = await tempDir('jr-journal-enospc-');
    mounted = tryMountTmpfs(mnt, '1m');
    if (!mounted) console.warn('journal ENOSPC test: mount -t tmpfs not permitted here; falling back to maxTotalBytes');
  });
  afterAll(async () => {
    if (mounted) tryUnmount(mnt); // lazy: a journal left open by a failed assertion must not leak the mount
    await removeDir(mnt);
  });

  it('fails appends with JournalFullError, keeps earlier records intact, and recovers once space frees', async () => {
    const dir = join(mnt, 'journal');
    await mkdir(dir);
    const ballast = join(mnt, 'ballast');
    await writeFile(ballast, Buffer.alloc(256 * 1024, 1));
    const limit = mounted ? {} : { maxTotalBytes: 700 * 1024 };
    const journal = await Journal.open({ dir, segmentMaxBytes: 128 * 1024, ...limit });

    const err = await fillUntilFull(journal);
    expect(err).toBeInstanceOf(JournalFullError);
    if (mounted) expect((err as Error).cause).toMatchObject({ code: 'ENOSPC' });
    const full = journal.lastLsn;
    expect(full).toBeGreaterThan(10);
    if (mounted) {
      const fs = await statfs(mnt);
      console.info(`journal ENOSPC test: ${full} records acknowledged, ${fs.bavail * fs.bsize} bytes free at the wall`);
    }

    // a concurrent burst against the wall: whatever resolves is contiguous, the rest is JournalFullError
    const burst = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => journal.append(data(full + 1 + i))));
    const won = burst.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    expect(won).toEqual(Array.from({ length: won.length }, (_, i) => full + 1 + i));
    burst.filter((r) => r.status === 'rejected').forEach((r) => expect(r.reason).toBeInstanceOf(JournalFullError));
    const onDisk = (await layout(dir)).reduce((sum, s) => sum + s.size, 0);
    expect(onDisk).toBe(journal.stats.bytes); // failed batches were cut back: no partial record remains

    // free space (the operator deletes something), and the same journal takes appends again
    if (mounted) await rm(ballast);
    else await journal.checkpoint(journal.lastLsn);
    const after = journal.lastLsn;
    expect(await journal.append(data(after + 1))).toBe(after + 1);
    expect(await journal.append(data(after + 2))).toBe(after + 2);
    await journal.close();
    await expectIntact(dir, after + 2);
  });

  it('a checkpoint still succeeds on a completely full disk and frees it', async () => {
    const dir = join(mnt, 'journal-cp');
    await rm(join(mnt, 'journal'), { recursive: true, force: true });
    await mkdir(dir);
    const limit = mounted ? {} : { maxTotalBytes: 700 * 1024 };
    const journal = await Journal.open({ dir, segmentMaxBytes: 64 * 1024, ...limit });
    await journal.append(data(1));
    await journal.checkpoint(1); // the checkpoint file now exists with a block of its own
    expect(await fillUntilFull(journal)).toBeInstanceOf(JournalFullError);
    if (mounted) await plug(join(mnt, 'plug'));
    const bytesBefore = journal.stats.bytes;

    await journal.checkpoint(journal.lastLsn); // no room for checkpoint.tmp: rewritten in place
    expect(journal.checkpointLsn).toBe(journal.lastLsn);
    expect(journal.stats.bytes).toBeLessThan(bytesBefore);
    const next = journal.lastLsn + 1;
    expect(await journal.append(data(next))).toBe(next);
    await journal.close();
    await expectIntact(dir, next);
  });
});
