import type { Logger } from '../common/logger';
import { DutyLoop } from './duty-loop';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLog(): { log: Logger; warned: number; recovered: number } {
  const r = { warned: 0, recovered: 0, log: undefined as unknown as Logger };
  r.log = { warn: () => void r.warned++, info: () => void r.recovered++ } as unknown as Logger;
  return r;
}

describe('DutyLoop', () => {
  it('runs passes one after another, logs a failing streak once, and says when it recovered', async () => {
    const rec = recordingLog();
    let n = 0;
    let concurrent = 0;
    let most = 0;
    const loop = new DutyLoop(
      'test',
      5,
      async () => {
        concurrent++;
        most = Math.max(most, concurrent);
        await sleep(2);
        concurrent--;
        n++;
        if (n >= 2 && n <= 4) throw new Error('down');
      },
      rec.log,
    );
    loop.start();
    await sleep(150);
    await loop.stop();
    expect(n).toBeGreaterThanOrEqual(6);
    expect(most).toBe(1);
    expect({ warned: rec.warned, recovered: rec.recovered }).toEqual({ warned: 1, recovered: 1 });
  });

  it('stop() waits for the pass in flight and starts no other', async () => {
    const rec = recordingLog();
    let ended = 0;
    let started = 0;
    const loop = new DutyLoop(
      'test',
      1,
      async () => {
        started++;
        await sleep(30);
        ended++;
      },
      rec.log,
    );
    loop.start();
    await sleep(10);
    await loop.stop();
    expect(loop.stopped).toBe(true);
    expect(ended).toBe(started);
    await sleep(20);
    expect(started).toBe(ended);
  });
});
