import { groupHasLiveMembers, processGroupMembers } from '@jr/journal';

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

/** Linux: the group's members (zombies included) from /proc (async, no sync I/O). Undefined where /proc is absent. */
export const groupMembers = processGroupMembers;

/**
 * True while a process of the group is alive. `kill(-pgid, 0)` answers ESRCH once the group is empty;
 * where it does not (zombies nobody reaps, e.g. under a PID 1 that never waits), /proc tells whether
 * any member is more than a zombie.
 */
export const groupAlive = groupHasLiveMembers;

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
