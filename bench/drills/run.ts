/**
 * `npm run drill -- failover [--quick] [--sync] [--rate N] [--phase 10s] [--json]`: the active-passive site
 * failover drill (bench/drills/failover.ts). Prints RTO and RPO as a table (or JSON), writes the result to
 * bench/results/drill-failover-latest.json, exits 1 when an acknowledged job is missing at the end or a
 * reporting breaker opened, 64 on a usage error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '@jr/contracts';
import { installInterruptCleanup } from '../lib/cleanup';
import { renderDrill } from './report';
import { runFailoverDrill, type FailoverDrillOptions } from './failover';

const USAGE =
  'usage: npm run drill -- failover [--quick] [--sync] [--rate N] [--phase DURATION] [--agents N] [--json] [--out DIR]';

function options(argv: string[]): { drill: string; o: Omit<FailoverDrillOptions, 'log'>; json: boolean; out: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      sync: { type: 'boolean', default: false },
      rate: { type: 'string' },
      phase: { type: 'string' },
      agents: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string', default: path.resolve(__dirname, '../../results') },
    },
  });
  if (positionals.length !== 1 || positionals[0] !== 'failover') throw new Error('name a drill: failover');
  const rate = Number(values.rate ?? (values.quick ? 10 : 20));
  const agents = Number(values.agents ?? 2);
  const phaseMs = parseDurationMs(values.phase ?? (values.quick ? '2s' : '8s'));
  if (!Number.isInteger(rate) || rate < 1 || rate > 500) throw new Error('--rate must be a whole number from 1 to 500');
  if (!Number.isInteger(agents) || agents < 1 || agents > 20) throw new Error('--agents must be from 1 to 20');
  if (phaseMs === undefined || phaseMs < 1_000) throw new Error('--phase must be a duration of at least 1s');
  return {
    drill: 'failover',
    o: { rate, phaseMs, agents, slots: 4, synchronous: values.sync },
    json: values.json,
    out: values.out,
  };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof options>;
  try {
    parsed = options(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`drill: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 64;
  }
  installInterruptCleanup((l) => process.stderr.write(`[drill] ${l}\n`));
  const started = Date.now();
  const result = await runFailoverDrill({ ...parsed.o, log: (l) => process.stderr.write(`[drill] ${l}\n`) });
  const file = { options: parsed.o, wallSeconds: Math.round((Date.now() - started) / 100) / 10, result };
  fs.mkdirSync(parsed.out, { recursive: true });
  fs.writeFileSync(path.join(parsed.out, 'drill-failover-latest.json'), `${JSON.stringify(file, null, 2)}\n`);
  process.stdout.write(parsed.json ? `${JSON.stringify(file, null, 2)}\n` : renderDrill(result));
  return result.missingAtEnd === 0 && result.breakerOpenings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`drill: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
