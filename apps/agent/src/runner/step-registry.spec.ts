import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { groupAlive } from './process-group';
import { tempDir } from './runner.test-helper';
import { runStepProcess } from './step-process';
import { processStartTime, readProcStat } from '@jr/journal';
import { forgetStep, reapOrphanedSteps, recordStep } from './step-registry';

// Found by the chaos soak (seed 4242): a SIGKILLed agent's steps ran on beside their re-lease.
describe('step registry (real process groups)', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  const spawned: number[] = [];
  beforeEach(async () => (work = await tempDir('steps')));
  afterEach(async () => {
    for (const pgid of spawned.splice(0)) if (await groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    await work.remove();
  });

  /** A step left behind: a detached shell with a child, as a dead agent leaves it. */
  function orphan(): number {
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    child.unref();
    spawned.push(child.pid ?? -1);
    return child.pid ?? -1;
  }

  it('kills at start-up the whole group of a step a previous agent left running', async () => {
    const dir = path.join(work.dir, 'steps');
    const pgid = orphan();
    recordStep(dir, pgid);
    expect(await groupAlive(pgid)).toBe(true);
    expect(await reapOrphanedSteps(dir)).toEqual([pgid]);
    expect(await groupAlive(pgid)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('never kills a process that merely reuses a recorded pid (start time differs), and drops the record', async () => {
    const dir = path.join(work.dir, 'steps');
    const pgid = orphan();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, String(pgid)), JSON.stringify({ pgid, startTime: '1' }));
    expect(await reapOrphanedSteps(dir)).toEqual([]);
    expect(await groupAlive(pgid)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('kills the rest of a recorded group whose leader has exited and been reaped meanwhile', async () => {
    const dir = path.join(work.dir, 'steps');
    const leader = spawn('/bin/sh', ['-c', 'sleep 30 & sleep 0.2'], { detached: true, stdio: 'ignore' });
    const pgid = leader.pid ?? -1;
    spawned.push(pgid);
    recordStep(dir, pgid);
    await new Promise((resolve) => leader.once('exit', resolve)); // reaped by us, its child runs on in its group
    expect(readProcStat(pgid)).toBeUndefined();
    expect(await groupAlive(pgid)).toBe(true);
    expect(await reapOrphanedSteps(dir)).toEqual([pgid]);
    expect(await groupAlive(pgid)).toBe(false);
  });

  it('records a running step and forgets it once its group is gone', async () => {
    const dir = path.join(work.dir, 'steps');
    const result = await runStepProcess({
      command: { kind: 'shell', script: 'sleep 0.3' },
      cwd: work.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 0,
      killGraceMs: 200,
      signal: new AbortController().signal,
      registryDir: dir,
      onOutput: () => undefined,
    });
    const seen = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    expect(result.exitCode).toBe(0);
    expect(seen).toEqual([]);
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    forgetStep(dir, 12345); // forgetting an unknown step is harmless
  });
});
