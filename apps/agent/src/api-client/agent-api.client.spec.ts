import * as grpc from '@grpc/grpc-js';
import { loadAgentProto, type AgentServiceHandlers, type pb } from '@jr/contracts';
import { activeTraceIds, injectToCarrier, withSpan } from '@jr/telemetry';
import { isApiCallError } from '../errors';
import { metricValue, testMetrics, testTracing, traceparent } from '../telemetry.test-helper';
import { AgentApiClient, type CredentialSource } from './agent-api.client';

/** A real grpc-js server on loopback; each handler is set per test. */
async function startServer(
  handlers: Partial<AgentServiceHandlers>,
): Promise<{ address: string; server: grpc.Server; seen: string[] }> {
  const seen: string[] = [];
  const server = new grpc.Server();
  type Unary = grpc.handleUnaryCall<unknown, unknown>;
  const unimplemented: Unary = (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'no' });
  const wrap =
    (name: keyof AgentServiceHandlers): Unary =>
    (call, cb) => {
      seen.push(`${name} ${String(call.metadata.get('authorization')[0] ?? '')}`);
      ((handlers[name] as Unary | undefined) ?? unimplemented)(call, cb);
    };
  server.addService(loadAgentProto().jobrunner.v1.AgentService.service, {
    Enroll: wrap('Enroll'),
    Heartbeat: wrap('Heartbeat'),
    Lease: wrap('Lease'),
    Report: wrap('Report'),
    Complete: wrap('Complete'),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, server, seen };
}

function fixedCredentials(list: string[]): CredentialSource & { recoveries: number } {
  let i = 0;
  return {
    recoveries: 0,
    current: () => list[i] as string,
    async recover(refused) {
      this.recoveries++;
      if (refused !== list[i] || i + 1 >= list.length) return false;
      i++;
      return true;
    },
  };
}

describe('AgentApiClient', () => {
  let srv: Awaited<ReturnType<typeof startServer>> | undefined;
  let client: AgentApiClient | undefined;
  afterEach(() => {
    client?.close();
    srv?.server.forceShutdown();
  });

  it('sends the enroll token and the credential as bearer metadata', async () => {
    srv = await startServer({
      Enroll: (_c, cb) => cb(null, { agentId: 'a_1', credential: 'a_1.s', heartbeatIntervalMs: 5 }),
      Heartbeat: (_c, cb) => cb(null, { heartbeatIntervalMs: 7 }),
    });
    client = new AgentApiClient(srv.address);
    const enrolled = await client.enroll({ name: 'n' }, 'tok', { deadlineMs: 5_000 });
    expect(enrolled).toMatchObject({ agentId: 'a_1', credential: 'a_1.s', heartbeatIntervalMs: 5 });
    client.useCredentials(fixedCredentials(['a_1.s']));
    const hb = await client.heartbeat({}, { deadlineMs: 5_000 });
    expect(hb.heartbeatIntervalMs).toBe(7);
    expect(hb.directives).toEqual([]);
    expect(srv.seen).toEqual(['Enroll Bearer tok', 'Heartbeat Bearer a_1.s']);
  });

  it('classifies a deadline as retryable', async () => {
    srv = await startServer({ Lease: () => undefined });
    client = new AgentApiClient(srv.address);
    client.useCredentials(fixedCredentials(['c']));
    const err: unknown = await client.lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 100 }).catch((e: unknown) => e);
    expect(isApiCallError(err) && [err.code, err.action]).toEqual([grpc.status.DEADLINE_EXCEEDED, 'retry']);
  });

  it('reads the API push-back (grpc-retry-pushback-ms trailer) of a RESOURCE_EXHAUSTED answer', async () => {
    const trailer = new grpc.Metadata();
    trailer.set('grpc-retry-pushback-ms', '4500');
    srv = await startServer({
      Lease: (_c, cb) => cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'rate limited', metadata: trailer }),
      Heartbeat: (_c, cb) => cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'busy' }),
    });
    client = new AgentApiClient(srv.address);
    client.useCredentials(fixedCredentials(['c']));
    const err: unknown = await client
      .lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 5_000 })
      .catch((e: unknown) => e);
    expect(isApiCallError(err) && [err.code, err.action, err.pushbackMs]).toEqual([
      grpc.status.RESOURCE_EXHAUSTED,
      'retry',
      4500,
    ]);
    const plain: unknown = await client.heartbeat({}, { deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(isApiCallError(plain) && [plain.action, plain.pushbackMs]).toEqual(['retry', undefined]);
  });

  it('classifies FAILED_PRECONDITION on Report as superseded', async () => {
    srv = await startServer({
      Report: (_c, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: 'superseded' }),
    });
    client = new AgentApiClient(srv.address);
    client.useCredentials(fixedCredentials(['c']));
    const err: unknown = await client.report({ jobId: 'j' }, { deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(isApiCallError(err) && [err.action, err.details]).toEqual(['superseded', 'superseded']);
  });

  it('recovers from UNAUTHENTICATED once with a fresh credential, then gives up', async () => {
    srv = await startServer({
      Heartbeat: (call, cb) =>
        call.metadata.get('authorization')[0] === 'Bearer new'
          ? cb(null, {})
          : cb({ code: grpc.status.UNAUTHENTICATED, details: 'bad credential' }),
    });
    client = new AgentApiClient(srv.address);
    const creds = fixedCredentials(['old', 'new']);
    client.useCredentials(creds);
    await expect(client.heartbeat({}, { deadlineMs: 5_000 })).resolves.toBeDefined();
    expect(srv.seen).toEqual(['Heartbeat Bearer old', 'Heartbeat Bearer new']);

    const stuck = fixedCredentials(['only']);
    client.useCredentials(stuck);
    const err: unknown = await client.heartbeat({}, { deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(isApiCallError(err) && [err.code, err.action]).toEqual([grpc.status.UNAUTHENTICATED, 'stop']);
    expect(stuck.recoveries).toBe(1);
  });

  it('cancels the call when the signal aborts and rejects with the abort reason', async () => {
    let cancelled = false;
    srv = await startServer({ Lease: (call) => call.on('cancelled', () => (cancelled = true)) });
    client = new AgentApiClient(srv.address);
    client.useCredentials(fixedCredentials(['c']));
    const ac = new AbortController();
    const pending = client.lease({ freeSlots: 1, waitMs: 60_000 }, { deadlineMs: 65_000, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    ac.abort(new Error('stopping'));
    await expect(pending).rejects.toThrow('stopping');
    await new Promise((r) => setTimeout(r, 100));
    expect(cancelled).toBe(true);
  });

  it('reports UNAVAILABLE (retry) when nothing listens', async () => {
    client = new AgentApiClient('127.0.0.1:1');
    client.useCredentials(fixedCredentials(['c']));
    const err: unknown = await client.heartbeat({}, { deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(isApiCallError(err) && [err.code, err.action]).toEqual([grpc.status.UNAVAILABLE, 'retry']);
  });

  it('refuses authenticated calls before a credential exists', async () => {
    client = new AgentApiClient('127.0.0.1:1');
    await expect(client.heartbeat({}, { deadlineMs: 1_000 })).rejects.toThrow(/before the agent has a credential/);
  });

  describe('telemetry', () => {
    let tracing: ReturnType<typeof testTracing>;
    beforeEach(() => {
      tracing = testTracing();
    });
    afterEach(() => tracing.stop());

    const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
    const SPAN = '00f067aa0ba902b7';
    const leaseWith =
      (build: (md: grpc.Metadata) => void): grpc.handleUnaryCall<pb.LeaseRequest__Output, pb.LeaseResponse> =>
      (call, cb) => {
        const md = new grpc.Metadata();
        build(md);
        call.sendMetadata(md);
        cb(null, { assignments: [{ jobId: 'j_1', attempt: 1, leaseToken: 't' }] });
      };

    it('sends the active trace context as traceparent metadata on every call, and none outside a span', async () => {
      const seen: string[] = [];
      srv = await startServer({
        Heartbeat: (call, cb) => (seen.push(String(call.metadata.get('traceparent')[0] ?? '-')), cb(null, {})),
      });
      client = new AgentApiClient(srv.address);
      client.useCredentials(fixedCredentials(['c']));
      await client.heartbeat({}, { deadlineMs: 5_000 });
      const carrier = await withSpan('outer', {}, async () => {
        await client?.heartbeat({}, { deadlineMs: 5_000 });
        return injectToCarrier();
      });
      expect(seen).toEqual(['-', carrier.traceparent]);
    });

    it("times every call by method and status name (the code of a refusal, the client's own deadline)", async () => {
      const metrics = testMetrics();
      srv = await startServer({
        Heartbeat: (_c, cb) => cb(null, {}),
        Report: (_c, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: 'superseded' }),
        Lease: () => undefined,
      });
      client = new AgentApiClient(srv.address, {}, metrics);
      client.useCredentials(fixedCredentials(['c']));
      await client.heartbeat({}, { deadlineMs: 5_000 });
      await client.heartbeat({}, { deadlineMs: 5_000 });
      await client.report({ jobId: 'j' }, { deadlineMs: 5_000 }).catch(() => undefined);
      await client.lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 100 }).catch(() => undefined);
      const count = (method: string, code: string) =>
        metricValue(metrics, 'jr_agent_rpc_duration_seconds_count', { method, code });
      expect([
        await count('Heartbeat', 'OK'),
        await count('Report', 'FAILED_PRECONDITION'),
        await count('Lease', 'DEADLINE_EXCEEDED'),
      ]).toEqual([2, 1, 1]);
    });

    it("hands over the lease span's context from the Lease answer's response metadata", async () => {
      srv = await startServer({ Lease: leaseWith((md) => md.set('traceparent', traceparent(TRACE, SPAN))) });
      client = new AgentApiClient(srv.address);
      client.useCredentials(fixedCredentials(['c']));
      const res = await client.lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 5_000 });
      expect(res.assignments.map((a) => a.jobId)).toEqual(['j_1']);
      expect(res.traceContext && activeTraceIds(res.traceContext)).toEqual({ traceId: TRACE, spanId: SPAN });
    });

    it.each<[string, (md: grpc.Metadata) => void]>([
      ['no metadata', () => undefined],
      ['a malformed traceparent', (md) => md.set('traceparent', '00-xyz-abc-01')],
      ['an all-zero trace id', (md) => md.set('traceparent', traceparent('0'.repeat(32), SPAN))],
      [
        'two traceparent values',
        (md) => (
          md.add('traceparent', traceparent(TRACE, SPAN)),
          md.add('traceparent', traceparent(TRACE, 'aaaaaaaaaaaaaaaa'))
        ),
      ],
      ['an oversized traceparent', (md) => md.set('traceparent', `${traceparent(TRACE, SPAN)}-${'f'.repeat(4_000)}`)],
      ['only a binary header', (md) => md.set('traceparent-bin', Buffer.from(traceparent(TRACE, SPAN)))],
    ])('tolerates %s: the assignments arrive, without a parent context', async (_what, build) => {
      srv = await startServer({ Lease: leaseWith(build) });
      client = new AgentApiClient(srv.address);
      client.useCredentials(fixedCredentials(['c']));
      const res = await client.lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 5_000 });
      expect(res.assignments).toHaveLength(1);
      expect(res.traceContext).toBeUndefined();
    });

    it('reads the context from response headers only, not from trailers', async () => {
      srv = await startServer({
        Lease: (_call, cb) => {
          const trailer = new grpc.Metadata();
          trailer.set('traceparent', traceparent(TRACE, SPAN));
          cb(null, { assignments: [] }, trailer);
        },
      });
      client = new AgentApiClient(srv.address);
      client.useCredentials(fixedCredentials(['c']));
      expect((await client.lease({ freeSlots: 1, waitMs: 10 }, { deadlineMs: 5_000 })).traceContext).toBeUndefined();
    });
  });
});
