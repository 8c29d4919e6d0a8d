import { status as Status } from '@grpc/grpc-js';
import pino from 'pino';
import { actionFor } from '../api-client/status-policy';
import { ApiCallError } from '../errors';
import { metricValue, testMetrics } from '../telemetry.test-helper';
import {
  isBreakerOpenError,
  isTransportFailure,
  ReportingBreaker,
  type ReportingBreakerOptions,
} from './reporting-breaker';
import type { SuspendedFlagStore, Suspension } from './suspended-flag';

const fail = (code: Status): ApiCallError => new ApiCallError('Report', code, 'x', actionFor(code, 'Report'));
const DAY_MS = 24 * 3_600_000;

class MemoryFlag implements SuspendedFlagStore {
  value: Suspension | undefined;
  writes = 0;
  async read(): Promise<Suspension | undefined> {
    return this.value;
  }
  async write(s: Suspension | undefined): Promise<void> {
    this.writes += 1;
    this.value = s;
  }
}

describe('ReportingBreaker (fake timers)', () => {
  let flag: MemoryFlag;
  let lifetime: AbortController;
  let breaker: ReportingBreaker;
  const make = (o: Partial<ReportingBreakerOptions> = {}): Promise<ReportingBreaker> =>
    ReportingBreaker.create({
      threshold: 3,
      minOutageMs: 0,
      timeoutMs: 1_000,
      retries: 2,
      retryInitialMs: 100,
      retryMaxMs: 400,
      flag,
      logger: pino({ level: 'silent' }),
      lifetime: lifetime.signal,
      ...o,
    });

  beforeEach(async () => {
    jest.useFakeTimers();
    flag = new MemoryFlag();
    lifetime = new AbortController();
    breaker = await make();
  });
  afterEach(() => {
    lifetime.abort();
    jest.useRealTimers();
  });

  /** Runs one report to its end (through every retry), advancing fake time as needed. */
  async function report(fn: (signal: AbortSignal) => Promise<unknown>): Promise<{ ok: boolean; err?: unknown }> {
    const p = breaker.execute(fn, lifetime.signal).then(
      () => ({ ok: true }),
      (err: unknown) => ({ ok: false, err }),
    );
    for (let i = 0; i < 50; i++) await jest.advanceTimersByTimeAsync(1_000);
    return p;
  }
  const failing = (code: Status) => {
    const calls = { n: 0 };
    return {
      calls,
      fn: async () => {
        calls.n += 1;
        throw fail(code);
      },
    };
  };

  it('opens after THRESHOLD consecutive failed reports, each retried a bounded number of times', async () => {
    const f = failing(Status.UNAVAILABLE);
    expect((await report(f.fn)).ok).toBe(false);
    expect((await report(f.fn)).ok).toBe(false);
    expect(breaker.state).toBe('closed');
    expect(f.calls.n).toBe(6);
    expect((await report(f.fn)).ok).toBe(false);
    expect(breaker.state).toBe('open');
    expect(f.calls.n).toBe(9);
    await breaker.flushed();
    expect(flag.value?.reason).toContain('UNAVAILABLE');
  });

  it('with a minimum outage, THRESHOLD failures do not open it until they also lasted that long (an API restart)', async () => {
    breaker = await make({ minOutageMs: 120_000 });
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) expect((await report(f.fn)).ok).toBe(false); // ~100 s of refusals
    expect(breaker.state).toBe('closed');
    expect((await report(f.fn)).ok).toBe(false);
    expect((await report(f.fn)).ok).toBe(false);
    expect(breaker.state).toBe('open');
  });

  it('a success within the minimum outage starts the clock again', async () => {
    breaker = await make({ minOutageMs: 120_000 });
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 2; i++) await report(f.fn);
    expect((await report(async () => 'ok')).ok).toBe(true);
    for (let i = 0; i < 3; i++) await report(f.fn);
    expect(breaker.state).toBe('closed');
  });

  it('stays open for longer than any timer would wait: calls are refused without reaching the API', async () => {
    const f = failing(Status.DEADLINE_EXCEEDED);
    for (let i = 0; i < 3; i++) await report(f.fn);
    expect(breaker.state).toBe('open');
    const calls = f.calls.n;
    await jest.advanceTimersByTimeAsync(30 * DAY_MS);
    const ok = { n: 0 };
    const r = await report(async () => void (ok.n += 1));
    expect(r.ok).toBe(false);
    expect(isBreakerOpenError(r.err)).toBe(true);
    expect(ok.n).toBe(0);
    expect(f.calls.n).toBe(calls);
    expect(breaker.state).toBe('open');
  });

  it('counts per-try timeouts as failures (a call that never answers)', async () => {
    const hang = { n: 0 };
    const fn = (signal: AbortSignal) =>
      new Promise<never>((_res, rej) => {
        hang.n += 1;
        signal.addEventListener('abort', () => rej(new Error('cancelled by the timeout')));
      });
    for (let i = 0; i < 3; i++) await report(fn);
    expect(breaker.state).toBe('open');
    expect(hang.n).toBe(9);
  });

  it.each([
    ['UNAUTHENTICATED', Status.UNAUTHENTICATED],
    ['PERMISSION_DENIED', Status.PERMISSION_DENIED],
    ['FAILED_PRECONDITION (superseded)', Status.FAILED_PRECONDITION],
    ['INVALID_ARGUMENT', Status.INVALID_ARGUMENT],
    ['RESOURCE_EXHAUSTED', Status.RESOURCE_EXHAUSTED],
    ['NOT_FOUND', Status.NOT_FOUND],
  ])('never opens on %s: an answer, not a broken path', async (_name, code) => {
    const f = failing(code);
    for (let i = 0; i < 10; i++) await report(f.fn);
    expect(breaker.state).toBe('closed');
    expect(flag.writes).toBe(0);
  });

  it('retries RESOURCE_EXHAUSTED (transient) but not refusals', async () => {
    const busy = failing(Status.RESOURCE_EXHAUSTED);
    await report(busy.fn);
    expect(busy.calls.n).toBe(3);
    const refused = failing(Status.PERMISSION_DENIED);
    await report(refused.fn);
    expect(refused.calls.n).toBe(1);
  });

  it('a success resets the count; refusals neither count nor reset it', async () => {
    const down = failing(Status.UNAVAILABLE);
    await report(down.fn);
    await report(down.fn);
    await report(async () => 'ok');
    await report(down.fn);
    await report(down.fn);
    expect(breaker.state).toBe('closed');
    await report(failing(Status.PERMISSION_DENIED).fn);
    await report(down.fn);
    expect(breaker.state).toBe('open');
  });

  it('a retry that succeeds is not a failure', async () => {
    let n = 0;
    const flaky = async () => {
      n += 1;
      if (n % 3 !== 0) throw fail(Status.UNAVAILABLE);
      return 'ok';
    };
    for (let i = 0; i < 10; i++) expect((await report(flaky)).ok).toBe(true);
    expect(breaker.state).toBe('closed');
  });

  it('enable() closes it, removes the flag, wakes waiters, and the next report goes through', async () => {
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) await report(f.fn);
    const woke = jest.fn();
    void breaker.whenClosed(lifetime.signal).then(woke);
    await Promise.resolve();
    expect(woke).not.toHaveBeenCalled();
    await expect(breaker.enable('control')).resolves.toEqual({ wasOpen: true });
    expect(breaker.state).toBe('closed');
    expect(flag.value).toBeUndefined();
    await Promise.resolve();
    expect(woke).toHaveBeenCalled();
    expect((await report(async () => 'ok')).ok).toBe(true);
    await expect(breaker.enable('signal')).resolves.toEqual({ wasOpen: false });
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', opened: 1, enabled: 1 });
  });

  it('opens again after THRESHOLD more failures once re-enabled (the path may still be broken)', async () => {
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) await report(f.fn);
    await breaker.enable('directive');
    await report(f.fn);
    await report(f.fn);
    expect(breaker.state).toBe('closed');
    await report(f.fn);
    expect(breaker.state).toBe('open');
  });

  it('starts open when the flag says so (state survives a restart), and only enable() closes it', async () => {
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) await report(f.fn);
    await breaker.flushed();
    const restarted = await make();
    expect(restarted.state).toBe('open');
    expect(restarted.snapshot().reason).toContain('UNAVAILABLE');
    await jest.advanceTimersByTimeAsync(7 * DAY_MS);
    expect(restarted.state).toBe('open');
    await restarted.enable('signal');
    expect((await make()).state).toBe('closed');
  });

  it('shows its state in jr_agent_breaker_open and counts openings (not a restart that finds it open)', async () => {
    const metrics = testMetrics();
    breaker = await make({ metrics });
    const gauge = () => metricValue(metrics, 'jr_agent_breaker_open');
    const opened = () => metricValue(metrics, 'jr_agent_breaker_opened_total');
    expect([await gauge(), await opened()]).toEqual([0, 0]);
    const f = failing(Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) await report(f.fn);
    expect([await gauge(), await opened()]).toEqual([1, 1]);
    await breaker.flushed();
    const restartedMetrics = testMetrics();
    await make({ metrics: restartedMetrics });
    expect(await metricValue(restartedMetrics, 'jr_agent_breaker_open')).toBe(1);
    expect(await metricValue(restartedMetrics, 'jr_agent_breaker_opened_total')).toBe(0);
    await breaker.enable('control');
    expect([await gauge(), await opened()]).toEqual([0, 1]);
    for (let i = 0; i < 3; i++) await report(f.fn);
    expect([await gauge(), await opened()]).toEqual([1, 2]);
  });

  it('failures caused by the agent stopping never count', async () => {
    const hang = (signal: AbortSignal) =>
      new Promise<never>((_r, rej) => signal.addEventListener('abort', () => rej(new Error('stopped'))));
    const pending = Array.from({ length: 5 }, () => breaker.execute(hang, lifetime.signal).catch(() => undefined));
    lifetime.abort();
    await jest.advanceTimersByTimeAsync(10_000);
    await Promise.all(pending);
    expect(breaker.state).toBe('closed');
    expect(flag.writes).toBe(0);
  });

  it('classifies transport failures', () => {
    expect(isTransportFailure(fail(Status.UNAVAILABLE))).toBe(true);
    expect(isTransportFailure(fail(Status.INTERNAL))).toBe(true);
    expect(isTransportFailure(fail(Status.FAILED_PRECONDITION))).toBe(false);
    expect(isTransportFailure(new Error('local bug'))).toBe(false);
  });
});
