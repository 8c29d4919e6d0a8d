import * as fs from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

/**
 * Is the process a pid file names still the one that wrote it? `kill(pid, 0)` alone is fooled twice:
 * it succeeds on a zombie (dead, not yet reaped: common where PID 1 reaps orphans late or never, as in
 * containers without an init), and on an unrelated process that reused the pid. On Linux the answer
 * therefore comes from /proc/<pid>/stat: its state (Z/X: dead) and its start time (field 22, clock
 * ticks since boot), which a pid file records beside the pid. Without /proc (or where /proc hides
 * other users' processes), `kill(pid, 0)` is the portable fallback.
 *
 * One place for the API's data-dir lock, the agent's step registry and the test helpers.
 */

/** What a pid file records: the pid, and its start time where /proc tells it (null otherwise). */
export interface ProcessIdentity {
  pid: number;
  startTime: string | null;
}

/** The fields of /proc/<pid>/stat this module reads. */
export interface ProcStat {
  pid: number;
  /** R, S, D, T, t, Z (zombie), X (dead), I, ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Clock ticks since boot, as text (it may exceed 2^53 on a machine up for long enough). */
  startTime: string;
}

/** Parses one /proc/<pid>/stat line; undefined when it is not one. */
export function parseProcStat(pid: number, text: string): ProcStat | undefined {
  // "pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22)": comm may hold spaces and
  // parentheses, so the fields are counted after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  const [state, ppid, pgid, startTime] = [fields[0], Number(fields[1]), Number(fields[2]), fields[19]];
  if (!state || !Number.isInteger(ppid) || !Number.isInteger(pgid) || !startTime || !/^\d+$/.test(startTime))
    return undefined;
  return { pid, state, ppid, pgid, startTime };
}

const validPid = (pid: number): boolean => Number.isSafeInteger(pid) && pid > 0;

/** /proc/<pid>/stat; undefined without /proc, or once the process is gone (reaped). */
export function readProcStat(pid: number): ProcStat | undefined {
  if (!validPid(pid)) return undefined;
  try {
    return parseProcStat(pid, fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The process's start time (field 22 of /proc/<pid>/stat); undefined without /proc or process. */
export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/** This process as a pid file should record it. */
export function ownIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? null };
}

const isDead = (state: string): boolean => state === 'Z' || state === 'X' || state === 'x';

/** kill(pid, 0): ESRCH is gone, EPERM exists (another user's). */
function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while `pid` is the very process recorded (its start time matches `startTime`), dead or alive:
 * a zombie still is that process and still holds its pid (and its process group id). Without a
 * recorded start time, or without /proc, it can only be taken on trust: true while the pid exists.
 */
export function isSameProcess(pid: number, startTime: string | null | undefined): boolean {
  if (!validPid(pid)) return false;
  const stat = readProcStat(pid);
  if (stat) return startTime === null || startTime === undefined || stat.startTime === startTime;
  return signalable(pid);
}

/**
 * True while `pid` runs and is the process recorded: /proc/<pid>/stat exists, its state is not
 * Z/X (a zombie is dead, merely not reaped yet) and its start time is `startTime` (when recorded).
 * Where /proc does not show the process (no /proc, or hidepid), `kill(pid, 0)` decides.
 */
export function isProcessAlive(pid: number, startTime?: string | null): boolean {
  if (!validPid(pid)) return false;
  const stat = readProcStat(pid);
  if (stat)
    return !isDead(stat.state) && (startTime === null || startTime === undefined || stat.startTime === startTime);
  return signalable(pid);
}

/** Linux: the members of process group `pgid` (zombies included) from /proc; undefined without /proc. */
export async function processGroupMembers(pgid: number): Promise<ProcStat[] | undefined> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return undefined;
  }
  const stats = await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        try {
          return parseProcStat(Number(n), await readFile(`/proc/${n}/stat`, 'utf8'));
        } catch {
          return undefined; // gone meanwhile
        }
      }),
  );
  return stats.filter((s): s is ProcStat => s !== undefined && s.pgid === pgid);
}

/** True while a member of the group is more than a zombie. */
export async function groupHasLiveMembers(pgid: number): Promise<boolean> {
  if (!validPid(pgid)) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const members = await processGroupMembers(pgid);
  return members === undefined || members.some((m) => !isDead(m.state));
}

/** The synchronous form of groupHasLiveMembers, for callers that cannot wait (test helpers). */
export function groupHasLiveMembersSync(pgid: number): boolean {
  if (!validPid(pgid)) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  return names.some((n) => {
    if (!/^\d+$/.test(n)) return false;
    const s = readProcStat(Number(n));
    return s !== undefined && s.pgid === pgid && !isDead(s.state);
  });
}

/** A pid file's text: "<pid> <start time>\n" (or "<pid>\n" where the start time is unknown). */
export function formatPidFile(id: ProcessIdentity): string {
  return id.startTime === null ? `${id.pid}\n` : `${id.pid} ${id.startTime}\n`;
}

/** Reads what formatPidFile wrote (and the older "<pid>\n"); undefined for anything else. */
export function parsePidFile(text: string): ProcessIdentity | undefined {
  const m = /^(\d{1,10})(?: (\d{1,20}))?$/.exec(text.trim());
  if (!m) return undefined;
  const pid = Number(m[1]);
  return validPid(pid) ? { pid, startTime: m[2] ?? null } : undefined;
}
