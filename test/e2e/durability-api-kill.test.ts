import { apiKillScenario } from '../chaos/api-kill.scenario';

// Durability, inside `npm test` (short): jr-api SIGKILLed at random moments of a burst of 200 concurrent
// submissions (all in flight at once) and once while they run; every acknowledged job succeeds and
// runs exactly once.
// The 1,000-job variant runs in `npm run chaos` (test/chaos/durability.test.ts).
it('every job acknowledged before, during or after SIGKILLs of jr-api succeeds and runs once', async () => {
  const r = await apiKillScenario({
    jobs: 200,
    concurrency: 200,
    burstCrashes: 2,
    runCrashes: 1,
    agents: 1,
    slots: 8,
    timeoutMs: 90_000,
  });
  expect(r.failures).toEqual([]);
  expect(r.crashes).toBe(3);
  expect(r.burstCrashes).toBeGreaterThanOrEqual(1);
  expect(r.runs).toBe(200);
});
