import { Journal } from '@jr/journal';
import { readAll, removeDir, tempDir } from '../../../libs/journal/src/testing/journal-fixtures';

describe('journal group commit on a real disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir('jr-journal-gc-');
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('64 concurrent appenders share fsyncs: far fewer fsyncs than appends, every append durable and in order', async () => {
    const journal = await Journal.open({ dir, segmentMaxBytes: 256 * 1024 });
    const startFsyncs = journal.stats.fsyncs;
    const perWriter = 100;
    const byWriter = await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        const lsns: number[] = [];
        for (let k = 0; k < perWriter; k++) lsns.push(await journal.append(Buffer.from(`w${w}:${k}`)));
        return lsns;
      }),
    );
    const { appends, fsyncs } = journal.stats;
    expect(appends).toBe(64 * perWriter);
    expect(fsyncs - startFsyncs).toBeLessThan(appends);
    expect(fsyncs - startFsyncs).toBeLessThan(appends / 4); // 64 writers => batches of many records
    // each writer's appends got increasing LSNs, and together they are exactly 1..6400
    byWriter.forEach((lsns) => expect([...lsns].sort((a, b) => a - b)).toEqual(lsns));
    expect(byWriter.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: appends }, (_, i) => i + 1));
    await journal.close();

    const reopened = await Journal.open({ dir });
    const all = await readAll(reopened);
    expect(all.length).toBe(appends);
    byWriter.forEach((lsns, w) => lsns.forEach((lsn, k) => expect(all[lsn - 1]?.data.toString()).toBe(`w${w}:${k}`)));
    await reopened.close();
  });
});
