import { isTerminal, type JobState } from '@jr/contracts';

/** Process-local counters for /metrics (the full telemetry module comes later). */
export class Metrics {
  private submitted = 0;
  private readonly finished = new Map<JobState, number>();

  jobSubmitted(): void {
    this.submitted++;
  }

  jobStateChanged(state: JobState): void {
    if (isTerminal(state)) this.finished.set(state, (this.finished.get(state) ?? 0) + 1);
  }

  /** Prometheus text exposition; `agents` comes from the database at scrape time. */
  render(agents: Array<{ state: string; count: number }>): string {
    const lines = [
      '# HELP jr_jobs_submitted_total Jobs accepted by this API process.',
      '# TYPE jr_jobs_submitted_total counter',
      `jr_jobs_submitted_total ${this.submitted}`,
      '# HELP jr_jobs_finished_total Jobs that reached a terminal state, handled by this API process.',
      '# TYPE jr_jobs_finished_total counter',
      ...(['succeeded', 'failed', 'cancelled', 'timed_out'] as const).map((s) => `jr_jobs_finished_total{state="${s}"} ${this.finished.get(s) ?? 0}`),
      '# HELP jr_agents Enrolled agents by state.',
      '# TYPE jr_agents gauge',
      ...(['active', 'draining', 'lost'] as const).map((s) => `jr_agents{state="${s}"} ${agents.find((a) => a.state === s)?.count ?? 0}`),
    ];
    return `${lines.join('\n')}\n`;
  }
}
