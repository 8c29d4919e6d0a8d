import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { pb } from '@jr/contracts';
import { startAgent, type AgentHandle } from '../../../apps/agent/src/agent';
import { parseAgentConfig, type AgentConfig } from '../../../apps/agent/src/config/agent-config';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose JSON lines land in `lines` (what the daemon writes to stdout). */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export async function tempDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jr-agent-it-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The agent's config as the daemon would parse it from env, with quick intervals for tests. */
export function agentConfig(address: string, dataDir: string, env: Record<string, string> = {}): AgentConfig {
  const parsed = parseAgentConfig({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    JR_API_GRPC: address, JR_DATA_DIR: dataDir, JR_ENROLL_TOKEN: 'enroll-secret', JR_NAME: 'it-agent', JR_SLOTS: '2',
    JR_HEARTBEAT_INTERVAL: '200ms', JR_KILL_GRACE: '300ms', JR_SHUTDOWN_GRACE: '5s', ...env,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { ...parsed.config, leaseWaitMs: 1_000 };
}

export async function runAgent(config: AgentConfig): Promise<{ agent: AgentHandle; lines: LogLine[] }> {
  const { logger, lines } = captureLogger();
  const agent = await startAgent(config, { logger });
  return { agent, lines };
}

export function shell(script: string, extra: Partial<pb.Step> = {}): pb.Step {
  return { name: 'step', shell: script, ...extra };
}

export function spec(steps: pb.Step[], extra: Partial<pb.JobSpec> = {}): pb.JobSpec {
  return { name: 'job', pool: 'default', steps, ...extra };
}
