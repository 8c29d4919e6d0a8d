import { Metrics } from './metrics';

describe('Metrics', () => {
  it('renders the durability counters in Prometheus text format', () => {
    const m = new Metrics();
    m.intakeRejected('disk_full');
    m.intakeRejected('disk_full');
    m.intakeRejected('journal_full');
    m.reconciled('startup');
    m.reconciled('redis_lost');
    m.reconciled('redis_lost');
    const text = m.render([{ state: 'active', count: 2 }], [{ name: 'intake', fsyncs: 12, bytes: 4096, unappliedBytes: 100, appends: 30 }]);
    expect(text).toContain('jr_intake_rejected_total{reason="disk_full"} 2\n');
    expect(text).toContain('jr_intake_rejected_total{reason="journal_full"} 1\n');
    expect(text).toContain('jr_intake_rejected_total{reason="shutting_down"} 0\n');
    expect(text).toContain('jr_reconciliations_total{trigger="redis_lost"} 2\n');
    expect(text).toContain('jr_journal_fsyncs_total{journal="intake"} 12\n');
    expect(text).toContain('jr_journal_bytes{journal="intake"} 4096\n');
    expect(text).toContain('jr_journal_unapplied_bytes{journal="intake"} 100\n');
    expect(text).toContain('jr_agents{state="active"} 2\n');
    // every sample line belongs to a declared family
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]));
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(families.has(line.split(/[{ ]/)[0])).toBe(true);
  });
});
