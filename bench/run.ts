/**
 * `npm run bench [-- --quick] [--only intake,dispatch] [--out DIR]`: runs every section (bench/sections),
 * prints one table on stdout (progress goes to stderr) and writes `<ISO-timestamp>.json` and
 * `latest.json` with the machine's facts and every section's result. A section that throws is
 * reported as failed and the run exits 1 after the others ran; a usage error exits 64.
 *
 *   JR_BENCH_API_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --only intake   # profile jr-api
 *   JR_BENCH_AGENT_NODE_OPTIONS=… profiles the agents the same way
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseRunArgs, UsageError, type RunArgs } from './lib/args';
import { installInterruptCleanup, onInterrupt } from './lib/cleanup';
import { machineFacts, type MachineFacts } from './lib/machine';
import type { BenchSection, SectionResult } from './lib/report';
import { renderTable } from './lib/table';
import { SECTIONS } from './sections';

export interface RunFile {
  machine: MachineFacts;
  wallSeconds: number;
  /** 1/5/15-minute load averages when the run ended (the start's are in `machine`): other work on the machine shows here. */
  loadAverageAtEnd: number[];
  sections: SectionResult[];
}

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

async function runSection(id: string, run: BenchSection, quick: boolean): Promise<SectionResult> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `jr-bench-${id}-`));
  const release = onInterrupt(() => fs.rmSync(workDir, { recursive: true, force: true }));
  const started = performance.now();
  log(`${id}: start`);
  let result: SectionResult;
  try {
    result = await run({ quick, log: (line) => log(`${id}: ${line}`), workDir });
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`${id}: FAILED: ${error}`);
    result = { id, title: id, figures: [], error };
  } finally {
    release();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  result.wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  log(`${id}: done in ${result.wallSeconds} s`);
  return result;
}

function writeResults(outDir: string, file: RunFile): string {
  fs.mkdirSync(outDir, { recursive: true });
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const out = path.join(outDir, `${file.machine.date.replace(/:/g, '-')}.json`);
  fs.writeFileSync(out, text);
  fs.writeFileSync(path.join(outDir, 'latest.json'), text);
  return out;
}

async function main(args: RunArgs): Promise<number> {
  const machine = machineFacts(args.quick);
  const started = performance.now();
  const selected = SECTIONS.filter((s) => args.only === undefined || args.only.includes(s.id));
  log(
    `${selected.map((s) => s.id).join(', ')}${args.quick ? ' (quick)' : ''} on ${machine.cpus} CPUs, node ${machine.node}`,
  );
  const sections: SectionResult[] = [];
  for (const s of selected) sections.push(await runSection(s.id, s.run, args.quick));
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  const loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const out = writeResults(args.outDir, { machine, wallSeconds, loadAverageAtEnd, sections });
  process.stdout.write(`${renderTable(sections)}\n`);
  log(
    `${wallSeconds} s wall, load average ${machine.loadAverage[0]} at the start, ${loadAverageAtEnd[0]} at the end; written ${path.relative(process.cwd(), out)} and latest.json`,
  );
  const failed = sections.filter((s) => s.error !== undefined).map((s) => s.id);
  if (failed.length > 0) log(`failed: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

if (require.main === module) {
  let args: RunArgs;
  try {
    args = parseRunArgs(
      process.argv.slice(2),
      SECTIONS.map((s) => s.id),
      path.resolve(__dirname, '..', 'results'),
    );
  } catch (err) {
    process.stderr.write(`${err instanceof UsageError ? err.message : String(err)}\n`);
    process.exit(64);
  }
  installInterruptCleanup(log);
  main(args).then(
    (code) => {
      process.exitCode = code;
      // Everything a section started is closed by now; a stray handle must not keep the run alive.
      setTimeout(() => process.exit(code), 500).unref();
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
