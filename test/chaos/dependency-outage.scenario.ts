import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, startPrivatePostgres, startPrivateRedis, waitFor, type PrivateService } from '@jr/testing';
import { expectEveryJobRanOnce, jobsOf, markerFile, submitAll, waitAllTerminal, type Submission } from './scenarios';

export interface OutageOptions {
  /** Jobs submitted before the outage, and as many again during it. */
  jobsPerPhase: number;
  downMs: number;
  slots: number;
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface OutageResult {
  before: Submission[];
  during: Submission[];
  runs: number;
  failures: string[];
}

/** A job that takes a moment (so that some are queued and some running when the dependency dies). */
const slowMarkerJob = (marker: string, i: number): object => ({
  name: `outage-${i}`,
  steps: [{ run: `sleep 0.2; echo "$JR_JOB_ID" >> ${marker}` }],
});

type Dependency = 'redis' | 'postgres';

/**
 * A private Redis or PostgreSQL (this scenario's own, so it may be killed) under a whole jobrunner:
 * jobs are submitted, the dependency is SIGKILLed mid-run (Redis comes back empty: it keeps nothing on
 * disk), more jobs are submitted while it is down (each must be acknowledged at the first try), it is
 * started again after `downMs`, and every acknowledged job must succeed, once.
 */
export async function dependencyOutageScenario(dep: Dependency, o: OutageOptions): Promise<OutageResult> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `jr-outage-${dep}-`));
  const service: PrivateService = dep === 'redis' ? await startPrivateRedis(base) : await startPrivatePostgres(base);
  const stack = new Stack('1s', dep === 'redis' ? { redisUrl: service.url } : { postgresServerUrl: service.url });
  let down = false;
  try {
    await stack.start();
    await stack.startAgent('worker', { slots: o.slots });
    const marker = markerFile(stack, `outage-${dep}`);
    const body = (offset: number) => (i: number) => slowMarkerJob(marker, offset + i);
    const before = await submitAll(stack, o.jobsPerPhase, { concurrency: 16, keyPrefix: 'before', body: body(0) });
    await waitFor(
      async () => (await jobsOf(stack, 'default')).filter((j) => j.state === 'succeeded').length >= o.jobsPerPhase / 4,
      {
        timeoutMs: o.timeoutMs,
        intervalMs: 100,
        what: 'a quarter of the jobs to finish',
      },
    );
    await service.kill();
    down = true;
    o.log?.(`${dep} SIGKILLed`);
    const downSince = Date.now();
    const during = await submitAll(stack, o.jobsPerPhase, {
      concurrency: 16,
      keyPrefix: 'during',
      body: body(o.jobsPerPhase),
    });
    o.log?.(`${during.length} submissions acknowledged while ${dep} was down (${Date.now() - downSince} ms)`);
    await new Promise((r) => setTimeout(r, Math.max(0, o.downMs - (Date.now() - downSince))));
    await service.start();
    down = false;
    o.log?.(`${dep} back after ${Date.now() - downSince} ms`);
    const all = [...before, ...during];
    const jobs = await waitAllTerminal(
      stack,
      'default',
      all.map((s) => s.id),
      o.timeoutMs,
    );
    const { runs, failures } = expectEveryJobRanOnce(all, jobs, marker);
    return { before, during, runs, failures };
  } finally {
    if (down) await service.start().catch(() => undefined); // running again, so the stack can drop its database
    await stack.close();
    await service.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
}
