/**
 * A background load of `POST /v1/jobs` in a process of its own, so that its HTTP client does not share
 * an event loop with what is being measured (the submitter's clock, the raw BullMQ worker).
 *
 * Child side: `node background-load.js '{"baseUrl","adminToken","rate","pool"}'` submits open-loop at
 * `rate` until SIGTERM, then prints `{completed, failed, elapsedS, perSecond}` as JSON and exits.
 */
import { spawn } from 'node:child_process';
import { BenchClient, jobBody, type ApiTarget } from './api-client';
import { onInterrupt } from './cleanup';
import { OpenLoop } from './load';

export interface BackgroundLoadOptions extends ApiTarget {
  rate: number;
  pool: string;
}

export interface BackgroundLoadResult {
  completed: number;
  failed: number;
  elapsedS: number;
  perSecond: number;
}

/** Starts the load in a child process; `stop()` ends it and resolves with what it achieved. */
export function startBackgroundLoad(o: BackgroundLoadOptions): { stop: () => Promise<BackgroundLoadResult> } {
  const child = spawn(process.execPath, [__filename, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const release = onInterrupt(() => void child.kill('SIGKILL'));
  return {
    stop: async () => {
      release();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`the background load process exited ${code}: ${stderr.slice(-2_000)}`);
      return JSON.parse(stdout) as BackgroundLoadResult;
    },
  };
}

function child(o: BackgroundLoadOptions): void {
  const client = new BenchClient(o, 128);
  const body = jobBody('bench-background', ['true'], o.pool);
  const load = new OpenLoop({ rate: o.rate, maxInFlight: 256 }, async () => (await client.submit(body)) !== undefined);
  process.once('SIGTERM', () => {
    void load.stop().then((r) => {
      client.close();
      process.stdout.write(JSON.stringify(r), () => process.exit(0));
    });
  });
}

if (require.main === module) child(JSON.parse(process.argv[2] ?? '{}') as BackgroundLoadOptions);
