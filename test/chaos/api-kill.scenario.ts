import { Stack, waitFor } from '@jr/testing';
import {
  crashAndRestartApi,
  crashAtProgress,
  expectEveryJobRanOnce,
  jobsOf,
  markerFile,
  markerJob,
  randomPoints,
  submitAll,
  waitAllTerminal,
} from './scenarios';

export interface ApiKillOptions {
  jobs: number;
  concurrency: number;
  /** SIGKILLs during the burst of submissions (at random points of it). */
  burstCrashes: number;
  /** SIGKILLs while the jobs run (at random points of their completion). */
  runCrashes: number;
  agents: number;
  slots: number;
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface ApiKillResult {
  crashes: number;
  /** Of those, during the burst (a fast burst can end before every planned crash; the rest happen while the jobs run). */
  burstCrashes: number;
  runs: number;
  retriedSubmissions: number;
  failures: string[];
}

/**
 * SIGKILL jr-api at random moments during a burst of concurrent submissions and while the jobs run,
 * restart it each time; every acknowledged job must reach `succeeded` on a real agent and run once.
 */
export async function apiKillScenario(o: ApiKillOptions): Promise<ApiKillResult> {
  const stack = new Stack('1s');
  await stack.start();
  try {
    for (let i = 0; i < o.agents; i++) await stack.startAgent(`worker-${i}`, { slots: o.slots });
    const marker = markerFile(stack, 'api-kill');
    let acked = 0;
    let submitted = false;
    const burstPoints = randomPoints(o.burstCrashes, Math.floor(o.jobs * 0.1), Math.floor(o.jobs * 0.9));
    const crashing = crashAtProgress(
      stack,
      burstPoints,
      () => acked,
      () => submitted,
      o.log,
      o.jobs / 5,
    );
    const subs = await submitAll(stack, o.jobs, {
      concurrency: o.concurrency,
      keyPrefix: 'burst',
      body: (i) => markerJob(marker, 'default', i),
      onAck: (n) => (acked = n),
    });
    submitted = true;
    const burstCrashes = await crashing;
    let crashes = burstCrashes;
    o.log?.(`${subs.length} submissions acknowledged (${burstCrashes} crashes during the burst)`);
    const runCrashes = o.runCrashes + (o.burstCrashes - burstCrashes);
    for (const point of randomPoints(runCrashes, Math.floor(o.jobs * 0.2), Math.floor(o.jobs * 0.8)).sort(
      (a, b) => a - b,
    )) {
      await waitFor(
        async () => (await jobsOf(stack, 'default')).filter((j) => j.state === 'succeeded').length >= point,
        { timeoutMs: o.timeoutMs, intervalMs: 100, what: `${point} jobs done` },
      );
      await crashAndRestartApi(stack, o.log);
      crashes++;
    }
    const jobs = await waitAllTerminal(
      stack,
      'default',
      subs.map((s) => s.id),
      o.timeoutMs,
    );
    const { runs, failures } = expectEveryJobRanOnce(subs, jobs, marker);
    return { crashes, burstCrashes, runs, retriedSubmissions: subs.filter((s) => s.tries > 1).length, failures };
  } finally {
    await stack.close();
  }
}
