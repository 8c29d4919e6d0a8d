import fc from 'fast-check';
import { Journal } from './journal';
import { layout, readAll, removeDir, tempDir } from './testing/journal-fixtures';

/**
 * Model-based: random sequences of concurrent appends, checkpoints, reads and reopens, checked
 * against a plain array after every step.
 */
type Op =
  | { t: 'append'; datas: Uint8Array[] }
  | { t: 'checkpoint'; frac: number }
  | { t: 'read'; frac: number }
  | { t: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      datas: fc.array(fc.uint8Array({ maxLength: 150 }), { minLength: 1, maxLength: 12 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('checkpoint' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('read' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

interface Model {
  records: Buffer[];
  cp: number;
}

// property runs do real fsyncs: on a loaded disk they take far longer than jest's 5 s default
jest.setTimeout(60_000);

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

async function step(j: Journal, op: Op, model: Model, reopen: () => Promise<Journal>): Promise<Journal> {
  switch (op.t) {
    case 'append': {
      const lsns = await Promise.all(op.datas.map((d) => j.append(Buffer.from(d))));
      expect(lsns).toEqual(op.datas.map((_, i) => model.records.length + 1 + i));
      model.records.push(...op.datas.map((d) => Buffer.from(d)));
      return j;
    }
    case 'checkpoint': {
      const k = Math.floor(op.frac * model.records.length);
      await j.checkpoint(k);
      model.cp = Math.max(model.cp, k);
      return j;
    }
    case 'read':
      await checkRead(j, Math.floor(op.frac * model.records.length), model);
      return j;
    case 'reopen':
      await j.close();
      return reopen();
  }
}

/** Everything above max(after, checkpoint) is there; below the checkpoint, deleted segments may be skipped. */
async function checkRead(j: Journal, after: number, model: Model): Promise<void> {
  const got = await readAll(j, after);
  const len = model.records.length;
  if (got.length === 0) {
    expect(Math.max(after, model.cp)).toBe(len);
    return;
  }
  const first = (got[0] as { lsn: number }).lsn;
  expect(first).toBeGreaterThan(after);
  expect(first).toBeLessThanOrEqual(Math.max(after, model.cp) + 1);
  expect(got).toEqual(model.records.slice(first - 1).map((data, i) => ({ lsn: first + i, data })));
}

async function checkInvariants(j: Journal, model: Model): Promise<void> {
  expect(j.lastLsn).toBe(model.records.length);
  expect(j.checkpointLsn).toBe(model.cp);
  const segs = await layout(dir);
  expect(j.stats.segments).toBe(segs.length);
  expect(j.stats.bytes).toBe(segs.reduce((sum, s) => sum + s.size, 0));
  const unapplied = segs
    .filter((s) => s.firstLsn + s.records.length - 1 > model.cp)
    .reduce((sum, s) => sum + s.size, 0);
  expect(j.stats.unappliedBytes).toBe(unapplied);
  // only the active segment may be wholly at or below the checkpoint
  segs.slice(0, -1).forEach((s) => expect(s.firstLsn + s.records.length - 1).toBeGreaterThan(model.cp));
}

describe('journal against a model', () => {
  it('agrees with an array under random appends, checkpoints, reads and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 25, max: 800 }),
        async (ops, segmentMaxBytes) => {
          await removeDir(dir);
          const reopen = (): Promise<Journal> => Journal.open({ dir, segmentMaxBytes });
          const model: Model = { records: [], cp: 0 };
          let j = await reopen();
          try {
            for (const op of ops) {
              j = await step(j, op, model, reopen);
              await checkInvariants(j, model);
            }
          } finally {
            await j.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
