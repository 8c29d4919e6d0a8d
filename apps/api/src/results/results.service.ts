import { Inject, Injectable } from '@nestjs/common';
import { DomainError, isDomainError, type pb } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AttemptRegistry, type AttemptSnapshot } from '../common/attempt-registry';
import type { AgentRow } from '../agents/agents.repository';
import { isDependencyDown } from '../database/db-errors';
import type { AttemptOutcome, ReportEvent } from '../jobs/attempt-writes';
import { checkStepIndexes, validateComplete, validateReport } from '../grpc/request-validation';
import { decideFence, predictJobState, type AttemptRef, type FenceCall, type FenceVerdict } from './attempt-fence';
import { ResultsRelayService } from './results-relay.service';
import { ResultsRepository } from './results.repository';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';

const OUTCOMES: Record<string, AttemptOutcome['end']> = {
  OUTCOME_SUCCEEDED: 'succeeded',
  OUTCOME_FAILED: 'failed',
  OUTCOME_TIMED_OUT: 'timed_out',
  OUTCOME_CANCELLED: 'cancelled',
};

/**
 * Report and Complete: validate, fence by the lease token (synchronously: a stale token is refused
 * here), append to the results journal (synced before the answer), answer. The results relay applies
 * the record to Postgres moments later. A late result for an attempt that ended `lost` is journaled
 * too (so it shows as `superseded` with its exit code) and answered FAILED_PRECONDITION "superseded".
 */
@Injectable()
export class ResultsService {
  constructor(
    private readonly repo: ResultsRepository,
    private readonly relay: ResultsRelayService,
    private readonly registry: AttemptRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {}

  async report(agent: AgentRow, req: pb.ReportRequest__Output): Promise<pb.ReportResponse> {
    const r = validateReport(req, this.clock.now());
    const ref = { jobId: r.jobId, attempt: r.attempt, leaseToken: r.leaseToken, agentId: agent.id };
    const events = req.events.map((e) => toReportEvent(e, this.clock.now()));
    const { snap, verdict } = await this.fence(ref, { kind: 'report' }).catch((err: unknown) => {
      if (isDomainError(err) && err.code === 'SUPERSEDED')
        this.metrics.reportEvents.inc({ result: 'rejected' }, events.length);
      throw err;
    });
    if (verdict.kind === 'accept' || verdict.kind === 'late') checkStepIndexes(req.events, snap.steps);
    this.countReport(
      events,
      verdict.kind === 'refuse' || verdict.kind === 'late' || verdict.kind === 'repeat'
        ? Infinity
        : Math.max(snap.lastSeq, this.registry.overlay(ref.jobId, ref.attempt)?.maxSeq ?? 0),
    );
    if (verdict.kind === 'refuse') throw superseded(verdict.message);
    if (verdict.kind === 'repeat')
      throw superseded(`superseded: attempt ${ref.attempt} of job ${ref.jobId} already ended`); // (only completions repeat)
    if (events.length > 0 || verdict.kind === 'late')
      await this.relay.submit({ type: 'report', ...ref, late: verdict.kind === 'late', at: this.clock.now(), events });
    if (verdict.kind === 'late') throw superseded(verdict.message);
    const overlay = this.registry.overlay(ref.jobId, ref.attempt);
    return { ackedSeq: Math.max(snap.lastSeq, overlay?.maxSeq ?? 0) };
  }

  async complete(agent: AgentRow, req: pb.CompleteRequest__Output): Promise<pb.CompleteResponse> {
    const now = this.clock.now();
    const c = validateComplete(req, now);
    const outcome: AttemptOutcome = {
      end: OUTCOMES[c.outcome] ?? 'failed',
      exitCode:
        c.outcome === 'OUTCOME_SUCCEEDED' || c.outcome === 'OUTCOME_FAILED' ? req.exitCode : req.exitCode || null,
      reason: c.reason || null,
      startedAt: c.startedAtMs > 0 ? new Date(c.startedAtMs) : null,
      endedAt: c.endedAtMs > 0 ? new Date(c.endedAtMs) : new Date(now),
    };
    const ref = { jobId: c.jobId, attempt: c.attempt, leaseToken: c.leaseToken, agentId: agent.id };
    const { snap, verdict } = await this.fence(ref, { kind: 'complete', end: outcome.end });
    if (verdict.kind === 'refuse') throw superseded(verdict.message);
    if (verdict.kind === 'repeat') return { jobState: verdict.jobState };
    const jobState =
      verdict.kind === 'late' ? snap.job.state : predictJobState(snap, outcome, this.config.maxLostAttempts);
    await this.relay.submit({ type: 'complete', ...ref, late: verdict.kind === 'late', at: now, outcome }, jobState);
    if (verdict.kind === 'late') throw superseded(verdict.message);
    return { jobState };
  }

  /** jr_report_events_total: events past what is held are accepted, the rest duplicates; `Infinity`: all rejected. */
  private countReport(events: ReportEvent[], heldSeq: number): void {
    if (heldSeq === Infinity) return this.metrics.reportEvents.inc({ result: 'rejected' }, events.length);
    const duplicate = events.filter((e) => e.seq <= heldSeq).length;
    this.metrics.reportEvents.inc({ result: 'duplicate' }, duplicate);
    this.metrics.reportEvents.inc({ result: 'accepted' }, events.length - duplicate);
  }

  /** The attempt as Postgres has it (or, while Postgres is unreachable, as this process last saw it), then the decision. */
  private async fence(ref: AttemptRef, call: FenceCall): Promise<{ snap: AttemptSnapshot; verdict: FenceVerdict }> {
    const snap = await this.snapshot(ref.jobId, ref.attempt);
    const verdict = decideFence(snap, this.registry.overlay(ref.jobId, ref.attempt), ref, call);
    if (!snap)
      throw superseded(
        verdict.kind === 'refuse' ? verdict.message : `superseded: no attempt ${ref.attempt} of job ${ref.jobId}`,
      );
    return { snap, verdict };
  }

  private async snapshot(jobId: string, attempt: number): Promise<AttemptSnapshot | undefined> {
    try {
      const snap = await this.repo.snapshot(jobId, attempt);
      if (snap) this.registry.remember(snap);
      return snap;
    } catch (err) {
      const known = isDependencyDown(err) ? this.registry.recall(jobId, attempt) : undefined;
      if (known) return known;
      throw err;
    }
  }
}

function superseded(message: string): DomainError {
  return new DomainError('SUPERSEDED', message);
}

function toReportEvent(e: pb.AttemptEvent__Output, nowMs: number): ReportEvent {
  const base = { seq: e.seq, at: new Date(e.atMs > 0 ? e.atMs : nowMs) };
  if (e.kind === 'log' && e.log)
    return {
      ...base,
      kind: 'log',
      step: e.log.step,
      stream: e.log.stream === 'stderr' ? 'stderr' : 'stdout',
      data: e.log.data,
      detail: null,
    };
  if (e.kind === 'stepStarted' && e.stepStarted) {
    return {
      ...base,
      kind: 'step_started',
      step: e.stepStarted.step,
      stream: null,
      data: null,
      detail: { name: cut(e.stepStarted.name, 200), try: e.stepStarted.try },
    };
  }
  const f = e.stepFinished;
  return {
    ...base,
    kind: 'step_finished',
    step: f?.step ?? 0,
    stream: null,
    data: null,
    detail: { exitCode: f?.exitCode ?? null, signal: cut(f?.signal ?? '', 32), outcome: cut(f?.outcome ?? '', 32) },
  };
}

/** At most `max` UTF-16 units, never half a surrogate pair (which Postgres would refuse). */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
