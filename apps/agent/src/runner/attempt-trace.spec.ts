import * as path from 'node:path';
import { Backoff } from '@jr/resilience';
import {
  ATTR,
  extractFromCarrier,
  SPANS,
  SpanKind,
  withSpan,
  type AgentMetrics,
  type ReadableSpan,
} from '@jr/telemetry';
import { parseAgentConfig } from '../config/agent-config';
import { metricValue, STATUS_ERROR, testMetrics, testTracing, traceparent } from '../telemetry.test-helper';
import { ArtifactCache } from './artifact-cache';
import { JobUserPool } from './job-users';
import { AttemptRun, type AttemptDeps } from './attempt-runner';
import { outcomeLabel } from './attempt-trace';
import { LOOPBACK_HTTP, RecordingReporter, assignment, shellStep, silentLogger, tempDir } from './runner.test-helper';

const LEASE_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const LEASE_SPAN = '00f067aa0ba902b7';

describe('AttemptRun tracing and metrics (real child processes, in-memory span exporter)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let reporter: RecordingReporter;
  let metrics: AgentMetrics;
  let deps: AttemptDeps;
  let tracing: ReturnType<typeof testTracing>;

  beforeEach(async () => {
    tracing = testTracing();
    tmp = await tempDir('trace');
    reporter = new RecordingReporter();
    metrics = testMetrics();
    const parsed = parseAgentConfig({ PATH: process.env.PATH });
    if (!parsed.ok) throw new Error('config');
    deps = {
      reporter,
      dataDir: tmp.dir,
      workRoot: path.join(tmp.dir, 'work'),
      jobUsers: new JobUserPool([]),
      killGraceMs: 200,
      childEnv: parsed.config.childEnv,
      logger: silentLogger,
      metrics,
      agentId: 'a_test',
      artifacts: new ArtifactCache({
        cacheDir: path.join(tmp.dir, 'cache'),
        urlPolicy: LOOPBACK_HTTP,
        backoff: new Backoff({ initialMs: 5, maxMs: 10 }),
      }),
    };
  });
  afterEach(async () => {
    await tracing.stop();
    await tmp.remove();
  });

  const one = (name: string): ReadableSpan => {
    const spans = tracing.spans(name);
    expect(spans).toHaveLength(1);
    return spans[0] as ReadableSpan;
  };
  const leaseContext = () => extractFromCarrier({ traceparent: traceparent(LEASE_TRACE, LEASE_SPAN) });

  it('runs the attempt in a span under the lease span, one child span per step try, and hands its context to the reporter', async () => {
    const flaky = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 2 ]';
    const a = assignment([shellStep(flaky, { retries: 1 }), shellStep('echo done')], { pool: 'gpu' });
    await new AttemptRun(a, deps, leaseContext()).run();

    const attempt = one(SPANS.attempt);
    expect(attempt.spanContext().traceId).toBe(LEASE_TRACE);
    expect(attempt.parentSpanContext?.spanId).toBe(LEASE_SPAN);
    expect(attempt.kind).toBe(SpanKind.CONSUMER);
    expect(attempt.attributes).toMatchObject({
      [ATTR.jobId]: a.jobId,
      [ATTR.attempt]: 1,
      [ATTR.pool]: 'gpu',
      [ATTR.agentId]: 'a_test',
      [ATTR.outcome]: 'succeeded',
    });
    expect(attempt.status.code).not.toBe(STATUS_ERROR);

    const steps = tracing.spans(SPANS.step);
    expect(
      steps.map((s) => [s.attributes[ATTR.stepIndex], s.attributes[ATTR.stepTry], s.attributes[ATTR.outcome]]),
    ).toEqual([
      [0, 1, 'failed'],
      [0, 2, 'succeeded'],
      [1, 1, 'succeeded'],
    ]);
    for (const s of steps) {
      expect(s.spanContext().traceId).toBe(LEASE_TRACE);
      expect(s.parentSpanContext?.spanId).toBe(attempt.spanContext().spanId);
    }
    expect(steps[0]?.status.code).toBe(STATUS_ERROR);
    expect(steps[0]?.attributes).toMatchObject({ 'error.type': 'step_failed', 'process.exit.code': 1 });
    expect(reporter.traces).toEqual([{ traceparent: traceparent(LEASE_TRACE, attempt.spanContext().spanId) }]);

    expect(await metricValue(metrics, 'jr_agent_attempts_finished_total', { outcome: 'succeeded' })).toBe(1);
    expect(await metricValue(metrics, 'jr_agent_attempts_finished_total', { outcome: 'failed' })).toBe(0);
    expect(await metricValue(metrics, 'jr_agent_step_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(await metricValue(metrics, 'jr_agent_step_duration_seconds_count', { outcome: 'succeeded' })).toBe(2);
  });

  it('starts a new trace when the Lease answer carried no context, whatever span is active around it', async () => {
    await withSpan('unrelated', {}, () => new AttemptRun(assignment([shellStep('true')]), deps).run());
    const attempt = one(SPANS.attempt);
    expect(attempt.parentSpanContext).toBeUndefined();
    expect(attempt.spanContext().traceId).not.toBe(one('unrelated').spanContext().traceId);
    expect(one(SPANS.step).parentSpanContext?.spanId).toBe(attempt.spanContext().spanId);
  });

  it('marks a failed attempt as an error with its reason, and counts it', async () => {
    await new AttemptRun(assignment([shellStep('exit 3')]), deps, leaseContext()).run();
    const attempt = one(SPANS.attempt);
    expect(attempt.status.code).toBe(STATUS_ERROR);
    expect(attempt.attributes).toMatchObject({ [ATTR.outcome]: 'failed', 'error.type': 'step_failed' });
    expect(await metricValue(metrics, 'jr_agent_attempts_finished_total', { outcome: 'failed' })).toBe(1);
  });

  it('counts a timed-out attempt and a superseded one (a cancellation by the API, counted once)', async () => {
    await new AttemptRun(assignment([shellStep('sleep 1000')], { timeoutMs: 200 }), deps).run();
    expect(one(SPANS.attempt).attributes[ATTR.outcome]).toBe('timed_out');
    const run = new AttemptRun(assignment([shellStep('sleep 1000')], {}, 'j_superseded'), deps).run();
    await new Promise((r) => setTimeout(r, 100));
    reporter.superseders[1]?.();
    reporter.superseders[1]?.();
    await run;
    expect(await metricValue(metrics, 'jr_agent_attempts_finished_total', { outcome: 'timed_out' })).toBe(1);
    expect(await metricValue(metrics, 'jr_agent_attempts_finished_total', { outcome: 'cancelled' })).toBe(1);
    expect(await metricValue(metrics, 'jr_agent_cancellations_total', { reason: 'superseded' })).toBe(1);
    const cancelled = tracing.spans(SPANS.attempt).find((s) => s.attributes[ATTR.jobId] === 'j_superseded');
    expect(cancelled?.status.code).not.toBe(STATUS_ERROR);
  });

  it('maps every outcome to a catalog label', () => {
    expect(
      ['OUTCOME_SUCCEEDED', 'OUTCOME_FAILED', 'OUTCOME_TIMED_OUT', 'OUTCOME_CANCELLED', 'OUTCOME_UNSPECIFIED'].map(
        (o) => outcomeLabel(o as never),
      ),
    ).toEqual(['succeeded', 'failed', 'timed_out', 'cancelled', 'failed']);
  });
});
