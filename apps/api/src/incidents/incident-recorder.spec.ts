import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { IncidentRecorder, type Condition } from './incident-recorder';

const pg: Condition = { cause: 'dependency_down', scope: 'postgres', detail: 'api-1: connection refused' };
const breaker: Condition = { cause: 'breaker_open', scope: 'a_1', detail: 'agent web-1: breaker open' };

describe('IncidentRecorder', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jr-incidents-'));
    file = IncidentRecorder.spoolPath(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens an incident when a condition appears, keeps it while it holds, ends it when it goes', () => {
    const r = new IncidentRecorder('api-1', file);
    expect(r.observe('replica', [pg], 1_000)).toEqual({ opened: 1, ended: 0 });
    expect(r.observe('replica', [pg], 2_000)).toEqual({ opened: 0, ended: 0 });
    expect(r.observe('replica', [], 5_000)).toEqual({ opened: 0, ended: 1 });
    const [only, ...rest] = r.pending();
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ cause: 'dependency_down', scope: 'postgres', startedMs: 1_000, endedMs: 5_000 });
  });

  it("observes one group at a time: the replica's probes never end the leader's incidents", () => {
    const r = new IncidentRecorder('api-1', file);
    r.observe('leader', [breaker], 1_000);
    r.observe('replica', [], 2_000);
    expect(r.openCount('breaker_open')).toBe(1);
    r.release('leader'); // leadership moved: forgotten here, not ended (the new leader adopts it)
    expect(r.openCount('breaker_open')).toBe(0);
    expect(r.pending().every((i) => i.endedMs === undefined)).toBe(true);
  });

  it('keeps what Postgres does not have yet in its file: a restart goes on with the same incident and start', () => {
    const first = new IncidentRecorder('api-1', file);
    first.observe('replica', [pg], 1_000);
    const again = new IncidentRecorder('api-1', file);
    expect(again.observe('replica', [pg], 9_000)).toEqual({ opened: 0, ended: 0 });
    again.observe('replica', [], 10_000);
    expect(again.pending()).toEqual([expect.objectContaining({ startedMs: 1_000, endedMs: 10_000 })]);
    again.saved(again.pending());
    expect(new IncidentRecorder('api-1', file).pending()).toEqual([]);
  });

  it('skips a torn or hostile spool file instead of failing', () => {
    writeFileSync(file, '[{"id":"x","cause":"__proto__"}, 7, null');
    expect(new IncidentRecorder('api-1', file).pending()).toEqual([]);
    writeFileSync(file, JSON.stringify([{ id: '../../etc', cause: 'dependency_down', scope: 'x', replica: 'r' }]));
    expect(new IncidentRecorder('api-1', file).pending()).toEqual([]);
  });
});
