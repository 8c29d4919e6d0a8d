import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { loadAgentProto, type AgentServiceHandlers, type pb } from '@jr/contracts';
import { testTls } from '@jr/testing';

async function testServerCredentials(): Promise<grpc.ServerCredentials> {
  const t = await testTls();
  const [cert, key] = await Promise.all([readFile(t.certFile), readFile(t.keyFile)]);
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
}

type Failure = { code: grpc.status; details: string; times: number };

interface Lease {
  assignment: pb.Assignment;
  /** 'superseded' once the API moved on (lease lost, re-queued): reports are fenced off. */
  state: 'queued' | 'leased' | 'done' | 'superseded';
  agentId?: string;
  events: Map<number, pb.AttemptEvent__Output>;
}

/**
 * A small, real AgentService over loopback with in-memory state (buildkite style: a fake API, not a
 * mock of the client). Jobs are queued with `enqueue`, directives with `cancel`/`drain`; every call
 * is recorded for assertions. State survives `stop()`/`start()` so an outage can be simulated on the
 * same port.
 */
export class FakeAgentApi {
  enrollToken = 'enroll-secret';
  heartbeatIntervalMs = 200;
  readonly enrolls: pb.EnrollRequest__Output[] = [];
  readonly heartbeats: Array<{ agentId: string; req: pb.HeartbeatRequest__Output }> = [];
  readonly leaseCalls: pb.LeaseRequest__Output[] = [];
  readonly completions: pb.CompleteRequest__Output[] = [];
  readonly refusedCompletions: pb.CompleteRequest__Output[] = [];
  readonly credentials = new Map<string, string>();
  readonly failures = new Map<string, Failure>();
  /** Every event that arrived in an accepted Report, in arrival order (duplicates included). */
  readonly arrivals: Array<{ jobId: string; seq: number }> = [];
  /** Every call received per method, refused ones included. */
  readonly calls: Record<string, number> = { Enroll: 0, Heartbeat: 0, Lease: 0, Report: 0, Complete: 0 };
  /** The `traceparent` metadata of every call, in arrival order ('' when it had none). */
  readonly traceparents: Array<{ method: string; traceparent: string }> = [];
  /**
   * Response metadata for a Lease answer that hands out jobs (what the API sends: the lease span's
   * `traceparent`); undefined: none is sent.
   */
  leaseMetadata: ((jobIds: string[]) => Record<string, string>) | undefined;
  private readonly leases = new Map<string, Lease>();
  private readonly directives = new Map<string, pb.Directive[]>();
  /** Agents drained by `direct(…, { drain })`: like jr-api, every heartbeat answer repeats the drain until `undrain`. */
  private readonly drained = new Set<string>();
  private wakeLeases: Array<() => void> = [];
  private server: grpc.Server | undefined;
  port = 0;
  /** TLS with the shared test CA's certificate, as jr-api speaks by default; false: plain text. */
  tls = true;

  async start(port = this.port): Promise<number> {
    const server = new grpc.Server();
    server.addService(loadAgentProto().jobrunner.v1.AgentService.service, this.handlers());
    const credentials = this.tls ? await testServerCredentials() : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Abrupt: connections drop, calls in flight fail UNAVAILABLE. */
  async stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    for (const wake of this.wakeLeases.splice(0)) wake();
  }

  enqueue(spec: pb.JobSpec, jobId = `j_${randomBytes(8).toString('hex')}`): string {
    const assignment = {
      jobId,
      attempt: 1,
      leaseToken: `lt_${randomBytes(6).toString('hex')}`,
      leaseExpiresAtMs: Date.now() + 60_000,
      spec,
    };
    this.leases.set(key(jobId, 1), { assignment, state: 'queued', events: new Map() });
    for (const wake of this.wakeLeases.splice(0)) wake();
    return jobId;
  }

  /** Lifts a drain: heartbeat answers stop carrying it (the agent leases again). */
  undrain(agentId: string): void {
    this.drained.delete(agentId);
  }

  /** Queues a cancel directive for the agent holding the job; `lease_lost` also fences the lease off. */
  cancel(jobId: string, reason = 'cancelled'): void {
    const lease = this.leases.get(key(jobId, 1));
    if (!lease?.agentId) throw new Error(`${jobId} is not leased`);
    if (reason === 'lease_lost') lease.state = 'superseded';
    this.direct(lease.agentId, { cancel: { jobId, attempt: 1, reason } });
  }

  /** The lease was meanwhile given to someone else: later reports of it are refused as superseded. */
  supersede(jobId: string): void {
    const lease = this.leases.get(key(jobId, 1));
    if (!lease) throw new Error(`${jobId} is not known`);
    lease.state = 'superseded';
  }

  /** The AgentState of the last heartbeat. */
  lastState(): pb.AgentState__Output | null | undefined {
    return this.heartbeats[this.heartbeats.length - 1]?.req.state;
  }

  direct(agentId: string, directive: pb.Directive): void {
    if (directive.drain) this.drained.add(agentId);
    this.directives.set(agentId, [...(this.directives.get(agentId) ?? []), directive]);
  }

  /** Makes the next `times` calls of `method` fail with `code`. */
  failNext(method: 'Enroll' | 'Heartbeat' | 'Lease' | 'Report' | 'Complete', code: grpc.status, times = 1): void {
    this.failures.set(method, { code, details: `injected ${grpc.status[code]}`, times });
  }

  revokeAll(): void {
    this.credentials.clear();
  }

  events(jobId: string): pb.AttemptEvent__Output[] {
    return [...(this.leases.get(key(jobId, 1))?.events.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  output(jobId: string): string {
    return this.events(jobId)
      .filter((e) => e.log)
      .map((e) => e.log?.data.toString('utf8'))
      .join('');
  }

  completion(jobId: string): pb.CompleteRequest__Output | undefined {
    return this.completions.find((c) => c.jobId === jobId);
  }

  private handlers(): AgentServiceHandlers {
    return {
      Enroll: (call, cb) => this.guard('Enroll', call, cb, () => this.enroll(call)),
      Heartbeat: (call, cb) => this.guard('Heartbeat', call, cb, () => this.heartbeat(this.auth(call), call.request)),
      Lease: (call, cb) => this.guard('Lease', call, cb, () => this.lease(this.auth(call), call)),
      Report: (call, cb) => this.guard('Report', call, cb, () => this.report(this.auth(call), call.request)),
      Complete: (call, cb) => this.guard('Complete', call, cb, () => this.complete(this.auth(call), call.request)),
    };
  }

  private guard<Res>(
    method: string,
    call: grpc.ServerUnaryCall<unknown, Res>,
    cb: grpc.sendUnaryData<Res>,
    body: () => Res | Promise<Res>,
  ): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    this.traceparents.push({ method, traceparent: String(call.metadata.get('traceparent')[0] ?? '') });
    const failure = this.failures.get(method);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      return cb({ code: failure.code, details: failure.details });
    }
    Promise.resolve()
      .then(body)
      .then(
        (res) => cb(null, res),
        (err: { code?: grpc.status; details?: string; message?: string }) =>
          cb({ code: err.code ?? grpc.status.INTERNAL, details: err.details ?? err.message ?? 'error' }),
      );
    void call;
  }

  private auth(call: grpc.ServerUnaryCall<unknown, unknown>): string {
    const header = String(call.metadata.get('authorization')[0] ?? '');
    const agentId = this.credentials.get(header.replace(/^Bearer /, ''));
    if (!agentId) throw statusError(grpc.status.UNAUTHENTICATED, 'unknown credential');
    return agentId;
  }

  private enroll(call: grpc.ServerUnaryCall<pb.EnrollRequest__Output, pb.EnrollResponse>): pb.EnrollResponse {
    if (call.metadata.get('authorization')[0] !== `Bearer ${this.enrollToken}`)
      throw statusError(grpc.status.UNAUTHENTICATED, 'bad enroll token');
    this.enrolls.push(call.request);
    const agentId = call.request.previousAgentId || `a_${randomBytes(10).toString('hex')}`;
    const credential = `${agentId}.${randomBytes(16).toString('hex')}`;
    this.credentials.set(credential, agentId);
    return { agentId, credential, heartbeatIntervalMs: this.heartbeatIntervalMs };
  }

  private heartbeat(agentId: string, req: pb.HeartbeatRequest__Output): pb.HeartbeatResponse {
    this.heartbeats.push({ agentId, req });
    const queued = (this.directives.get(agentId) ?? []).filter((d) => !d.drain);
    this.directives.delete(agentId);
    const directives = this.drained.has(agentId) ? [...queued, { drain: {} }] : queued;
    return { directives, heartbeatIntervalMs: this.heartbeatIntervalMs, serverTimeMs: Date.now() };
  }

  private async lease(
    agentId: string,
    call: grpc.ServerUnaryCall<pb.LeaseRequest__Output, pb.LeaseResponse>,
  ): Promise<pb.LeaseResponse> {
    this.leaseCalls.push(call.request);
    const until = Date.now() + Math.min(call.request.waitMs, 30_000);
    for (;;) {
      const queued = [...this.leases.values()].filter((l) => l.state === 'queued').slice(0, call.request.freeSlots);
      if (queued.length > 0 || Date.now() >= until || call.cancelled || !this.server) {
        for (const l of queued) Object.assign(l, { state: 'leased', agentId });
        if (queued.length > 0 && this.leaseMetadata)
          call.sendMetadata(toMetadata(this.leaseMetadata(queued.map((l) => l.assignment.jobId ?? ''))));
        return { assignments: queued.map((l) => l.assignment) };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, until - Date.now());
        this.wakeLeases.push(() => (clearTimeout(timer), resolve()));
        call.once('cancelled', () => (clearTimeout(timer), resolve()));
      });
    }
  }

  private fenced(agentId: string, req: { jobId: string; attempt: number; leaseToken: string }): Lease {
    const lease = this.leases.get(key(req.jobId, req.attempt));
    if (!lease) throw statusError(grpc.status.NOT_FOUND, 'no such attempt');
    if (lease.agentId !== agentId || lease.assignment.leaseToken !== req.leaseToken || lease.state === 'superseded') {
      throw statusError(grpc.status.FAILED_PRECONDITION, 'superseded');
    }
    return lease;
  }

  private report(agentId: string, req: pb.ReportRequest__Output): pb.ReportResponse {
    const lease = this.fenced(agentId, req);
    for (const e of req.events) {
      this.arrivals.push({ jobId: req.jobId, seq: e.seq });
      if (!lease.events.has(e.seq)) lease.events.set(e.seq, e);
    }
    return { ackedSeq: Math.max(0, ...lease.events.keys()) };
  }

  private complete(agentId: string, req: pb.CompleteRequest__Output): pb.CompleteResponse {
    let lease: Lease;
    try {
      lease = this.fenced(agentId, req);
    } catch (err) {
      this.refusedCompletions.push(req);
      throw err;
    }
    if (lease.state !== 'done') this.completions.push(req);
    lease.state = 'done';
    return { jobState: req.outcome === 'OUTCOME_SUCCEEDED' ? 'succeeded' : 'failed' };
  }
}

function statusError(code: grpc.status, details: string): Error & { code: grpc.status; details: string } {
  return Object.assign(new Error(details), { code, details });
}

function toMetadata(entries: Record<string, string>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) md.set(k, v);
  return md;
}

function key(jobId: string, attempt: number): string {
  return `${jobId}#${attempt}`;
}
