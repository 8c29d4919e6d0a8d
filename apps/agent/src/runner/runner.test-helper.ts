import type { ArtifactUrlPolicy } from './artifact-url-policy';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { pb } from '@jr/contracts';
import { isProcessAlive } from '@jr/journal';
import pino from 'pino';
import type {
  AttemptRef,
  AttemptReporter,
  AttemptReportOptions,
  Completion,
  CompletionResult,
  Reporter,
  ReporterStats,
} from '../reporting/reporter';

export const silentLogger = pino({ level: 'silent' });

/** Test servers listen on loopback over plain http: what the default policy refuses, allowed explicitly. */
export const LOOPBACK_HTTP: ArtifactUrlPolicy = {
  allowHttp: true,
  allowCidrs: [
    { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
    { address: '::1', prefix: 128, family: 'ipv6' },
  ],
};

/** Records what the runner reports; every completion is accepted at once. */
export class RecordingReporter implements Reporter {
  readonly events: pb.AttemptEvent[] = [];
  readonly completions: Array<AttemptRef & Completion> = [];
  readonly superseders: Array<() => void> = [];
  /** The trace carrier each attempt was opened with. */
  readonly traces: Array<AttemptReportOptions['trace']> = [];

  open(ref: AttemptRef, hooks: AttemptReportOptions): AttemptReporter {
    this.superseders.push(() => hooks.onSuperseded());
    this.traces.push(hooks.trace);
    return {
      event: (e) => this.events.push(e),
      complete: async (c): Promise<CompletionResult> => {
        this.completions.push({ ...ref, ...c });
        return { status: 'completed', jobState: 'done' };
      },
      backlogBytes: () => 0,
      onBacklogBelow: (_b, resume) => resume(),
    };
  }

  stats(): ReporterStats {
    return { pendingEvents: 0, oldestAgeMs: 0 };
  }

  close(): void {}

  /** The text a stream of a step printed. */
  output(step: number, stream: 'stdout' | 'stderr' = 'stdout'): string {
    return this.events
      .filter((e) => e.log && e.log.step === step && e.log.stream === stream)
      .map((e) => Buffer.from(e.log?.data as Buffer).toString('utf8'))
      .join('');
  }

  kinds(): string[] {
    return this.events.map((e) => {
      if (e.stepStarted) return `start:${e.stepStarted.step}:${e.stepStarted.try}`;
      if (e.stepFinished) return `finish:${e.stepFinished.step}:${e.stepFinished.outcome}`;
      return `log:${e.log?.step}:${e.log?.stream}`;
    });
  }
}

export async function tempDir(tag: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `jr-agent-${tag}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** True while `pid` is a live process (a zombie nobody reaps counts as dead). */
export const processAlive = (pid: number): boolean => isProcessAlive(pid);

export function shellStep(script: string, extra: Partial<pb.Step__Output> = {}): pb.Step__Output {
  return { name: 'step', run: 'shell', shell: script, timeoutMs: 0, retries: 0, ...extra };
}

export function argvStep(args: string[], extra: Partial<pb.Step__Output> = {}): pb.Step__Output {
  return { name: 'step', run: 'argv', argv: { args }, timeoutMs: 0, retries: 0, ...extra };
}

export function assignment(
  steps: pb.Step__Output[],
  spec: Partial<pb.JobSpec__Output> = {},
  jobId = 'j_test0000000000000000000000',
  secrets: Record<string, string> = {},
): pb.Assignment__Output {
  return {
    jobId,
    attempt: 1,
    leaseToken: 'lt-1',
    leaseExpiresAtMs: Date.now() + 60_000,
    spec: {
      name: 'job',
      pool: 'default',
      labels: {},
      timeoutMs: 0,
      env: {},
      uses: [],
      steps,
      signature: null,
      ...spec,
    },
    secrets,
  };
}
