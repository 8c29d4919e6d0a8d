import { status as Status } from '@grpc/grpc-js';
import type { pb } from '@jr/contracts';
import { Backoff } from '@jr/resilience';
import pino from 'pino';
import { actionFor } from '../api-client/status-policy';
import { ApiCallError, type AgentStopError } from '../errors';
import { MAX_BATCH_EVENTS, MemoryReporter, type ReportTransport } from './memory-reporter';
import type { Completion } from './reporter';

const logger = pino({ level: 'silent' });
const fail = (method: 'Report' | 'Complete', code: Status): ApiCallError => new ApiCallError(method, code, 'x', actionFor(code, method));
const ev = (seq: number, bytes = 0): pb.AttemptEvent => (bytes > 0 ? { seq, kind: 'log', log: { step: 0, stream: 'stdout', data: Buffer.alloc(bytes) } } : { seq, kind: 'stepStarted', stepStarted: { step: 0, name: 's', try: 1 } });
const done = (lastSeq: number): Completion => ({ outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, reason: '', startedAtMs: 1, endedAtMs: 2, lastSeq });

/** A scripted transport: each call consumes the next scripted failure for its job, else succeeds. */
class ScriptedTransport implements ReportTransport {
  readonly reports: Array<{ jobId: string; seqs: number[] }> = [];
  readonly completes: pb.CompleteRequest[] = [];
  completeCalls = 0;
  readonly failures = new Map<string, ApiCallError[]>();
  hold: Promise<void> | undefined;

  async report(req: pb.ReportRequest): Promise<pb.ReportResponse__Output> {
    await this.hold;
    const failure = this.failures.get(`Report:${req.jobId}`)?.shift();
    if (failure) throw failure;
    const seqs = (req.events ?? []).map((e) => Number(e.seq));
    this.reports.push({ jobId: req.jobId ?? '', seqs });
    return { ackedSeq: seqs[seqs.length - 1] ?? 0 };
  }

  async complete(req: pb.CompleteRequest): Promise<pb.CompleteResponse__Output> {
    this.completeCalls += 1;
    const failure = this.failures.get(`Complete:${req.jobId}`)?.shift();
    if (failure) throw failure;
    this.completes.push(req);
    return { jobState: 'succeeded' };
  }
}

describe('MemoryReporter', () => {
  let transport: ScriptedTransport;
  let fatal: AgentStopError[];
  let reporter: MemoryReporter;
  beforeEach(() => {
    jest.useFakeTimers();
    transport = new ScriptedTransport();
    fatal = [];
    reporter = new MemoryReporter({
      transport, logger, onFatal: (e) => fatal.push(e),
      newBackoff: () => new Backoff({ initialMs: 1_000, maxMs: 8_000, random: () => 1 }),
    });
  });
  afterEach(() => {
    reporter.close();
    jest.useRealTimers();
  });

  const ref = (jobId: string) => ({ jobId, attempt: 1, leaseToken: 't' });

  it('sends events in seq order, in batches of at most 100 events and 256 KiB, then Complete', async () => {
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    for (let s = 1; s <= 150; s++) r.event(ev(s));
    for (let s = 151; s <= 158; s++) r.event(ev(s, 64 * 1024));
    const result = await r.complete(done(158));
    expect(result).toEqual({ status: 'completed', jobState: 'succeeded' });
    const all = transport.reports.flatMap((b) => b.seqs);
    expect(all).toEqual(Array.from({ length: 158 }, (_, i) => i + 1));
    expect(Math.max(...transport.reports.map((b) => b.seqs.length))).toBeLessThanOrEqual(MAX_BATCH_EVENTS);
    const bigBatches = transport.reports.filter((b) => b.seqs[0]! > 150);
    expect(bigBatches.every((b) => b.seqs.length <= 3)).toBe(true);
    expect(transport.completes).toEqual([expect.objectContaining({ jobId: 'j1', lastSeq: 158, outcome: 'OUTCOME_SUCCEEDED' })]);
  });

  it('retries UNAVAILABLE and DEADLINE_EXCEEDED with growing backoff, Complete only after every event is acknowledged', async () => {
    transport.failures.set('Report:j1', [fail('Report', Status.UNAVAILABLE), fail('Report', Status.DEADLINE_EXCEEDED)]);
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1));
    const result = r.complete(done(1));
    await jest.advanceTimersByTimeAsync(999);
    expect(transport.reports).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(transport.reports).toEqual([]);
    expect(transport.completes).toEqual([]);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(transport.reports).toEqual([{ jobId: 'j1', seqs: [1] }]);
    await expect(result).resolves.toMatchObject({ status: 'completed' });
    expect(reporter.stats().pendingEvents).toBe(0);
  });

  it('keeps retrying while the agent runs (no overall limit) and reports the backlog age', async () => {
    transport.failures.set('Report:j1', Array.from({ length: 30 }, () => fail('Report', Status.UNAVAILABLE)));
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(reporter.stats()).toEqual({ pendingEvents: 1, oldestAgeMs: 60_000 });
    await jest.advanceTimersByTimeAsync(30 * 8_000);
    expect(transport.reports).toEqual([{ jobId: 'j1', seqs: [1] }]);
  });

  it('stops reporting a superseded attempt, tells the runner to kill it, and still tries Complete once', async () => {
    transport.failures.set('Report:j1', [fail('Report', Status.FAILED_PRECONDITION)]);
    transport.failures.set('Complete:j1', [fail('Complete', Status.FAILED_PRECONDITION)]);
    const onSuperseded = jest.fn();
    const r = reporter.open(ref('j1'), { onSuperseded });
    r.event(ev(1));
    r.event(ev(2));
    await jest.advanceTimersByTimeAsync(0);
    expect(onSuperseded).toHaveBeenCalledTimes(1);
    r.event(ev(3));
    await expect(r.complete(done(3))).resolves.toEqual({ status: 'superseded' });
    expect(transport.reports).toEqual([]);
    expect(transport.completeCalls).toBe(1);
    expect(onSuperseded).toHaveBeenCalledTimes(1);
  });

  it('accepts FAILED_PRECONDITION on Complete as superseded (the lease_lost case)', async () => {
    transport.failures.set('Complete:j1', [fail('Complete', Status.FAILED_PRECONDITION)]);
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    await expect(r.complete(done(0))).resolves.toEqual({ status: 'superseded' });
  });

  it('drops a batch the API calls invalid and goes on with the rest', async () => {
    transport.failures.set('Report:j1', [fail('Report', Status.INVALID_ARGUMENT)]);
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1));
    await jest.advanceTimersByTimeAsync(0);
    r.event(ev(2));
    await expect(r.complete(done(2))).resolves.toMatchObject({ status: 'completed' });
    expect(transport.reports).toEqual([{ jobId: 'j1', seqs: [2] }]);
  });

  it('stops the agent on PERMISSION_DENIED instead of looping', async () => {
    transport.failures.set('Report:j1', [fail('Report', Status.PERMISSION_DENIED)]);
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1));
    await expect(r.complete(done(1))).resolves.toEqual({ status: 'abandoned' });
    expect(fatal.map((e) => e.reason)).toEqual(['permission_denied']);
  });

  it('never lets one stuck attempt delay another', async () => {
    transport.failures.set('Report:stuck', Array.from({ length: 100 }, () => fail('Report', Status.UNAVAILABLE)));
    const stuck = reporter.open(ref('stuck'), { onSuperseded: jest.fn() });
    stuck.event(ev(1));
    const ok = reporter.open(ref('ok'), { onSuperseded: jest.fn() });
    ok.event(ev(1));
    await expect(ok.complete(done(1))).resolves.toMatchObject({ status: 'completed' });
    expect(transport.reports.map((b) => b.jobId)).toEqual(['ok']);
  });

  it('wakes a paused step once its backlog is acknowledged', async () => {
    let release!: () => void;
    transport.hold = new Promise((r) => (release = r));
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1, 1_000));
    expect(r.backlogBytes()).toBeGreaterThan(1_000);
    const resume = jest.fn();
    r.onBacklogBelow(0, resume);
    await jest.advanceTimersByTimeAsync(0);
    expect(resume).not.toHaveBeenCalled();
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(resume).toHaveBeenCalled();
    expect(r.backlogBytes()).toBe(0);
  });

  it('abandons what is left when closed', async () => {
    transport.failures.set('Report:j1', Array.from({ length: 100 }, () => fail('Report', Status.UNAVAILABLE)));
    const r = reporter.open(ref('j1'), { onSuperseded: jest.fn() });
    r.event(ev(1));
    const result = r.complete(done(1));
    await jest.advanceTimersByTimeAsync(5_000);
    reporter.close();
    await expect(result).resolves.toEqual({ status: 'abandoned' });
  });
});
