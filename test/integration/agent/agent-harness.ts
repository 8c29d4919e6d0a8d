import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { pb } from '@jr/contracts';
import {
  AGENT_MAIN,
  FaultProxy,
  REPO_ROOT,
  baseEnv,
  jobUserEnv,
  startAgentProcess,
  testTlsIfMade,
  type AgentProcessOptions,
  type ManagedProcess,
} from '@jr/testing';
import { startAgent, type AgentHandle } from '../../../apps/agent/src/agent';
import { runAgentCli } from '../../../apps/agent/src/agent-cli';
import { parseAgentConfig, type AgentConfig } from '../../../apps/agent/src/config/agent-config';
import { FakeAgentApi } from './fake-agent-api';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose JSON lines land in `lines` (what the daemon writes to stdout). */
export function captureLogger(options: pino.LoggerOptions = { level: 'debug' }): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino(options, sink), lines };
}

/** Artifact servers in tests listen on loopback over http: what the agent refuses unless told (explicitly). */
export const LOOPBACK_ARTIFACTS: Record<string, string> = {
  JR_ARTIFACT_ALLOW_HTTP: '1',
  JR_ARTIFACT_ALLOW_CIDRS: '127.0.0.1/32',
};

export async function tempDataDir(): Promise<{ dir: string; dropDir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jr-agent-it-'));
  // Where a job (running as another user, shut out of the data directory) leaves files for the test.
  const dropDir = `${dir}-drop`;
  await mkdir(dropDir);
  await chmod(dropDir, 0o1777);
  // The agent's workspaces go beside it (JR_WORK_DIR's default): removed with it.
  const remove = async (): Promise<void> => {
    for (const d of [dir, `${dir}-work`, dropDir]) await rm(d, { recursive: true, force: true });
  };
  return { dir, dropDir, remove };
}

/** The agent's config as the daemon would parse it from env, with quick intervals for tests. */
export function agentConfig(address: string, dataDir: string, env: Record<string, string> = {}): AgentConfig {
  const parsed = parseAgentConfig({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    JR_API_GRPC: address,
    JR_DATA_DIR: dataDir,
    JR_ENROLL_TOKEN: 'enroll-secret',
    JR_NAME: 'it-agent',
    JR_SLOTS: '2',
    JR_HEARTBEAT_INTERVAL: '200ms',
    JR_KILL_GRACE: '300ms',
    JR_SHUTDOWN_GRACE: '5s',
    ...jobUserEnv(env),
    ...trustEnv(env),
    ...env,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { ...parsed.config, leaseWaitMs: 1_000 };
}

/** The fake API speaks TLS with the test CA: trust it, unless the test chose its own trust. */
export function trustEnv(env: Record<string, string>): Record<string, string> {
  if (['JR_CA_FILE', 'JR_API_CA_SHA256', 'JR_INSECURE'].some((k) => k in env)) return {};
  const t = testTlsIfMade();
  return t ? { JR_CA_FILE: t.caFile } : {};
}

export async function runAgent(
  config: AgentConfig,
  logger?: Logger,
): Promise<{ agent: AgentHandle; lines: LogLine[] }> {
  const captured = logger === undefined ? captureLogger() : { logger, lines: [] };
  const agent = await startAgent(config, { logger: captured.logger });
  return { agent, lines: captured.lines };
}

export function shell(script: string, extra: Partial<pb.Step> = {}): pb.Step {
  return { name: 'step', shell: script, ...extra };
}

export function spec(steps: pb.Step[], extra: Partial<pb.JobSpec> = {}): pb.JobSpec {
  return { name: 'job', pool: 'default', steps, ...extra };
}

/** The JSON lines a spawned jr-agent has logged so far. */
export function logLines(p: ManagedProcess): Array<Record<string, unknown>> {
  return p
    .log()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `node apps/agent/dist/main.js ARGS` to its end (killed after 30 s), with only `env` beside the basics. */
export function runAgentMain(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_MAIN, ...args], {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface FixtureOptions {
  /** Agents dial the fake API through a FaultProxy (`fixture.proxy`), so a test can cut or slow the path. */
  proxy?: boolean;
  /** The file spawns the real daemon: build apps/agent once before its tests. */
  build?: boolean;
}

export interface AgentFixture {
  /** The loopback AgentService of the current test (state survives its stop()/start()). */
  readonly api: FakeAgentApi;
  /** The fault-injecting proxy in front of it; only with `{ proxy: true }`. */
  readonly proxy: FaultProxy;
  /** This test's JR_DATA_DIR (removed after it). */
  readonly dataDir: string;
  /** A directory (1777) where jobs, which cannot enter the data directory, leave files for the test. */
  readonly dropDir: string;
  /** What agents dial: the proxy when there is one, else the fake API. */
  readonly address: string;
  /** agentConfig() for this test's address and data directory. */
  config(env?: Record<string, string>): AgentConfig;
  /** Starts an in-process agent (its log lines captured unless `logger` is given); stopped after the test. */
  start(env?: Record<string, string>, logger?: Logger): Promise<{ agent: AgentHandle; lines: LogLine[] }>;
  /** Spawns the daemon (dist/main.js) on this test's address and data directory; killed after the test. */
  spawn(options: Partial<AgentProcessOptions> & { name: string }): ManagedProcess;
  /** A local `jr-agent ARGS` command (status, reporting …) run in-process against this test's data directory. */
  command(args: string[]): Promise<{ code: number; out: string; err: string }>;
}

/**
 * Registers the set-up every agent integration test shares, in the calling `describe`: before each test a fresh
 * FakeAgentApi (and FaultProxy), a data directory; after it, every agent it started is stopped, every process
 * killed, and the rest torn down in reverse order.
 */
export function useAgentFixture(options: FixtureOptions = {}): AgentFixture {
  let api: FakeAgentApi | undefined;
  let proxy: FaultProxy | undefined;
  let data: Awaited<ReturnType<typeof tempDataDir>> | undefined;
  let agents: AgentHandle[] = [];
  let processes: ManagedProcess[] = [];
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(
        `${what} is only there inside a test${what === 'the proxy' ? ' of useAgentFixture({ proxy: true })' : ''}`,
      );
    return value;
  };

  if (options.build) beforeAll(() => buildAgent());
  beforeEach(async () => {
    api = new FakeAgentApi();
    await api.start();
    if (options.proxy) proxy = await FaultProxy.start({ host: '127.0.0.1', port: api.port });
    data = await tempDataDir();
  });
  afterEach(async () => {
    for (const a of agents) await a.stopNow();
    for (const p of processes) await p.kill();
    agents = [];
    processes = [];
    await proxy?.close();
    await api?.stop();
    await data?.remove();
    proxy = undefined;
    api = undefined;
    data = undefined;
  });

  const fixture: AgentFixture = {
    get api() {
      return need(api, 'the fake API');
    },
    get proxy() {
      return need(proxy, 'the proxy');
    },
    get dataDir() {
      return need(data, 'the data directory').dir;
    },
    get dropDir() {
      return need(data, 'the data directory').dropDir;
    },
    get address() {
      return proxy?.address ?? need(api, 'the fake API').address;
    },
    config: (env = {}) => agentConfig(fixture.address, fixture.dataDir, env),
    async start(env = {}, logger) {
      const started = await runAgent(fixture.config(env), logger);
      agents.push(started.agent);
      return started;
    },
    spawn(o) {
      const p = startAgentProcess(
        {
          grpcTarget: fixture.address,
          dataDir: fixture.dataDir,
          enrollToken: 'enroll-secret',
          heartbeatInterval: '200ms',
          ...o,
          extraEnv: { ...trustEnv(o.extraEnv ?? {}), ...o.extraEnv },
        },
        path.join(fixture.dataDir, 'agent.log'),
      );
      processes.push(p);
      return p;
    },
    async command(args) {
      const out: string[] = [];
      const err: string[] = [];
      const signals = { on: () => undefined, off: () => undefined };
      const io = {
        stdout: { write: (t: string) => out.push(t) },
        stderr: { write: (t: string) => err.push(t) },
        signals,
      };
      const code = await runAgentCli({ JR_DATA_DIR: fixture.dataDir }, io, args);
      return { code, out: out.join(''), err: err.join('') };
    },
  };
  return fixture;
}

function buildAgent(): void {
  const build = spawnSync(path.join(REPO_ROOT, 'node_modules/.bin/tsc'), ['-b', 'apps/agent'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`tsc -b apps/agent failed:\n${build.stdout}${build.stderr}`);
}
