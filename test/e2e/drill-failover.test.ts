/**
 * `npm run drill -- failover --quick`: two local sites (jr-api + PostgreSQL each, B's a streaming standby of
 * A's), agents and clients holding both endpoints. Site A is lost whole and B's standby promoted, then the
 * drill fails back. Every acknowledged job must be in the final database and finished, no agent's reporting
 * breaker may open, the CLI must reach B with A gone, and each switch must be answered by the right site.
 * RTO and RPO are printed, never asserted (timings are the drill's to report).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runNodeScript, type CliResult } from '@jr/testing';
import type { FailoverDrillResult } from '../../bench/drills/failover';

const RUN_JS = path.resolve(__dirname, '../../bench/dist/drills/run.js');

function runDrill(args: string[], timeoutMs: number): Promise<CliResult> {
  return runNodeScript(RUN_JS, args, process.env, timeoutMs);
}

describe('npm run drill -- failover --quick', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-drill-test-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('loses site A, promotes B, fails back: every acknowledged job is kept and finished, no breaker opens', async () => {
    const run = await runDrill(['failover', '--quick', '--out', out], 240_000);
    const file = path.join(out, 'drill-failover-latest.json');
    if (!fs.existsSync(file)) throw new Error(`drill exited ${run.code}:\n${run.stderr.slice(-6_000)}\n${run.stdout}`);
    const { result } = JSON.parse(fs.readFileSync(file, 'utf8')) as { result: FailoverDrillResult };
    console.log(`[figures] failover drill (quick):\n${run.stdout}`);

    expect(run.code).toBe(0);
    expect(result.acknowledged).toBeGreaterThan(0);
    expect(result.missingAtEnd).toBe(0);
    expect(result.finished).toBe(result.acknowledged);
    expect(result.breakerOpenings).toBe(0);
    expect(result.cliAfterFailover.code).toBe(0);
    expect(result.switches.map((s) => s.acceptedBy)).toEqual(['a', 'b', 'a']);
    for (const s of result.switches) expect(s.runningGapMs).not.toBeNull();
  }, 260_000);

  it('refuses bad arguments with exit 64 and the usage line', async () => {
    const run = await runDrill(['failover', '--rate', '0'], 30_000);
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/--rate must be a whole number/);
    expect(run.stderr).toMatch(/usage: npm run drill -- failover/);
  });
});
