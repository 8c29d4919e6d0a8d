import { KeyedSerial } from './keyed-serial';

describe('KeyedSerial', () => {
  it('runs tasks of one key one at a time, in order, and other keys beside them', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string) => async () => {
      running += 1;
      most = Math.max(most, running);
      log.push(`start ${name}`);
      await new Promise((r) => setImmediate(r));
      log.push(`end ${name}`);
      running -= 1;
      return name;
    };
    const results = await Promise.all([
      serial.run('a', task('a1')),
      serial.run('a', task('a2')),
      serial.run('b', task('b1')),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    expect(most).toBe(2);
  });

  it('goes on after a failed task and forgets idle keys', async () => {
    const serial = new KeyedSerial();
    const failed = serial.run('a', () => Promise.reject(new Error('boom')));
    const next = serial.run('a', () => Promise.resolve('next'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
    await new Promise((r) => setImmediate(r));
    expect(serial.size).toBe(0);
  });
});
