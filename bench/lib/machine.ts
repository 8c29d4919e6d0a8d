/** The facts a figure needs beside it to mean anything: which machine, which code, which Node. */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

export interface MachineFacts {
  date: string;
  quick: boolean;
  cpus: number;
  cpuModel: string;
  totalMemMiB: number;
  loadAverage: number[];
  node: string;
  platform: string;
  kernel: string;
  gitCommit: string | null;
  /** Uncommitted changes in the checkout when the run started. */
  gitDirty: boolean | null;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: path.resolve(__dirname, '..', '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

export function machineFacts(quick: boolean): MachineFacts {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain']);
  return {
    date: new Date().toISOString(),
    quick,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    kernel: os.release(),
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status === null ? null : status.length > 0,
  };
}
