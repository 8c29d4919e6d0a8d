import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fetchTrusting } from './https';
import { waitFor } from './wait';

/** The repository root (libs/testing/{src,dist}/ -> ../../..). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

export const API_MAIN = path.join(REPO_ROOT, 'apps/api/dist/main.js');
export const AGENT_MAIN = path.join(REPO_ROOT, 'apps/agent/dist/main.js');
export const CLI_MAIN = path.join(REPO_ROOT, 'apps/cli/bin/jr.js');

/** A real API or agent process, its output kept in a log file for post-mortems. */
export class ManagedProcess {
  private exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly child: ChildProcess;

  constructor(
    readonly name: string,
    main: string,
    readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    args: string[] = [],
  ) {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const out = fs.openSync(logFile, 'a');
    this.child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exitPromise = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitPromise;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit status. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), graceMs);
    const status = await this.exitPromise;
    clearTimeout(timer);
    return status;
  }
}

export interface ApiProcessOptions {
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  redisUrl: string;
  databaseUrl: string;
  adminToken: string;
  enrollToken: string;
  queuePrefix: string;
  heartbeatInterval?: string;
  extraEnv?: Record<string, string>;
  /** With an operator certificate in `extraEnv.JR_TLS_CERT`: the CA that signed it. */
  caFile?: string;
}

/** True when the API of these options listens in plain text (JR_INSECURE=1). */
export function apiIsInsecure(extraEnv: Record<string, string> | undefined): boolean {
  return extraEnv?.JR_INSECURE === '1' || extraEnv?.JR_INSECURE === 'true';
}

/** The CA file an API process's clients trust: its own (made in its data dir) unless the test gave JR_TLS_CERT. */
export function apiCaFile(o: Pick<ApiProcessOptions, 'dataDir' | 'extraEnv' | 'caFile'>): string {
  if (o.extraEnv?.JR_TLS_CERT) return o.caFile ?? o.extraEnv.JR_TLS_CERT;
  return path.join(o.extraEnv?.JR_DATA_DIR ?? o.dataDir, 'tls', 'ca.pem'); // extraEnv may move the data dir
}

/** Reads a CA file, undefined while it does not exist yet (an API making its own CA at start-up). */
export function readCaIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function baseEnv(): NodeJS.ProcessEnv {
  // Only what a process needs: never leak the test runner's JR_* settings into a child.
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'])
    if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}

/** Starts a jr-api process without waiting for it (one that waits for a standby to be promoted, say). */
export function spawnApiProcess(o: ApiProcessOptions, logFile: string): ManagedProcess {
  const env = {
    ...baseEnv(),
    JR_HTTP_PORT: String(o.httpPort),
    JR_GRPC_PORT: String(o.grpcPort),
    JR_BIND_HOST: '127.0.0.1',
    JR_DATA_DIR: o.dataDir,
    REDIS_URL: o.redisUrl,
    DATABASE_URL: o.databaseUrl,
    JR_ADMIN_TOKEN: o.adminToken,
    JR_ENROLL_TOKEN: o.enrollToken,
    JR_QUEUE_PREFIX: o.queuePrefix,
    JR_HEARTBEAT_INTERVAL: o.heartbeatInterval ?? '10s',
    JR_LOG_LEVEL: 'info',
    ...o.extraEnv,
  };
  return new ManagedProcess('api', API_MAIN, env, logFile);
}

/** Waits until the API of these options answers 200 on /readyz (TLS or not, trusting its CA). */
export function waitForApiReady(o: ApiProcessOptions, proc: ManagedProcess, timeoutMs = 30_000): Promise<void> {
  const insecure = apiIsInsecure(o.extraEnv);
  const caFile = apiCaFile(o);
  return waitForHttp(`${insecure ? 'http' : 'https'}://127.0.0.1:${o.httpPort}/readyz`, proc, timeoutMs, () =>
    insecure ? undefined : readCaIfExists(caFile),
  );
}

export async function startApiProcess(o: ApiProcessOptions, logFile: string): Promise<ManagedProcess> {
  const proc = spawnApiProcess(o, logFile);
  await waitForApiReady(o, proc);
  return proc;
}

export interface AgentProcessOptions {
  grpcTarget: string;
  dataDir: string;
  enrollToken: string;
  name: string;
  pool?: string;
  slots?: number;
  heartbeatInterval?: string;
  extraEnv?: Record<string, string>;
}

/**
 * Tests run as root here: agents run their job steps as `nobody` (the real, isolated path) unless a test
 * chooses its own job user or JR_ALLOW_ROOT_JOBS=1. As another user, steps run as that user (allowed).
 */
export function jobUserEnv(extra: Record<string, string> = {}): Record<string, string> {
  const chosen = ['JR_JOB_USER', 'JR_JOB_USERS', 'JR_ALLOW_ROOT_JOBS'].some((k) => extra[k] !== undefined);
  return process.getuid?.() === 0 && !chosen ? { JR_JOB_USER: 'nobody' } : {};
}

export function startAgentProcess(o: AgentProcessOptions, logFile: string): ManagedProcess {
  const env = {
    ...baseEnv(),
    ...jobUserEnv(o.extraEnv),
    JR_API_GRPC: o.grpcTarget,
    JR_DATA_DIR: o.dataDir,
    JR_ENROLL_TOKEN: o.enrollToken,
    JR_NAME: o.name,
    JR_POOL: o.pool ?? 'default',
    JR_SLOTS: String(o.slots ?? 4),
    JR_HEARTBEAT_INTERVAL: o.heartbeatInterval ?? '10s',
    JR_KILL_GRACE: '2s',
    JR_LOG_LEVEL: 'info',
    ...o.extraEnv,
  };
  return new ManagedProcess(`agent-${o.name}`, AGENT_MAIN, env, logFile);
}

/** Waits until `url` answers 200 (trusting the CA `ca()` returns), failing early (with the log) if the process exits. */
export async function waitForHttp(
  url: string,
  proc: ManagedProcess,
  timeoutMs = 30_000,
  ca: () => string | undefined = () => undefined,
): Promise<void> {
  await waitFor(
    async () => {
      if (!proc.running) throw new Error(`${proc.name} exited before it was ready:\n${proc.log().slice(-4_000)}`);
      const trusted = ca();
      const res = await fetchTrusting(url, trusted !== undefined ? { ca: trusted } : {}).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs, intervalMs: 100, what: `${url} to answer 200` },
  ).catch((err: unknown) => {
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\n--- ${proc.name} log ---\n${proc.log().slice(-4_000)}`,
    );
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `jr` CLI as a process. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliResult> {
  return runNodeScript(CLI_MAIN, args, { ...baseEnv(), ...env }, timeoutMs);
}

/**
 * Runs a Node script of the repository (a built bench or drill, a bin) to its end, with its output; after
 * `timeoutMs` it gets SIGTERM, 15 s later SIGKILL (the code then reads 128). `env` is the whole environment.
 */
export function runNodeScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGTERM first (a bench or drill cleans up what it started), SIGKILL if it does not end
    let hard: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
