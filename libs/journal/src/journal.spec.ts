import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Journal } from './journal';
import { JournalClosedError, JournalFullError } from './journal.errors';
import { MAX_RECORD_BYTES } from './record.codec';
import {
  appendInGroups,
  capturingLogger,
  expectedRecords,
  layout,
  readAll,
  removeDir,
  tempDir,
} from './testing/journal-fixtures';

// property runs do real fsyncs: on a loaded disk they take far longer than jest's 5 s default
jest.setTimeout(60_000);

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const open = (extra: Partial<Parameters<typeof Journal.open>[0]> = {}): Promise<Journal> =>
  Journal.open({ dir, logger: capturingLogger(), ...extra });

describe('Journal basics', () => {
  it('creates a missing nested directory and numbers records 1, 2, 3…', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    const j = await Journal.open({ dir: nested });
    expect(await j.append(Buffer.from('one'))).toBe(1);
    expect(await j.append(Buffer.from('two'))).toBe(2);
    expect(await j.append(Buffer.alloc(0))).toBe(3);
    expect(j.lastLsn).toBe(3);
    expect((await readAll(j)).map((r) => [r.lsn, r.data.toString()])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, ''],
    ]);
    await j.close();
    expect((await stat(nested)).isDirectory()).toBe(true);
  });

  it('copies the data at append time: mutating the caller buffer afterwards changes nothing', async () => {
    const j = await open();
    const buf = Buffer.from('original');
    const pending = j.append(buf);
    buf.write('MUTATED!');
    await pending;
    expect((await readAll(j))[0]?.data.toString()).toBe('original');
    await j.close();
  });

  it('reads records from any LSN, and survives a reopen', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }),
        fc.nat(),
        async (records, fromSeed) => {
          await removeDir(dir);
          const j = await open();
          await appendInGroups(j, records, [3]);
          const after = fromSeed % (records.length + 1);
          expect(await readAll(j, after)).toEqual(expectedRecords(records, after + 1));
          await j.close();
          const k = await open();
          expect(k.lastLsn).toBe(records.length);
          expect(await readAll(k, after)).toEqual(expectedRecords(records, after + 1));
          await k.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('shares fsyncs between concurrent appends (group commit)', async () => {
    const j = await open();
    const before = j.stats.fsyncs;
    const lsns = await Promise.all(Array.from({ length: 256 }, (_, i) => j.append(Buffer.from(`r${i}`))));
    expect(lsns).toEqual(Array.from({ length: 256 }, (_, i) => i + 1));
    expect(j.stats.appends).toBe(256);
    expect(j.stats.fsyncs - before).toBeLessThan(256);
    await j.close();
  });

  it('readFrom sees every record synced when it was called while appends continue', async () => {
    const j = await open({ segmentMaxBytes: 512 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => j.append(Buffer.from(`a${i}`))));
    const more = Array.from({ length: 50 }, (_, i) => j.append(Buffer.from(`b${i}`)));
    const seenAtCall = j.lastLsn;
    const read = await readAll(j);
    expect(read.length).toBeGreaterThanOrEqual(seenAtCall);
    expect(read.map((r) => r.lsn)).toEqual(Array.from({ length: read.length }, (_, i) => i + 1));
    await Promise.all(more);
    expect((await readAll(j)).length).toBe(100);
    await j.close();
  });
});

describe('Journal input checks', () => {
  it.each([
    ['a string', 'text'],
    ['null', null],
    ['a number', 42],
    ['a plain object', { length: 3 }],
  ])('rejects %s as data with TypeError and writes nothing', async (_label, bad) => {
    const j = await open();
    await expect(j.append(bad as unknown as Buffer)).rejects.toThrow(TypeError);
    expect(j.lastLsn).toBe(0);
    expect(j.stats.bytes).toBe(0);
    await j.close();
  });

  it('rejects a record over 16 MiB with RangeError and writes nothing; exactly 16 MiB is fine', async () => {
    const j = await open();
    await j.append(Buffer.from('before'));
    const bytes = j.stats.bytes;
    await expect(j.append(Buffer.alloc(MAX_RECORD_BYTES + 1))).rejects.toThrow(RangeError);
    expect(j.stats.bytes).toBe(bytes);
    expect((await layout(dir)).reduce((s, seg) => s + seg.size, 0)).toBe(bytes);
    expect(await j.append(Buffer.alloc(MAX_RECORD_BYTES, 7))).toBe(2);
    await j.close();
    const k = await open();
    const all = await readAll(k);
    expect(all.map((r) => r.data.length)).toEqual([6, MAX_RECORD_BYTES]);
    await k.close();
  });

  it('takes concurrent multi-MiB records (split over several writes) and returns them intact', async () => {
    const j = await open();
    const big = Array.from({ length: 5 }, (_, i) => Buffer.alloc(5 * 1024 * 1024 + i, i + 1));
    expect(await Promise.all(big.map((b) => j.append(b)))).toEqual([1, 2, 3, 4, 5]);
    await j.close();
    const k = await open();
    const all = await readAll(k);
    expect(all.map((r) => r.data.length)).toEqual(big.map((b) => b.length));
    all.forEach((r, i) => expect(r.data.equals(big[i] as Buffer)).toBe(true));
    await k.close();
  });

  it.each([-1, 1.5, Number.NaN, Infinity, '3', null])('readFrom(%p) is a RangeError', async (bad) => {
    const j = await open();
    expect(() => j.readFrom(bad as number)).toThrow(RangeError);
    await j.close();
  });

  it.each([-1, 2.5, Number.NaN, '1'])('checkpoint(%p) is a RangeError', async (bad) => {
    const j = await open();
    await j.append(Buffer.from('x'));
    await expect(j.checkpoint(bad as number)).rejects.toThrow(RangeError);
    expect(j.checkpointLsn).toBe(0);
    await j.close();
  });

  it('refuses to checkpoint past the last synced LSN', async () => {
    const j = await open();
    await j.append(Buffer.from('x'));
    await expect(j.checkpoint(2)).rejects.toThrow(/past the last synced LSN/);
    await j.close();
  });

  it('lists every bad option at once', async () => {
    const bad = { dir: '', segmentMaxBytes: 0, maxTotalBytes: -1, fsync: 'yes' as unknown as boolean };
    const err = (await Journal.open(bad).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RangeError);
    for (const name of ['dir', 'segmentMaxBytes', 'maxTotalBytes', 'fsync']) expect(err.message).toContain(name);
    await expect(Journal.open({ dir, segmentMaxBytes: 1.5 })).rejects.toThrow(/segmentMaxBytes/);
    await expect(Journal.open({ dir, maxTotalBytes: Number.NaN })).rejects.toThrow(/maxTotalBytes/);
    await expect(Journal.open(null as unknown as { dir: string })).rejects.toThrow(TypeError);
  });

  it('fails to open when dir is a regular file', async () => {
    const file = join(dir, 'plain');
    await writeFile(file, 'x');
    await expect(Journal.open({ dir: file })).rejects.toThrow();
  });

  it('refuses a second open of the same directory in one process until the first is closed', async () => {
    const j = await open();
    await expect(open()).rejects.toThrow(/already open/);
    await j.close();
    const k = await open();
    await k.close();
  });
});

describe('Journal close', () => {
  it('flushes appends pending at close, then rejects appends, checkpoints and reads', async () => {
    const j = await open();
    const pending = Array.from({ length: 20 }, (_, i) => j.append(Buffer.from(`p${i}`)));
    await j.close();
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await expect(j.append(Buffer.from('late'))).rejects.toBeInstanceOf(JournalClosedError);
    await expect(j.append(Buffer.from('late'))).rejects.toMatchObject({ code: 'JOURNAL_CLOSED' });
    await expect(j.checkpoint(1)).rejects.toBeInstanceOf(JournalClosedError);
    expect(() => j.readFrom(0)).toThrow(JournalClosedError);
    await j.close(); // idempotent
    const k = await open();
    expect(k.lastLsn).toBe(20);
    await k.close();
  });
});

describe('Journal maxTotalBytes', () => {
  it('rejects an append that would exceed it with JournalFullError, harming nothing, until a checkpoint frees space', async () => {
    const j = await open({ maxTotalBytes: 1000, segmentMaxBytes: 300 });
    const rec = Buffer.alloc(100, 1); // 120 bytes on disk
    for (let i = 0; i < 8; i++) await j.append(rec);
    const files = await layout(dir);
    await expect(j.append(rec)).rejects.toBeInstanceOf(JournalFullError);
    await expect(j.append(rec)).rejects.toMatchObject({ code: 'JOURNAL_FULL', retryable: true });
    expect(await layout(dir)).toEqual(files);
    expect(j.lastLsn).toBe(8);
    expect(j.stats.unappliedBytes).toBe(960);
    await j.checkpoint(8);
    expect(j.stats.unappliedBytes).toBe(0);
    expect(await j.append(rec)).toBe(9);
    expect(j.stats.segments).toBe(1);
    expect(j.stats.bytes).toBe(120);
    await j.close();
    const k = await open();
    expect((await readAll(k, 8)).map((r) => r.lsn)).toEqual([9]);
    await k.close();
  });

  it('under concurrent appends accepts exactly what fits, with contiguous LSNs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 3000 }),
        async (sizes, max) => {
          await removeDir(dir);
          const j = await open({ maxTotalBytes: max, segmentMaxBytes: 400 });
          const results = await Promise.allSettled(sizes.map((n) => j.append(Buffer.alloc(n, n % 251))));
          let used = 0;
          const accepted: number[] = [];
          sizes.forEach((n, i) => {
            const r = results[i] as PromiseSettledResult<number>;
            if (used + n + 20 <= max) {
              used += n + 20;
              accepted.push(n);
              expect(r).toEqual({ status: 'fulfilled', value: accepted.length });
            } else {
              expect(r.status === 'rejected' && r.reason instanceof JournalFullError).toBe(true);
            }
          });
          await j.close();
          const k = await open();
          expect((await readAll(k)).map((r) => r.data.length)).toEqual(accepted);
          expect(k.stats.bytes).toBe(used);
          await k.close();
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('Journal segments', () => {
  it('rotates: each segment holds at most segmentMaxBytes (or one bigger record) and is named after its first LSN', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 400 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 2000 }),
        async (records, groups, segmentMaxBytes) => {
          await removeDir(dir);
          const j = await open({ segmentMaxBytes });
          await appendInGroups(j, records, groups);
          const segs = await layout(dir);
          expect(j.stats.segments).toBe(segs.length);
          let next = 1;
          for (const seg of segs) {
            expect(seg.firstLsn).toBe(next);
            expect(seg.records.length).toBeGreaterThan(0);
            expect(seg.size <= segmentMaxBytes || seg.records.length === 1).toBe(true);
            next += seg.records.length;
          }
          await j.close();
          const k = await open({ segmentMaxBytes });
          expect(await readAll(k)).toEqual(expectedRecords(records));
          await k.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('ignores files that are not segments', async () => {
    const j = await open();
    await j.append(Buffer.from('x'));
    await j.close();
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await writeFile(join(dir, 'seg-1.log'), 'not a segment name');
    const k = await open();
    expect(await readAll(k)).toEqual([{ lsn: 1, data: Buffer.from('x') }]);
    await k.close();
    expect((await readdir(dir)).sort()).toEqual(['checkpoint', 'notes.txt', 'seg-0000000000000001.log', 'seg-1.log']);
  });
});
