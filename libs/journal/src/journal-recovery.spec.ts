import { open as openFile, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeCheckpoint } from './checkpoint.store';
import { Journal } from './journal';
import { JournalCorruptError } from './journal.errors';
import { MAX_TORN_BYTES } from './record.codec';
import {
  appendInGroups,
  capturingLogger,
  expectedRecords,
  layout,
  readAll,
  removeDir,
  tempDir,
  type LaidOutSegment,
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

const recordsArb = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 40 });
const groupsArb = fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 });
const segmentMaxArb = fc.integer({ min: 40, max: 1500 });

async function writeJournal(
  records: Uint8Array[],
  groups: number[],
  segmentMaxBytes: number,
): Promise<LaidOutSegment[]> {
  await removeDir(dir);
  const j = await Journal.open({ dir, segmentMaxBytes });
  await appendInGroups(j, records, groups);
  await j.close();
  return layout(dir);
}

async function flipByte(path: string, offset: number, mask: number): Promise<void> {
  const fh = await openFile(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, offset);
    one[0] = (one[0] as number) ^ mask;
    await fh.write(one, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

describe('recovery: torn tail of the last segment', () => {
  it('cutting the last segment at offset X yields exactly the records wholly before X', async () => {
    await fc.assert(
      fc.asyncProperty(
        recordsArb,
        groupsArb,
        segmentMaxArb,
        fc.nat(),
        async (records, groups, segmentMaxBytes, cutSeed) => {
          const segs = await writeJournal(records, groups, segmentMaxBytes);
          const last = segs.at(-1) as LaidOutSegment;
          const cut = cutSeed % (last.size + 1);
          await truncate(last.path, cut);
          const kept = last.firstLsn - 1 + last.records.filter((r) => r.end <= cut).length;
          const boundary = cut === 0 || last.records.some((r) => r.end === cut);

          const logger = capturingLogger();
          const j = await Journal.open({ dir, segmentMaxBytes, logger });
          expect(await readAll(j)).toEqual(expectedRecords(records, 1, kept));
          expect(j.lastLsn).toBe(kept);
          expect(j.recovery.truncated === null).toBe(boundary);
          expect(logger.events.length).toBe(boundary ? 0 : 1);
          // the journal keeps working after the repair, with contiguous LSNs
          expect(await j.append(Buffer.from('after'))).toBe(kept + 1);
          await j.close();
          const k = await Journal.open({ dir, segmentMaxBytes, logger });
          expect(k.recovery.truncated).toBeNull();
          expect((await readAll(k)).map((r) => r.lsn)).toEqual(Array.from({ length: kept + 1 }, (_, i) => i + 1));
          await k.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('zeros appended after the last record (a torn, preallocated tail) are cut', async () => {
    const segs = await writeJournal([Buffer.from('a'), Buffer.from('b')], [1], 1024);
    const last = segs.at(-1) as LaidOutSegment;
    await writeFile(last.path, Buffer.alloc(4096), { flag: 'a' });
    const j = await Journal.open({ dir, logger: capturingLogger() });
    expect(j.recovery.truncated).toMatchObject({ file: last.path, offset: last.size, bytesCut: 4096 });
    expect((await readAll(j)).map((r) => r.data.toString())).toEqual(['a', 'b']);
    await j.close();
  });

  it('a last segment of pure garbage is cut to nothing (no valid record follows the damage)', async () => {
    await writeJournal([Buffer.from('a')], [1], 1024);
    const garbage = join(dir, 'seg-0000000000000002.log');
    await writeFile(garbage, Buffer.from('this is not a journal record, just noise'.repeat(10)));
    const j = await Journal.open({ dir, logger: capturingLogger() });
    expect(j.recovery.truncated).toMatchObject({ file: garbage, offset: 0 });
    expect(j.lastLsn).toBe(1);
    expect(await j.append(Buffer.from('b'))).toBe(2);
    await j.close();
  });

  it('more damaged bytes than one write can tear is corruption, not a torn tail', async () => {
    const segs = await writeJournal([Buffer.from('a')], [1], 1024);
    const last = segs.at(-1) as LaidOutSegment;
    await writeFile(last.path, Buffer.alloc(MAX_TORN_BYTES + 1, 0xee), { flag: 'a' });
    await expect(Journal.open({ dir })).rejects.toMatchObject({
      code: 'JOURNAL_CORRUPT',
      file: last.path,
      offset: last.size,
    });
  });
});

describe('recovery: damage in the middle', () => {
  it('a flipped byte is JournalCorruptError naming file and record offset, unless it is in the very last record (then cut)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 2, maxLength: 30 }),
        groupsArb,
        segmentMaxArb,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (records, groups, segmentMaxBytes, recordSeed, byteSeed, mask) => {
          const segs = await writeJournal(records, groups, segmentMaxBytes);
          const all = segs.flatMap((seg, s) => seg.records.map((r) => ({ seg, s, r })));
          const target = all[recordSeed % all.length] as (typeof all)[number];
          const at = target.r.offset + (byteSeed % (target.r.end - target.r.offset));
          await flipByte(target.seg.path, at, mask);
          const isVeryLast = target.r.lsn === records.length;

          if (isVeryLast) {
            const j = await Journal.open({ dir, segmentMaxBytes, logger: capturingLogger() });
            expect(j.recovery.truncated).toMatchObject({ file: target.seg.path, offset: target.r.offset });
            expect(await readAll(j)).toEqual(expectedRecords(records, 1, records.length - 1));
            await j.close();
          } else {
            const err = await Journal.open({ dir, segmentMaxBytes }).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(JournalCorruptError);
            expect(err).toMatchObject({ code: 'JOURNAL_CORRUPT', file: target.seg.path, offset: target.r.offset });
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('a segment cut short that is not the last one is JournalCorruptError at the cut record', async () => {
    const records = Array.from({ length: 8 }, (_, i) => Buffer.from(`record-${i}`.repeat(3)));
    const segs = await writeJournal(records, [2], 100);
    expect(segs.length).toBeGreaterThan(2);
    const victim = segs[0] as LaidOutSegment;
    const lastRec = victim.records.at(-1) as LaidOutSegment['records'][number];
    await truncate(victim.path, lastRec.end - 3);
    await expect(Journal.open({ dir })).rejects.toMatchObject({
      code: 'JOURNAL_CORRUPT',
      file: victim.path,
      offset: lastRec.offset,
    });
  });

  it('a missing middle segment (LSN gap) is JournalCorruptError naming the segment after the gap', async () => {
    const records = Array.from({ length: 12 }, (_, i) => Buffer.from(`record-${i}`));
    const segs = await writeJournal(records, [1], 60);
    expect(segs.length).toBeGreaterThan(3);
    await rm((segs[1] as LaidOutSegment).path);
    await expect(Journal.open({ dir })).rejects.toMatchObject({
      code: 'JOURNAL_CORRUPT',
      file: (segs[2] as LaidOutSegment).path,
      offset: 0,
    });
  });

  it('a first segment that starts past checkpoint + 1 is JournalCorruptError', async () => {
    const segs = await writeJournal([Buffer.from('a')], [1], 1024);
    const renamed = join(dir, 'seg-0000000000000002.log');
    await rename((segs[0] as LaidOutSegment).path, renamed);
    await expect(Journal.open({ dir })).rejects.toMatchObject({ code: 'JOURNAL_CORRUPT', file: renamed, offset: 0 });
  });

  it('a segment whose records do not carry the LSNs its name promises is JournalCorruptError', async () => {
    const segs = await writeJournal([Buffer.from('a'), Buffer.from('b')], [1], 30);
    expect(segs.length).toBe(2);
    // swap the two one-record segments: valid CRCs, wrong LSNs
    const [a, b] = [await readFile((segs[0] as LaidOutSegment).path), await readFile((segs[1] as LaidOutSegment).path)];
    await writeFile((segs[0] as LaidOutSegment).path, b);
    await writeFile((segs[1] as LaidOutSegment).path, a);
    await expect(Journal.open({ dir })).rejects.toMatchObject({
      code: 'JOURNAL_CORRUPT',
      file: (segs[0] as LaidOutSegment).path,
      offset: 0,
    });
  });
});

describe('reading a log damaged after open', () => {
  it('readFrom refuses with JournalCorruptError naming the file and offset, never skipping', async () => {
    const j = await Journal.open({ dir, segmentMaxBytes: 100 });
    const records = Array.from({ length: 10 }, (_, i) => Buffer.from(`record-${i}`));
    await appendInGroups(j, records, [3]);
    const segs = await layout(dir);
    const victim = segs[1] as LaidOutSegment;
    const rec = victim.records[1] as LaidOutSegment['records'][number];
    await flipByte(victim.path, rec.end - 1, 0x40);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const r of j.readFrom(0)) seen.push(r.lsn);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JOURNAL_CORRUPT', file: victim.path, offset: rec.offset });
    expect(seen).toEqual(Array.from({ length: rec.lsn - 1 }, (_, i) => i + 1));
    await j.close();
  });
});

describe('recovery: checkpoint file', () => {
  it('an absent checkpoint file means 0', async () => {
    await writeJournal([Buffer.from('a')], [1], 1024);
    await rm(join(dir, 'checkpoint'));
    const j = await Journal.open({ dir });
    expect(j.checkpointLsn).toBe(0);
    expect(await readAll(j)).toHaveLength(1);
    await j.close();
  });

  it('a damaged checkpoint file is JournalCorruptError, never a silent 0', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        await writeJournal([Buffer.from('a')], [1], 1024);
        await writeFile(join(dir, 'checkpoint'), bytes);
        await expect(Journal.open({ dir })).rejects.toMatchObject({
          code: 'JOURNAL_CORRUPT',
          file: join(dir, 'checkpoint'),
        });
      }),
      { numRuns: 40 },
    );
  });

  it('a single flipped bit in a valid checkpoint file is caught', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 127 }), async (bit) => {
        await writeJournal([Buffer.from('a')], [1], 1024);
        const buf = encodeCheckpoint(1);
        buf[bit >> 3] = (buf[bit >> 3] as number) ^ (1 << (bit & 7));
        await writeFile(join(dir, 'checkpoint'), buf);
        await expect(Journal.open({ dir })).rejects.toBeInstanceOf(JournalCorruptError);
      }),
      { numRuns: 40 },
    );
  });

  it('a checkpoint past the end of the log is JournalCorruptError', async () => {
    await writeJournal([Buffer.from('a'), Buffer.from('b')], [2], 1024);
    await writeFile(join(dir, 'checkpoint'), encodeCheckpoint(5));
    await expect(Journal.open({ dir })).rejects.toMatchObject({
      code: 'JOURNAL_CORRUPT',
      file: join(dir, 'checkpoint'),
    });
  });

  it('a leftover checkpoint.tmp from a crash mid-write is ignored and removed', async () => {
    await writeJournal([Buffer.from('a')], [1], 1024);
    await writeFile(join(dir, 'checkpoint.tmp'), Buffer.from('half'));
    const j = await Journal.open({ dir });
    expect(j.checkpointLsn).toBe(0);
    await j.close();
    await expect(readFile(join(dir, 'checkpoint.tmp'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
