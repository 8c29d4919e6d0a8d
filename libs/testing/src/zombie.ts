import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readProcStat } from '@jr/journal';
import { waitFor } from './wait';

export interface Zombie {
  /** The zombie's pid: dead, not reaped, still in /proc with state Z. */
  pid: number;
  /** Its start time (field 22 of /proc/<pid>/stat), as a pid file would have recorded it. */
  startTime: string;
  /** The parent that never waits for it. */
  parent: ChildProcess;
  /** Kills the parent; the zombie is then reparented to PID 1 (which reaps it, soon or late). */
  release(): Promise<void>;
}

/**
 * A real zombie (Linux): `sh -c 'sleep 0 & exec sleep N'`. The shell's background child exits at once,
 * and its parent, the shell turned into `sleep` by exec, never waits for it, so it stays a zombie for
 * N seconds, `kill(pid, 0)` succeeding on it all along, exactly as a SIGKILLed process does under a
 * PID 1 that reaps late.
 */
export async function spawnZombie(holdSeconds = 60): Promise<Zombie> {
  const parent = spawn('/bin/sh', ['-c', `sleep 0 & exec sleep ${holdSeconds}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => parent.once('exit', () => resolve()));
  const release = async (): Promise<void> => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    await exited;
  };
  try {
    const found = await waitFor(
      () => {
        for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          const s = readProcStat(Number(name));
          if (s && s.ppid === parent.pid && s.state === 'Z') return { pid: Number(name), startTime: s.startTime };
        }
        return undefined;
      },
      { timeoutMs: 10_000, intervalMs: 10, what: `a zombie child of ${parent.pid}` },
    );
    return { ...found, parent, release };
  } catch (err) {
    await release();
    throw err;
  }
}
