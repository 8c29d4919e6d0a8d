/**
 * `npm run bench -- --quick` as a smoke test: every registered section runs against real processes and
 * produces finite, positive figures, each beside its reference, and the JSON file carries the machine's
 * facts. Speeds are never asserted: the figures are printed by the bench, not judged here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runNodeScript, type CliResult } from '@jr/testing';
import type { RunFile } from '../../bench/run';
import { SECTIONS } from '../../bench/sections';

const RUN_JS = path.resolve(__dirname, '../../bench/dist/run.js');

function runBench(args: string[], timeoutMs: number): Promise<CliResult> {
  return runNodeScript(RUN_JS, args, process.env, timeoutMs);
}

describe('npm run bench -- --quick', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-bench-quick-'));
  let result: { code: number | null; stdout: string; stderr: string };
  let file: RunFile;

  beforeAll(async () => {
    result = await runBench(['--quick', '--out', out], 210_000);
    const latest = path.join(out, 'latest.json');
    if (result.code !== 0 || !fs.existsSync(latest))
      throw new Error(`bench exited ${result.code}:\n${result.stderr.slice(-6_000)}\n${result.stdout}`);
    file = JSON.parse(fs.readFileSync(latest, 'utf8')) as RunFile;
  }, 220_000);

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('writes the run as JSON (timestamped and latest.json) with the machine facts', () => {
    const stamped = fs.readdirSync(out).filter((f) => /^\d{4}-\d\d-\d\dT[\d-]+(\.\d+)?Z\.json$/.test(f));
    expect(stamped).toHaveLength(1);
    expect(fs.readFileSync(path.join(out, stamped[0]!), 'utf8')).toBe(
      fs.readFileSync(path.join(out, 'latest.json'), 'utf8'),
    );
    expect(file.machine).toMatchObject({ quick: true, node: process.version });
    expect(file.machine.cpus).toBeGreaterThan(0);
    expect(file.machine.totalMemMiB).toBeGreaterThan(0);
    expect(file.machine.cpuModel).not.toBe('');
    expect(file.machine.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(Number.isNaN(Date.parse(file.machine.date))).toBe(false);
  });

  it('runs every registered section, none failed', () => {
    expect(file.sections.map((s) => s.id)).toEqual(SECTIONS.map((s) => s.id));
    for (const s of file.sections) {
      expect({ id: s.id, error: s.error }).toEqual({ id: s.id, error: undefined });
      if (s.skipped === undefined)
        expect({ id: s.id, figures: s.figures.length > 0 }).toEqual({ id: s.id, figures: true });
    }
  });

  it('gives every figure a finite positive value beside a positive reference and their ratio (a verdict count may be 0)', () => {
    const positive = (n: number | undefined) => typeof n === 'number' && Number.isFinite(n) && n > 0;
    const bad = file.sections
      .flatMap((s) => s.figures)
      // a verdict count (the largest fleet that held its target) may be 0: that is a speed, and speeds are not judged here
      .filter((f) => !(f.zeroIsResult === true && f.value === 0))
      .filter((f) => !positive(f.value) || !f.reference || !positive(f.reference.value) || !positive(f.ratio))
      .map((f) => `${f.key}: value ${f.value}, reference ${JSON.stringify(f.reference)}, ratio ${f.ratio}`);
    expect(bad).toEqual([]);
  });

  it('prints one table on stdout with a row per figure', () => {
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^section\s+figure\s+value\s+unit\s+reference\s+ratio$/);
    const figures = file.sections.reduce((n, s) => n + s.figures.length + (s.skipped === undefined ? 0 : 1), 0);
    expect(lines).toHaveLength(2 + figures);
  });
});
