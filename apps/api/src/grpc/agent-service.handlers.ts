import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { AgentServiceHandlers } from '@jr/contracts';
import type { Logger } from '../common/logger';
import type { AgentsService } from '../agents/agents.service';
import type { DispatchService } from '../dispatch/dispatch.service';
import type { ResultsService } from '../results/results.service';
import { toGrpcError } from './grpc-errors';
import { validateLease } from './request-validation';

export interface HandlerDeps {
  agents: AgentsService;
  dispatch: DispatchService;
  results: ResultsService;
  log: Logger;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** jobrunner.v1.AgentService: authenticate, then hand over to the services. No logic here. */
export function agentServiceHandlers(d: HandlerDeps): AgentServiceHandlers {
  const unary = <Req, Res>(name: string, fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>): Unary<Req, Res> =>
    (call, callback) => {
      fn(call).then(
        (res) => callback(null, res),
        (err: unknown) => {
          const e = toGrpcError(err);
          if (e.details === 'internal error') d.log.error({ rpc: name, err }, 'rpc failed');
          callback(e);
        },
      );
    };
  const agent = (call: ServerUnaryCall<unknown, unknown>) => d.agents.authenticate(authorization(call));
  return {
    Enroll: unary('Enroll', (call) => d.agents.enroll(authorization(call), call.request)),
    Heartbeat: unary('Heartbeat', async (call) => d.agents.heartbeat(await agent(call), call.request)),
    Lease: unary('Lease', async (call) => {
      const a = await agent(call);
      const { waitMs } = validateLease(call.request);
      const gone = new AbortController();
      call.once('cancelled', () => gone.abort());
      if (call.cancelled) gone.abort();
      const assignment = await d.dispatch.lease(a, waitMs, deadlineMs(call), gone.signal);
      return { assignments: assignment ? [assignment] : [] };
    }),
    Report: unary('Report', async (call) => d.results.report(await agent(call), call.request)),
    Complete: unary('Complete', async (call) => d.results.complete(await agent(call), call.request)),
  };
}

function authorization(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}

function deadlineMs(call: ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : Number.isFinite(d) ? d : Number.POSITIVE_INFINITY;
}
