import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Journal } from './journal';
import {
  appendInGroups,
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

describe('checkpoint', () => {
  it('deletes exactly the segments wholly at or below it; reopen returns only later records from readFrom(checkpointLsn)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 30, max: 600 }),
        fc.nat(),
        async (records, segmentMaxBytes, cpSeed) => {
          await removeDir(dir);
          const j = await Journal.open({ dir, segmentMaxBytes });
          await appendInGroups(j, records, [4, 1, 7]);
          const before = await layout(dir);
          const cp = cpSeed % (records.length + 1);
          await j.checkpoint(cp);
          expect(j.checkpointLsn).toBe(cp);

          const lastOf = (s: LaidOutSegment): number => s.firstLsn + s.records.length - 1;
          const kept = before.filter((s, i) => i === before.length - 1 || lastOf(s) > cp);
          const after = await layout(dir);
          expect(after.map((s) => s.path)).toEqual(kept.map((s) => s.path));
          const unapplied = kept.filter((s) => lastOf(s) > cp).reduce((sum, s) => sum + s.size, 0);
          expect(j.stats).toMatchObject({ segments: kept.length, unappliedBytes: unapplied });

          await j.checkpoint(Math.max(0, cp - 1)); // lower values are ignored
          expect(j.checkpointLsn).toBe(cp);
          await j.close();

          const k = await Journal.open({ dir, segmentMaxBytes });
          expect(k.checkpointLsn).toBe(cp);
          expect(await readAll(k, k.checkpointLsn)).toEqual(expectedRecords(records, cp + 1));
          const fromZero = await readAll(k, 0);
          expect(fromZero.at(-1)?.lsn ?? 0).toBe(records.length);
          expect(fromZero[0]?.lsn ?? 1).toBeLessThanOrEqual(cp + 1);
          await k.close();
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a wholly checkpointed active segment is replaced by a fresh one on the next append and deleted', async () => {
    const j = await Journal.open({ dir });
    for (let i = 0; i < 5; i++) await j.append(Buffer.from(`r${i}`));
    await j.checkpoint(5);
    expect(j.stats.unappliedBytes).toBe(0);
    expect(await j.append(Buffer.from('next'))).toBe(6);
    expect((await readdir(dir)).filter((n) => n.startsWith('seg-'))).toEqual(['seg-0000000000000006.log']);
    await j.close();
    const k = await Journal.open({ dir });
    expect(await readAll(k, 5)).toEqual([{ lsn: 6, data: Buffer.from('next') }]);
    await k.close();
  });

  it('serializes concurrent checkpoints and keeps the highest', async () => {
    const j = await Journal.open({ dir, segmentMaxBytes: 64 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => j.append(Buffer.from(`r${i}`))));
    await Promise.all([j.checkpoint(10), j.checkpoint(25), j.checkpoint(5), j.checkpoint(20)]);
    expect(j.checkpointLsn).toBe(25);
    await j.close();
    const k = await Journal.open({ dir, segmentMaxBytes: 64 });
    expect(k.checkpointLsn).toBe(25);
    expect((await readAll(k, 25)).map((r) => r.lsn)).toEqual([26, 27, 28, 29, 30]);
    await k.close();
  });

  it('segments a crash left below the checkpoint (with a gap between them) are removed at open', async () => {
    const records = Array.from({ length: 12 }, (_, i) => Buffer.from(`record-${i}`));
    const j = await Journal.open({ dir, segmentMaxBytes: 60 });
    await appendInGroups(j, records, [1]);
    const segs = await layout(dir);
    const first = segs[0] as LaidOutSegment;
    await copyFile(first.path, `${first.path}.keep`);
    const cp = (segs[3] as LaidOutSegment).firstLsn - 1;
    await j.checkpoint(cp);
    await j.close();
    // as if the crash hit after the checkpoint rename but before the first unlink reached the disk
    await copyFile(`${first.path}.keep`, first.path);

    const k = await Journal.open({ dir, segmentMaxBytes: 60 });
    expect(k.recovery.staleSegmentsRemoved).toBe(1);
    expect((await readdir(dir)).includes(first.path.split('/').at(-1) as string)).toBe(false);
    expect(await readAll(k, cp)).toEqual(expectedRecords(records, cp + 1));
    await k.close();
  });

  it('a reader started before a checkpoint deleted its segments finishes without error or gaps', async () => {
    const j = await Journal.open({ dir, segmentMaxBytes: 50 });
    const records = Array.from({ length: 40 }, (_, i) => Buffer.from(`r${i}`));
    await appendInGroups(j, records, [5]);
    const seen: number[] = [];
    for await (const r of j.readFrom(0)) {
      seen.push(r.lsn);
      expect(r.data).toEqual(records[r.lsn - 1]);
      if (r.lsn === 3) await j.checkpoint(30);
    }
    // records at or below the checkpoint may be skipped once deleted; everything above it is there, in order
    expect(seen.filter((lsn) => lsn > 30)).toEqual(Array.from({ length: 10 }, (_, i) => 31 + i));
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect((await readdir(dir)).some((n) => n === join('seg-0000000000000001.log'))).toBe(false);
    await j.close();
  });
});
