import * as grpc from '@grpc/grpc-js';
import { loadAgentProto, type AgentServiceClient } from '@jr/contracts';
import { EndpointFailover, outcomeOf, type EndpointSwitch } from './endpoint-failover';

/** Channel options: keepalive (grpc-js sends no pings on idle channels unless told to), prompt reconnects, room for big lease answers. */
export const CHANNEL_OPTIONS: grpc.ClientOptions = {
  // Pings on idle channels too, so a dead connection is noticed before the next call needs it.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // grpc-js defaults to 1 s .. 120 s: after a long outage the agent would idle up to two minutes.
  // Cap at 5 s so recovery is prompt; grpc-js adds its own 20 % jitter.
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

/**
 * The primary's probe channel retries its connection at most 1 s apart (the main channel's 5 s cap would
 * add up to 5 s to every fail-back); it is one connection, idle but for keepalive pings.
 */
const PROBE_CHANNEL_OPTIONS: grpc.ClientOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

export interface ApiChannelsOptions {
  /** Extra grpc-js channel options (tests). */
  channelOptions?: grpc.ClientOptions;
  /** JR_API_FAILBACK_AFTER. */
  failbackAfterMs?: number;
  /** How long a channel left on a fail-back stays open: the Lease long polls begun on it end first. */
  retireAfterMs?: number;
  /** Told about every switch of endpoint (logged and counted by the agent). */
  onSwitch?(sw: EndpointSwitch): void;
  now?: () => number;
}

/** The channel a call goes over, and the generation of endpoint it belongs to. */
export interface ChannelLease {
  client: AgentServiceClient;
  generation: number;
}

/**
 * The agent's one channel to the API, over the endpoint EndpointFailover chooses. Every call is made on
 * `current()` and its outcome handed back through `finished()`; a switch opens a channel to the new
 * endpoint for every loop at once. On a failover the Lease long polls in flight on the failing endpoint
 * are cancelled (they would hold their slots until their deadline) and its channel closed; on a fail-back
 * the old endpoint works, so its calls finish there (their answers are kept: a Lease answer holds a job)
 * and its channel closes after `retireAfterMs`. New credentials (a renewed client certificate) replace
 * the channel of the same endpoint in the same way.
 */
export class ApiChannels {
  readonly failover: EndpointFailover;
  private client: AgentServiceClient;
  private probeClient: AgentServiceClient | undefined;
  private readonly retired = new Set<AgentServiceClient>();
  private readonly leases = new Map<grpc.ClientUnaryCall, number>();
  private readonly retireAfterMs: number;

  constructor(
    endpoints: readonly string[],
    private credentials: grpc.ChannelCredentials,
    private readonly o: ApiChannelsOptions = {},
  ) {
    this.failover = new EndpointFailover(endpoints, { failbackAfterMs: o.failbackAfterMs ?? 30_000, now: o.now });
    this.retireAfterMs = o.retireAfterMs ?? 120_000;
    this.client = this.open(this.failover.endpoint);
  }

  current(): ChannelLease {
    return { client: this.client, generation: this.failover.generation };
  }

  /** A call ended: `code` undefined when it succeeded. Our own cancellations are not passed here. */
  finished(generation: number, code: grpc.status | undefined): void {
    const sw = this.failover.observe(generation, outcomeOf(code));
    if (sw) this.apply(sw);
  }

  /** A Lease long poll in flight: cancelled if its endpoint is failed over from. The result stops tracking it. */
  trackLease(call: grpc.ClientUnaryCall, generation: number): () => void {
    this.leases.set(call, generation);
    return () => this.leases.delete(call);
  }

  /** Calls from now on carry `credentials`; calls in flight finish on the old channel. */
  useCredentials(credentials: grpc.ChannelCredentials, retireAfterMs = this.retireAfterMs): void {
    this.credentials = credentials;
    this.retire(this.client, retireAfterMs);
    this.client = this.open(this.failover.endpoint);
    this.probeClient?.close();
    this.probeClient = undefined;
  }

  /**
   * Whether the primary's channel reaches READY (TCP, TLS and HTTP/2 handshakes done) within `timeoutMs`;
   * fed to the fail-back rule. The probe channel is closed once the agent is back on the primary.
   */
  async probePrimary(timeoutMs: number): Promise<boolean> {
    if (!this.failover.awayFromPrimary) return false;
    const probe = (this.probeClient ??= this.open(this.failover.primary, PROBE_CHANNEL_OPTIONS));
    const healthy = await new Promise<boolean>((resolve) =>
      probe.waitForReady(Date.now() + timeoutMs, (err) => resolve(err === undefined || err === null)),
    );
    const sw = this.failover.probed(healthy);
    if (sw) this.apply(sw);
    return healthy;
  }

  close(): void {
    this.client.close();
    this.probeClient?.close();
    for (const old of this.retired) old.close();
    this.retired.clear();
  }

  private apply(sw: EndpointSwitch): void {
    const old = this.client;
    if (sw.kind === 'failover') {
      for (const [call, generation] of this.leases) if (generation < sw.generation) call.cancel();
      old.close();
    } else {
      this.retire(old, this.retireAfterMs);
    }
    this.client = this.open(sw.to);
    if (sw.toPrimary) {
      this.probeClient?.close();
      this.probeClient = undefined;
    }
    this.o.onSwitch?.(sw);
  }

  private retire(old: AgentServiceClient, afterMs: number): void {
    this.retired.add(old);
    setTimeout(() => {
      this.retired.delete(old);
      old.close();
    }, afterMs).unref();
  }

  private open(endpoint: string, extra: grpc.ClientOptions = {}): AgentServiceClient {
    const Service = loadAgentProto().jobrunner.v1.AgentService;
    return new Service(endpoint, this.credentials, { ...CHANNEL_OPTIONS, ...extra, ...this.o.channelOptions });
  }
}
