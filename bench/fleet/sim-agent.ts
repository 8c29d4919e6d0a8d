import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { loadAgentProto, type AgentServiceClient, type pb } from '@jr/contracts';
import { createCsr, createKeyPem } from '@jr/pki';
import { delay, epochMs, jitter } from './stats';

/**
 * The channel options a real jr-agent uses (apps/agent/src/api-client), plus a local subchannel pool:
 * grpc-js otherwise shares one connection among every channel of a process with the same target and
 * options, and a simulated fleet must hold one connection per agent as a real one does.
 */
export const SIM_CHANNEL_OPTIONS: grpc.ClientOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.use_local_subchannel_pool': 1,
};

export interface SimConfig {
  target: string;
  enrollToken: string;
  pool: string;
  /** What the agent asks the API to hold a Lease for (a real agent: 25 s). */
  leaseWaitMs: number;
  /** The API's CA (PEM); undefined: plain text. */
  caPem?: string;
}

/** Where a simulated agent reports what it measured. */
export interface SimSink {
  heartbeat(rttMs: number): void;
  assignment(jobId: string, atEpochMs: number): void;
  error(what: string): void;
  /** A call answered OK (any method). */
  ok(): void;
}

type Method = 'Enroll' | 'Heartbeat' | 'Lease' | 'Complete';

/**
 * One key pair for every simulated agent of this process (their CSRs are the same; the API signs each
 * into that agent's own certificate): thousands of P-256 key pairs would measure the generator.
 */
let simKey: Promise<{ keyPem: string; csrPem: string }> | undefined;
function sharedSimKey(): Promise<{ keyPem: string; csrPem: string }> {
  simKey ??= createKeyPem().then(async (keyPem) => ({ keyPem, csrPem: await createCsr(keyPem) }));
  return simKey;
}
type UnaryFn = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => grpc.ClientUnaryCall;

/**
 * One simulated agent on its own channel: Enroll once, then a Heartbeat loop (the API's interval,
 * ±10 % jitter, deadline min(interval, 10 s), as jr-agent) and one Lease long-poll loop (one slot)
 * that Completes every assignment at once. No process runs: this measures the API, not the agent.
 */
export class SimAgent {
  private client: AgentServiceClient;
  private readonly stopping = new AbortController();
  private readonly calls = new Set<grpc.ClientUnaryCall>();
  private readonly held = new Map<string, pb.RunningAttempt>();
  private credential = '';
  private agentId = '';
  private readonly secret = randomBytes(32).toString('base64url');
  private intervalMs = 10_000;

  constructor(
    readonly name: string,
    private readonly cfg: SimConfig,
    private readonly sink: SimSink,
  ) {
    this.client = this.connect();
  }

  /** Its channel; over TLS, presenting `identity` (the client certificate Enroll gave) when there is one. */
  private connect(identity?: { keyPem: string; chainPem: string }): AgentServiceClient {
    const Service = loadAgentProto().jobrunner.v1.AgentService;
    const ca = this.cfg.caPem;
    const credentials =
      ca === undefined
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(
            Buffer.from(ca),
            identity ? Buffer.from(identity.keyPem) : null,
            identity ? Buffer.from(identity.chainPem) : null,
          );
    return new Service(this.cfg.target, credentials, SIM_CHANNEL_OPTIONS);
  }

  /**
   * Enrolls (retrying with backoff, as jr-agent does, but not past `giveUpAtMs`); resolves with the
   * duration of the call that succeeded.
   */
  async enroll(giveUpAtMs: number): Promise<number> {
    const key = this.cfg.caPem === undefined ? undefined : await sharedSimKey();
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const req: pb.EnrollRequest = {
          name: this.name,
          pool: this.cfg.pool,
          labels: {},
          slots: 1,
          version: 'bench-sim',
          previousAgentId: this.agentId,
          previousCredential: this.credential,
          credentialSecret: this.secret, // the same on every retry: a lost answer does not make the name taken
          csrPem: key?.csrPem ?? '',
        };
        const res = await this.call<pb.EnrollResponse__Output>(
          'Enroll',
          req,
          this.cfg.enrollToken,
          Math.max(1_000, Math.min(10_000, giveUpAtMs - Date.now())),
        );
        this.credential = res.credential;
        this.agentId = res.agentId;
        this.intervalMs = Number(res.heartbeatIntervalMs) || this.intervalMs;
        const took = performance.now() - started;
        if (key && res.certificateChainPem) {
          this.client.close();
          this.client = this.connect({ keyPem: key.keyPem, chainPem: res.certificateChainPem });
        }
        return took;
      } catch (err) {
        this.sink.error(`Enroll ${describe(err)}`);
        const pause = jitter(500 * 2 ** attempt, 0.2);
        if (attempt >= 5 || this.stopping.signal.aborted || Date.now() + pause > giveUpAtMs) throw err;
        await delay(pause);
      }
    }
  }

  /** Starts both loops; the first beat falls at a random point of the interval (agents start at different times). */
  start(): void {
    void this.heartbeatLoop(Math.random() * this.intervalMs);
    void this.leaseLoop();
  }

  close(): void {
    this.stopping.abort();
    for (const c of this.calls) c.cancel();
    this.client.close();
  }

  private async heartbeatLoop(firstDelayMs: number): Promise<void> {
    let wait = firstDelayMs;
    while (!this.stopping.signal.aborted) {
      await delay(wait);
      if (this.stopping.signal.aborted) return;
      const started = performance.now();
      try {
        const req: pb.HeartbeatRequest = {
          running: [...this.held.values()],
          state: {
            slots: 1,
            running: this.held.size,
            draining: false,
            breakerState: 'closed',
            outboxDepth: 0,
            outboxOldestAgeMs: 0,
          },
          sentAtMs: Date.now(),
        };
        const res = await this.call<pb.HeartbeatResponse__Output>(
          'Heartbeat',
          req,
          this.credential,
          Math.max(1_000, Math.min(this.intervalMs, 10_000)),
        );
        this.sink.heartbeat(performance.now() - started);
        this.intervalMs = Number(res.heartbeatIntervalMs) || this.intervalMs;
        wait = jitter(this.intervalMs, 0.1);
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.sink.error(`Heartbeat ${describe(err)}`);
        wait = Math.min(this.intervalMs, 1_000); // a failed beat is retried sooner, as jr-agent does
      }
    }
  }

  private async leaseLoop(): Promise<void> {
    let backoffMs = 500;
    while (!this.stopping.signal.aborted) {
      const started = performance.now();
      try {
        const res = await this.call<pb.LeaseResponse__Output>(
          'Lease',
          { freeSlots: 1, waitMs: this.cfg.leaseWaitMs },
          this.credential,
          this.cfg.leaseWaitMs + 5_000,
        );
        backoffMs = 500;
        for (const a of res.assignments) await this.completeAtOnce(a);
        if (res.assignments.length === 0 && performance.now() - started < 1_000) await delay(jitter(1_000, 0.2));
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.sink.error(`Lease ${describe(err)}`);
        await delay(jitter(backoffMs, 0.2));
        backoffMs = Math.min(30_000, backoffMs * 2);
      }
    }
  }

  private async completeAtOnce(a: pb.Assignment__Output): Promise<void> {
    const at = epochMs();
    this.sink.assignment(a.jobId, at);
    const key = `${a.jobId}#${a.attempt}`;
    this.held.set(key, { jobId: a.jobId, attempt: a.attempt, leaseToken: a.leaseToken });
    try {
      const req: pb.CompleteRequest = {
        jobId: a.jobId,
        attempt: a.attempt,
        leaseToken: a.leaseToken,
        outcome: 'OUTCOME_SUCCEEDED',
        exitCode: 0,
        reason: '',
        startedAtMs: Math.floor(at),
        endedAtMs: Date.now(),
        lastSeq: 0,
      };
      await this.call('Complete', req, this.credential, 15_000);
    } catch (err) {
      this.sink.error(`Complete ${describe(err)}`);
    } finally {
      this.held.delete(key);
    }
  }

  private call<Res>(method: Method, req: unknown, token: string, deadlineMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      const fn = (this.client[method] as unknown as UnaryFn).bind(this.client);
      const call = fn(req, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
        this.calls.delete(call);
        if (err) return reject(err);
        this.sink.ok();
        resolve(res as Res);
      });
      this.calls.add(call);
    });
  }
}

/** `UNAVAILABLE`, `DEADLINE_EXCEEDED`…: the grpc status name, the error's name otherwise. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') return grpc.status[code] ?? String(code);
  return err instanceof Error ? err.name : 'error';
}
