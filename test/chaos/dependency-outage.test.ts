import { dependencyOutageScenario } from './dependency-outage.scenario';

const log = (line: string): void => console.log(`[chaos] ${new Date().toISOString()} ${line}`);

// Issue 3, full size: a private PostgreSQL down for 20 s and a private Redis restarted empty, each in the
// middle of a run; submissions keep being acknowledged at the first try, every job completes once.
it('PostgreSQL SIGKILLed for 20 s during submissions', async () => {
  const r = await dependencyOutageScenario('postgres', { jobsPerPhase: 200, downMs: 20_000, slots: 16, timeoutMs: 300_000, log });
  log(`postgres: ${r.before.length} + ${r.during.length} acknowledged, ${r.runs} runs, failures ${r.failures.length}`);
  expect(r.failures).toEqual([]);
  expect(r.during.every((s) => s.tries === 1)).toBe(true);
  expect(r.runs).toBe(400);
});

it('Redis SIGKILLed and restarted empty (no persistence) mid-run', async () => {
  const r = await dependencyOutageScenario('redis', { jobsPerPhase: 300, downMs: 10_000, slots: 16, timeoutMs: 300_000, log });
  log(`redis: ${r.before.length} + ${r.during.length} acknowledged, ${r.runs} runs, failures ${r.failures.length}`);
  expect(r.failures).toEqual([]);
  expect(r.during.every((s) => s.tries === 1)).toBe(true);
  expect(r.runs).toBe(600);
});
