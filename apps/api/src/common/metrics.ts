import { isTerminal, type JobState } from '@jr/contracts';

/** Why POST /v1/jobs refused a request (jr_intake_rejected_total{reason}). */
export type IntakeRejectReason = 'invalid_input' | 'journal_full' | 'disk_full' | 'journal_error' | 'shutting_down';

/** What caused a full re-enqueue of the queued jobs (jr_reconciliations_total{trigger}). */
export type ReconcileTrigger = 'startup' | 'redis_lost';

/** A journal as /metrics shows it. */
export interface JournalGauge {
  name: string;
  fsyncs: number;
  bytes: number;
  unappliedBytes: number;
  appends: number;
}

const REJECT_REASONS: readonly IntakeRejectReason[] = ['invalid_input', 'journal_full', 'disk_full', 'journal_error', 'shutting_down'];
const TRIGGERS: readonly ReconcileTrigger[] = ['startup', 'redis_lost'];

/** Process-local counters for /metrics (the full telemetry module comes later). */
export class Metrics {
  private submitted = 0;
  private readonly finished = new Map<JobState, number>();
  private readonly rejected = new Map<IntakeRejectReason, number>();
  private readonly reconciliations = new Map<ReconcileTrigger, number>();

  jobSubmitted(): void {
    this.submitted++;
  }

  jobStateChanged(state: JobState): void {
    if (isTerminal(state)) this.finished.set(state, (this.finished.get(state) ?? 0) + 1);
  }

  intakeRejected(reason: IntakeRejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  reconciled(trigger: ReconcileTrigger): void {
    this.reconciliations.set(trigger, (this.reconciliations.get(trigger) ?? 0) + 1);
  }

  /** Prometheus text exposition; `agents` comes from the database and `journals` from the disk at scrape time. */
  render(agents: Array<{ state: string; count: number }>, journals: JournalGauge[] = []): string {
    const lines = [
      '# HELP jr_jobs_submitted_total Jobs accepted by this API process.',
      '# TYPE jr_jobs_submitted_total counter',
      `jr_jobs_submitted_total ${this.submitted}`,
      '# HELP jr_jobs_finished_total Jobs that reached a terminal state, handled by this API process.',
      '# TYPE jr_jobs_finished_total counter',
      ...(['succeeded', 'failed', 'cancelled', 'timed_out'] as const).map((s) => `jr_jobs_finished_total{state="${s}"} ${this.finished.get(s) ?? 0}`),
      '# HELP jr_intake_rejected_total Submissions POST /v1/jobs refused, by reason.',
      '# TYPE jr_intake_rejected_total counter',
      ...REJECT_REASONS.map((r) => `jr_intake_rejected_total{reason="${r}"} ${this.rejected.get(r) ?? 0}`),
      '# HELP jr_reconciliations_total Full re-enqueues of the queued jobs from Postgres into BullMQ, by trigger.',
      '# TYPE jr_reconciliations_total counter',
      ...TRIGGERS.map((t) => `jr_reconciliations_total{trigger="${t}"} ${this.reconciliations.get(t) ?? 0}`),
      '# HELP jr_journal_fsyncs_total fsync/fdatasync calls made by a journal since this process opened it.',
      '# TYPE jr_journal_fsyncs_total counter',
      ...journals.map((j) => `jr_journal_fsyncs_total{journal="${j.name}"} ${j.fsyncs}`),
      '# HELP jr_journal_appends_total Records appended to a journal since this process opened it.',
      '# TYPE jr_journal_appends_total counter',
      ...journals.map((j) => `jr_journal_appends_total{journal="${j.name}"} ${j.appends}`),
      '# HELP jr_journal_bytes Bytes of a journal on disk (segment files).',
      '# TYPE jr_journal_bytes gauge',
      ...journals.map((j) => `jr_journal_bytes{journal="${j.name}"} ${j.bytes}`),
      '# HELP jr_journal_unapplied_bytes Bytes of segments still holding records not yet applied (what the size limit counts).',
      '# TYPE jr_journal_unapplied_bytes gauge',
      ...journals.map((j) => `jr_journal_unapplied_bytes{journal="${j.name}"} ${j.unappliedBytes}`),
      '# HELP jr_agents Enrolled agents by state.',
      '# TYPE jr_agents gauge',
      ...(['active', 'draining', 'lost'] as const).map((s) => `jr_agents{state="${s}"} ${agents.find((a) => a.state === s)?.count ?? 0}`),
    ];
    return `${lines.join('\n')}\n`;
  }
}
