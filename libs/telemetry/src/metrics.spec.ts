import {
  ATTEMPT_STATES,
  CANARY_THRESHOLDS_S,
  INCIDENT_CAUSES,
  PICKUP_THRESHOLDS_S,
  JOB_REASONS,
  SIGNATURE_REFUSALS,
  TERMINAL_JOB_STATES as CONTRACT_TERMINAL,
} from '@jr/contracts';
import { namingProblems, type MetricDef } from './metric-defs';
import { MAX_LABEL_VALUE_LENGTH, MAX_LABEL_VALUES, OVERFLOW_LABEL_VALUE } from './metric-handles';
import {
  AGENT_METRICS,
  API_METRICS,
  DISPATCH_SLO_SECONDS,
  INCIDENT_CAUSE_VALUES,
  ENDED_ATTEMPT_STATES,
  TERMINAL_JOB_STATES,
  REFUSAL_REASONS,
  SIGNATURE_REFUSAL_CAUSES,
} from './metrics-catalog';
import { COLLECT_TIMEOUT_MS, createAgentMetrics, createApiMetrics, ProcessMetrics } from './metrics';

const quiet = { defaultMetrics: false, version: '1.2.3' };

function line(text: string, prefix: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(prefix));
}

describe('metrics catalog', () => {
  const all: Array<[string, MetricDef]> = [...Object.entries(API_METRICS), ...Object.entries(AGENT_METRICS)];

  it('follows Prometheus naming conventions', () => {
    expect(all.flatMap(([, def]) => namingProblems(def))).toEqual([]);
  });

  it('names each metric once per process and keeps fleet (API) and agent-local names apart', () => {
    for (const defs of [API_METRICS, AGENT_METRICS]) {
      const names = Object.values(defs).map((d: MetricDef) => d.name);
      expect(new Set(names).size).toBe(names.length);
    }
    const agentOnly = Object.values(AGENT_METRICS).filter(
      (d) => !d.name.startsWith('jr_build') && !d.name.startsWith('jr_metrics_'),
    );
    expect(agentOnly.every((d) => d.name.startsWith('jr_agent_'))).toBe(true);
    expect(Object.values(API_METRICS).some((d: MetricDef) => d.name.startsWith('jr_agent_'))).toBe(false);
  });

  it('keeps its state lists in step with the contracts', () => {
    expect([...TERMINAL_JOB_STATES].sort()).toEqual([...CONTRACT_TERMINAL].sort());
    expect([...ENDED_ATTEMPT_STATES].sort()).toEqual(
      ATTEMPT_STATES.filter((s) => s !== 'leased' && s !== 'running').sort(),
    );
    expect([...SIGNATURE_REFUSAL_CAUSES]).toEqual([...SIGNATURE_REFUSALS]);
    expect([...INCIDENT_CAUSE_VALUES]).toEqual([...INCIDENT_CAUSES]);
  });

  it('has a bucket boundary at every latency threshold an SLO may use', () => {
    const buckets = (name: string) => {
      const def = Object.values(API_METRICS).find((d: MetricDef) => d.name === name);
      return def?.kind === 'histogram' ? def.buckets : [];
    };
    for (const s of PICKUP_THRESHOLDS_S) expect(buckets('jr_dispatch_latency_seconds')).toContain(s);
    for (const s of CANARY_THRESHOLDS_S) expect(buckets('jr_canary_duration_seconds')).toContain(s);
    for (const r of REFUSAL_REASONS) expect(JOB_REASONS).toContain(r);
  });

  it('has the dispatch SLO threshold as a bucket boundary', () => {
    expect(API_METRICS.dispatchLatency.buckets).toContain(DISPATCH_SLO_SECONDS);
  });

  it('has no handle that shadows a ProcessMetrics member', () => {
    const members = new Set([
      ...Object.getOwnPropertyNames(ProcessMetrics.prototype),
      'registry',
      'collectors',
      'onCollectError',
    ]);
    expect([...Object.keys(API_METRICS), ...Object.keys(AGENT_METRICS)].filter((k) => members.has(k))).toEqual([]);
  });
});

describe('createApiMetrics', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.jobsSubmitted.inc({ pool: 'default' });
    m.jobsSubmitted.inc({ pool: 'default' }, 2);
    m.journalSize.set({ journal: 'intake' }, 4096);
    m.dispatchLatency.observe({ pool: 'default' }, 0.3);
    const text = await m.render();
    expect(text).toContain('# TYPE jr_jobs_submitted_total counter');
    expect(line(text, 'jr_jobs_submitted_total{pool="default"}')).toBe('jr_jobs_submitted_total{pool="default"} 3');
    expect(line(text, 'jr_journal_size_bytes{journal="intake"}')).toBe('jr_journal_size_bytes{journal="intake"} 4096');
    expect(line(text, 'jr_dispatch_latency_seconds_bucket{le="0.25",pool="default"}')).toMatch(/ 0$/);
    expect(line(text, 'jr_dispatch_latency_seconds_bucket{le="1",pool="default"}')).toMatch(/ 1$/);
    expect(line(text, 'jr_build_info')).toBe('jr_build_info{service="jr-api",version="1.2.3"} 1');
    expect(m.contentType).toMatch(/^text\/plain/);
  });

  it('initialises every known state of a pool at 0 on its first outcome, so rate() sees the first one', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.jobsFinished.inc({ pool: 'gpu', state: 'failed' });
    const text = await m.render();
    expect(line(text, 'jr_jobs_finished_total{pool="gpu",state="failed"}')).toMatch(/ 1$/);
    for (const state of ['succeeded', 'cancelled', 'timed_out'])
      expect(line(text, `jr_jobs_finished_total{pool="gpu",state="${state}"}`)).toMatch(/ 0$/);
    expect(line(text, 'jr_dependency_up')).toBeUndefined();
    m.dependencyUp.set({ dependency: 'redis' }, 1);
    const after = await m.render();
    expect(line(after, 'jr_dependency_up{dependency="postgres"}')).toMatch(/ 0$/);
  });

  it('ignores negative and non-finite counter increments and observations', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.leasesExpired.inc({ pool: 'p' }, 1);
    m.leasesExpired.inc({ pool: 'p' }, -5);
    m.leasesExpired.inc({ pool: 'p' }, Number.NaN);
    m.leasesExpired.inc({ pool: 'p' }, Infinity);
    m.heartbeatLag.observe({ pool: 'p' }, -0.5);
    const text = await m.render();
    expect(line(text, 'jr_leases_expired_total{pool="p"}')).toMatch(/ 1$/);
    expect(line(text, 'jr_heartbeat_lag_seconds_count{pool="p"}')).toBeUndefined();
  });

  it('bounds hostile label values: long ones are cut, too many distinct ones fold into _other', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.jobsSubmitted.inc({ pool: 'x'.repeat(10_000) });
    for (let i = 0; i < MAX_LABEL_VALUES + 50; i++) m.queueDepth.set({ pool: `pool-${i}` }, i);
    m.jobsSubmitted.inc({ pool: 'quote"back\\slash\nnewline' });
    const text = await m.render();
    expect(line(text, 'jr_jobs_submitted_total{pool=')!.length).toBeLessThan(MAX_LABEL_VALUE_LENGTH + 50);
    expect(text.split('\n').filter((l) => l.startsWith('jr_queue_depth{')).length).toBe(MAX_LABEL_VALUES + 1);
    expect(line(text, `jr_queue_depth{pool="${OVERFLOW_LABEL_VALUE}"}`)).toBeDefined();
    expect(text).toContain('jr_jobs_submitted_total{pool="quote\\"back\\\\slash\\nnewline"} 1');
  });

  it('replaceAll drops series that are no longer reported', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.fleetBreakerOpen.replaceAll([
      { labels: { agent: 'a1', pool: 'default' }, value: 1 },
      { labels: { agent: 'a2', pool: 'default' }, value: 0 },
    ]);
    m.fleetBreakerOpen.replaceAll([{ labels: { agent: 'a2', pool: 'default' }, value: 1 }]);
    const text = await m.render();
    expect(line(text, 'jr_fleet_breaker_open{agent="a1"')).toBeUndefined();
    expect(line(text, 'jr_fleet_breaker_open{agent="a2",pool="default"}')).toMatch(/ 1$/);
  });

  it('replaceAll keeps reported values over the zero-initialised known states, whatever the row order', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.fleetAgents.replaceAll([
      { labels: { pool: 'p', state: 'draining' }, value: 1 },
      { labels: { pool: 'p', state: 'active' }, value: 3 },
    ]);
    const text = await m.render();
    expect(line(text, 'jr_fleet_agents{pool="p",state="active"}')).toMatch(/ 3$/);
    expect(line(text, 'jr_fleet_agents{pool="p",state="draining"}')).toMatch(/ 1$/);
    expect(line(text, 'jr_fleet_agents{pool="p",state="lost"}')).toMatch(/ 0$/);
  });

  it('times with startTimer in seconds', async () => {
    const m = createApiMetrics(undefined, quiet);
    const end = m.httpDuration.startTimer();
    const seconds = end({ method: 'GET', route: '/v1/jobs/:id', status: '200' });
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(5);
    const text = await m.render();
    expect(
      line(text, 'jr_http_request_duration_seconds_count{method="GET",route="/v1/jobs/:id",status="200"}'),
    ).toMatch(/ 1$/);
  });

  it('runs scrape-time collectors; a failing one is counted and the scrape still answers', async () => {
    const m = createApiMetrics(undefined, quiet);
    m.beforeScrape(() => m.queueDepth.set({ pool: 'default' }, 7));
    m.beforeScrape(async () => {
      throw new Error('database down');
    });
    const text = await m.render();
    expect(line(text, 'jr_queue_depth{pool="default"}')).toMatch(/ 7$/);
    expect(line(text, 'jr_metrics_collection_errors_total ')).toMatch(/ 1$/);
  });

  it('does not let a hung collector hang the scrape', async () => {
    jest.useFakeTimers();
    try {
      const m = createApiMetrics(undefined, quiet);
      m.beforeScrape(() => new Promise<void>(() => undefined));
      const rendering = m.render();
      await jest.advanceTimersByTimeAsync(COLLECT_TIMEOUT_MS);
      const text = await rendering;
      expect(line(text, 'jr_metrics_collection_errors_total ')).toMatch(/ 1$/);
    } finally {
      jest.useRealTimers();
    }
  });

  it('adds the process_* and nodejs_* runtime metrics by default', async () => {
    const text = await createApiMetrics().render();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('createAgentMetrics', () => {
  it('renders the agent-local metrics with its service name', async () => {
    const m = createAgentMetrics(undefined, quiet);
    m.breakerOpen.set(1);
    m.outboxDepth.set(12);
    m.cancellations.inc({ reason: 'lease_lost' });
    const text = await m.render();
    expect(line(text, 'jr_agent_breaker_open ')).toBe('jr_agent_breaker_open 1');
    expect(line(text, 'jr_agent_outbox_depth ')).toBe('jr_agent_outbox_depth 12');
    expect(line(text, 'jr_agent_cancellations_total{reason="superseded"}')).toMatch(/ 0$/);
    expect(line(text, 'jr_build_info')).toBe('jr_build_info{service="jr-agent",version="1.2.3"} 1');
  });
});
