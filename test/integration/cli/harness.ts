import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../../apps/cli/src/program';
import type { OutStream } from '../../../apps/cli/src/output';

export interface JrResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(isTTY: boolean): OutStream & { chunks: Buffer[] } {
  const s = { isTTY, chunks: [] as Buffer[], write: (c: string | Uint8Array) => (s.chunks.push(Buffer.from(c)), true) };
  return s;
}

/** Runs jr in-process (real sockets to whatever URL the env names); `tty` makes stdout a terminal. */
export async function jrIn(
  argv: string[],
  env: Record<string, string>,
  opts: { tty?: boolean } = {},
): Promise<JrResult> {
  const stdout = capture(opts.tty ?? false);
  const stderr = capture(false);
  const code = await run(argv, { stdout, stderr, env });
  return {
    code,
    stdout: Buffer.concat(stdout.chunks).toString('utf8'),
    stderr: Buffer.concat(stderr.chunks).toString('utf8'),
  };
}

const root = path.resolve(__dirname, '../../..');
const bin = path.join(root, 'apps/cli/bin/jr.js');

/** Runs the compiled `jr` as its own process with exactly `env` (plus PATH). */
export function jrBin(argv: string[], env: Record<string, string>): Promise<JrResult> {
  if (!fs.existsSync(path.join(root, 'apps/cli/dist/main.js')))
    throw new Error('apps/cli is not built: run `npx tsc -b apps/cli` (npm ci builds it)');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...argv],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A fresh directory standing in for $HOME (removed by the caller with rmSync). */
export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'jr-cli-home-'));
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return path.join(dir, cmd);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * A shell from PATH; when missing and running as root, Debian's package is installed (serialised by a
 * lock file, as the Prometheus tools are). Throws otherwise: the completion tests must fail, not skip.
 */
export function ensureShell(name: 'bash' | 'zsh' | 'fish'): string {
  let found = which(name);
  if (!found && typeof process.getuid === 'function' && process.getuid() === 0) {
    const script = `command -v ${name} >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends ${name}; }`;
    execFileSync('flock', [path.join(os.tmpdir(), 'jr-apt.lock'), 'sh', '-c', script], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    found = which(name);
  }
  if (!found)
    throw new Error(`${name} is not installed: apt-get install ${name} (the completion tests run the real shell)`);
  return found;
}
