import * as grpc from '@grpc/grpc-js';
import type { pb } from '@jr/contracts';
import {
  activeTraceIds,
  contextFromMetadata,
  metadataFromContext,
  type AgentMetrics,
  type Context,
} from '@jr/telemetry';
import { ApiCallError, EndpointSwitchedError, isApiCallError, pushbackFrom } from '../errors';
import { ApiChannels, type ApiChannelsOptions } from './api-channels';
import type { EndpointFailover } from './endpoint-failover';
import { actionFor, type AgentMethod } from './status-policy';

export { CHANNEL_OPTIONS } from './api-channels';

/** Deadlines of the calls that have no natural one (Lease's follows its wait). */
export const DEADLINES_MS = { enroll: 10_000, report: 15_000, complete: 15_000 } as const;

export interface CallOpts {
  deadlineMs: number;
  signal?: AbortSignal;
}

/** Supplies the bearer credential and, once, a way out of UNAUTHENTICATED (re-enrolling). */
export interface CredentialSource {
  current(): string;
  /** Called with the credential that was refused; true when a retry with `current()` makes sense. */
  recover(refused: string): Promise<boolean>;
}

/** A Lease answer, with the trace context the API sent in its response metadata (the lease span's). */
export type LeaseAnswer = pb.LeaseResponse__Output & {
  /** Parent for the attempts of this answer; undefined when the API sent no (valid) `traceparent`. */
  traceContext?: Context;
};

type Callback<Res> = (err: grpc.ServiceError | null, value?: Res) => void;
type UnaryFn<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: Callback<Res>,
) => grpc.ClientUnaryCall;

/**
 * The typed AgentService client: a deadline on every call, credential metadata, classified errors.
 * Every call carries the active trace context (`traceparent`/`tracestate` metadata) and is timed in
 * jr_agent_rpc_duration_seconds{method,code}.
 */
export class AgentApiClient {
  private readonly channels: ApiChannels;
  private credentials: CredentialSource | undefined;

  constructor(
    /** The endpoints, primary first (one string: a single endpoint). */
    endpoints: string | readonly string[],
    options: ApiChannelsOptions = {},
    private readonly metrics?: Pick<AgentMetrics, 'rpcDuration'>,
    /** From resolveApiTrust (TLS with the trusted CA); plain text only when given so. */
    channelCredentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    this.channels = new ApiChannels(
      typeof endpoints === 'string' ? [endpoints] : endpoints,
      channelCredentials,
      options,
    );
  }

  useCredentials(source: CredentialSource): void {
    this.credentials = source;
  }

  /** Which endpoint the calls go to, and the fail-back state (read-only). */
  get endpoints(): EndpointFailover {
    return this.channels.failover;
  }

  /** One probe of the primary for the fail-back loop (false at once while on the primary). */
  probePrimary(timeoutMs: number): Promise<boolean> {
    return this.channels.probePrimary(timeoutMs);
  }

  /**
   * Calls from now on go over a new channel with `channelCredentials` (a new client certificate: grpc-js
   * fixes credentials per channel). Calls in flight (a long Lease poll) finish on the old channel, which
   * is closed after `retireAfterMs`.
   */
  switchChannel(channelCredentials: grpc.ChannelCredentials, retireAfterMs = 120_000): void {
    this.channels.useCredentials(channelCredentials, retireAfterMs);
  }

  enroll(req: pb.EnrollRequest, enrollToken: string, opts: CallOpts): Promise<pb.EnrollResponse__Output> {
    return this.unary('Enroll', req, bearer(enrollToken), opts);
  }

  heartbeat(req: pb.HeartbeatRequest, opts: CallOpts): Promise<pb.HeartbeatResponse__Output> {
    return this.authed('Heartbeat', req, opts);
  }

  /** Lease answers carry the lease span's context in their response metadata (tolerated when absent). */
  async lease(req: pb.LeaseRequest, opts: CallOpts): Promise<LeaseAnswer> {
    let traceContext: Context | undefined;
    const onMetadata = (md: grpc.Metadata): void => {
      const ctx = contextFromMetadata(md);
      traceContext = activeTraceIds(ctx) ? ctx : undefined;
    };
    const res = await this.authed<pb.LeaseRequest, pb.LeaseResponse__Output>('Lease', req, opts, onMetadata);
    return traceContext ? { ...res, traceContext } : res;
  }

  report(req: pb.ReportRequest, opts: CallOpts): Promise<pb.ReportResponse__Output> {
    return this.authed('Report', req, opts);
  }

  complete(req: pb.CompleteRequest, opts: CallOpts): Promise<pb.CompleteResponse__Output> {
    return this.authed('Complete', req, opts);
  }

  close(): void {
    this.channels.close();
  }

  private async authed<Req, Res>(
    method: AgentMethod,
    req: Req,
    opts: CallOpts,
    onMetadata?: (md: grpc.Metadata) => void,
  ): Promise<Res> {
    const source = this.credentials;
    if (!source) throw new Error(`${method} called before the agent has a credential`);
    const used = source.current();
    try {
      return await this.unary<Req, Res>(method, req, bearer(used), opts, onMetadata);
    } catch (err) {
      if (!isApiCallError(err) || err.code !== grpc.status.UNAUTHENTICATED) throw err;
      if (!(await source.recover(used))) throw err;
      return await this.unary<Req, Res>(method, req, bearer(source.current()), opts, onMetadata);
    }
  }

  private unary<Req, Res>(
    method: AgentMethod,
    req: Req,
    metadata: grpc.Metadata,
    opts: CallOpts,
    onMetadata?: (md: grpc.Metadata) => void,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted) return reject(abortReason(signal));
      const { client, generation } = this.channels.current();
      const fn = client[method].bind(client) as unknown as UnaryFn<Req, Res>;
      const onAbort = (): void => call.cancel();
      const timed = this.metrics?.rpcDuration.startTimer();
      const call = fn(req, metadataFromContext(metadata), { deadline: Date.now() + opts.deadlineMs }, (err, value) => {
        signal?.removeEventListener('abort', onAbort);
        untrack?.();
        timed?.({ method, code: err ? (grpc.status[err.code] ?? String(err.code)) : 'OK' });
        // An answer that arrived is kept even if we were told to stop meanwhile: a Lease answer
        // holds jobs already assigned to us, dropping it would leave them to expire as lost.
        if (!signal?.aborted) this.channels.finished(generation, err?.code);
        if (!err) return resolve(value as Res);
        if (signal?.aborted) return reject(abortReason(signal));
        if (generation !== this.channels.current().generation && err.code === grpc.status.CANCELLED)
          return reject(new EndpointSwitchedError(method));
        const pushbackMs = pushbackFrom(err.metadata?.get('grpc-retry-pushback-ms') ?? []);
        reject(new ApiCallError(method, err.code, err.details, actionFor(err.code, method, err.details), pushbackMs));
      });
      const untrack = method === 'Lease' ? this.channels.trackLease(call, generation) : undefined;
      if (onMetadata) call.on('metadata', onMetadata);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}
