import type { Incident, SloObjectiveReport, SloReport } from '@jr/contracts';
import {
  formatBurn,
  formatPercent,
  formatSpan,
  formatTarget,
  lastIncidents,
  renderIncidents,
  renderSloTable,
} from './slo-render';

const DAY = 86_400_000;

function objective(over: Partial<SloObjectiveReport> = {}): SloObjectiveReport {
  return {
    name: 'submissions-accepted',
    displayName: '99.9 % of valid submissions accepted',
    sli: 'submissions_accepted',
    target: 0.999,
    good: 99_950,
    total: 100_000,
    attainment: 0.9995,
    budgetRemaining: 0.5,
    burnRate: 0.5,
    met: true,
    series: [],
    ...over,
  };
}

function incident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'inc_1',
    cause: 'dependency_down',
    scope: 'postgres',
    replica: 'r1',
    startedAt: '2026-03-10T10:00:00.000Z',
    endedAt: '2026-03-10T10:04:00.000Z',
    durationMs: 240_000,
    outage: true,
    detail: 'connect ECONNREFUSED',
    ...over,
  };
}

function report(over: Partial<SloReport> = {}): SloReport {
  return {
    window: { from: '2026-02-14T00:00:00.000Z', to: '2026-03-16T00:00:00.000Z', ms: 30 * DAY },
    objectives: [objective()],
    availability: 0.99990741,
    availabilityFromMtbf: 0.9999,
    uptimeMs: 30 * DAY - 240_000,
    downtimeMs: 240_000,
    mtbf: { count: 1, p50Ms: 3_600_000, p90Ms: 3_600_000, maxMs: 3_600_000, meanMs: 3_600_000 },
    mttr: { count: 2, p50Ms: 240_000, p90Ms: 300_000, maxMs: 300_000, meanMs: 270_000 },
    theoretical: {
      availability: 0.9985,
      dependencies: [
        { name: 'postgres', availability: 0.9995, measured: 0.99991 },
        { name: 'redis', availability: 0.999, measured: null },
      ],
    },
    incidents: [incident(), incident({ id: 'inc_2', startedAt: '2026-03-01T00:00:00.000Z' })],
    ...over,
  };
}

describe('formatPercent', () => {
  it('shows enough digits for the distance from 100 % and never rounds up to 100 %', () => {
    expect(formatPercent(0.9995)).toBe('99.95 %');
    expect(formatPercent(0.999996)).toBe('99.9996 %');
    expect(formatPercent(0.99999)).toBe('99.999 %');
    expect(formatPercent(1)).toBe('100.00 %');
    expect(formatPercent(0.5)).toBe('50.00 %');
    for (const v of [0.99995, 0.9999999, 0.99999999999, 1 - Number.EPSILON])
      expect(formatPercent(v)).not.toMatch(/^100\.?0* %$/);
    expect(formatPercent(0.99999999999)).toBe('99.99999999 %');
  });

  it('never shows 0 % for a positive share, nor a spent budget as 0 when it is overspent', () => {
    expect(formatPercent(0.000001)).toBe('0.0001 %');
    expect(formatPercent(-0.0001, 1)).toBe('-0.01 %');
    expect(formatPercent(-1.5, 1)).toBe('-150.0 %');
    expect(formatPercent(0, 1)).toBe('0.0 %');
  });

  it('targets are round, rates are short, windows in days', () => {
    expect(formatTarget(0.999)).toBe('99.9 %');
    expect(formatTarget(0.99)).toBe('99 %');
    expect(formatTarget(0.9995)).toBe('99.95 %');
    expect(formatBurn(0.4)).toBe('0.4x');
    expect(formatBurn(0)).toBe('0x');
    expect(formatBurn(1.25)).toMatch(/^1\.[23]x$/);
    expect(formatBurn(12.4)).toBe('12x');
    expect(formatSpan(30 * DAY)).toBe('30d');
    expect(formatSpan(90_000)).toBe('1m30s');
  });
});

describe('renderSloTable', () => {
  it('prints the objectives table, availability both ways, MTBF/MTTR and the theoretical model', () => {
    const text = renderSloTable(report());
    expect(text).toContain('window: 2026-02-14T00:00:00Z → 2026-03-16T00:00:00Z (30d)');
    expect(text).toMatch(/OBJECTIVE\s+TARGET\s+ATTAINMENT\s+BUDGET LEFT\s+BURN\s+GOOD\/TOTAL\s+MET/);
    expect(text).toMatch(/submissions-accepted\s+99\.9 %\s+99\.95 %\s+50\.0 %\s+0\.5x\s+99950\/100000\s+✓/);
    expect(text).toMatch(/availability\s+99\.99 %\s+\(uptime ÷ \(uptime \+ downtime\)\)/);
    expect(text).toContain('99.99 %  (MTBF ÷ (MTBF + MTTR))');
    expect(text).toMatch(/downtime\s+4m0s in 2 outages/);
    expect(text).toMatch(/MTTR\s+p50 4m0s {2}p90 5m0s {2}max 5m0s {2}\(mean 4m30s, 2 outages\)/);
    expect(text).toMatch(/MTBF\s+p50 1h0m0s/);
    expect(text).toMatch(/theoretical +99\.85 % {2}\(product of 2 dependencies; measured 99\.99 %\)/);
    expect(text).toMatch(/postgres\s+99\.95 %\s+99\.99 %/);
    expect(text).toMatch(/redis\s+99\.90 %\s+— \(not measured\)/);
  });

  it('lists the last incidents newest first, with the ongoing one marked', () => {
    const ongoing = incident({ id: 'inc_3', startedAt: '2026-03-15T23:00:00Z', endedAt: null, durationMs: 3_600_000 });
    const text = renderSloTable(report({ incidents: [incident(), ongoing] }));
    const rows = text.slice(text.indexOf('incidents:')).split('\n');
    expect(rows[1]).toMatch(/STARTED\s+DURATION\s+CAUSE\s+SCOPE\s+DETAIL/);
    expect(rows[2]).toMatch(/2026-03-15T23:00:00Z\s+ongoing \(1h0m0s so far\)\s+dependency_down\s+postgres/);
    expect(rows[3]).toMatch(/2026-03-10T10:00:00Z\s+4m0s\s+dependency_down\s+postgres\s+connect ECONNREFUSED/);
  });

  it('renders nulls as — with the reason, and a report without events or outages', () => {
    const empty = objective({ good: 0, total: 0, attainment: null, budgetRemaining: null, burnRate: null, met: null });
    const text = renderSloTable(
      report({
        objectives: [empty],
        availability: 1,
        availabilityFromMtbf: null,
        downtimeMs: 0,
        mtbf: null,
        mttr: null,
        theoretical: { availability: null, dependencies: [] },
        incidents: [],
      }),
    );
    expect(text).toMatch(/submissions-accepted\s+99\.9 %\s+— \(no events\)\s+—\s+—\s+0\/0\s+—/);
    expect(text).toContain('— (no outage)  (MTBF ÷ (MTBF + MTTR))');
    expect(text).toMatch(/downtime\s+— \(no outage\)/);
    expect(text).toMatch(/MTBF\s+— \(fewer than two outages\)/);
    expect(text).toMatch(/MTTR\s+— \(no outage\)/);
    expect(text).toContain('theoretical   — (no dependencies listed)');
    expect(text).toContain('incidents: none');
    expect(text).not.toContain('null');
  });

  it('marks a missed objective and neutralises control characters in names and details', () => {
    const missed = objective({ name: 'pickup-2s', attainment: 0.97, budgetRemaining: -2, burnRate: 3, met: false });
    const hostile = incident({ detail: 'boom\x1b[31mred\nnext' });
    const text = renderSloTable(report({ objectives: [missed], incidents: [hostile] }));
    expect(text).toMatch(/pickup-2s\s+99\.9 %\s+97\.00 %\s+-200\.0 %\s+3x\s+\S+\s+✗/);
    expect(text).not.toContain('\x1b');
    expect(text).toContain('boom?[31mred?next');
  });
});

describe('renderIncidents', () => {
  it('says none for an empty list and marks degradations', () => {
    expect(renderIncidents([])).toBe('incidents: none\n');
    const text = renderIncidents([incident({ cause: 'breaker_open', scope: 'agent-7', outage: false })]);
    expect(text).toMatch(/breaker_open \(degraded\)\s+agent-7/);
  });

  it('keeps the LAST_INCIDENTS newest', () => {
    const many = Array.from({ length: 15 }, (_, i) =>
      incident({ id: `inc_${i}`, startedAt: new Date(Date.UTC(2026, 2, 1 + i)).toISOString() }),
    );
    const last = lastIncidents(many);
    expect(last).toHaveLength(10);
    expect(last[0]?.id).toBe('inc_14');
    expect(renderSloTable(report({ incidents: many }))).toContain('incidents (last 10 of 15):');
  });
});
