import { Stack, waitFor, writeFile } from '@jr/testing';
import { OtlpCollector, type CollectedSpan } from '../integration/telemetry/otlp-collector';

// One job is one trace across two real processes: jr-api and jr-agent both export their spans over
// OTLP/HTTP to a collector in this test, configured only by the standard OTEL_* variables. A two-step
// job submitted with `jr submit --wait` must show one trace id in both services, chained
// submit → journal append → relay → enqueue → lease → attempt → steps, with the agent's Report and
// Complete calls continued by the API's server spans.
const collector = OtlpCollector.start();
let stack: Stack;
let otlp: OtlpCollector;

beforeAll(async () => {
  otlp = await collector;
  stack = new Stack('1s', { apiEnv: otlp.env });
  await stack.start();
  await stack.startAgent('trace-a', { slots: 2, extraEnv: otlp.env });
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await otlp?.close();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
});

function parentOf(spans: CollectedSpan[], span: CollectedSpan | undefined): CollectedSpan | undefined {
  return span ? spans.find((s) => s.spanId === span.parentSpanId) : undefined;
}

function ancestors(spans: CollectedSpan[], span: CollectedSpan | undefined): string[] {
  const names: string[] = [];
  for (let p = parentOf(spans, span); p; p = parentOf(spans, p)) names.push(`${p.service}:${p.name}`);
  return names;
}

it('a two-step job is one trace from POST /v1/jobs to the agent and back', async () => {
  const file = writeFile(
    stack,
    'two.yaml',
    ['name: traced', 'steps:', '  - run: echo one', '  - run: echo two', ''].join('\n'),
  );
  const submit = await stack.cli(['submit', '-f', file, '--wait', '--json']);
  expect(submit.code).toBe(0);
  const { id } = JSON.parse(submit.stdout) as { id: string };

  const submitSpan = await waitFor(
    () => otlp.spans.find((s) => s.name === 'jr.job.submit' && s.attributes['jr.job.id'] === id),
    { timeoutMs: 15_000, what: 'the submit span' },
  );
  const trace = await waitFor(
    () => {
      const spans = otlp.spans.filter((s) => s.traceId === submitSpan.traceId);
      const names = new Set(spans.map((s) => `${s.service}:${s.name}`));
      const wanted = [
        'jr-agent:jr.attempt.run',
        'jr-agent:jr.step.run',
        'jr-api:jr.attempt.complete',
        'jr-agent:jr.attempt.complete',
        'jr-api:jr.attempt.report',
      ];
      return wanted.every((w) => names.has(w)) ? spans : undefined;
    },
    { timeoutMs: 20_000, what: 'every span of the job in the collector' },
  );
  expect(otlp.rejected).toEqual([]);
  const one = (service: string, name: string): CollectedSpan | undefined =>
    trace.find((s) => s.service === service && s.name === name);

  // the root, then one parent/child chain through the API into the agent
  expect(submitSpan.parentSpanId).toBe('');
  expect(submitSpan.service).toBe('jr-api');
  const chain = ['jr.journal.append', 'jr.intake.relay', 'jr.queue.add', 'jr.job.lease'];
  let parent = submitSpan;
  for (const name of chain) {
    const span = one('jr-api', name);
    expect({ name, parent: span?.parentSpanId }).toEqual({ name, parent: parent.spanId });
    parent = span as CollectedSpan;
  }
  const attempt = one('jr-agent', 'jr.attempt.run');
  expect(attempt?.parentSpanId).toBe(parent.spanId);
  expect(attempt?.attributes['jr.job.id']).toBe(id);

  // both steps run under the attempt
  const steps = trace.filter((s) => s.service === 'jr-agent' && s.name === 'jr.step.run');
  expect(steps.map((s) => s.attributes['jr.step.index']).sort()).toEqual([0, 1]);
  for (const s of steps) expect(ancestors(trace, s)).toContain('jr-agent:jr.attempt.run');

  // the API's Report/Complete server spans are children of the agent's client spans, under the attempt
  for (const name of ['jr.attempt.report', 'jr.attempt.complete']) {
    const server = trace.filter((s) => s.service === 'jr-api' && s.name === name);
    expect(server.length).toBeGreaterThan(0);
    for (const s of server) {
      expect(parentOf(trace, s)).toMatchObject({ service: 'jr-agent', name });
      expect(ancestors(trace, s).slice(-6)).toEqual([
        'jr-agent:jr.attempt.run',
        'jr-api:jr.job.lease',
        'jr-api:jr.queue.add',
        'jr-api:jr.intake.relay',
        'jr-api:jr.journal.append',
        'jr-api:jr.job.submit',
      ]);
    }
  }
  // every span of the job hangs in this one tree: no orphan parent ids
  const ids = new Set(trace.map((s) => s.spanId));
  expect(
    trace.filter((s) => s.parentSpanId !== '' && !ids.has(s.parentSpanId)).map((s) => `${s.service}:${s.name}`),
  ).toEqual([]);
  // and the agent's log lines about the job carry its trace id (pino mixin)
  expect(stack.agents.get('trace-a')?.log()).toContain(`"trace_id":"${submitSpan.traceId}"`);
}, 60_000);
