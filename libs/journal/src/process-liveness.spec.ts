import { spawn, spawnSync } from 'node:child_process';
import { spawnZombie, type Zombie } from '@jr/testing';
import {
  formatPidFile,
  isProcessAlive,
  isSameProcess,
  ownIdentity,
  parsePidFile,
  processStartTime,
  readProcStat,
} from './process-liveness';

// Found on a machine whose PID 1 reaps orphans late: a restart right after a SIGKILL saw the dead,
// unreaped owner of a pid file as alive (kill(pid, 0) succeeds on a zombie).
describe('process liveness (real processes, /proc)', () => {
  let zombie: Zombie | undefined;
  const children: Array<ReturnType<typeof spawn>> = [];
  afterEach(async () => {
    await zombie?.release();
    zombie = undefined;
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('a zombie is dead although kill(pid, 0) succeeds on it; it is still the same process', async () => {
    zombie = await spawnZombie();
    expect(readProcStat(zombie.pid)?.state).toBe('Z');
    expect(() => process.kill(zombie?.pid ?? -1, 0)).not.toThrow();
    expect(isProcessAlive(zombie.pid, zombie.startTime)).toBe(false);
    expect(isProcessAlive(zombie.pid)).toBe(false);
    expect(isSameProcess(zombie.pid, zombie.startTime)).toBe(true);
  });

  it('a live process is alive under its own start time, not under another (a reused pid)', () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid ?? -1;
    const startTime = processStartTime(pid);
    expect(startTime).toMatch(/^\d+$/);
    expect(isProcessAlive(pid, startTime)).toBe(true);
    expect(isProcessAlive(pid, null)).toBe(true); // a pid file that recorded no start time
    expect(isProcessAlive(pid, String(BigInt(startTime ?? '0') + 1n))).toBe(false);
    expect(isSameProcess(pid, '1')).toBe(false);
  });

  it('a reaped process, and pids that cannot be processes, are not alive', () => {
    const gone = spawnSync('true').pid;
    expect(isProcessAlive(gone)).toBe(false);
    expect(isSameProcess(gone, null)).toBe(false);
    for (const pid of [0, -1, 1.5, Number.NaN, 2 ** 53])
      expect([pid, isProcessAlive(pid), isSameProcess(pid, null)]).toEqual([pid, false, false]);
  });

  it('pid files: "<pid> <start time>", the older "<pid>", anything else unreadable', () => {
    const me = ownIdentity();
    expect(me).toEqual({ pid: process.pid, startTime: expect.stringMatching(/^\d+$/) });
    expect(parsePidFile(formatPidFile(me))).toEqual(me);
    expect(formatPidFile({ pid: 42, startTime: null })).toBe('42\n');
    expect(parsePidFile('42\n')).toEqual({ pid: 42, startTime: null });
    for (const bad of [
      '',
      '\n',
      'abc',
      '-1',
      '0',
      '42 x',
      '42 1 2',
      '4'.repeat(11),
      '42\u0000',
      '\ud800',
      `42 ${'9'.repeat(21)}`,
    ])
      expect([bad, parsePidFile(bad)]).toEqual([bad, undefined]);
  });
});
