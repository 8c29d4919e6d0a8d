import { runSoak } from '../chaos/soak/soak';

// The 60 s variant of `npm run chaos` (test/chaos/soak.test.ts), fixed seed, one round of every fault
// kind: API SIGKILL, Redis restarted empty, Postgres restarted, agent SIGKILL, agent↔API partition
// until the breaker opens (then `jr agents enable-reporting --all`), slow network, disk full on the
// API's journal. The invariants are the soak's: nothing acknowledged is lost, no result is lost, no
// double run without a lost attempt, every outbox drained.
jest.setTimeout(420_000);

it('60 s seeded soak (seed 6060): every fault kind once, every invariant holds', async () => {
  const r = await runSoak({ seed: 6060, durationMs: 60_000, rounds: 1, rate: 2, settleTimeoutMs: 180_000, log: (line) => process.env.JR_CHAOS_LOG && process.stderr.write(`[soak] ${line}\n`) });
  process.stdout.write(`\n${r.report}\n`);
  expect(r.faults.map((f) => f.plan.kind).sort()).toEqual(['agent-kill', 'api-kill', 'disk-full', 'partition', 'postgres-restart', 'redis-empty', 'slow-network']);
  expect(r.failures).toEqual([]);
});
