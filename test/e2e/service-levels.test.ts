import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Incident, SloReport } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

// The whole way, real processes: jr-api with canaries every second, a real jr-agent that runs them as its
// built-in no-op step, and the CLI that reports on them (`jr slo`, `jr incidents`, `jr slo rules`,
// `jr slo report --html`). A stopped agent leaves its pool's canaries undone: an incident of its own.
/** One objective: canaries within 5 s (so the test waits 5 s for an overdue canary, not 30). */
function sloFile(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jr-slo-')), 'slo.yaml');
  fs.writeFileSync(
    file,
    [
      'apiVersion: jr/v1',
      'kind: ServiceLevels',
      'spec:',
      '  objectives:',
      '    - metadata: { name: canaries-5s }',
      '      spec: { indicator: { builtin: canary_success, threshold: 5s }, target: 0.999, minEvents: 3 }',
    ].join('\n'),
  );
  return file;
}

describe('service levels', () => {
  const stack = new Stack('1s', {
    apiEnv: { JR_CANARY_INTERVAL: '1s', JR_CANARY_POOLS: 'sla', JR_SLO_FILE: sloFile() },
  });

  beforeAll(async () => {
    await stack.start();
  });
  afterAll(() => stack.close());

  const slo = async (): Promise<SloReport> => {
    const r = await stack.cli(['slo', '--window', '1h', '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as SloReport;
  };

  let agent: Awaited<ReturnType<Stack['startAgent']>>;

  it('canaries run on a real agent and are measured; jr slo, jr slo rules and the HTML report show them', async () => {
    agent = await stack.startAgent('sla-1', { pool: 'sla', slots: 2 });
    const report = await waitFor(
      async () =>
        ((r) => ((r.objectives.find((o) => o.name === 'canaries-5s')?.good ?? 0) >= 3 ? r : undefined))(await slo()),
      { what: 'three canaries measured', timeoutMs: 60_000 },
    );
    const canaries = report.objectives.find((o) => o.name === 'canaries-5s');
    expect(canaries).toMatchObject({ attainment: 1, budgetRemaining: 1, burnRate: 0, met: true });
    expect(report.availability).toBe(1);

    const list = await stack.cli(['list', '--json']);
    expect((JSON.parse(list.stdout) as { items: unknown[] }).items).toEqual([]); // canaries are not users' jobs

    const table = await stack.cli(['slo', '--window', '1h']);
    expect(table.stdout).toContain('canaries-5s');
    const rules = await stack.cli(['slo', 'rules']);
    expect(rules.stdout).toContain('JrSloCanaries5sBurnRate14x');
    const html = path.join(stack.dropDir, 'slo.html');
    expect((await stack.cli(['slo', 'report', '--html', html, '--window', '1h'])).code).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toContain('data-chart="attainment"');
  });

  it("an agent gone leaves the pool's canaries undone: the objective's incident opens", async () => {
    await agent.stop();
    const incident = await waitFor(
      async () => {
        const r = await stack.cli(['incidents', '--window', '1h', '--json']);
        return (JSON.parse(r.stdout) as { items: Incident[] }).items.find((i) => i.cause === 'sli_violated');
      },
      { what: 'the canary incident', timeoutMs: 60_000 },
    );
    expect(incident).toMatchObject({ scope: 'canaries-5s', outage: true, endedAt: null });
    expect(incident.detail).toContain('sla');
  });
});
