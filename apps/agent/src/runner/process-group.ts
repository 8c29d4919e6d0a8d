import { readdir, readFile } from 'node:fs/promises';

/**
 * Process-group helpers. Every step is spawned `detached` (its own session and group, pgid = pid),
 * so `kill(-pgid)` reaches the whole tree unless a process escaped with setsid (only cgroups catch
 * those).
 */

/**
 * Sends `signal` to every process of the group; false when the group no longer exists. Never throws:
 * EPERM (a member changed its uid) still means the group exists.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

interface ProcEntry {
  pid: number;
  pgid: number;
  state: string;
}

/** Linux: the group's members from /proc (async, no sync I/O). Undefined where /proc is absent. */
export async function groupMembers(pgid: number): Promise<ProcEntry[] | undefined> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return undefined;
  }
  const entries = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => readStat(Number(n))));
  return entries.filter((e): e is ProcEntry => e !== undefined && e.pgid === pgid);
}

async function readStat(pid: number): Promise<ProcEntry | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0] ?? '?', pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/**
 * True while a process of the group is alive. `kill(-pgid, 0)` answers ESRCH once the group is empty;
 * where it does not (zombies nobody reaps, e.g. under a PID 1 that never waits), /proc tells whether
 * any member is more than a zombie.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  const members = await groupMembers(pgid);
  if (members === undefined) return true;
  return members.some((m) => m.state !== 'Z' && m.state !== 'X');
}

/**
 * SIGKILLs the group's members other than `leaderPid` first and gives a leader that waits for its
 * children a moment (`reapWaitMs`) to reap them, so no orphan is left as a zombie for a PID 1 that
 * may never wait; then SIGKILLs the whole group.
 */
export async function killGroupLeavesFirst(pgid: number, leaderPid: number, reapWaitMs = 250): Promise<void> {
  const leaves = ((await groupMembers(pgid)) ?? []).filter((m) => m.pid !== leaderPid);
  for (const m of leaves) {
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + reapWaitMs;
  while (leaves.length > 0 && Date.now() < deadline) {
    const left = ((await groupMembers(pgid)) ?? []).filter((m) => m.pid !== leaderPid);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  signalGroup(pgid, 'SIGKILL');
}

/**
 * SIGKILLs the group until nothing of it is alive, polling every `pollMs` up to `timeoutMs`.
 * Resolves true when the group is gone.
 */
export async function ensureGroupGone(pgid: number, { timeoutMs = 5_000, pollMs = 25 } = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    signalGroup(pgid, 'SIGKILL');
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
