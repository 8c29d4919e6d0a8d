/**
 * The dispatch figure's measurement, shared by the dispatch, replica and TLS sections: jobs whose step is
 * `date +%s%N` submitted open-loop, each job's 202 answer time against the moment its own process ran.
 */
import { waitFor } from '@jr/testing';
import { BenchClient, jobBody, type ApiTarget } from './api-client';
import { forEachConcurrent, nowMs, OpenLoop } from './load';
import { parseDateNs } from './raw-bullmq';

export interface Sizes {
  jobs: number;
  rate: number;
  agents: number;
  slots: number;
  loadRate: number;
  warmUpMs: number;
}

/**
 * Submits `o.jobs` at `o.rate` to `submitTo`, waits until `watch` (the replica the agents report to)
 * counts them succeeded, returns 202 → process-ran per job (ms).
 */
export async function measureJr(
  watch: ApiTarget,
  o: Sizes,
  tag: string,
  submitTo: ApiTarget = watch,
): Promise<number[]> {
  const client = new BenchClient(watch, 64);
  const submitter = submitTo === watch ? client : new BenchClient(submitTo, 64);
  try {
    const before = await client.succeeded();
    const answeredAt = new Map<string, number>();
    const load = new OpenLoop({ rate: o.rate, count: o.jobs, maxInFlight: 64 }, async (i) => {
      const id = await submitter.submit(jobBody(`dispatch-${tag}-${i}`, ['date', '+%s%N']));
      if (id !== undefined) answeredAt.set(id, nowMs());
      return id !== undefined;
    });
    await load.done;
    if (answeredAt.size !== o.jobs)
      throw new Error(`${o.jobs - answeredAt.size} of ${o.jobs} dispatch submissions were refused`);
    await waitFor(async () => (await client.succeeded()) - before >= o.jobs, {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `${o.jobs} dispatch jobs to succeed`,
    });
    return await ranAfterAnswer(client, answeredAt);
  } finally {
    client.close();
    submitter.close();
  }
}

/** For each job, the moment its process ran (its own output) minus the moment its 202 arrived, ms. */
async function ranAfterAnswer(client: BenchClient, answeredAt: ReadonlyMap<string, number>): Promise<number[]> {
  const samples: number[] = [];
  const ids = [...answeredAt.keys()];
  await forEachConcurrent(ids.length, 8, async (i) => {
    const id = ids[i]!;
    const ranAt = await waitFor(async () => parseDateNs((await client.request('GET', `/v1/jobs/${id}/logs`)).text), {
      timeoutMs: 10_000,
      what: `job ${id}'s output`,
    });
    samples.push(ranAt - answeredAt.get(id)!);
  });
  return samples;
}
