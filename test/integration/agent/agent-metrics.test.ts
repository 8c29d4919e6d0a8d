import { AGENT_METRICS } from '@jr/telemetry';
import { newGate, waitFor } from '@jr/testing';
import type { AgentHandle } from '../../../apps/agent/src/agent';
import { shell, spec, useAgentFixture } from './agent-harness';
import { promtoolCheck, sample, scrape } from './metrics-text';

jest.setTimeout(60_000);

/**
 * The agent's own /metrics (JR_METRICS_PORT) scraped for real while things happen to it: jobs, a
 * cancel directive, the API becoming unreachable (breaker opens, outbox grows), the operator's
 * re-enable (the backlog replays). Every exposition passes `promtool check metrics`.
 */
describe("jr-agent's metrics endpoint and jr-agent status, over a fault-injecting proxy", () => {
  const f = useAgentFixture({ proxy: true });

  const start = async (): Promise<AgentHandle> =>
    (
      await f.start({
        JR_BREAKER_THRESHOLD: '2',
        JR_BREAKER_MIN_OUTAGE: '0s',
        JR_REPORT_TIMEOUT: '300ms',
        JR_METRICS_PORT: '0',
      })
    ).agent;
  const lint = (text: string): void => expect(promtoolCheck(text)).toEqual({ code: 0, out: '' });
  /** Scrapes until `probe` holds for the exposition; returns that exposition. */
  const scrapeUntil = (url: string, probe: (text: string) => boolean, what: string): Promise<string> =>
    waitFor(
      async () => {
        const text = await scrape(url);
        return probe(text) ? text : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what },
    );

  it('serves every agent metric of the catalog, and the values follow jobs, cancellations, the breaker and the replay', async () => {
    const gate = newGate();
    const a = await start();
    const url = a.metricsUrl as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    let text = await scrape(url);
    lint(text);
    for (const def of Object.values(AGENT_METRICS)) expect(text).toContain(`# TYPE ${def.name} `);
    expect(sample(text, 'jr_build_info', { service: 'jr-agent' })).toBe(1);
    expect(sample(text, 'jr_agent_slots')).toBe(2);
    expect(sample(text, 'jr_agent_breaker_open')).toBe(0);
    expect(sample(text, 'jr_agent_heartbeat_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 30);

    // An attempt whose second step fails; then one cancelled by a directive while it runs.
    const failed = f.api.enqueue(spec([shell('echo fine'), shell('exit 3')]));
    await waitFor(() => f.api.completion(failed), { timeoutMs: 45_000, what: 'the failed job' });
    const long = f.api.enqueue(spec([shell('sleep 30')]));
    text = await scrapeUntil(url, (t) => sample(t, 'jr_agent_running_attempts') === 1, 'the long job running');
    f.api.cancel(long);
    await waitFor(() => f.api.completion(long), { timeoutMs: 45_000, what: 'the cancelled job' });
    text = await scrape(url);
    lint(text);
    expect(sample(text, 'jr_agent_attempts_finished_total', { outcome: 'failed' })).toBe(1);
    expect(sample(text, 'jr_agent_attempts_finished_total', { outcome: 'cancelled' })).toBe(1);
    expect(sample(text, 'jr_agent_attempts_finished_total', { outcome: 'succeeded' })).toBe(0);
    expect(sample(text, 'jr_agent_cancellations_total', { reason: 'cancelled' })).toBe(1);
    expect(sample(text, 'jr_agent_step_duration_seconds_count', { outcome: 'succeeded' })).toBe(1);
    expect(sample(text, 'jr_agent_step_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(sample(text, 'jr_agent_step_duration_seconds_count', { outcome: 'cancelled' })).toBe(1);
    expect(sample(text, 'jr_agent_running_attempts')).toBe(0);
    for (const method of ['Heartbeat', 'Lease', 'Report', 'Complete']) {
      expect({ method, calls: sample(text, 'jr_agent_rpc_duration_seconds_count', { method, code: 'OK' }) }).toEqual({
        method,
        calls: expect.any(Number),
      });
    }
    expect(sample(text, 'jr_agent_rpc_duration_seconds_count', { method: 'Complete', code: 'OK' })).toBe(2);

    // The API becomes unreachable while a job prints: the breaker opens, the outbox holds its output.
    const printing = f.api.enqueue(
      spec([shell(`echo start; ${gate.wait}; for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.3; done`)]),
    );
    await waitFor(() => f.api.output(printing).includes('start'), { timeoutMs: 10_000, what: 'the job to run' });
    f.proxy.setMode({ kind: 'blackhole' });
    gate.open();
    text = await scrapeUntil(url, (t) => sample(t, 'jr_agent_breaker_open') === 1, 'the breaker to open');
    lint(text);
    expect(sample(text, 'jr_agent_breaker_opened_total')).toBe(1);
    // Each try was abandoned by the agent's own per-try timeout (JR_REPORT_TIMEOUT): grpc-js names that CANCELLED.
    expect(
      sample(text, 'jr_agent_rpc_duration_seconds_count', { method: 'Report', code: 'CANCELLED' }),
    ).toBeGreaterThan(0);
    text = await scrapeUntil(
      url,
      (t) =>
        (sample(t, 'jr_agent_outbox_depth') ?? 0) > 0 && (sample(t, 'jr_agent_outbox_oldest_age_seconds') ?? 0) > 0.5,
      'the outbox to age',
    );

    // Back online, the operator re-enables reporting: the backlog is replayed, the gauges return to 0.
    f.proxy.setMode({ kind: 'pass' });
    // A directive rides on a heartbeat's answer: wait for heartbeats to get through again first.
    const beats = f.api.heartbeats.length;
    await waitFor(() => f.api.heartbeats.length > beats + 1, { timeoutMs: 15_000, what: 'heartbeats answered again' });
    f.api.direct(a.agentId, { enableReporting: {} });
    text = await scrapeUntil(
      url,
      (t) => sample(t, 'jr_agent_breaker_open') === 0 && sample(t, 'jr_agent_outbox_depth') === 0,
      'the outbox to drain',
    );
    lint(text);
    expect(sample(text, 'jr_agent_outbox_replayed_events_total')).toBeGreaterThan(0);
    expect(sample(text, 'jr_agent_outbox_oldest_age_seconds')).toBe(0);
    expect(sample(text, 'jr_agent_breaker_opened_total')).toBe(1);
  });

  it('jr-agent status: 0 while healthy, 1 while the API is unreachable and the breaker open, 69 once the agent is gone', async () => {
    const gate = newGate();
    const a = await start();
    const status = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
      f.command(['status', ...args]);

    const healthy = await status();
    expect(healthy).toMatchObject({ code: 0, err: '' });
    expect(healthy.out).toContain(`jr-agent ${a.agentId} "it-agent" (pool default`);
    expect(healthy.out).toContain(`api:       ${f.proxy.address}, connected; last heartbeat`);
    expect(healthy.out).toContain(`metrics:   ${a.metricsUrl}`);

    const printing = f.api.enqueue(
      spec([shell(`echo start; ${gate.wait}; for i in 1 2 3 4; do echo "line $i"; sleep 0.2; done`)]),
    );
    await waitFor(() => f.api.output(printing).includes('start'), { timeoutMs: 10_000, what: 'the job to run' });
    f.proxy.setMode({ kind: 'blackhole' });
    gate.open();
    await waitFor(async () => (await status('--json')).code === 1 && a.status().breaker.state === 'open', {
      timeoutMs: 30_000,
      what: 'status degraded with the breaker open',
    });
    const degraded = await status('--json');
    const doc = JSON.parse(degraded.out) as {
      health: string;
      connected: boolean;
      problems: string[];
      breaker: { state: string };
    };
    expect(doc).toMatchObject({ health: 'degraded', connected: false, breaker: { state: 'open' } });
    expect(doc.problems).toEqual([
      expect.stringMatching(/^heartbeats failing: \d+ failed in a row/),
      expect.stringMatching(/^status reporting suspended/),
    ]);

    f.proxy.setMode({ kind: 'pass' });
    await a.enableReporting('control');
    await waitFor(async () => (await status()).code === 0, { timeoutMs: 15_000, what: 'healthy again' });

    await a.stop();
    expect(await status()).toMatchObject({ code: 69, out: '' });
  });
});
