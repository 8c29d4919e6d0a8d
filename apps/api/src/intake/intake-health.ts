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
  /** Refused valid submissions per minute and reason, until the SLO bookkeeping takes them (takeRefusals). */
  private tally = new Map<string, { minuteMs: number; reason: Refusal; n: number }>();

  refused(reason: Refusal, at: number): void {
    if (reason !== 'shutting_down') this.refusal = { reason, at };
    const minuteMs = Math.floor(at / 60_000) * 60_000;
    const key = `${minuteMs}/${reason}`;
    const row = this.tally.get(key) ?? { minuteMs, reason, n: 0 };
    row.n++;
    this.tally.set(key, row);
  }

  /** The refusals counted since the last call (the caller puts back what it could not store: giveBack). */
  takeRefusals(): Array<{ minuteMs: number; reason: Refusal; n: number }> {
    const rows = [...this.tally.values()];
    this.tally = new Map();
    return rows;
  }

  giveBack(rows: ReadonlyArray<{ minuteMs: number; reason: Refusal; n: number }>): void {
    for (const r of rows) {
      const key = `${r.minuteMs}/${r.reason}`;
      const row = this.tally.get(key) ?? { ...r, n: 0 };
      row.n += r.n;
      this.tally.set(key, row);
    }
  }

  accepted(): void {
    this.refusal = null;
  }

  /** null while accepting; else why not and since when. */
  get notAccepting(): { reason: Refusal; at: number } | null {
    return this.refusal;
  }
}
