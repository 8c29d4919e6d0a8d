import * as fs from 'node:fs';
import * as path from 'node:path';
import { groupHasLiveMembers, isSameProcess, processStartTime, readProcStat } from '@jr/journal';
import { ensureGroupGone, signalGroup } from './process-group';

/**
 * Steps run in process groups of their own (`detached`), so they outlive an agent that is SIGKILLed
 * (OOM killer, `kill -9`, a crash): the job is then leased again elsewhere while the old run goes on,
 * two copies of one job at once. Every running step's group is therefore recorded in
 * `$JR_DATA_DIR/steps/<pgid>` (with the leader's start time, so a reused pid is never taken for it),
 * and the next agent on this data directory kills what is still there before it leases anything.
 */
export function recordStep(dir: string, pgid: number): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dir, String(pgid)), JSON.stringify({ pgid, startTime: processStartTime(pgid) ?? null }));
  } catch {
    // Best effort: a step must not fail because its bookkeeping could not be written.
  }
}

export function forgetStep(dir: string, pgid: number): void {
  fs.rmSync(path.join(dir, String(pgid)), { force: true });
}

/**
 * Kills the process groups of steps a previous incarnation left running (only those that still are
 * the recorded group, see stillOurs); returns their pgids. Call once at start-up, as the data directory's owner.
 */
export async function reapOrphanedSteps(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const reaped: number[] = [];
  for (const name of names) {
    const rec = readRecord(path.join(dir, name));
    if (
      rec &&
      rec.startTime !== null &&
      (await stillOurs(rec.pgid, rec.startTime)) &&
      signalGroup(rec.pgid, 'SIGKILL')
    ) {
      await ensureGroupGone(rec.pgid);
      reaped.push(rec.pgid);
    }
    fs.rmSync(path.join(dir, name), { force: true });
  }
  return reaped;
}

/**
 * The recorded group is still there: its leader is the same process (zombie or not), or the leader
 * is gone (reaped) while members of its group run on, as `sh -c 'server &'` leaves them. A pid is
 * not handed out again while it names a live group, so such a group is the recorded one.
 */
async function stillOurs(pgid: number, startTime: string): Promise<boolean> {
  if (readProcStat(pgid) === undefined) return groupHasLiveMembers(pgid);
  return isSameProcess(pgid, startTime);
}

function readRecord(file: string): { pgid: number; startTime: string | null } | undefined {
  try {
    const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as { pgid?: unknown; startTime?: unknown };
    if (typeof rec.pgid !== 'number' || !Number.isInteger(rec.pgid) || rec.pgid <= 1) return undefined;
    return { pgid: rec.pgid, startTime: typeof rec.startTime === 'string' ? rec.startTime : null };
  } catch {
    return undefined;
  }
}
