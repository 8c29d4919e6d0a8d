import { status as Status } from '@grpc/grpc-js';
import type { pb } from '@jr/contracts';
import { Backoff } from '@jr/resilience';
import pino from 'pino';
import { actionFor } from '../api-client/status-policy';
import { ApiCallError, type AgentStopError } from '../errors';
import { runLeaseLoop, type LeaseDeps } from './lease-loop';

const failure = (code: Status): ApiCallError => new ApiCallError('Lease', code, 'x', actionFor(code, 'Lease'));
const assignment = (jobId: string): pb.Assignment__Output => ({
  jobId,
  attempt: 1,
  leaseToken: 't',
  leaseExpiresAtMs: 0,
  secrets: {},
  spec: null,
});

describe('runLeaseLoop (fake timers)', () => {
  let calls: Array<{ at: number; req: pb.LeaseRequest; deadlineMs: number }>;
  let answers: Array<{ after: number; value: pb.LeaseResponse__Output | ApiCallError }>;
  let assigned: string[];
  let fatal: AgentStopError[];
  let free: number;
  let reserved: number;
  let freed: (() => void) | undefined;
  let ac: AbortController;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    calls = [];
    answers = [];
    assigned = [];
    fatal = [];
    free = 2;
    reserved = 0;
    ac = new AbortController();
  });
  afterEach(() => {
    ac.abort();
    jest.useRealTimers();
  });

  const deps = (): LeaseDeps => ({
    api: {
      lease: async (req, opts) => {
        calls.push({ at: Date.now(), req, deadlineMs: opts.deadlineMs });
        const next = answers.shift() ?? { after: 25_000, value: { assignments: [] } };
        if (next.after > 0) await new Promise((r) => setTimeout(r, next.after));
        if (next.value instanceof Error) throw next.value;
        return next.value;
      },
    },
    slots: {
      reserve: async (signal) => {
        while (free <= 0) {
          if (signal.aborted) return undefined;
          await new Promise<void>((r) => (freed = r));
        }
        free -= 1;
        reserved += 1;
        let done = false;
        return () => {
          if (done) return;
          done = true;
          free += 1;
          reserved -= 1;
        };
      },
    },
    waitMs: 25_000,
    onAssignment: (a) => {
      assigned.push(a.jobId);
      free -= 1;
    },
    onFatal: (e) => fatal.push(e),
    logger: pino({ level: 'silent' }),
    newBackoff: () => new Backoff({ initialMs: 500, maxMs: 4_000, random: () => 1 }),
  });

  it('long-polls for the slot it reserved with a deadline of waitMs + 5 s, handing over the assignment', async () => {
    answers.push({ after: 100, value: { assignments: [assignment('a')] } });
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(50);
    expect(reserved).toBe(1);
    await jest.advanceTimersByTimeAsync(50);
    expect(calls[0]).toEqual({ at: 0, req: { freeSlots: 1, waitMs: 25_000 }, deadlineMs: 30_000 });
    expect(assigned).toEqual(['a']);
    expect(reserved).toBe(1); // the next call's reservation, the first one became a running attempt
    expect(free).toBe(0);
  });

  it('side by side, loops never ask for more than the free slots', async () => {
    free = 2;
    for (let i = 0; i < 3; i++) void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(2);
    expect(reserved).toBe(2);
  });

  it('gives the reservation back when the call fails', async () => {
    answers.push({ after: 0, value: failure(Status.UNAVAILABLE) });
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(10);
    expect(reserved).toBe(0);
    expect(free).toBe(2);
  });

  it('does not lease while every slot is busy, and resumes when one frees', async () => {
    free = 0;
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([]);
    free = 1;
    freed?.();
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.req.freeSlots)).toEqual([1]);
  });

  it('backs off exponentially on transient errors and resets after a success', async () => {
    answers.push(
      { after: 0, value: failure(Status.UNAVAILABLE) },
      { after: 0, value: failure(Status.RESOURCE_EXHAUSTED) },
      { after: 0, value: failure(Status.INTERNAL) },
      { after: 2_000, value: { assignments: [] } },
      { after: 0, value: failure(Status.UNAVAILABLE) },
    );
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(500 + 1_000 + 2_000 + 2_000 + 500);
    expect(calls.map((c) => c.at)).toEqual([0, 500, 1_500, 3_500, 5_500, 6_000]);
  });

  it('RESOURCE_EXHAUSTED: waits the API push-back when it is longer than the backoff, and the backoff otherwise', async () => {
    const limited = (pushbackMs: number): ApiCallError =>
      new ApiCallError('Lease', Status.RESOURCE_EXHAUSTED, 'rate limited', 'retry', pushbackMs);
    answers.push(
      { after: 0, value: limited(7_000) },
      { after: 0, value: limited(10) },
      { after: 0, value: limited(99 * 3_600_000) },
    );
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(7_000 + 1_000 + 3_600_000);
    // 7 s push-back over a 500 ms backoff; then the 1 s backoff over a 10 ms push-back; push-back capped at 1 h
    expect(calls.map((c) => c.at)).toEqual([0, 7_000, 8_000, 3_608_000]);
  });

  it('pauses instead of spinning when the API answers empty at once', async () => {
    for (let i = 0; i < 10; i++) answers.push({ after: 0, value: { assignments: [] } });
    void runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(calls.length).toBeLessThanOrEqual(4);
  });

  it.each([Status.UNAUTHENTICATED, Status.PERMISSION_DENIED, Status.UNIMPLEMENTED])(
    'stops the agent on status %s',
    async (code) => {
      answers.push({ after: 0, value: failure(code) });
      await runLeaseLoop(deps(), ac.signal);
      expect(fatal).toHaveLength(1);
      expect(calls).toHaveLength(1);
    },
  );

  it('stops leasing as soon as its signal aborts (drain, shutdown)', async () => {
    const loop = runLeaseLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(1_000);
    ac.abort();
    await jest.advanceTimersByTimeAsync(30_000);
    await loop;
    expect(calls).toHaveLength(1);
  });
});
