import { activeTraceIds } from './tracing';

/** The fields the mixin adds to a log line (snake_case, as OpenTelemetry's log data model names them). */
export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
}

/**
 * A pino `mixin`: adds trace_id/span_id of the active span to every log line, so a job's log lines in
 * the API and the agent share its trace id. `pino({ ..., mixin: traceLogMixin })`.
 */
export function traceLogMixin(): TraceLogFields {
  const ids = activeTraceIds();
  return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}
