import * as fs from 'node:fs';
import * as path from 'node:path';
import { runSoak } from './soak/soak';

// `npm run chaos` (scripts/chaos.js): the seeded soak, full size. The seed and duration come from the
// script (JR_CHAOS_SEED, JR_CHAOS_DURATION_MS); the report is printed and kept in var/chaos/.
const log = (line: string): void => void process.stderr.write(`[soak] ${new Date().toISOString()} ${line}\n`);

it('seeded soak: job stream under the fault schedule, every invariant holds', async () => {
  const seed = Number(process.env.JR_CHAOS_SEED ?? Date.now() % 1_000_000);
  const durationMs = Number(process.env.JR_CHAOS_DURATION_MS ?? 300_000);
  const rounds = Math.max(1, Math.floor(durationMs / 150_000));
  const r = await runSoak({ seed, durationMs, rounds, log });
  const dir = path.resolve(__dirname, '../../var/chaos');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `soak-${seed}.txt`), `${r.report}\n`);
  process.stdout.write(`\n${r.report}\n\n(replay: npm run chaos -- --seed ${seed} --duration ${durationMs / 1000}s)\n`);
  expect(r.failures).toEqual([]);
});
