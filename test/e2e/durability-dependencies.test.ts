import { dependencyOutageScenario } from '../chaos/dependency-outage.scenario';

// Durability, inside `npm test` (short variants; `npm run chaos` runs them longer and larger): a private
// Redis restarted empty mid-run, a private PostgreSQL stopped mid-run; intake keeps acknowledging at
// the first try, and every acknowledged job completes, once.
describe('dependency outages', () => {
  it('Redis SIGKILLed and restarted empty mid-run: every acknowledged job still completes once', async () => {
    const r = await dependencyOutageScenario('redis', { jobsPerPhase: 40, downMs: 3_000, slots: 8, timeoutMs: 90_000 });
    expect(r.failures).toEqual([]);
    expect(r.during.every((s) => s.tries === 1)).toBe(true);
    expect(r.runs).toBe(80);
  });

  it('PostgreSQL down mid-run: submissions keep being acknowledged, and all complete once after it returns', async () => {
    const r = await dependencyOutageScenario('postgres', {
      jobsPerPhase: 40,
      downMs: 8_000,
      slots: 8,
      timeoutMs: 90_000,
    });
    expect(r.failures).toEqual([]);
    expect(r.during.every((s) => s.tries === 1)).toBe(true);
    expect(r.runs).toBe(80);
  });
});
