import type { PeerCertificate } from 'node:tls';
import { Metadata, status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { isDomainError, type AgentServiceHandlers } from '@jr/contracts';
import {
  ATTR,
  contextFromMetadata,
  extractFromCarrier,
  metadataFromContext,
  SpanKind,
  SPANS,
  withSpan,
  type ApiMetrics,
} from '@jr/telemetry';
import type { Logger } from '../common/logger';
import type { AgentsService } from '../agents/agents.service';
import type { DispatchService } from '../dispatch/dispatch.service';
import type { ResultsService } from '../results/results.service';
import type { RateLimitsService } from '../limits/rate-limits.service';
import { toGrpcError } from './grpc-errors';
import { admitCall, noteRefusal } from './grpc-limits';
import { validateLease } from './request-validation';

export interface HandlerDeps {
  agents: AgentsService;
  dispatch: DispatchService;
  results: ResultsService;
  metrics: ApiMetrics;
  log: Logger;
  limits: RateLimitsService;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;
type AttemptCall = ServerUnaryCall<{ jobId?: unknown; attempt?: unknown }, unknown>;

/** jobrunner.v1.AgentService: authenticate, then hand over to the services. No logic here. */
export function agentServiceHandlers(d: HandlerDeps): AgentServiceHandlers {
  const unary =
    <Req, Res>(name: string, fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>): Unary<Req, Res> =>
    (call, callback) => {
      const end = d.metrics.grpcDuration.startTimer();
      // limits and lockouts first: a refused call never reaches authentication or the services
      admitCall(d.limits, name, call)
        .then(() => fn(call))
        .then(
          (res) => {
            end({ method: name, code: status[status.OK] });
            callback(null, res);
          },
          (err: unknown) => {
            const refusal = isDomainError(err) ? err.details?.refusal : undefined;
            if (typeof refusal === 'string') d.metrics.agentRefusals.inc({ reason: refusal });
            const e = toGrpcError(err);
            noteRefusal(d.limits, call, e.code);
            if (e.details === 'internal error') d.log.error({ rpc: name, err }, 'rpc failed');
            end({ method: name, code: status[e.code ?? status.UNKNOWN] });
            callback(e);
          },
        );
    };
  const agent = (call: ServerUnaryCall<unknown, unknown>) => d.agents.authenticate(authorization(call), peerOf(call));
  /** Report/Complete: a server span under the agent's client span (its context in the request metadata). */
  const attemptSpan = <T>(name: string, call: AttemptCall, fn: () => Promise<T>): Promise<T> =>
    withSpan(
      name,
      {
        [ATTR.jobId]: typeof call.request.jobId === 'string' ? call.request.jobId.slice(0, 64) : '',
        [ATTR.attempt]: Number(call.request.attempt ?? 0),
      },
      fn,
      {
        parent: contextFromMetadata(call.metadata),
        kind: SpanKind.SERVER,
      },
    );
  return {
    Enroll: unary('Enroll', (call) => d.agents.enroll(authorization(call), call.request)),
    Heartbeat: unary('Heartbeat', async (call) => d.agents.heartbeat(authorization(call), call.request, peerOf(call))),
    Lease: unary('Lease', async (call) => {
      const a = await agent(call);
      const { waitMs } = validateLease(call.request);
      const gone = new AbortController();
      call.once('cancelled', () => gone.abort());
      if (call.cancelled) gone.abort();
      const answer = await d.dispatch.lease(a, waitMs, deadlineMs(call), gone.signal);
      if (!answer) d.agents.assertNotRevokedHere(a.id); // revoked while it waited: refused, not an empty answer
      // Lease answers at most one assignment: the lease span's context goes out as response metadata
      if (answer) call.sendMetadata(metadataFromContext(new Metadata(), extractFromCarrier(answer.trace)));
      return { assignments: answer ? [answer.assignment] : [] };
    }),
    Report: unary('Report', (call) =>
      attemptSpan(SPANS.report, call, async () => d.results.report(await agent(call), call.request)),
    ),
    Complete: unary('Complete', (call) =>
      attemptSpan(SPANS.complete, call, async () => d.results.complete(await agent(call), call.request)),
    ),
  };
}

function authorization(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}

/** The client certificate TLS verified against the agent CA; undefined without one (or in plain text). */
function peerOf(call: ServerUnaryCall<unknown, unknown>): PeerCertificate | undefined {
  return call.getAuthContext().sslPeerCertificate;
}

function deadlineMs(call: ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : Number.isFinite(d) ? d : Number.POSITIVE_INFINITY;
}
