/** A process's CPU time and resident memory from /proc (Linux). */
import * as fs from 'node:fs';

/** CPU time used so far by all the process's threads, in ms: their schedstat (ns), else utime+stime ticks. */
export function cpuTimeMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      // A thread may end between the listing and the read: it no longer counts, like the kernel's own sum.
      const text = readOrEmpty(`/proc/${pid}/task/${tid}/schedstat`);
      if (text !== '') ns += Number(text.split(' ')[0]);
    }
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6;
  } catch {
    // no schedstat on this kernel: fall back to the tick counters
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3); utime and stime are fields 14 and 15; 100 ticks/s on Linux.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

export interface Footprint {
  rssMeanMiB: number;
  rssMaxMiB: number;
  cpuPercent: number;
  seconds: number;
}

/** Samples each pid's RSS every second for `seconds` and its CPU time over the whole window. */
export async function sampleFootprints(pids: readonly number[], seconds: number): Promise<Footprint[]> {
  const started = performance.now();
  const cpu0 = pids.map(cpuTimeMs);
  const rss: number[][] = pids.map(() => []);
  for (;;) {
    pids.forEach((pid, i) => rss[i]!.push(rssMiB(pid)));
    const left = seconds * 1_000 - (performance.now() - started);
    if (left <= 0) break;
    await new Promise((r) => setTimeout(r, Math.min(1_000, left)));
  }
  const elapsedMs = performance.now() - started;
  return pids.map((pid, i) => {
    const series = rss[i]!;
    return {
      rssMeanMiB: series.reduce((a, b) => a + b, 0) / series.length,
      rssMaxMiB: Math.max(...series),
      cpuPercent: ((cpuTimeMs(pid) - cpu0[i]!) / elapsedMs) * 100,
      seconds: elapsedMs / 1_000,
    };
  });
}
