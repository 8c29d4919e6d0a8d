import * as fs from 'node:fs';

/** One line of the marker file: a step of `jobId`'s attempt started or ended (with its exit code). */
export interface RunMark {
  jobId: string;
  attempt: number;
  what: 'start' | 'end';
  rc: number;
  atMs: number;
}

/** Every attempt's marks, by job id then attempt number. */
export type RunsByJob = Map<string, Map<number, RunMark[]>>;

export function readRuns(marker: string): RunsByJob {
  const out: RunsByJob = new Map();
  const text = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [jobId, attempt, what, rc, atMs] = line.trim().split(' ');
    if (!jobId || (what !== 'start' && what !== 'end')) continue;
    const byAttempt = out.get(jobId) ?? new Map<number, RunMark[]>();
    out.set(jobId, byAttempt);
    const marks = byAttempt.get(Number(attempt)) ?? [];
    byAttempt.set(Number(attempt), marks);
    marks.push({ jobId, attempt: Number(attempt), what, rc: Number(rc), atMs: Number(atMs) });
  }
  return out;
}
