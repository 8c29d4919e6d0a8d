import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { JobSpecInput } from '@jr/contracts';
import type { Stack } from '@jr/testing';

/** The few REST calls the recovery measurements make, with the stack's admin token. */

/**
 * One submission. A connection error (a kept-alive socket the API closed as the request went out, seen in CI
 * as "fetch failed" under load) is retried with the same Idempotency-Key, so a retry cannot make a second job.
 */
export async function submitJob(stack: Stack, spec: JobSpecInput, key = randomUUID()): Promise<string> {
  const send = () =>
    stack.fetch('/v1/jobs', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify(spec),
    });
  let res: Response | undefined;
  for (let tries = 1; !res; tries++) {
    res = await send().catch((err: unknown) => {
      if (tries >= 3) throw err;
      return undefined;
    });
  }
  if (res.status !== 202 && res.status !== 200)
    throw new Error(`POST /v1/jobs answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Submits `count` no-op jobs to `pool` with `concurrency` requests in flight; returns ids and rate. */
export async function submitMany(
  stack: Stack,
  pool: string,
  count: number,
  concurrency: number,
): Promise<{ ids: string[]; perSecond: number }> {
  const ids: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        ids.push(await submitJob(stack, { name: `recovery-${i}`, pool, steps: [{ run: ['true'] }] }));
      }
    }),
  );
  return { ids, perSecond: count / ((performance.now() - started) / 1_000) };
}

export async function cancelJob(stack: Stack, id: string): Promise<void> {
  await stack
    .fetch(`/v1/jobs/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}` },
    })
    .catch(() => undefined);
}

/**
 * SIGKILLs the processes a job's steps left behind (a SIGKILLed agent cannot reap its step's process
 * group): those whose environment has JR_JOB_ID=<id>, a job this bench submitted. Returns how many.
 */
export function killJobProcesses(jobId: string): number {
  const marker = `JR_JOB_ID=${jobId}`;
  let killed = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) continue;
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // gone, or not ours to read
    }
  }
  return killed;
}
