import type { Incident, SloObjectiveReport, SloReport } from '@jr/contracts';
import { budgetPoints, escapeHtml, timeTicks, valueTicks } from './slo-charts';
import { renderSloHtml } from './slo-html';

const DAY = 86_400_000;
const FROM = Date.parse('2026-02-14T00:00:00.000Z');
const WINDOW = { from: new Date(FROM).toISOString(), to: new Date(FROM + 10 * DAY).toISOString(), ms: 10 * DAY };

/** Ten daily buckets: `bad[i]` bad events out of 1000, `null` for a bucket without events. */
function objective(
  name: string,
  bad: Array<number | null>,
  over: Partial<SloObjectiveReport> = {},
): SloObjectiveReport {
  const series = bad.map((b, i) => ({
    from: new Date(FROM + i * DAY).toISOString(),
    good: b === null ? 0 : 1000 - b,
    total: b === null ? 0 : 1000,
  }));
  const good = series.reduce((s, b) => s + b.good, 0);
  const total = series.reduce((s, b) => s + b.total, 0);
  const attainment = total > 0 ? good / total : null;
  const burn = attainment === null ? null : (1 - attainment) / (1 - 0.99);
  return {
    name,
    displayName: name,
    sli: 'pickup_latency',
    target: 0.99,
    good,
    total,
    attainment,
    budgetRemaining: burn === null ? null : 1 - burn,
    burnRate: burn,
    met: attainment === null ? null : attainment >= 0.99,
    series,
    ...over,
  };
}

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'inc_1',
    cause: 'dependency_down',
    scope: 'postgres',
    replica: 'r1',
    startedAt: new Date(FROM + 2 * DAY).toISOString(),
    endedAt: new Date(FROM + 2 * DAY + 600_000).toISOString(),
    durationMs: 600_000,
    outage: true,
    detail: 'connect ECONNREFUSED',
    ...over,
  };
}

function report(over: Partial<SloReport> = {}): SloReport {
  return {
    window: WINDOW,
    objectives: [objective('pickup-2s', [1, 2, null, 40, 3, 0, 5, 1, 2, 1])],
    availability: 0.9993,
    availabilityFromMtbf: 0.9992,
    uptimeMs: 10 * DAY - 600_000,
    downtimeMs: 600_000,
    mtbf: null,
    mttr: { count: 1, p50Ms: 600_000, p90Ms: 600_000, maxMs: 600_000, meanMs: 600_000 },
    theoretical: { availability: 0.9985, dependencies: [{ name: 'postgres', availability: 0.9995, measured: 0.9993 }] },
    incidents: [
      incident(),
      incident({ id: 'inc_2', cause: 'breaker_open', scope: 'agent-7', outage: false }),
      incident({
        id: 'inc_3',
        startedAt: new Date(FROM + 9 * DAY).toISOString(),
        endedAt: null,
        durationMs: 3_600_000,
      }),
    ],
    ...over,
  };
}

const count = (html: string, needle: string): number => html.split(needle).length - 1;
const chartsOf = (html: string, kind: string): string[] =>
  [...html.matchAll(new RegExp(`<svg class="chart" data-chart="${kind}"[\\s\\S]*?</svg>`, 'g'))].map((m) => m[0]);

describe('renderSloHtml', () => {
  it('is one self-contained page: no remote URL, no script, nothing to fetch', () => {
    const html = renderSloHtml(report(), { generatedAt: new Date('2026-02-24T12:00:00Z') });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html).toContain('generated 2026-02-24T12:00:00Z');
  });

  it('shows the headline numbers: availability both ways and the theoretical one', () => {
    const html = renderSloHtml(report());
    expect(html).toContain('availability (uptime ÷ (uptime + downtime))</dt><dd>99.93 %');
    expect(html).toContain('availability (MTBF ÷ (MTBF + MTTR))</dt><dd>99.92 %');
    expect(html).toContain('theoretical (product of dependencies)</dt><dd>99.85 %');
    expect(html).toMatch(/MTBF \(uptime between outages\)<\/td><td colspan="5" class="sub">— \(/);
  });

  it('draws each objective its attainment and budget chart, gaps where a bucket had no events', () => {
    const objectives = [
      objective('a', [1, 2, null, 4, 0, 0, 0, 0, 0, 0]),
      objective('b', [0, 0, 0, 0, 0, 0, 0, 0, 0, 90]),
    ];
    const html = renderSloHtml(report({ objectives }));
    const attainment = chartsOf(html, 'attainment');
    expect(attainment).toHaveLength(2);
    expect(chartsOf(html, 'budget')).toHaveLength(2);
    for (const svg of [...attainment, ...chartsOf(html, 'budget')]) {
      expect(svg).toMatch(/role="img" aria-label="[^"]+"/);
      expect(svg).toContain('time (UTC)');
    }
    // The target, dashed; and the series restarts (a second M) after the empty third bucket.
    expect(attainment[0]).toMatch(/stroke-dasharray="6 4"/);
    expect(attainment[0]).toContain('target 99 %');
    const d = /<path class="series" d="([^"]+)"/.exec(attainment[0] as string)?.[1] ?? '';
    expect(count(d, 'M')).toBe(2);
    expect(count(d, 'L')).toBe(7);
  });

  it('counts the error budget from the window start: 100 % first, below 0 when overspent', () => {
    const points = budgetPoints(objective('b', [0, 0, 0, 0, 0, 0, 0, 0, 0, 200]), WINDOW);
    expect(points).toHaveLength(11);
    expect(points[0]).toEqual({ t: FROM, v: 1 });
    expect(points[9]?.v).toBe(1);
    expect(points[10]?.v).toBeCloseTo(1 - 0.02 / 0.01, 6);
    expect(points[10]?.t).toBe(Date.parse(WINDOW.to));
    const html = renderSloHtml(report({ objectives: [objective('b', [0, 0, 0, 0, 0, 0, 0, 0, 0, 200])] }));
    expect(chartsOf(html, 'budget')[0]).toContain('budget spent');
  });

  it('puts every incident on the timeline, outages red and degradations amber, with tooltips', () => {
    const [timeline, ...others] = chartsOf(renderSloHtml(report()), 'incidents');
    expect(others).toHaveLength(0);
    expect(count(timeline as string, '<rect class="incident')).toBe(3);
    expect(count(timeline as string, 'class="incident outage')).toBe(2);
    expect(timeline).toMatch(/class="incident degraded" [^>]*fill="#d4a72c"><title>degraded: breaker_open agent-7/);
    expect(timeline).toMatch(
      /class="incident outage ongoing"[^>]*fill="#cf222e"><title>outage: [^<]*ongoing, 1h0m0s so far/,
    );
  });

  it('escapes names and details everywhere', () => {
    const evil = '<img src=x onerror="alert(1)"> & \'quoted\'';
    const objectives = [objective('pickup-2s', [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], { displayName: evil })];
    const html = renderSloHtml(report({ objectives, incidents: [incident({ detail: evil, scope: '<b>' })] }), {
      title: '</title><script>x</script>',
    });
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&#60;img src=x onerror=&#34;alert(1)&#34;&#62; &#38; &#39;quoted&#39;');
    expect(html).toMatch(/aria-label="&#60;img[^"]*"/);
    expect(escapeHtml('a<b>&"\'')).toBe('a&#60;b&#62;&#38;&#34;&#39;');
  });

  it('renders a report without events or incidents with empty states instead of broken charts', () => {
    const quiet = objective('pickup-2s', [null, null, null, null, null, null, null, null, null, null]);
    const html = renderSloHtml(
      report({
        objectives: [quiet],
        availability: 1,
        availabilityFromMtbf: null,
        downtimeMs: 0,
        mttr: null,
        theoretical: { availability: null, dependencies: [] },
        incidents: [],
      }),
    );
    expect(chartsOf(html, 'attainment')).toHaveLength(0);
    expect(html).toContain('data-empty="attainment"');
    expect(html).toContain('data-empty="budget"');
    expect(html).toContain('No events in the window');
    expect(chartsOf(html, 'incidents')[0]).toContain('no incidents in the window');
    expect(html).toContain('data-empty="incidents"');
    expect(html).toContain('— (no outage)');
    expect(html).not.toMatch(/NaN|undefined|null|Infinity/);
  });
});

describe('axis ticks', () => {
  it('puts value ticks at round steps with just enough decimals', () => {
    expect(valueTicks(-0.55, 1).map((t) => t.label)).toEqual(['-50 %', '0 %', '50 %', '100 %']);
    expect(valueTicks(0.997, 1).map((t) => t.label)).toEqual(['99.7 %', '99.8 %', '99.9 %', '100.0 %']);
    expect(valueTicks(0.955, 1).map((t) => t.label)).toEqual(['96 %', '97 %', '98 %', '99 %', '100 %']);
    expect(valueTicks(0.9985, 1).map((t) => t.label)).toEqual(['99.85 %', '99.90 %', '99.95 %', '100.00 %']);
  });

  it('picks round UTC steps, at most eight', () => {
    expect(timeTicks(FROM, FROM + 30 * DAY).map((t) => t.label)).toEqual([
      '02-16',
      '02-21',
      '02-26',
      '03-03',
      '03-08',
      '03-13',
    ]);
    const hours = timeTicks(FROM, FROM + 6 * 3_600_000);
    expect(hours.length).toBeLessThanOrEqual(8);
    expect(hours[0]?.label).toBe('02-14 00:00');
  });
});
