import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobPage, JobView } from '@jr/contracts';
import { waitFor, type Stack } from '@jr/testing';

/**
 * Building blocks of the durability scenarios, shared by the short variants inside `npm test`
 * (test/e2e/durability-*.test.ts) and the long ones of `npm run chaos` (test/chaos/*.test.ts).
 * Everything goes through real processes: jr-api, jr-agent, HTTP.
 */

export interface Submission {
  key: string;
  id: string;
  /** Attempts the client needed (connection refused, 503 while the API was down or restarting). */
  tries: number;
}

/** Each job appends its id to `marker` once per run: the file says how often each job really ran. */
export function markerJob(marker: string, pool: string, i: number): object {
  return { name: `chaos-${i}`, pool, steps: [{ run: `echo "$JR_JOB_ID" >> ${marker}` }] };
}

export function runCounts(marker: string): Map<string, number> {
  const counts = new Map<string, number>();
  const text = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
  for (const id of text.split('\n').filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/**
 * Submits `count` jobs with `concurrency` requests in flight. Every logical submission carries its own
 * Idempotency-Key and is retried with that key until the API acknowledges it (202, or 200 for a
 * repeat), exactly what a careful client does while the API restarts.
 */
export async function submitAll(
  stack: Stack,
  count: number,
  o: { concurrency: number; body: (i: number) => object; keyPrefix: string; onAck?: (done: number) => void },
): Promise<Submission[]> {
  const out: Submission[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      out.push(await submitOne(stack, `${o.keyPrefix}-${i}`, o.body(i)));
      o.onAck?.(out.length);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return out;
}

async function submitOne(stack: Stack, key: string, body: object): Promise<Submission> {
  for (let tries = 1; ; tries++) {
    const res = await stack
      .fetch('/v1/jobs', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.adminToken}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      })
      .catch(() => undefined);
    if (res && (res.status === 202 || res.status === 200))
      return { key, id: ((await res.json()) as { id: string }).id, tries };
    if (res && res.status !== 503) throw new Error(`submission ${key} answered ${res.status}: ${await res.text()}`);
    await res?.text().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

/** Every job of `pool`, by paging GET /v1/jobs (tolerates the API being down for a moment). */
export async function jobsOf(stack: Stack, pool: string): Promise<JobView[]> {
  const all: JobView[] = [];
  let cursor: string | null = null;
  do {
    const page: JobPage = await stack.get<JobPage>(
      `/v1/jobs?pool=${pool}&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
    );
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

/** Waits until every id is terminal; returns the jobs. Re-sends the operator's "enable reporting" while waiting. */
export async function waitAllTerminal(
  stack: Stack,
  pool: string,
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, JobView>> {
  const wanted = new Set(ids);
  let last = new Map<string, JobView>();
  let nudged = 0;
  await waitFor(
    async () => {
      if (Date.now() - nudged > 5_000) {
        nudged = Date.now();
        await enableReporting(stack);
      }
      const jobs = await jobsOf(stack, pool);
      last = new Map(jobs.filter((j) => wanted.has(j.id)).map((j) => [j.id, j]));
      return [...wanted].every((id) =>
        ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(last.get(id)?.state ?? ''),
      );
    },
    { timeoutMs, intervalMs: 500, what: `${ids.length} jobs to finish` },
  ).catch((err: unknown) => {
    const open = [...wanted].filter((id) => !['succeeded', 'failed'].includes(last.get(id)?.state ?? ''));
    throw new Error(
      `${String(err)}; ${open.length} not finished, e.g. ${JSON.stringify(open.slice(0, 3).map((id) => last.get(id) ?? id))}\n${stack.diagnostics()}`,
    );
  });
  return last;
}

/**
 * The operator's signal after an API outage: an agent whose reports failed while the API was down
 * has its reporting breaker open (by contract it stays open until told); this re-enables it.
 */
export async function enableReporting(stack: Stack): Promise<void> {
  await stack
    .fetch('/v1/agents/reporting/enable', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}` },
    })
    .catch(() => undefined);
}

/** SIGKILL of the API, then a restart on the same ports and data dir (readiness waited for), then the operator's signal. */
export async function crashAndRestartApi(stack: Stack, log?: (line: string) => void): Promise<void> {
  await stack.api.kill();
  const at = Date.now();
  await stack.startApi();
  log?.(`jr-api SIGKILLed and back in ${Date.now() - at} ms`);
  await enableReporting(stack);
}

/**
 * Crashes the API each time `progress()` first reaches one of `thresholds` (checked every few ms), or
 * a random 0..`maxWaitMs` after the burst started / the previous restart, whichever comes first: random
 * moments in the middle of a burst, whatever its speed. (A fast API may acknowledge a whole burst in
 * one group commit: progress then jumps from 0 to all, and only the time bound lands a crash while the
 * requests are in flight.) Resolves with the number of crashes.
 */
export async function crashAtProgress(
  stack: Stack,
  thresholds: number[],
  progress: () => number,
  done: () => boolean,
  log: ((line: string) => void) | undefined,
  maxWaitMs: number,
): Promise<number> {
  let crashes = 0;
  for (const threshold of [...thresholds].sort((a, b) => a - b)) {
    const until = Date.now() + Math.random() * maxWaitMs;
    while (progress() < threshold && !done() && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
    if (done()) break;
    await crashAndRestartApi(stack, log);
    crashes++;
  }
  return crashes;
}

/** `count` distinct random integers in [lo, hi). */
export function randomPoints(count: number, lo: number, hi: number): number[] {
  const points = new Set<number>();
  while (points.size < Math.min(count, hi - lo)) points.add(lo + Math.floor(Math.random() * (hi - lo)));
  return [...points];
}

/** One file per scenario run for the markers. */
export function markerFile(stack: Stack, name: string): string {
  return path.join(stack.dropDir, `${name}.ran`);
}

/** The checks every scenario ends with: one job per submission, all succeeded, each ran exactly once. */
export function expectEveryJobRanOnce(
  subs: Submission[],
  jobs: Map<string, JobView>,
  marker: string,
): { runs: number; failures: string[] } {
  const failures: string[] = [];
  const ids = new Set(subs.map((s) => s.id));
  if (ids.size !== subs.length) failures.push(`${subs.length} submissions got ${ids.size} distinct ids`);
  const counts = runCounts(marker);
  for (const id of ids) {
    const j = jobs.get(id);
    if (j?.state !== 'succeeded')
      failures.push(
        `${id} ended ${j?.state ?? 'missing'} (attempts ${JSON.stringify(j?.attempts.map((a) => a.state))})`,
      );
    if ((counts.get(id) ?? 0) !== 1)
      failures.push(`${id} ran ${counts.get(id) ?? 0} times (attempts ${JSON.stringify(j?.attempts)})`);
  }
  for (const id of counts.keys()) if (!ids.has(id)) failures.push(`${id} ran but was never acknowledged to anyone`);
  return { runs: [...counts.values()].reduce((a, b) => a + b, 0), failures };
}
