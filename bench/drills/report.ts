/** The failover drill's figures as text: one row per switch (RTO), then what was lost (RPO) and counted. */
import type { FailoverDrillResult } from './failover';

const ms = (v: number | null): string => (v === null ? 'never' : `${v} ms`);

export function renderDrill(r: FailoverDrillResult): string {
  const width = Math.max(...r.switches.map((s) => s.label.length));
  const lines = [
    `${'switch'.padEnd(width)}  RTO accepted   RTO running    accepted by`,
    ...r.switches.map(
      (s) =>
        `${s.label.padEnd(width)}  ${ms(s.acceptedGapMs).padEnd(13)}  ${ms(s.runningGapMs).padEnd(13)}  ${s.acceptedBy ?? '-'}`,
    ),
    '',
    `replication: ${r.synchronous ? 'synchronous (synchronous_standby_names = *)' : 'asynchronous'}`,
    `acknowledged jobs: ${r.acknowledged} (never acknowledged, given up: ${r.unacknowledged})`,
    `RPO after the failover: ${r.missingAfterFailover} acknowledged job(s) missing from site B's database`,
    `missing at the end (after fail-back, A's journal applied): ${r.missingAtEnd}`,
    ...r.missingDetail.map((m) => `  ${m}`),
    `finished: ${r.finished} of ${r.acknowledged}; ran more than once: ${r.reruns.length}`,
    ...r.reruns.map(
      (x) =>
        `  ${x.job}: ${x.attempts.map((at) => `#${at.n} ${at.state}${at.reason ? ` (${at.reason})` : ''}, ${at.after ?? ''}`).join('; ')}`,
    ),
    `agents: reporting breaker openings ${r.breakerOpenings}, endpoint switches ${r.endpointSwitches}`,
    `jr submit with JR_API_URL=A,B after the failover: exit ${r.cliAfterFailover.code}`,
  ];
  return `${lines.join('\n')}\n`;
}
