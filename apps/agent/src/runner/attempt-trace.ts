import type { pb } from '@jr/contracts';
import { ATTR, extractFromCarrier, recordError, type Attributes, type Context, type Span } from '@jr/telemetry';
import type { StepOutcome } from './attempt-events';
import type { StepProcessResult } from './step-process';

/**
 * The parent of an attempt span when the Lease answer carried no trace context: none (a new trace),
 * whatever context happens to be active. (`extractFromCarrier` of nothing is the root context.)
 */
export const NO_PARENT: Context = extractFromCarrier(undefined);

/** How an attempt ended, as metrics and spans name it (the catalog's outcome label values). */
export function outcomeLabel(outcome: pb.Outcome__Output): StepOutcome {
  switch (outcome) {
    case 'OUTCOME_SUCCEEDED':
      return 'succeeded';
    case 'OUTCOME_TIMED_OUT':
      return 'timed_out';
    case 'OUTCOME_CANCELLED':
      return 'cancelled';
    case 'OUTCOME_FAILED':
    case 'OUTCOME_UNSPECIFIED':
      return 'failed';
  }
}

export function attemptAttributes(assignment: pb.Assignment__Output, agentId: string | undefined): Attributes {
  const attrs: Attributes = { [ATTR.jobId]: assignment.jobId, [ATTR.attempt]: assignment.attempt };
  if (assignment.spec?.pool) attrs[ATTR.pool] = assignment.spec.pool;
  if (agentId) attrs[ATTR.agentId] = agentId;
  return attrs;
}

/** A job that failed or timed out is an error in its trace (error.type = the reason); cancelled is not. */
class OutcomeError extends Error {
  override readonly name = 'OutcomeError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Records how an attempt ended on its span. */
export function markAttempt(
  span: Span,
  end: { outcome: pb.Outcome__Output; exitCode: number; reason: string },
): StepOutcome {
  const label = outcomeLabel(end.outcome);
  span.setAttribute(ATTR.outcome, label);
  if (label === 'failed' || label === 'timed_out') {
    recordError(
      span,
      new OutcomeError(
        end.reason || label,
        `attempt ${label}${end.reason ? ` (${end.reason})` : ''}, exit code ${end.exitCode}`,
      ),
    );
  }
  return label;
}

/** Records how one try of a step ended on its span. */
export function markStep(span: Span, outcome: StepOutcome, result: StepProcessResult): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (result.pid !== undefined) span.setAttribute('process.pid', result.pid);
  if (result.signal) span.setAttribute('jr.step.signal', result.signal);
  else span.setAttribute('process.exit.code', result.exitCode);
  if (outcome === 'failed' || outcome === 'timed_out') {
    const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
    recordError(span, new OutcomeError(outcome === 'failed' ? 'step_failed' : 'timeout', `step ${outcome} (${how})`));
  }
}
