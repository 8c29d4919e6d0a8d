/** `npm run bench [-- --quick] [--only intake,dispatch] [--out DIR]`. */
import * as path from 'node:path';

export interface RunArgs {
  quick: boolean;
  /** Section ids to run, in the suite's order; undefined: all of them. */
  only?: string[];
  /** Where `<ISO-timestamp>.json` and `latest.json` go. */
  outDir: string;
}

export const USAGE = 'usage: npm run bench -- [--quick] [--only id,id…] [--out DIR]';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseRunArgs(argv: readonly string[], knownIds: readonly string[], defaultOut: string): RunArgs {
  const args: RunArgs = { quick: false, outDir: defaultOut };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split(/=(.*)/s) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--quick') args.quick = true;
    else if (flag === '--out') args.outDir = path.resolve(value());
    else if (flag === '--only') args.only = parseOnly(value(), knownIds);
    else if (flag === '--help' || flag === '-h') throw new UsageError(USAGE);
    else throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
  }
  return args;
}

function parseOnly(list: string, knownIds: readonly string[]): string[] {
  const ids = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !knownIds.includes(id));
  if (unknown.length > 0) throw new UsageError(`unknown section ${unknown.join(', ')} (known: ${knownIds.join(', ')})`);
  return ids;
}
