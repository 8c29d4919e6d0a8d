import { apiKillScenario } from './api-kill.scenario';
import { dependencyOutageScenario } from './dependency-outage.scenario';

// Durability, full size, one scenario after another in this one file (npm test's runner starts two jest
// workers; these scenarios must not share the machine with each other). The short variants run in
// `npm test` (test/e2e/durability-*.test.ts).
const log = (line: string): void => console.log(`[chaos] ${new Date().toISOString()} ${line}`);

it('1,000 concurrent submissions (all in flight at once), jr-api SIGKILLed 3 times during the burst and 2 times while they run', async () => {
  const r = await apiKillScenario({
    jobs: 1_000,
    concurrency: 1_000,
    burstCrashes: 3,
    runCrashes: 2,
    agents: 2,
    slots: 16,
    timeoutMs: 600_000,
    log,
  });
  log(
    `crashes ${r.crashes} (${r.burstCrashes} during the burst), runs ${r.runs}, submissions that needed a retry ${r.retriedSubmissions}, failures ${r.failures.length}`,
  );
  expect(r.failures).toEqual([]);
  expect(r.crashes).toBe(5);
  expect(r.burstCrashes).toBeGreaterThanOrEqual(1);
  expect(r.runs).toBe(1_000);
});

it('PostgreSQL SIGKILLed for 20 s during submissions: all acknowledged at the first try, all complete once after', async () => {
  const r = await dependencyOutageScenario('postgres', {
    jobsPerPhase: 200,
    downMs: 20_000,
    slots: 16,
    timeoutMs: 300_000,
    log,
  });
  log(`postgres: ${r.before.length} + ${r.during.length} acknowledged, ${r.runs} runs, failures ${r.failures.length}`);
  expect(r.failures).toEqual([]);
  expect(r.during.every((s) => s.tries === 1)).toBe(true);
  expect(r.runs).toBe(400);
});

it('Redis SIGKILLed and restarted empty (no persistence) mid-run: every acknowledged job still completes once', async () => {
  const r = await dependencyOutageScenario('redis', {
    jobsPerPhase: 300,
    downMs: 10_000,
    slots: 16,
    timeoutMs: 300_000,
    log,
  });
  log(`redis: ${r.before.length} + ${r.during.length} acknowledged, ${r.runs} runs, failures ${r.failures.length}`);
  expect(r.failures).toEqual([]);
  expect(r.during.every((s) => s.tries === 1)).toBe(true);
  expect(r.runs).toBe(600);
});
