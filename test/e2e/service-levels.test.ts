import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Incident, SloReport } from '@jr/contracts';
import { Stack, waitFor } from '@jr/testing';

// The whole way, real processes: jr-api with canaries every second, a real jr-agent that runs them as its
// built-in no-op step, and the CLI that reports on them (`jr slo`, `jr incidents`, `jr slo rules`,
// `jr slo report --html`). A stopped agent leaves its pool's canaries undone: an incident of its own.
describe('service levels', () => {
  const stack = new Stack('1s', { apiEnv: { JR_CANARY_INTERVAL: '1s', JR_CANARY_POOLS: 'sla' } });

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
        ((r) => ((r.objectives.find((o) => o.name === 'canaries-30s')?.good ?? 0) >= 3 ? r : undefined))(await slo()),
      { what: 'three canaries measured', timeoutMs: 60_000 },
    );
    const canaries = report.objectives.find((o) => o.name === 'canaries-30s');
    expect(canaries).toMatchObject({ attainment: 1, budgetRemaining: 1, burnRate: 0, met: true });
    expect(report.availability).toBe(1);

    const list = await stack.cli(['list', '--json']);
    expect((JSON.parse(list.stdout) as { items: unknown[] }).items).toEqual([]); // canaries are not users' jobs

    const table = await stack.cli(['slo', '--window', '1h']);
    expect(table.stdout).toContain('canaries-30s');
    const rules = await stack.cli(['slo', 'rules']);
    expect(rules.stdout).toContain('JrSloCanaries30sBurnRate14x');
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
      { what: 'the canary incident', timeoutMs: 90_000 },
    );
    expect(incident).toMatchObject({ scope: 'canaries-30s', outage: true, endedAt: null });
    expect(incident.detail).toContain('sla');
  });
});
