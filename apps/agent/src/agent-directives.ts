import type { pb } from '@jr/contracts';
import { CANCEL_REASONS, type AgentMetrics } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { EnableSource } from './reporting/reporting-breaker';
import type { Reporting } from './reporting/reporting';
import type { AttemptSlots } from './runner/attempt-slots';

/** What the heartbeat's directives act on. */
export interface DirectiveTarget {
  slots: Pick<AttemptSlots, 'stop'>;
  reporting(): Reporting | undefined;
  /** Stops leasing until an undrain (idempotent); true if it was still leasing. */
  drain(): boolean;
  /** Leases again after a drain (idempotent; never while stopping); true if it was drained. */
  undrain(): boolean;
  enableReporting(source: EnableSource): Promise<unknown>;
  metrics: Pick<AgentMetrics, 'cancellations'>;
  logger: Logger;
}

/**
 * Applies the directives of one heartbeat answer. The API repeats `drain` in every answer while the
 * agent is drained, so an answer without it means the operator undrained the agent: it leases again.
 */
export function applyDirectives(directives: readonly pb.Directive__Output[], t: DirectiveTarget): void {
  for (const d of directives) applyDirective(d, t);
  if (!directives.some((d) => d.kind === 'drain') && t.undrain()) t.logger.info('drain lifted: leasing again');
}

/** Applies one directive of a heartbeat answer: cancel an attempt, drain, or re-enable reporting. */
export function applyDirective(d: pb.Directive__Output, t: DirectiveTarget): void {
  switch (d.kind) {
    case 'cancel':
      if (d.cancel) cancel(d.cancel, t);
      return;
    case 'drain':
      if (t.drain()) t.logger.info('drain directive: no new leases');
      return;
    case 'enableReporting':
      t.logger.info({ breakerState: t.reporting()?.breaker.state }, 'enable-reporting directive');
      void t.enableReporting('directive');
      return;
    case undefined:
      t.logger.warn({ directive: d }, 'unknown directive ignored');
      return;
  }
}

function cancel(c: pb.CancelDirective__Output, t: DirectiveTarget): void {
  const reason = /^[a-z_]{1,64}$/.test(c.reason) ? c.reason : 'cancelled';
  // Label values stay the catalog's: whatever else an API sends is counted as `other`.
  t.metrics.cancellations.inc({ reason: (CANCEL_REASONS as readonly string[]).includes(reason) ? reason : 'other' });
  const known = t.slots.stop(c.jobId, c.attempt, { outcome: 'cancelled', reason });
  // An outcome still in the outbox: its lease is gone, stop listing it (it is still delivered, as superseded).
  const queued = !known && reason === 'lease_lost' && (t.reporting()?.reporter.leaseLost(c.jobId, c.attempt) ?? false);
  t.logger.info({ jobId: c.jobId, attempt: c.attempt, reason, known, queued }, 'cancel directive');
}
