import { status as Status } from '@grpc/grpc-js';
import type { pb } from '@jr/contracts';
import pino from 'pino';
import { actionFor } from '../api-client/status-policy';
import { ApiCallError, type AgentStopError } from '../errors';
import { runHeartbeatLoop, type HeartbeatDeps } from './heartbeat-loop';

const failure = (code: Status): ApiCallError => new ApiCallError('Heartbeat', code, 'x', actionFor(code, 'Heartbeat'));

describe('runHeartbeatLoop (fake timers)', () => {
  let sent: Array<{ at: number; req: pb.HeartbeatRequest }>;
  let answers: Array<pb.HeartbeatResponse__Output | ApiCallError>;
  let directives: pb.Directive__Output[];
  let fatal: AgentStopError[];
  let intervalMs: number;
  let ac: AbortController;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    sent = [];
    answers = [];
    directives = [];
    fatal = [];
    intervalMs = 10_000;
    ac = new AbortController();
  });
  afterEach(() => {
    ac.abort();
    jest.useRealTimers();
  });

  const deps = (random = () => 0.5): HeartbeatDeps => ({
    api: {
      heartbeat: async (req) => {
        sent.push({ at: Date.now(), req });
        const next = answers.shift() ?? {
          directives: [],
          heartbeatIntervalMs: 0,
          serverTimeMs: 0,
          certificateChainPem: '',
        };
        if (next instanceof Error) throw next;
        return next;
      },
    },
    leases: () => [{ jobId: 'j1', attempt: 2, leaseToken: 'lt' }],
    state: () => ({ slots: 4, running: 1 }),
    interval: { get: () => intervalMs, set: (ms) => (intervalMs = ms) },
    onDirectives: (ds) => directives.push(...ds),
    onFatal: (e) => fatal.push(e),
    logger: pino({ level: 'silent' }),
    random,
  });

  it('beats every interval with ±10 % jitter, carrying leases and state', async () => {
    void runHeartbeatLoop(
      deps(() => 1),
      ac.signal,
    );
    await jest.advanceTimersByTimeAsync(11_000);
    expect(sent.map((s) => s.at)).toEqual([11_000]);
    await jest.advanceTimersByTimeAsync(11_000);
    expect(sent.map((s) => s.at)).toEqual([11_000, 22_000]);
    expect(sent[0]?.req).toMatchObject({
      running: [{ jobId: 'j1', attempt: 2, leaseToken: 'lt' }],
      state: { slots: 4, running: 1 },
      sentAtMs: 11_000,
    });
  });

  it('tells the observer about each beat: answered or not, and how late its timer fired', async () => {
    const beats: Array<{ ok: boolean; lagMs: number }> = [];
    let stalled = 0;
    answers.push(
      { directives: [], heartbeatIntervalMs: 0, serverTimeMs: 0, certificateChainPem: '' },
      failure(Status.UNAVAILABLE),
    );
    void runHeartbeatLoop(
      { ...deps(() => 0.5), observe: (b) => beats.push(b), now: () => Date.now() + stalled },
      ac.signal,
    );
    await jest.advanceTimersByTimeAsync(10_000);
    // The event loop was blocked for 700 ms while the second beat's timer was pending.
    stalled = 700;
    await jest.advanceTimersByTimeAsync(10_000);
    expect(beats).toEqual([
      { ok: true, lagMs: 0 },
      { ok: false, lagMs: 700 },
    ]);
  });

  it('takes the interval the API answers with, and applies directives', async () => {
    answers.push({
      directives: [{ kind: 'drain', drain: {} }],
      heartbeatIntervalMs: 2_000,
      serverTimeMs: 0,
      certificateChainPem: '',
    });
    void runHeartbeatLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(directives).toEqual([{ kind: 'drain', drain: {} }]);
    expect(intervalMs).toBe(2_000);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sent).toHaveLength(2);
  });

  it('clamps a hostile interval from the API', async () => {
    answers.push({ directives: [], heartbeatIntervalMs: 1, serverTimeMs: 0, certificateChainPem: '' });
    void runHeartbeatLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(intervalMs).toBe(100);
  });

  it('retries a failed beat sooner than the interval, with backoff', async () => {
    answers.push(failure(Status.UNAVAILABLE), failure(Status.UNAVAILABLE), failure(Status.DEADLINE_EXCEEDED));
    void runHeartbeatLoop(
      deps(() => 1),
      ac.signal,
    );
    await jest.advanceTimersByTimeAsync(11_000);
    await jest.advanceTimersByTimeAsync(250 + 500 + 1_000);
    expect(sent.map((s) => s.at)).toEqual([11_000, 11_250, 11_750, 12_750]);
    expect(fatal).toEqual([]);
  });

  it('stops the agent on UNAUTHENTICATED and beats no more', async () => {
    answers.push(failure(Status.UNAUTHENTICATED));
    const loop = runHeartbeatLoop(deps(), ac.signal);
    await jest.advanceTimersByTimeAsync(10_000);
    await loop;
    expect(fatal.map((e) => e.reason)).toEqual(['auth_refused']);
    await jest.advanceTimersByTimeAsync(100_000);
    expect(sent).toHaveLength(1);
  });

  it('ends promptly when aborted', async () => {
    const loop = runHeartbeatLoop(deps(), ac.signal);
    ac.abort();
    await expect(loop).resolves.toBeUndefined();
    expect(sent).toEqual([]);
  });
});
