import * as grpc from '@grpc/grpc-js';
import { loadAgentProto } from '@jr/contracts';
import { isApiCallError, isEndpointSwitched } from '../errors';
import { AgentApiClient } from './agent-api.client';
import type { EndpointSwitch } from './endpoint-failover';

type Unary = grpc.handleUnaryCall<unknown, unknown>;

/** A real grpc-js server on loopback answering Heartbeat at once and holding Lease for `leaseHoldMs`. */
async function startServer(
  port = 0,
  options: grpc.ServerOptions = {},
  leaseHoldMs = 200,
): Promise<{ port: number; server: grpc.Server; calls: string[] }> {
  const calls: string[] = [];
  const server = new grpc.Server(options);
  const heartbeat: Unary = (_c, cb) => {
    calls.push('Heartbeat');
    cb(null, { heartbeatIntervalMs: 0 });
  };
  const lease: Unary = (_c, cb) => {
    calls.push('Lease');
    setTimeout(() => cb(null, { assignments: [] }), leaseHoldMs).unref();
  };
  const none: Unary = (_c, cb) => cb({ code: grpc.status.UNIMPLEMENTED });
  server.addService(loadAgentProto().jobrunner.v1.AgentService.service, {
    Enroll: none,
    Heartbeat: heartbeat,
    Lease: lease,
    Report: none,
    Complete: none,
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port: bound, server, calls };
}

const credentials = { current: () => 'c', recover: async () => false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Heartbeats until `until()` holds, the way the heartbeat loop retries: failures are expected meanwhile. */
async function beatUntil(client: AgentApiClient, until: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!until()) {
    if (Date.now() > end) throw new Error('timed out');
    await client.heartbeat({}, { deadlineMs: 1_000 }).catch(() => undefined);
    await sleep(100);
  }
}

describe('AgentApiClient over a list of endpoints (real servers on loopback)', () => {
  const servers: grpc.Server[] = [];
  let client: AgentApiClient | undefined;
  afterEach(() => {
    client?.close();
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  it('fails over to B when A goes away, cancels the Lease parked on A, and fails back once A is back for the fail-back period', async () => {
    const a = await startServer(0, {}, 60_000);
    const b = await startServer();
    servers.push(a.server, b.server);
    const switches: EndpointSwitch[] = [];
    client = new AgentApiClient([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], {
      failbackAfterMs: 600,
      onSwitch: (sw) => switches.push(sw),
    });
    client.useCredentials(credentials);
    await client.heartbeat({}, { deadlineMs: 2_000 });
    const parked = client.lease({ freeSlots: 1, waitMs: 60_000 }, { deadlineMs: 65_000 }).catch((e: unknown) => e);
    await beatUntil(client, () => a.calls.includes('Lease'));

    // A stops taking calls (its parked Lease stays open on it): refused heartbeats move the agent to B
    a.server.tryShutdown(() => undefined); // closes the listener, GOAWAY; waits for the parked call
    const failedOverAt = Date.now();
    await beatUntil(client, () => client?.endpoints.endpoint === `127.0.0.1:${b.port}`);
    expect(isEndpointSwitched(await parked)).toBe(true);
    await client.heartbeat({}, { deadlineMs: 2_000 });
    expect(b.calls).toContain('Heartbeat');
    expect(switches.map((s) => s.kind)).toEqual(['failover']);
    expect(Date.now() - failedOverAt).toBeLessThan(5_000);

    // probing while A is down keeps the agent on B
    expect(await client.probePrimary(200)).toBe(false);
    const again = await startServer(a.port);
    servers.push(again.server);
    const backAt = Date.now();
    while (client.endpoints.awayFromPrimary) {
      await client.probePrimary(200);
      await sleep(100);
    }
    expect(Date.now() - backAt).toBeGreaterThanOrEqual(600);
    expect(switches.map((s) => [s.kind, s.to])).toEqual([
      ['failover', `127.0.0.1:${b.port}`],
      ['failback', `127.0.0.1:${a.port}`],
    ]);
    await client.heartbeat({}, { deadlineMs: 2_000 });
    expect(again.calls).toEqual(['Heartbeat']);
  });

  it("a server's max connection age (GOAWAY, then a grace) reconnects without a failed call or a switch", async () => {
    const a = await startServer(
      0,
      { 'grpc.max_connection_age_ms': 300, 'grpc.max_connection_age_grace_ms': 5_000 },
      700,
    );
    const b = await startServer();
    servers.push(a.server, b.server);
    const switches: EndpointSwitch[] = [];
    client = new AgentApiClient([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], {
      onSwitch: (sw) => switches.push(sw),
    });
    client.useCredentials(credentials);
    const failures: unknown[] = [];
    const until = Date.now() + 3_000;
    const polls = [0, 1, 2].map(async () => {
      while (Date.now() < until)
        await client
          ?.lease({ freeSlots: 1, waitMs: 700 }, { deadlineMs: 5_000 })
          .catch((e: unknown) => failures.push(e));
    });
    while (Date.now() < until) {
      await client.heartbeat({}, { deadlineMs: 1_000 }).catch((e: unknown) => failures.push(e));
      await sleep(50);
    }
    await Promise.all(polls);
    expect(failures.map((e) => (isApiCallError(e) ? e.message : String(e)))).toEqual([]);
    expect(switches).toEqual([]);
    expect(b.calls).toEqual([]);
    expect(a.calls.filter((c) => c === 'Lease').length).toBeGreaterThanOrEqual(9);
  });
});
