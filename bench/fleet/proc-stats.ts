import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** CPU and memory of another process, read from /proc (Linux). */

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds the process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which is in parentheses and may contain spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** Resident set size in MiB (NaN once the process is gone). */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The soft and hard `nofile` limits of a running process. */
export function openFileLimit(pid: number): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined): number =>
    s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s);
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * Makes sure a running process may open `needed` files, raising its soft limit (and, as root, the hard
 * one) with prlimit(1). Returns what was done, for the report.
 */
export function ensureOpenFiles(pid: number, needed: number): string {
  const { soft, hard } = openFileLimit(pid);
  if (soft >= needed) return `nofile ${soft} (enough for ${needed})`;
  const target = Math.max(needed, soft);
  try {
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${target}:${Math.max(hard, target)}`], { stdio: 'ignore' });
    return `nofile raised ${soft} -> ${target} with prlimit`;
  } catch (err) {
    return `nofile ${soft}/${hard} is below ${needed} and prlimit failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** How many of the process's open files are sockets (one per agent connection, plus a few). */
export function socketCount(pid: number): number {
  let n = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return n;
}
