/**
 * Runs one of this directory's sections on its own (until bench/run.ts lists them):
 *   npx tsc -b && node bench/dist/fleet/run-section.js fleet|recovery [--quick]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchSection } from '../lib/report';
import { fleetScale } from '../sections/fleet-scale';
import { recovery } from '../sections/recovery';

const SECTIONS: Record<string, BenchSection> = { fleet: fleetScale, recovery };

async function main(): Promise<void> {
  const [id = '', ...rest] = process.argv.slice(2);
  const section = SECTIONS[id];
  if (!section) throw new Error(`usage: run-section (${Object.keys(SECTIONS).join('|')}) [--quick]`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `jr-bench-${id}-`));
  const started = performance.now();
  try {
    const res = await section({ quick: rest.includes('--quick'), log: (line) => process.stderr.write(`${line}\n`), workDir });
    for (const f of res.figures) {
      const ref = f.reference ? `  (${f.reference.label}: ${f.reference.value}${f.ratio !== undefined ? `, x${f.ratio.toFixed(2)}` : ''})` : '';
      process.stdout.write(`${f.label.padEnd(60)} ${String(f.value).padStart(10)} ${f.unit}${ref}${f.note ? `  -- ${f.note}` : ''}\n`);
    }
    process.stdout.write(`${JSON.stringify(res.details)}\n`);
    process.stderr.write(`section ${id} took ${((performance.now() - started) / 1_000).toFixed(1)} s\n`);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
