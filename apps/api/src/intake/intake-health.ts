import type { INTAKE_REJECT_REASONS } from '@jr/telemetry';

/** Why POST /v1/jobs refused a request (jr_intake_rejected_total{reason}). */
export type IntakeRejectReason = (typeof INTAKE_REJECT_REASONS)[number];

type Refusal = Exclude<IntakeRejectReason, 'invalid_input'>;

/**
 * Whether POST /v1/jobs accepts right now, as intake itself last found out: after a refusal for lack of
 * journal space (size limit or a full disk) or a failing journal, not accepting until an append
 * succeeds again. Intake probes nothing by itself: the next submission is the probe.
 */
export class IntakeHealth {
  private refusal: { reason: Refusal; at: number } | null = null;

  refused(reason: Refusal, at: number): void {
    if (reason !== 'shutting_down') this.refusal = { reason, at };
  }

  accepted(): void {
    this.refusal = null;
  }

  /** null while accepting; else why not and since when. */
  get notAccepting(): { reason: Refusal; at: number } | null {
    return this.refusal;
  }
}
