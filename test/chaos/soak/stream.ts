import type { SoakWorld } from './world';
import { jobOf, sleep } from './observe';
import type { JobPlan } from './plan';
import { readRuns } from './runs';

export { sleep } from './observe';

/** One logical submission: what was planned, and what the API acknowledged. */
export interface Ack {
  plan: JobPlan;
  key: string;
  id: string;
  tries: number;
  ackedAt: number;
}

export interface StreamStats {
  acks: Ack[];
  /** Answers a careful client does not retry (anything but 200/202/503/429 and connection errors). */
  refused: string[];
  /** `unknown`: `jr cancel` of an acknowledged job answered "unknown job" (exit 4) first (see cancel()). */
  cancels: { requested: number; alreadyEnded: number; unknown: string[] };
  /** Per cancelled job: when it was seen running (ms after ack, -1 never) and what `jr cancel` answered. */
  cancelNotes: Map<string, string>;
}

/** The job document for one planned job; every run appends `id attempt start|end rc epochMs` to the marker file. */
export function jobBody(world: SoakWorld, p: JobPlan): object {
  const m = world.marker;
  const rc = p.kind === 'flaky' ? '$([ "$JR_ATTEMPT" = 1 ] && echo 1 || echo 0)' : p.kind === 'fails' ? '3' : '0';
  const uses =
    p.kind === 'download' || p.kind === 'bad-checksum'
      ? world.artifacts.artifact(p.i, p.artifact ?? 'normal')
      : undefined;
  const check = uses ? `test -s "$JR_ARTIFACTS_DIR/${uses.name}" || rc=9; ` : '';
  const line = (what: string, code: string): string =>
    `echo "$JR_JOB_ID $JR_ATTEMPT ${what} ${code} $(date +%s%3N)" >> ${m}`;
  const run = `${line('start', '0')}; sleep ${p.sleepS}; rc=${rc}; ${check}${line('end', '$rc')}; exit $rc`;
  return {
    name: `soak-${p.i}-${p.kind}`,
    retries: p.retries,
    ...(p.kind === 'cancel-queued' ? { labels: { hold: 'forever' } } : {}),
    ...(uses ? { uses: [{ url: uses.url, sha256: p.kind === 'bad-checksum' ? '0'.repeat(64) : uses.sha256 }] } : {}),
    steps: [{ name: 'work', run }],
  };
}

/**
 * Submits with one Idempotency-Key per logical job, as the CLI does with JR_API_URL=A,B: starting at
 * replica `first`, a refused connection, a 503 or a timeout sends the same key to the next replica; a
 * 429 is retried where it was answered; after a whole round without an answer it waits (Retry-After,
 * capped) and goes on until acknowledged, as a careful client does.
 */
export async function submitWithRetry(
  world: SoakWorld,
  key: string,
  body: object,
  refused: string[],
  first = 0,
): Promise<{ id: string; tries: number } | undefined> {
  let at = first;
  for (let tries = 1; ; tries++) {
    const res = await postKeyed(world, at, key, body).catch(() => undefined);
    if (res && (res.status === 202 || res.status === 200))
      return { id: ((await res.json()) as { id: string }).id, tries };
    if (res && res.status !== 503 && res.status !== 429) {
      refused.push(`${key}: ${res.status} ${(await res.text()).slice(0, 200)}`);
      return undefined;
    }
    const retryAfterS = Number(res?.headers.get('retry-after') ?? 0);
    await res?.text().catch(() => undefined);
    if (res?.status !== 429) at = (at + 1) % world.replicas.count;
    if (at === first || res?.status === 429)
      await sleep(Math.min(2_000, Math.max(100, retryAfterS * 1_000 * 0.5)) * (0.5 + Math.random()));
  }
}

function postKeyed(world: SoakWorld, at: number, key: string, body: object): Promise<Response> {
  return world.replicas.on(at, '/v1/jobs', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${world.stack.adminToken}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

/** Runs the planned stream until every planned job was submitted (and its cancel, if any, sent). */
export async function runStream(
  world: SoakWorld,
  seed: number,
  plans: JobPlan[],
  log: (line: string) => void,
): Promise<StreamStats> {
  const stats: StreamStats = {
    acks: [],
    refused: [],
    cancels: { requested: 0, alreadyEnded: 0, unknown: [] },
    cancelNotes: new Map(),
  };
  const t0 = Date.now();
  const pending: Array<Promise<void>> = [];
  for (const p of plans) {
    await sleep(p.atMs - (Date.now() - t0));
    pending.push(submitPlanned(world, seed, p, stats));
    if (p.i % 100 === 99) log(`stream: ${p.i + 1} submitted, ${stats.acks.length} acknowledged`);
  }
  await Promise.all(pending);
  return stats;
}

async function submitPlanned(world: SoakWorld, seed: number, p: JobPlan, stats: StreamStats): Promise<void> {
  const key = `soak-${seed}-${p.i}`;
  const r = await submitWithRetry(world, key, jobBody(world, p), stats.refused, p.i % world.replicas.count);
  if (!r) return;
  stats.acks.push({ plan: p, key, id: r.id, tries: r.tries, ackedAt: Date.now() });
  if (p.kind === 'cancel-queued') await cancel(world, r.id, stats, 'queued');
  if (p.kind === 'cancel-running') {
    const t0 = Date.now();
    const seen = await waitRunning(world, r.id, 60_000);
    await cancel(
      world,
      r.id,
      stats,
      seen ? `seen running after ${Date.now() - t0} ms` : `not seen running in ${Date.now() - t0} ms`,
    );
  }
}

/**
 * `jr cancel` with JR_API_URL=A,B. A replica that did not acknowledge the job answers 404 until the
 * other's relay has applied it to PostgreSQL (its pending submissions are its own: a product gap, see
 * the README): exit 4 for an acknowledged job is counted and the cancel sent again, as an operator would.
 */
async function cancel(world: SoakWorld, id: string, stats: StreamStats, when: string): Promise<void> {
  stats.cancels.requested++;
  let code = await world.cli(['cancel', id], [0, 4, 5]);
  const [t0, unknownFirst] = [Date.now(), code === 4];
  for (let k = 0; code === 4 && k < 120; k++) {
    await sleep(500);
    code = await world.cli(['cancel', id], [0, 4, 5]);
  }
  if (unknownFirst) stats.cancels.unknown.push(`${id}: "unknown job" for ${Date.now() - t0} ms, then exit ${code}`);
  if (code === 5) stats.cancels.alreadyEnded++;
  stats.cancelNotes.set(id, `${when}, jr cancel exited ${code} at ${new Date().toISOString()}`);
}

/** Running per the API, or its step has started (the marker file says so). */
async function waitRunning(world: SoakWorld, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = (await jobOf(world, id))?.state;
    if (state === 'running' || readRuns(world.marker).has(id)) return true;
    await sleep(250);
  }
  return false;
}
