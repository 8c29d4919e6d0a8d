import { Journal } from './journal';
import { capturingLogger, removeDir, tempDir } from './testing/journal-fixtures';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

describe('onSync hook', () => {
  it('reports one finite, non-negative duration per batch fdatasync', async () => {
    const seconds: number[] = [];
    const j = await Journal.open({ dir, logger: capturingLogger(), onSync: (s) => seconds.push(s) });
    await j.append(Buffer.from('one'));
    await Promise.all([j.append(Buffer.from('two')), j.append(Buffer.from('three'))]);
    await j.close();
    expect(seconds.length).toBeGreaterThanOrEqual(2);
    expect(seconds.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
  });

  it('a throwing hook does not fail appends', async () => {
    const j = await Journal.open({
      dir,
      logger: capturingLogger(),
      onSync: () => {
        throw new Error('metrics broke');
      },
    });
    await expect(j.append(Buffer.from('x'))).resolves.toBe(1);
    await j.close();
  });

  it('is not called when fsync is off, and a non-function is refused', async () => {
    const calls: number[] = [];
    const j = await Journal.open({ dir, logger: capturingLogger(), fsync: false, onSync: (s) => calls.push(s) });
    await j.append(Buffer.from('x'));
    await j.close();
    expect(calls).toEqual([]);
    await expect(Journal.open({ dir, onSync: 5 as unknown as () => void })).rejects.toThrow(
      /onSync must be a function/,
    );
  });
});
