import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processStartTime } from '@jr/journal';
import { spawnZombie, type Zombie } from '@jr/testing';
import { DataDirInUseError, lockDataDir } from './data-dir-lock';

// Found by a restart right after a SIGKILL, where PID 1 reaps late: "JR_DATA_DIR … is in use by
// jr-api pid N" for a pid that was dead (a zombie), or had been reused by another process.
describe('data-dir lock: its owner counts only while that very process runs', () => {
  let dir: string;
  let zombie: Zombie | undefined;
  const children: Array<ReturnType<typeof spawn>> = [];
  const lockFile = (): string => path.join(dir, 'jr-api.lock');
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'jr-lock-'))));
  afterEach(async () => {
    await zombie?.release();
    zombie = undefined;
    for (const c of children.splice(0)) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function liveProcess(): { pid: number; startTime: string } {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid ?? -1;
    return { pid, startTime: processStartTime(pid) ?? '' };
  }

  it('records our pid and start time, and refuses a second lock while held', async () => {
    const lock = await lockDataDir(dir);
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirInUseError);
    await lock.release();
    await (await lockDataDir(dir)).release();
  });

  it('takes over the lock of an owner that is a zombie (SIGKILLed, not yet reaped)', async () => {
    zombie = await spawnZombie();
    writeFileSync(lockFile(), `${zombie.pid} ${zombie.startTime}\n`);
    const lock = await lockDataDir(dir);
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${process.pid} ${processStartTime(process.pid)}\n`);
    await lock.release();
  });

  it('takes over the lock of an owner whose pid now belongs to another process (start time differs)', async () => {
    const other = liveProcess();
    writeFileSync(lockFile(), `${other.pid} ${BigInt(other.startTime) + 1n}\n`);
    await (await lockDataDir(dir)).release();
  });

  it('refuses while the owner really runs, naming it (with or without a recorded start time)', async () => {
    const owner = liveProcess();
    for (const text of [`${owner.pid} ${owner.startTime}\n`, `${owner.pid}\n`]) {
      writeFileSync(lockFile(), text);
      await expect(lockDataDir(dir)).rejects.toThrow(
        `JR_DATA_DIR ${dir} is in use by jr-api pid ${owner.pid}: two processes on one data directory would corrupt its journals`,
      );
      expect(readFileSync(lockFile(), 'utf8')).toBe(text);
    }
  });

  it('a lock file that is not one (empty, garbage) is stale', async () => {
    for (const text of ['', 'garbage\n', '\u0000\u0000']) {
      writeFileSync(lockFile(), text);
      await (await lockDataDir(dir)).release();
    }
  });
});
