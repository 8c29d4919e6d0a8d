import pino from 'pino';
import { applyDirective, applyDirectives, type DirectiveTarget } from './agent-directives';
import { metricValue, testMetrics } from './telemetry.test-helper';

describe('applyDirective', () => {
  const setup = () => {
    const stopped: Array<[string, number, string]> = [];
    let leasing = true;
    const enabled: string[] = [];
    const metrics = testMetrics();
    const target: DirectiveTarget = {
      slots: { stop: (jobId, attempt, req) => (stopped.push([jobId, attempt, req.reason]), true) },
      reporting: () => undefined,
      drain: () => {
        const was = leasing;
        leasing = false;
        return was;
      },
      undrain: () => {
        const was = !leasing;
        leasing = true;
        return was;
      },
      enableReporting: async (source) => enabled.push(source),
      metrics,
      logger: pino({ level: 'silent' }),
    };
    return { target, stopped, enabled, metrics, leasing: () => leasing };
  };

  it('cancels the attempt and counts the cancellation by reason', async () => {
    const s = setup();
    applyDirective({ kind: 'cancel', cancel: { jobId: 'j_1', attempt: 2, reason: 'lease_lost' } }, s.target);
    applyDirective({ kind: 'cancel', cancel: { jobId: 'j_2', attempt: 1, reason: 'cancelled' } }, s.target);
    expect(s.stopped).toEqual([
      ['j_1', 2, 'lease_lost'],
      ['j_2', 1, 'cancelled'],
    ]);
    expect(await metricValue(s.metrics, 'jr_agent_cancellations_total', { reason: 'lease_lost' })).toBe(1);
    expect(await metricValue(s.metrics, 'jr_agent_cancellations_total', { reason: 'cancelled' })).toBe(1);
    expect(await metricValue(s.metrics, 'jr_agent_cancellations_total', { reason: 'superseded' })).toBe(0);
  });

  it.each([['Not A Reason!'], ['x'.repeat(65)], ['']])('reads a malformed reason %j as "cancelled"', async (reason) => {
    const s = setup();
    applyDirective({ kind: 'cancel', cancel: { jobId: 'j_1', attempt: 1, reason } }, s.target);
    expect(s.stopped[0]?.[2]).toBe('cancelled');
    expect(await metricValue(s.metrics, 'jr_agent_cancellations_total', { reason: 'cancelled' })).toBe(1);
  });

  it('folds reasons the catalog does not know into "other" (bounded label values)', async () => {
    const s = setup();
    for (let i = 0; i < 300; i++)
      applyDirective(
        {
          kind: 'cancel',
          cancel: {
            jobId: 'j_1',
            attempt: 1,
            reason: `reason_${String.fromCharCode(97 + (i % 26))}_${i}`.replace(/\d/g, 'x'),
          },
        },
        s.target,
      );
    expect(await metricValue(s.metrics, 'jr_agent_cancellations_total', { reason: 'other' })).toBe(300);
    const series = (await s.metrics.registry.getSingleMetric('jr_agent_cancellations_total')?.get())?.values ?? [];
    expect(series.map((v) => v.labels.reason).sort()).toEqual(['cancelled', 'lease_lost', 'other', 'superseded']);
  });

  it('drains, re-enables reporting, and ignores a cancel without its body or an unknown directive', () => {
    const s = setup();
    applyDirective({ kind: 'drain', drain: {} }, s.target);
    applyDirective({ kind: 'drain', drain: {} }, s.target);
    applyDirective({ kind: 'enableReporting', enableReporting: {} }, s.target);
    applyDirective({ kind: 'cancel', cancel: null }, s.target);
    applyDirective({}, s.target);
    expect(s.leasing()).toBe(false);
    expect(s.enabled).toEqual(['directive']);
    expect(s.stopped).toEqual([]);
  });

  it('an answer without the drain directive lifts a drain (the API repeats it while the agent is drained)', () => {
    const s = setup();
    applyDirectives([{ kind: 'drain', drain: {} }], s.target);
    expect(s.leasing()).toBe(false);
    applyDirectives(
      [
        { kind: 'drain', drain: {} },
        { kind: 'cancel', cancel: { jobId: 'j_1', attempt: 1, reason: 'cancelled' } },
      ],
      s.target,
    );
    expect(s.leasing()).toBe(false);
    applyDirectives([{ kind: 'cancel', cancel: { jobId: 'j_2', attempt: 1, reason: 'cancelled' } }], s.target);
    expect(s.leasing()).toBe(true);
    applyDirectives([], s.target);
    expect(s.leasing()).toBe(true);
    expect(s.stopped.map(([jobId]) => jobId)).toEqual(['j_1', 'j_2']);
  });
});
