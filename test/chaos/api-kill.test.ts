import { apiKillScenario } from './api-kill.scenario';

const log = (line: string): void => console.log(`[chaos] ${new Date().toISOString()} ${line}`);

// Issue 3, full size: SIGKILL jr-api at random moments during a burst of 1,000 concurrent submissions
// (and while the jobs run), restart it each time; every acknowledged job succeeds on a real agent, once.
it('1,000 concurrent submissions (all in flight at once), jr-api SIGKILLed 3 times during the burst and 2 times while they run', async () => {
  const r = await apiKillScenario({ jobs: 1_000, concurrency: 1_000, burstCrashes: 3, runCrashes: 2, agents: 2, slots: 16, timeoutMs: 600_000, log });
  log(`crashes ${r.crashes}, runs ${r.runs}, submissions that needed a retry ${r.retriedSubmissions}, failures ${r.failures.length}`);
  expect(r.failures).toEqual([]);
  expect(r.crashes).toBe(5);
  expect(r.runs).toBe(1_000);
});
