import { formatDurationMs } from '@jr/contracts';
import { z } from 'zod';

/**
 * `jr-agent status`: what the running agent says about itself over the control socket. The agent
 * builds it (it knows its clock and interval) and judges its health with `assessHealth`; the command
 * validates the answer with this schema (unknown fields of a newer agent are ignored) and prints it.
 */
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max);

export const agentStatusSchema = z.object({
  agentId: text(200),
  name: text(400),
  pool: text(100),
  version: text(100),
  pid: count,
  apiAddress: text(1_000),
  health: z.enum(['healthy', 'degraded']),
  problems: z.array(text(1_000)).max(20),
  connected: z.boolean(),
  heartbeat: z.object({
    intervalMs: count,
    lastOkAgeMs: count.nullable(),
    consecutiveFailures: count,
    ok: count,
    failed: count,
  }),
  breaker: z.object({ state: z.enum(['open', 'closed']), since: text(100).nullable(), reason: text(1_000).nullable() }),
  outbox: z.object({ depth: count, oldestAgeMs: count }),
  attempts: z.object({ running: count, slots: count, undelivered: count }),
  draining: z.boolean(),
  metricsUrl: text(300).nullable(),
});

export type AgentStatusView = z.infer<typeof agentStatusSchema>;
export type HealthFacts = Omit<AgentStatusView, 'health' | 'problems' | 'connected'>;

/** Heartbeats older than this many intervals: the API is about to declare the agent lost. */
export const STALE_HEARTBEAT_INTERVALS = 3;

/**
 * Degraded when status reports are suspended (the breaker is open) or the API does not answer
 * heartbeats (the last beat failed, none was answered yet, or the last answer is older than
 * STALE_HEARTBEAT_INTERVALS intervals). Draining is a choice, not a problem.
 */
export function assessHealth(f: HealthFacts): AgentStatusView {
  const problems: string[] = [];
  const hb = f.heartbeat;
  const connected =
    hb.consecutiveFailures === 0 &&
    hb.lastOkAgeMs !== null &&
    hb.lastOkAgeMs <= STALE_HEARTBEAT_INTERVALS * hb.intervalMs;
  if (hb.lastOkAgeMs === null) {
    problems.push(
      `no heartbeat answered yet${hb.consecutiveFailures > 0 ? ` (${hb.consecutiveFailures} failed)` : ''}`,
    );
  } else if (!connected) {
    const streak = hb.consecutiveFailures > 0 ? `${hb.consecutiveFailures} failed in a row, ` : '';
    problems.push(`heartbeats failing: ${streak}last answered ${formatDurationMs(hb.lastOkAgeMs)} ago`);
  }
  if (f.breaker.state === 'open') {
    const since = f.breaker.since ? ` since ${f.breaker.since}` : '';
    const reason = f.breaker.reason ? ` (${f.breaker.reason})` : '';
    problems.push(
      `status reporting suspended: breaker open${since}${reason}; results wait in the outbox until re-enabled (jr-agent reporting enable)`,
    );
  }
  return { ...f, connected, health: problems.length > 0 ? 'degraded' : 'healthy', problems };
}

/** The human form: a headline, one line per area, then the problems. */
export function formatStatus(s: AgentStatusView): string {
  const hb = s.heartbeat;
  const last =
    hb.lastOkAgeMs === null ? 'no heartbeat answered yet' : `last heartbeat ${formatDurationMs(hb.lastOkAgeMs)} ago`;
  const oldest = s.outbox.depth > 0 ? `, oldest ${formatDurationMs(s.outbox.oldestAgeMs)}` : '';
  const lines = [
    `jr-agent ${s.agentId || '(not enrolled yet)'} ${JSON.stringify(s.name)} (pool ${s.pool}, version ${s.version}, pid ${s.pid}): ${s.health}`,
    `api:       ${s.apiAddress}, ${s.connected ? 'connected' : 'NOT connected'}; ${last} (interval ${formatDurationMs(hb.intervalMs)})`,
    `breaker:   ${s.breaker.state}${s.breaker.since ? ` since ${s.breaker.since}` : ''}`,
    `outbox:    ${s.outbox.depth} queued${oldest}`,
    `attempts:  ${s.attempts.running} running of ${s.attempts.slots} slots, ${s.attempts.undelivered} outcomes undelivered${s.draining ? ' (draining: no new leases)' : ''}`,
    `metrics:   ${s.metricsUrl ?? 'not served (JR_METRICS_PORT unset)'}`,
    ...s.problems.map((p) => `problem:   ${p}`),
  ];
  return `${lines.map(printable).join('\n')}\n`;
}

/** What the agent says is printed on a terminal: no control characters (escape sequences) from it. */
export function printable(line: string): string {
  return line.replace(/\p{Cc}/gu, '?');
}
