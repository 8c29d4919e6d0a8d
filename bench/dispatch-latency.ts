/**
 * Dispatch latency: from the moment `POST /v1/jobs` answers 202 to the moment the agent has started
 * the job's process (the attempt's startedAt, stamped by the agent right after spawn). Real API and
 * agent processes on loopback, on this machine.
 *
 *   npm run build && node bench/dist/dispatch-latency.js [--jobs 300] [--rate 50] [--agents 2] [--slots 8]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobView } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

interface Options {
  jobs: number;
  rate: number;
  agents: number;
  slots: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { jobs: 300, rate: 50, agents: 2, slots: 8 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(key in o) || !Number.isFinite(value) || value <= 0) throw new Error(`usage: dispatch-latency [--jobs N] [--rate N] [--agents N] [--slots N] (bad: ${argv[i]})`);
    o[key] = value;
  }
  return o;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export async function measureDispatchLatency(stack: Stack, o: Options): Promise<{ samples: number[] }> {
  const answered = new Map<string, number>();
  const gapMs = 1_000 / o.rate;
  const started = Date.now();
  for (let i = 0; i < o.jobs; i++) {
    const due = started + i * gapMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const res = await fetch(`${stack.baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${i}`, steps: [{ run: ['true'] }] }),
    });
    const at = Date.now();
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    answered.set(id, at);
  }
  const samples: number[] = [];
  for (const [id, at] of answered) {
    const job = await waitFor(
      async () => {
        const j = await stack.get<JobView>(`/v1/jobs/${id}`);
        return j.attempts[0]?.startedAt ? j : undefined;
      },
      { timeoutMs: 60_000, what: `job ${id} to start` },
    );
    samples.push(Date.parse(job.attempts[0]!.startedAt!) - at);
  }
  return { samples: samples.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const stack = await new Stack('10s').start();
  try {
    for (let i = 0; i < o.agents; i++) await stack.startAgent(`bench-${i}`, { slots: o.slots });
    const { samples } = await measureDispatchLatency(stack, o);
    const row = {
      what: 'dispatch latency (202 answered -> process started)',
      jobs: samples.length,
      rate: o.rate,
      agents: o.agents,
      slots: o.slots,
      p50Ms: percentile(samples, 50),
      p95Ms: percentile(samples, 95),
      p99Ms: percentile(samples, 99),
      maxMs: samples[samples.length - 1],
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(row, null, 2));
    const out = path.resolve(__dirname, '..', 'results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, `dispatch-latency-${Date.now()}.json`), JSON.stringify({ row, samples }, null, 2));
  } finally {
    await stack.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
