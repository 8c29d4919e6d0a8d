import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  expandGrafanaVariables,
  freePort,
  grafanaDashboardQueries,
  PrometheusServer,
  Stack,
  waitFor,
  writeFile,
  type QueryResult,
} from '@jr/testing';
import { promtoolCheck, sample, scrape } from '../integration/agent/metrics-text';

// The real thing: a real Prometheus scrapes a real jr-api and a real jr-agent (JR_METRICS_PORT) while
// jobs run: successes, a failure, a cancel, a duplicate submission, and an agent SIGKILLed under a job
// (its lease expires, it is declared lost, the job waits queued in a pool with no agent left). Then
// every PromQL expression of the Grafana dashboards and the alert/recording rules goes through
// Prometheus's HTTP API: each must parse and evaluate, and the main panels must show data.
const root = path.resolve(__dirname, '../..');
const rulesDir = path.join(root, 'infra/prometheus/rules');
const dashboardsDir = path.join(root, 'infra/grafana/dashboards');

/** Metrics whose panels must show data once jobs ran: at least one dashboard query naming each. */
const MAIN_METRICS = [
  'jr_jobs_submitted_total',
  'jr_jobs_finished_total',
  'jr_queue_depth',
  'jr_queue_oldest_age_seconds',
  'jr_dispatch_latency_seconds_bucket',
  'jr_job_duration_seconds_bucket',
  'jr_fleet_agents',
  'jr_fleet_breaker_open',
  'jr_fleet_outbox_depth',
  'jr_heartbeat_lag_seconds_bucket',
  'jr_journal_fsync_duration_seconds_bucket',
  'jr_http_request_duration_seconds_bucket',
  'jr_grpc_request_duration_seconds_bucket',
  'jr_dependency_up',
  'jr_leases_expired_total',
  'jr_agent_rpc_duration_seconds_bucket',
];

// the Postgres-fed gauges refresh in the background: often here, so the scrapes see the workload's end
const stack = new Stack('1s', { apiEnv: { JR_METRICS_REFRESH_INTERVAL: '500ms' } });
/** A metrics:read token (jr tokens create), as an operator gives Prometheus. */
let scrapeToken: string;
let prometheus: PrometheusServer;
let apiMetrics = '';

function samples(result: QueryResult): number {
  if (result.resultType === 'scalar' || result.resultType === 'string') return 1;
  return (result.result as unknown[]).length;
}

async function post(
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: { id: string } }> {
  const res = await stack.fetch(`${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { id: string } };
}

async function waitState(id: string, states: string[], timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => states.includes((await stack.job(id)).state), {
    timeoutMs,
    what: `job ${id} to be ${states.join('|')}`,
  });
}

/** Work for the scrapes to see, spread over several scrape intervals so rates have two points. */
async function runWorkload(): Promise<void> {
  const victim = await stack.startAgent('victim', { slots: 1, pool: 'spare' });
  const stuck = await post('/v1/jobs', { pool: 'spare', steps: [{ run: 'sleep 60' }] });
  await waitState(stuck.json.id, ['running']);
  await victim.kill(); // its lease expires after 3 heartbeats; the job waits queued: no agent left in `spare`
  const file = writeFile(stack, 'two.yaml', ['steps:', '  - run: echo one', '  - run: echo two', ''].join('\n'));
  expect((await stack.cli(['submit', '-f', file, '--wait'])).code).toBe(0);
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    ids.push((await post('/v1/jobs', { steps: [{ run: i % 4 === 3 ? 'exit 3' : 'echo ok' }] })).json.id);
    await new Promise((r) => setTimeout(r, 400));
  }
  const keyed = { steps: [{ run: 'echo keyed' }] };
  await post('/v1/jobs', keyed, { 'idempotency-key': 'obs-1' });
  expect((await post('/v1/jobs', keyed, { 'idempotency-key': 'obs-1' })).status).toBe(200);
  const long = await post('/v1/jobs', { steps: [{ run: 'sleep 30' }] });
  await waitState(long.json.id, ['running']);
  await post(`/v1/jobs/${long.json.id}/cancel`, {});
  for (const id of [...ids, long.json.id]) await waitState(id, ['succeeded', 'failed', 'cancelled']);
  await waitFor(async () => (await stack.job(stuck.json.id)).attempts[0]?.state === 'lost', {
    timeoutMs: 20_000,
    what: 'the victim attempt to be lost',
  });
}

beforeAll(async () => {
  await stack.start();
  const agentMetricsPort = await freePort();
  await stack.startAgent('obs-a', { slots: 4, extraEnv: { JR_METRICS_PORT: String(agentMetricsPort) } });
  const made = await stack.cli(['tokens', 'create', '--scope', 'metrics:read', '--name', 'prometheus', '--json']);
  if (made.code !== 0) throw new Error(`jr tokens create: ${made.code} ${made.stderr}`);
  scrapeToken = (JSON.parse(made.stdout) as { token: string }).token;
  const ruleFiles = fs
    .readdirSync(rulesDir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => path.join(rulesDir, f));
  prometheus = await PrometheusServer.start({
    ruleFiles,
    targets: [
      { job: 'jr-api', targets: [new URL(stack.baseUrl).host], bearerToken: scrapeToken, caFile: stack.caFile },
      { job: 'jr-agent', targets: [`127.0.0.1:${agentMetricsPort}`], labels: { pool: 'default' } },
    ],
  });
  await runWorkload();
  await prometheus.waitForScrapes(3);
  apiMetrics = await waitFor(
    async () => {
      const text = await scrape(`${stack.baseUrl}/metrics`, { token: scrapeToken, ca: stack.caPem });
      return sample(text, 'jr_queue_depth', { pool: 'spare' }) === 1 ? text : undefined;
    },
    { timeoutMs: 10_000, what: 'the background refresh to show the requeued job' },
  );
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack.close();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
});

it("the API's /metrics after real jobs passes promtool check metrics and counts what happened", () => {
  expect(promtoolCheck(apiMetrics)).toEqual({ code: 0, out: '' });
  expect(sample(apiMetrics, 'jr_jobs_submitted_total', { pool: 'default' })).toBeGreaterThanOrEqual(15);
  expect(sample(apiMetrics, 'jr_jobs_deduplicated_total', { pool: 'default' })).toBe(1);
  expect(sample(apiMetrics, 'jr_jobs_finished_total', { pool: 'default', state: 'failed' })).toBe(3);
  expect(sample(apiMetrics, 'jr_jobs_finished_total', { pool: 'default', state: 'cancelled' })).toBe(1);
  expect(sample(apiMetrics, 'jr_leases_expired_total', { pool: 'spare' })).toBe(1);
  expect(sample(apiMetrics, 'jr_attempts_finished_total', { pool: 'spare', state: 'lost' })).toBe(1);
  expect(sample(apiMetrics, 'jr_queue_depth', { pool: 'spare' })).toBe(1);
  expect(sample(apiMetrics, 'jr_queue_oldest_age_seconds', { pool: 'spare' })).toBeGreaterThan(0);
  expect(sample(apiMetrics, 'jr_fleet_agents', { pool: 'default', state: 'active' })).toBe(1);
  expect(sample(apiMetrics, 'jr_fleet_slots', { pool: 'default' })).toBe(4);
  expect(sample(apiMetrics, 'jr_dependency_up', { dependency: 'postgres' })).toBe(1);
  expect(
    sample(apiMetrics, 'jr_http_request_duration_seconds_count', {
      method: 'POST',
      route: '/v1/jobs/:id/cancel',
      status: '202',
    }),
  ).toBe(1);
  expect(
    sample(apiMetrics, 'jr_grpc_request_duration_seconds_count', { method: 'Complete', code: 'OK' }),
  ).toBeGreaterThanOrEqual(14);
  expect(sample(apiMetrics, 'jr_journal_fsyncs_total', { journal: 'intake' })).toBeGreaterThan(0);
});

it('loads and evaluates every rule against the real processes without error', async () => {
  const rules = await waitFor(
    async () => {
      const all = await prometheus.rules();
      return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
    },
    { timeoutMs: 30_000, what: 'every rule to be evaluated' },
  );
  expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);
  for (const r of rules) await prometheus.query(r.query); // each parses and evaluates as an instant query too
  // the SLO recording rules have a value for the pool jobs ran in
  const slo = await waitFor(
    async () => samples(await prometheus.query('jr:dispatch_slo_errors:ratio_rate5m{pool="default"}')) > 0 || undefined,
    {
      timeoutMs: 20_000,
      what: 'the dispatch SLO recording rule to have a value',
    },
  );
  expect(slo).toBe(true);
});

it('parses every dashboard expression, and the main panels show data', async () => {
  const refused: string[] = [];
  const withData = new Set<string>();
  const empty: string[] = [];
  for (const q of grafanaDashboardQueries(dashboardsDir)) {
    const expr = expandGrafanaVariables(q.expr);
    try {
      if (samples(await prometheus.query(expr)) > 0) withData.add(q.expr);
      else empty.push(`${q.dashboard} / ${q.where}: ${q.expr}`);
    } catch (err) {
      refused.push(`${q.dashboard} / ${q.where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  expect(refused).toEqual([]);
  const missing = MAIN_METRICS.filter((m) => ![...withData].some((expr) => expr.includes(m)));
  expect(missing).toEqual([]);
  console.log(
    `dashboard expressions with data: ${withData.size}; empty (nothing of that kind happened):\n${empty.join('\n')}`,
  );
});
