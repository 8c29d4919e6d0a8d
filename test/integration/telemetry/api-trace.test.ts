import * as path from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { newJobId, parseJobSpec } from '@jr/contracts';
import { Journal } from '@jr/journal';
import {
  activeTraceIds,
  extractFromCarrier,
  InMemorySpanExporter,
  SPANS,
  startTelemetry,
  type ReadableSpan,
  type Telemetry,
} from '@jr/telemetry';
import { waitFor } from '@jr/testing';
import { encodeRecord, requestHash } from '../../../apps/api/src/intake/intake-record';
import { ADMIN, AgentClient, apiFetch, http, startTestApi, type TestApi } from '../api/harness';

// The API in this process with an in-memory span exporter: a submission is one trace through journal
// append, relay and enqueue, its context stored in the job row (jobs.trace) and the BullMQ job data.
// Journal records from before tracing, and records whose carrier is hostile, are still applied.
let telemetry: Telemetry;
const exporter = new InMemorySpanExporter();
let t: TestApi;

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: 'jr-api', serviceVersion: 'test', testSpanExporter: exporter });
  t = await startTestApi();
});

afterAll(async () => {
  await t?.cleanup();
  await telemetry?.shutdown();
});

async function jobRow(id: string): Promise<{ state: string; trace: unknown } | undefined> {
  const c = new Client({ connectionString: t.db.url });
  await c.connect();
  try {
    return (await c.query<{ state: string; trace: unknown }>('SELECT state, trace FROM jobs WHERE id = $1', [id]))
      .rows[0];
  } finally {
    await c.end();
  }
}

async function bullData(pool: string, id: string): Promise<Record<string, unknown> | undefined> {
  const queue = new Queue(`pool-${pool}`, { connection: { url: t.config.redisUrl }, prefix: t.prefix });
  try {
    return (await queue.getJob(`${id}-r1`))?.data as Record<string, unknown> | undefined;
  } finally {
    await queue.close();
  }
}

const spanOf = (name: string, jobId: string): ReadableSpan | undefined =>
  exporter.getFinishedSpans().find((s) => s.name === name && s.attributes['jr.job.id'] === jobId);

it('POST /v1/jobs → journal append → relay → enqueue is one trace, carried by the row and the queue entry', async () => {
  const r = await http(t, 'POST', '/v1/jobs', { body: { pool: 'traced', steps: [{ run: 'true' }] } });
  expect(r.status).toBe(202);
  const id = r.json.id as string;
  const enqueue = await waitFor(() => spanOf(SPANS.enqueue, id), { what: 'the enqueue span' });
  const submit = exporter.getFinishedSpans().find((s) => s.name === SPANS.submit && s.attributes['jr.job.id'] === id);
  const append = spanOf(SPANS.journalAppend, id);
  const relay = spanOf(SPANS.relay, id);
  expect(submit?.parentSpanContext).toBeUndefined();
  expect(submit?.attributes['jr.pool']).toBe('traced');
  expect(append?.parentSpanContext?.spanId).toBe(submit?.spanContext().spanId);
  expect(relay?.parentSpanContext?.spanId).toBe(append?.spanContext().spanId);
  expect(enqueue.parentSpanContext?.spanId).toBe(relay?.spanContext().spanId);
  const traceId = submit?.spanContext().traceId;
  for (const s of [append, relay, enqueue]) expect(s?.spanContext().traceId).toBe(traceId);

  // the row keeps the relay's context (later enqueues continue it); the queue entry the enqueue span's
  const row = await jobRow(id);
  expect(activeTraceIds(extractFromCarrier(row?.trace))).toEqual({ traceId, spanId: relay?.spanContext().spanId });
  // the queue entry carries the context of the enqueue that added it. Under load the sweep may re-add a job whose
  // relay took longer than its grace: BullMQ keeps the first add, and every enqueue span hangs under the relay.
  const data = await bullData('traced', id);
  const enqueues = exporter
    .getFinishedSpans()
    .filter((s) => s.name === SPANS.enqueue && s.attributes['jr.job.id'] === id);
  for (const s of enqueues) expect(s.parentSpanContext?.spanId).toBe(relay?.spanContext().spanId);
  const carried = activeTraceIds(extractFromCarrier(data?.trace));
  expect(carried?.traceId).toBe(traceId);
  expect(enqueues.map((s) => s.spanContext().spanId)).toContain(carried?.spanId);
  expect(data?.queuedAtMs).toEqual(expect.any(Number));
});

it('continues a trace the caller started (W3C traceparent header)', async () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const res = await apiFetch(t, '/v1/jobs', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', traceparent: parent },
    body: JSON.stringify({ steps: [{ run: 'true' }] }),
  });
  const { id } = (await res.json()) as { id: string };
  const submit = await waitFor(
    () => exporter.getFinishedSpans().find((s) => s.name === SPANS.submit && s.attributes['jr.job.id'] === id),
    { what: 'the submit span' },
  );
  expect(submit.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  expect(submit.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
});

it("a retried attempt continues the job's trace: its enqueue and lease hang under the same trace as the submission", async () => {
  const agent = new AgentClient(t.grpcAddress);
  try {
    await agent.enroll({ pool: 'retried' });
    const r = await http(t, 'POST', '/v1/jobs', { body: { pool: 'retried', retries: 1, steps: [{ run: 'false' }] } });
    const id = r.json.id as string;
    const leases: Array<{ attempt: number; leaseToken: string }> = [];
    for (const n of [1, 2]) {
      const answer = await agent.call<{ assignments: Array<{ attempt: number; leaseToken: string }> }>(
        'Lease',
        { freeSlots: 1, waitMs: 5_000 },
        { deadlineMs: 10_000 },
      );
      const a = answer.assignments[0];
      expect(a?.attempt).toBe(n);
      leases.push(a!);
      await agent.call('Complete', {
        jobId: id,
        attempt: n,
        leaseToken: a!.leaseToken,
        outcome: 'OUTCOME_FAILED',
        exitCode: 1,
      });
    }
    const submit = await waitFor(
      () => exporter.getFinishedSpans().find((s) => s.name === SPANS.submit && s.attributes['jr.job.id'] === id),
      { what: 'the submit span' },
    );
    const traceId = submit.spanContext().traceId;
    const leaseSpans = await waitFor(
      () => {
        const found = exporter
          .getFinishedSpans()
          .filter((s) => s.name === SPANS.lease && s.attributes['jr.job.id'] === id);
        return found.length === 2 ? found : undefined;
      },
      { what: 'both lease spans' },
    );
    const enqueues = exporter
      .getFinishedSpans()
      .filter((s) => s.name === SPANS.enqueue && s.attributes['jr.job.id'] === id);
    // round 1 by the relay, round 2 after the failed attempt (from jobs.trace); on a loaded machine the sweep
    // may add a round again (BullMQ keeps the first add): every one of them still belongs to the job's trace
    expect(enqueues.length).toBeGreaterThanOrEqual(2);
    for (const s of [...enqueues, ...leaseSpans]) expect(s.spanContext().traceId).toBe(traceId);
  } finally {
    agent.close();
  }
});

it('applies journal records from before tracing and records with hostile carriers (each starts its own trace)', async () => {
  await t.api.stop();
  const parsed = parseJobSpec({ pool: 'legacy', steps: [{ run: 'true' }] });
  if (!parsed.ok) throw new Error('bad spec');
  const hostile: unknown[] = [
    undefined,
    'x',
    [1],
    { traceparent: 5 },
    { traceparent: '00-zz-zz-01' },
    { traceparent: `00-${'f'.repeat(5000)}` },
    { tracestate: 'a=b' },
  ];
  const ids: string[] = [];
  const journal = await Journal.open({ dir: path.join(t.dataDir, 'intake') });
  for (const trace of hostile) {
    const id = newJobId();
    ids.push(id);
    const record = {
      type: 'job.submitted' as const,
      id,
      job: parsed.job,
      idempotencyKey: null,
      requestHash: requestHash(parsed.job),
      at: Date.now(),
    };
    await journal.append(
      trace === undefined ? encodeRecord(record) : Buffer.from(JSON.stringify({ ...record, trace })),
    );
  }
  await journal.close();
  exporter.reset();
  await t.restart();
  for (const id of ids) {
    expect((await jobRow(id))?.state).toBe('queued');
    const relay = spanOf(SPANS.relay, id);
    expect(relay?.parentSpanContext).toBeUndefined(); // a new root: nothing usable to continue
    expect(await bullData('legacy', id)).toMatchObject({ jobId: id, pool: 'legacy' });
  }
  const metrics = (await http(t, 'GET', '/metrics')).text;
  expect(metrics).toMatch(new RegExp(`^jr_reconciled_jobs_total\\{kind="replayed"\\} ${hostile.length}$`, 'm'));
});
