import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import type { pb } from '@jr/contracts';
import { Backoff } from '@jr/resilience';
import { activeTraceIds, ATTR, SPANS, SpanKind, type AgentMetrics } from '@jr/telemetry';
import pino from 'pino';
import { actionFor } from '../api-client/status-policy';
import { ApiCallError, type AgentStopError } from '../errors';
import { metricValue, testMetrics, testTracing, traceparent } from '../telemetry.test-helper';
import { MAX_BATCH_EVENTS, type ReportTransport } from './attempt-delivery';
import { Outbox } from './outbox';
import { OutboxReporter } from './outbox-reporter';
import { ReportingBreaker } from './reporting-breaker';
import type { Completion } from './reporter';
import type { SuspendedFlagStore, Suspension } from './suspended-flag';

const logger = pino({ level: 'silent' });
const fail = (method: 'Report' | 'Complete', code: Status): ApiCallError =>
  new ApiCallError(method, code, 'injected', actionFor(code, method));
const ev = (seq: number, text = `line ${seq}\n`): pb.AttemptEvent => ({
  seq,
  atMs: seq,
  kind: 'log',
  log: { step: 0, stream: 'stdout', data: Buffer.from(text) },
});
const done = (lastSeq: number): Completion => ({
  outcome: 'OUTCOME_SUCCEEDED',
  exitCode: 0,
  reason: '',
  startedAtMs: 1,
  endedAtMs: 2,
  lastSeq,
});
const ref = (jobId: string) => ({ jobId, attempt: 1, leaseToken: `lt-${jobId}` });

/** A scripted API: records what arrives (in arrival order), fails on demand, dedups by seq like the API. */
class ScriptedApi implements ReportTransport {
  readonly arrivals: Array<{ jobId: string; seqs: number[] }> = [];
  readonly held = new Map<string, Map<number, string>>();
  readonly completes: pb.CompleteRequest[] = [];
  /** The trace context active in each call (what the gRPC client puts in its metadata). */
  readonly contexts: Array<{ method: string; traceId?: string; spanId?: string }> = [];
  calls = 0;
  failReports: ApiCallError | undefined;
  failCompletes: ApiCallError | undefined;
  readonly failOnce = new Map<string, ApiCallError>();
  gate: Promise<void> | undefined;
  gateJob: string | undefined;

  async report(req: pb.ReportRequest): Promise<pb.ReportResponse__Output> {
    this.calls += 1;
    this.contexts.push({ method: 'Report', ...activeTraceIds() });
    if (this.gate && req.jobId === this.gateJob) await this.gate;
    const once = this.failOnce.get(`Report:${req.jobId}`);
    if (once) {
      this.failOnce.delete(`Report:${req.jobId}`);
      throw once;
    }
    if (this.failReports) throw this.failReports;
    const seqs = (req.events ?? []).map((e) => Number(e.seq));
    this.arrivals.push({ jobId: req.jobId ?? '', seqs });
    const held = this.held.get(req.jobId ?? '') ?? new Map<number, string>();
    this.held.set(req.jobId ?? '', held);
    for (const e of req.events ?? [])
      if (!held.has(Number(e.seq))) held.set(Number(e.seq), Buffer.from(e.log?.data as Buffer).toString());
    return { ackedSeq: Math.max(0, ...held.keys()) };
  }

  async complete(req: pb.CompleteRequest): Promise<pb.CompleteResponse__Output> {
    this.calls += 1;
    this.contexts.push({ method: 'Complete', ...activeTraceIds() });
    const once = this.failOnce.get(`Complete:${req.jobId}`);
    if (once) {
      this.failOnce.delete(`Complete:${req.jobId}`);
      throw once;
    }
    if (this.failCompletes) throw this.failCompletes;
    this.completes.push(req);
    return { jobState: 'succeeded' };
  }

  seqs(jobId: string): number[] {
    return this.arrivals.filter((a) => a.jobId === jobId).flatMap((a) => a.seqs);
  }
}

class MemoryFlag implements SuspendedFlagStore {
  value: Suspension | undefined;
  async read(): Promise<Suspension | undefined> {
    return this.value;
  }
  async write(s: Suspension | undefined): Promise<void> {
    this.value = s;
  }
}

async function until(probe: () => boolean, what = 'condition', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('OutboxReporter', () => {
  let dir: string;
  let api: ScriptedApi;
  let flag: MemoryFlag;
  let fatal: AgentStopError[];
  let parts: Array<{ outbox: Outbox; reporter: OutboxReporter; breaker: ReportingBreaker; lifetime: AbortController }>;

  async function start(
    threshold = 3,
    metrics?: AgentMetrics,
  ): Promise<{ outbox: Outbox; reporter: OutboxReporter; breaker: ReportingBreaker }> {
    const lifetime = new AbortController();
    const outbox = await Outbox.open({ dir: path.join(dir, 'outbox'), maxBytes: 64 * 1024 * 1024, logger });
    const breaker = await ReportingBreaker.create({
      threshold,
      minOutageMs: 0,
      timeoutMs: 2_000,
      retries: 1,
      retryInitialMs: 1,
      retryMaxMs: 2,
      flag,
      logger,
      lifetime: lifetime.signal,
    });
    const reporter = new OutboxReporter({
      outbox,
      breaker,
      transport: api,
      logger,
      deadlineMs: 3_000,
      onFatal: (e) => fatal.push(e),
      newBackoff: () => new Backoff({ initialMs: 1, maxMs: 5 }),
      metrics,
    });
    parts.push({ outbox, reporter, breaker, lifetime });
    return { outbox, reporter, breaker };
  }
  async function stop(): Promise<void> {
    for (const p of parts.splice(0)) {
      p.reporter.close();
      p.lifetime.abort();
      await p.outbox.close();
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jr-reporter-'));
    api = new ScriptedApi();
    flag = new MemoryFlag();
    fatal = [];
    parts = [];
  });
  afterEach(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers events in seq order, in bounded batches, then the completion; the slot is free once it is queued', async () => {
    const { reporter, outbox } = await start();
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    for (let seq = 1; seq <= 250; seq++) r.event(ev(seq));
    await expect(r.complete(done(250))).resolves.toEqual({ status: 'queued' });
    await until(() => api.completes.length === 1, 'Complete');
    expect(api.seqs('j_a')).toEqual(Array.from({ length: 250 }, (_v, i) => i + 1));
    expect(api.arrivals.every((a) => a.seqs.length <= MAX_BATCH_EVENTS)).toBe(true);
    expect(api.completes[0]).toMatchObject({ jobId: 'j_a', lastSeq: 250, leaseToken: 'lt-j_a' });
    expect(outbox.stats().depth).toBe(0);
  });

  it('RESOURCE_EXHAUSTED with push-back: no quick retries inside the breaker, the breaker stays closed, the loop waits', async () => {
    const { reporter, breaker, outbox } = await start(1);
    api.failReports = new ApiCallError('Report', Status.RESOURCE_EXHAUSTED, 'rate limited', 'retry', 600_000);
    const r = reporter.open(ref('j_p'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await until(() => reporter.counters.failures === 1, 'the refused report');
    // the breaker's own retry (retries: 1) would have sent it twice by now; a refusal is not a broken path
    expect(api.calls).toBe(1);
    expect(breaker.state).toBe('closed');
    expect(outbox.stats().depth).toBe(1);
  });

  it('opens the breaker after THRESHOLD failed reports, then sends nothing; enable() drains the outbox in order, exactly once', async () => {
    const { reporter, breaker, outbox } = await start(3);
    api.failReports = fail('Report', Status.UNAVAILABLE);
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await until(() => breaker.state === 'open', 'the breaker to open');
    expect(api.calls).toBe(6);
    for (let seq = 2; seq <= 40; seq++) r.event(ev(seq));
    await r.complete(done(40));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(api.calls).toBe(6);
    expect(outbox.stats().depth).toBe(41);
    expect(reporter.undeliveredLeases()).toEqual([ref('j_a')]);
    api.failReports = undefined;
    await breaker.enable('control');
    reporter.resumeAll();
    await until(() => api.completes.length === 1, 'the drain');
    expect(api.seqs('j_a')).toEqual(Array.from({ length: 40 }, (_v, i) => i + 1));
    expect(outbox.stats().depth).toBe(0);
    expect(reporter.undeliveredLeases()).toEqual([]);
  });

  it('a refused stale token (superseded) stops the attempt, discards its events, and still sends the completion once', async () => {
    const { reporter, breaker, outbox } = await start();
    const superseded = jest.fn();
    api.failOnce.set('Report:j_a', fail('Report', Status.FAILED_PRECONDITION));
    api.failOnce.set('Complete:j_a', fail('Complete', Status.FAILED_PRECONDITION));
    const r = reporter.open(ref('j_a'), { onSuperseded: superseded });
    r.event(ev(1));
    await until(() => superseded.mock.calls.length === 1, 'onSuperseded');
    r.event(ev(2));
    await r.complete(done(2));
    await until(() => outbox.boxes.size === 0, 'the attempt to settle');
    expect(api.arrivals).toEqual([]);
    expect(api.completes).toEqual([]);
    expect(breaker.state).toBe('closed');
  });

  it('drops a batch the API refuses as malformed and goes on with the rest and the completion', async () => {
    const { reporter } = await start();
    api.failOnce.set('Report:j_a', fail('Report', Status.INVALID_ARGUMENT));
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await until(() => !api.failOnce.has('Report:j_a'));
    r.event(ev(2));
    await r.complete(done(2));
    await until(() => api.completes.length === 1);
    expect(api.seqs('j_a')).toEqual([2]);
  });

  it('stops (fatal) on an unrecoverable refusal and keeps everything in the outbox', async () => {
    const { reporter, outbox } = await start();
    api.failReports = fail('Report', Status.UNAUTHENTICATED);
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await until(() => fatal.length === 1, 'onFatal');
    expect(fatal[0]?.reason).toBe('auth_refused');
    const calls = api.calls;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(api.calls).toBe(calls);
    expect(outbox.stats().depth).toBe(1);
  });

  it('one stuck attempt does not delay another', async () => {
    const { reporter } = await start();
    let release!: () => void;
    api.gate = new Promise((resolve) => (release = resolve));
    api.gateJob = 'j_slow';
    reporter.open(ref('j_slow'), { onSuperseded: () => undefined }).event(ev(1));
    const fast = reporter.open(ref('j_fast'), { onSuperseded: () => undefined });
    fast.event(ev(1));
    await fast.complete(done(1));
    await until(() => api.completes.some((c) => c.jobId === 'j_fast'));
    expect(api.seqs('j_slow')).toEqual([]);
    release();
    await until(() => api.seqs('j_slow').length === 1);
  });

  it('after a restart, delivers what the outbox held: outcomes, and events of attempts that never finished', async () => {
    let { reporter, breaker } = await start(1);
    api.failReports = fail('Report', Status.UNAVAILABLE);
    const a = reporter.open(ref('j_done'), { onSuperseded: () => undefined });
    const b = reporter.open(ref('j_cut'), { onSuperseded: () => undefined });
    for (let seq = 1; seq <= 5; seq++) {
      a.event(ev(seq));
      b.event(ev(seq));
    }
    await a.complete(done(5));
    await until(() => breaker.state === 'open');
    await stop();
    api.failReports = undefined;
    ({ reporter, breaker } = await start(1));
    expect(breaker.state).toBe('open');
    reporter.resumeAll();
    expect(reporter.undeliveredLeases()).toEqual([ref('j_done')]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(api.arrivals).toEqual([]);
    await breaker.enable('signal');
    reporter.resumeAll();
    await until(() => api.completes.length === 1 && api.seqs('j_cut').length === 5, 'the drain after restart');
    expect(api.seqs('j_done')).toEqual([1, 2, 3, 4, 5]);
    expect(api.seqs('j_cut')).toEqual([1, 2, 3, 4, 5]);
    expect(parts[0]?.outbox.boxes.size).toBe(0);
  });

  it('stops listing an outcome whose lease the API says is gone, but still delivers it', async () => {
    const { reporter, breaker } = await start(1);
    api.failReports = fail('Report', Status.UNAVAILABLE);
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await r.complete(done(1));
    await until(() => breaker.state === 'open');
    expect(reporter.leaseLost('j_a', 1)).toBe(true);
    expect(reporter.leaseLost('j_other', 1)).toBe(false);
    expect(reporter.undeliveredLeases()).toEqual([]);
    api.failReports = undefined;
    await breaker.enable('directive');
    reporter.resumeAll();
    await until(() => api.completes.length === 1);
  });

  it('whenDelivered waits for the outbox to empty, but not while the breaker is open', async () => {
    const { reporter, breaker } = await start(1);
    const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
    r.event(ev(1));
    await r.complete(done(1));
    await reporter.whenDelivered(AbortSignal.timeout(5_000));
    expect(api.completes).toHaveLength(1);
    api.failReports = fail('Report', Status.UNAVAILABLE);
    const s = reporter.open(ref('j_b'), { onSuperseded: () => undefined });
    s.event(ev(1));
    await until(() => breaker.state === 'open');
    const started = Date.now();
    await reporter.whenDelivered(AbortSignal.timeout(5_000));
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  describe('telemetry', () => {
    let tracing: ReturnType<typeof testTracing>;
    beforeEach(() => {
      tracing = testTracing();
    });
    afterEach(() => tracing.stop());

    const ATTEMPT_TRACE = '0af7651916cd43dd8448eb211c80319c';
    const ATTEMPT_SPAN = 'b7ad6b7169203331';

    it('sends Report and Complete in client spans under the attempt span, from the carrier the outbox kept across a restart', async () => {
      let { reporter, breaker } = await start(1);
      api.failReports = fail('Report', Status.UNAVAILABLE);
      const r = reporter.open(ref('j_a'), {
        onSuperseded: () => undefined,
        trace: { traceparent: traceparent(ATTEMPT_TRACE, ATTEMPT_SPAN) },
      });
      for (let seq = 1; seq <= 3; seq++) r.event(ev(seq));
      await r.complete(done(3));
      await until(() => breaker.state === 'open', 'the breaker to open');
      await stop();
      api.failReports = undefined;
      api.contexts.length = 0;
      ({ reporter, breaker } = await start(1));
      await breaker.enable('signal');
      reporter.resumeAfterEnable();
      await until(() => api.completes.length === 1, 'the drain after restart');

      const spans = tracing.spans().filter((s) => s.name === SPANS.report || s.name === SPANS.complete);
      const delivered = spans.filter((s) => s.status.code !== 2);
      expect(delivered.map((s) => s.name)).toEqual([SPANS.report, SPANS.complete]);
      for (const s of spans) {
        expect(s.kind).toBe(SpanKind.CLIENT);
        expect(s.spanContext().traceId).toBe(ATTEMPT_TRACE);
        expect(s.parentSpanContext?.spanId).toBe(ATTEMPT_SPAN);
        expect(s.attributes).toMatchObject({ [ATTR.jobId]: 'j_a', [ATTR.attempt]: 1 });
      }
      // The transport runs inside the span: the gRPC client sends that span's context as metadata.
      expect(api.contexts).toEqual(
        delivered.map((s) => ({
          method: s.name === SPANS.report ? 'Report' : 'Complete',
          traceId: ATTEMPT_TRACE,
          spanId: s.spanContext().spanId,
        })),
      );
    });

    it('without a carrier each call starts its own trace (nothing breaks)', async () => {
      const { reporter } = await start();
      const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
      r.event(ev(1));
      await r.complete(done(1));
      await until(() => api.completes.length === 1);
      const spans = tracing.spans().filter((s) => s.name === SPANS.report || s.name === SPANS.complete);
      expect(spans).toHaveLength(2);
      for (const s of spans) expect(s.parentSpanContext).toBeUndefined();
    });

    it('counts the backlog delivered after reporting is re-enabled as replayed, and nothing queued later', async () => {
      const metrics = testMetrics();
      const { reporter, breaker } = await start(1, metrics);
      api.failReports = fail('Report', Status.UNAVAILABLE);
      const r = reporter.open(ref('j_a'), { onSuperseded: () => undefined });
      r.event(ev(1));
      await until(() => breaker.state === 'open', 'the breaker to open');
      r.event(ev(2));
      r.event(ev(3));
      await r.complete(done(3));
      const late = reporter.open(ref('j_late'), { onSuperseded: () => undefined });
      late.event(ev(1));
      api.failReports = undefined;
      await breaker.enable('directive');
      reporter.resumeAfterEnable();
      late.event(ev(2));
      await late.complete(done(2));
      await until(() => api.completes.length === 2, 'both attempts delivered');
      // j_a: 3 events + its completion; j_late: only its first event was queued at the re-enable.
      expect(await metricValue(metrics, 'jr_agent_outbox_replayed_events_total')).toBe(5);
      expect(reporter.counters.replayed).toBe(5);
    });
  });
});
