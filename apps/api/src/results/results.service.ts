import { Inject, Injectable } from '@nestjs/common';
import type { pb } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { DomainEvents } from '../common/events';
import type { AgentRow } from '../agents/agents.repository';
import { EnqueueService } from '../dispatch/enqueue.service';
import { JobLedgerRepository, type AttemptOutcome, type ReportEvent } from '../jobs/job-ledger.repository';
import { validateComplete, validateReport } from '../grpc/request-validation';

const OUTCOMES: Record<string, AttemptOutcome['end']> = {
  OUTCOME_SUCCEEDED: 'succeeded',
  OUTCOME_FAILED: 'failed',
  OUTCOME_TIMED_OUT: 'timed_out',
  OUTCOME_CANCELLED: 'cancelled',
};

/** Report and Complete: fenced by the lease token; logs and step events stored once each. */
@Injectable()
export class ResultsService {
  constructor(
    private readonly ledger: JobLedgerRepository,
    private readonly enqueue: EnqueueService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async report(agent: AgentRow, req: pb.ReportRequest__Output): Promise<pb.ReportResponse> {
    const r = validateReport(req);
    const events = req.events.map(toReportEvent);
    const key = { jobId: r.jobId, attempt: r.attempt, leaseToken: r.leaseToken, agentId: agent.id };
    const { ackedSeq, transition } = await this.ledger.report(key, events, new Date(this.clock.now()));
    if (events.some((e) => e.kind === 'log')) this.events.jobChanged({ jobId: r.jobId, kind: 'log' });
    if (transition) await this.enqueue.afterTransition(transition);
    return { ackedSeq };
  }

  async complete(agent: AgentRow, req: pb.CompleteRequest__Output): Promise<pb.CompleteResponse> {
    const c = validateComplete(req);
    const now = this.clock.now();
    const outcome: AttemptOutcome = {
      end: OUTCOMES[c.outcome] ?? 'failed',
      exitCode: c.outcome === 'OUTCOME_SUCCEEDED' || c.outcome === 'OUTCOME_FAILED' ? req.exitCode : req.exitCode || null,
      reason: c.reason || null,
      startedAt: c.startedAtMs > 0 ? new Date(c.startedAtMs) : null,
      endedAt: c.endedAtMs > 0 ? new Date(c.endedAtMs) : new Date(now),
    };
    const key = { jobId: c.jobId, attempt: c.attempt, leaseToken: c.leaseToken, agentId: agent.id };
    const { jobState, transition } = await this.ledger.complete(key, outcome, new Date(now), this.config.maxLostAttempts);
    if (transition) await this.enqueue.afterTransition(transition);
    return { jobState };
  }
}

function toReportEvent(e: pb.AttemptEvent__Output): ReportEvent {
  const base = { seq: e.seq, at: new Date(e.atMs > 0 ? e.atMs : Date.now()) };
  if (e.kind === 'log' && e.log) return { ...base, kind: 'log', step: e.log.step, stream: e.log.stream === 'stderr' ? 'stderr' : 'stdout', data: e.log.data, detail: null };
  if (e.kind === 'stepStarted' && e.stepStarted) {
    return { ...base, kind: 'step_started', step: e.stepStarted.step, stream: null, data: null, detail: { name: e.stepStarted.name.slice(0, 200), try: e.stepStarted.try } };
  }
  const f = e.stepFinished;
  return {
    ...base,
    kind: 'step_finished',
    step: f?.step ?? 0,
    stream: null,
    data: null,
    detail: { exitCode: f?.exitCode ?? null, signal: (f?.signal ?? '').slice(0, 32), outcome: (f?.outcome ?? '').slice(0, 32) },
  };
}
