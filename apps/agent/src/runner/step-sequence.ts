import type { pb } from '@jr/contracts';
import { ATTR, SPANS, withSpan, type AgentMetrics, type Span } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AttemptReporter } from '../reporting/reporter';
import type { AttemptEventLog, StepOutcome } from './attempt-events';
import { markStep } from './attempt-trace';
import { stepRetries, timeoutOrNone } from './limits';
import { OutputChunker } from './output-chunker';
import { PatternIndex } from './pattern-index';
import { SecretMasker } from './secret-masker';
import { runStepProcess, type StepCommand, type StepProcessResult, type StepUser } from './step-process';

/** How an attempt ended, as Complete carries it. */
export interface AttemptEnd {
  outcome: pb.Outcome__Output;
  exitCode: number;
  reason: string;
}

export interface StepSequenceOptions {
  steps: pb.Step__Output[];
  cwd: string;
  env: Record<string, string>;
  /** The job's secrets in the forms masked in the output (mask-patterns.ts), indexed once per attempt. */
  masks?: PatternIndex;
  killGraceMs: number;
  /** Where running steps' process groups are recorded (step-registry.ts). */
  registryDir?: string;
  /** The job user steps run as (undefined: the agent's own). */
  user?: StepUser;
  /** Aborted with a StopRequest when the attempt is cancelled or times out. */
  signal: AbortSignal;
  events: AttemptEventLog;
  report: AttemptReporter;
  logger: Logger;
  metrics?: Pick<AgentMetrics, 'stepDuration'>;
}

const NO_MASKS = new PatternIndex([]);

/** A step waits for the reporter once this much of its output is unacknowledged. */
const BACKLOG_PAUSE_BYTES = 16 * 1024 * 1024;
const BACKLOG_RESUME_BYTES = 4 * 1024 * 1024;

/** Runs the steps in order, each up to 1 + retries times on a non-zero exit; the first failure ends it. */
export async function runStepSequence(o: StepSequenceOptions): Promise<AttemptEnd> {
  for (const [index, step] of o.steps.entries()) {
    const command = commandOf(step);
    if (!command) return { outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'invalid_spec' };
    const end = await runOneStep(o, index, step, command);
    if (end) return end;
  }
  return { outcome: 'OUTCOME_SUCCEEDED', exitCode: 0, reason: '' };
}

/** Undefined when the step succeeded (on some try), else how the attempt ends. */
async function runOneStep(
  o: StepSequenceOptions,
  index: number,
  step: pb.Step__Output,
  command: Command,
): Promise<AttemptEnd | undefined> {
  const retries = stepRetries(step.retries);
  for (let attemptTry = 1; attemptTry <= retries + 1; attemptTry++) {
    if (o.signal.aborted) return stopEnd(o.signal);
    const attrs = { [ATTR.stepIndex]: index, [ATTR.stepTry]: attemptTry };
    const { result, outcome } = await withSpan(SPANS.step, attrs, (span) =>
      runStepTry(o, { index, step, command, attemptTry }, span),
    );
    switch (outcome) {
      case 'succeeded':
        return undefined;
      case 'timed_out':
        return { outcome: 'OUTCOME_TIMED_OUT', exitCode: -1, reason: 'timeout' };
      case 'cancelled':
        return stopEnd(o.signal);
      case 'failed':
        if (attemptTry <= retries)
          o.logger.info({ step: index, exitCode: result.exitCode, try: attemptTry }, 'step failed; retrying it');
        else
          return { outcome: 'OUTCOME_FAILED', exitCode: result.signal ? -1 : result.exitCode, reason: 'step_failed' };
    }
  }
  return undefined;
}

interface StepTry {
  index: number;
  step: pb.Step__Output;
  command: Command;
  attemptTry: number;
}

/** One try of a step, inside its span: its events, its process, its duration by outcome. */
async function runStepTry(
  o: StepSequenceOptions,
  t: StepTry,
  span: Span,
): Promise<{ result: StepProcessResult; outcome: StepOutcome }> {
  o.events.stepStarted(t.index, t.step.name, t.attemptTry);
  const timed = o.metrics?.stepDuration.startTimer();
  const result =
    t.command.kind === 'builtin' ? builtinNoop(o, t.index) : await runWithOutput(o, t.index, t.step, t.command);
  const outcome = stepOutcome(result, o.signal);
  timed?.({ outcome });
  o.events.stepFinished(t.index, result.signal ? -1 : result.exitCode, result.signal, outcome);
  if (!result.groupGone)
    o.logger.error({ step: t.index, pid: result.pid }, 'processes of the step survived SIGKILL (escaped its group?)');
  markStep(span, outcome, result);
  return { result, outcome };
}

/**
 * The built-in no-op step of canary jobs: no process, no shell, no user code; one line of output, so a
 * canary also proves the way of a log line from the agent to the API.
 */
function builtinNoop(o: StepSequenceOptions, index: number): StepProcessResult {
  o.events.log(index, 'stdout', Buffer.from('jr-agent: built-in no-op step\n'));
  return { ended: 'exited', exitCode: 0, signal: '', pid: undefined, groupGone: true };
}

async function runWithOutput(
  o: StepSequenceOptions,
  index: number,
  step: pb.Step__Output,
  command: StepCommand,
): Promise<StepProcessResult> {
  const chunkers = {
    stdout: new OutputChunker((data) => o.events.log(index, 'stdout', data)),
    stderr: new OutputChunker((data) => o.events.log(index, 'stderr', data)),
  };
  // secrets are masked before the output reaches the chunker: nothing after this sees a value
  const maskers = {
    stdout: new SecretMasker(o.masks ?? NO_MASKS, (data) => chunkers.stdout.write(data)),
    stderr: new SecretMasker(o.masks ?? NO_MASKS, (data) => chunkers.stderr.write(data)),
  };
  try {
    return await runStepProcess({
      command,
      cwd: o.cwd,
      env: o.env,
      timeoutMs: timeoutOrNone(step.timeoutMs),
      killGraceMs: o.killGraceMs,
      registryDir: o.registryDir,
      user: o.user,
      signal: o.signal,
      onOutput: (stream, data) => maskers[stream].write(data),
      flow: {
        shouldPause: () => o.report.backlogBytes() > BACKLOG_PAUSE_BYTES,
        onResume: (resume) => o.report.onBacklogBelow(BACKLOG_RESUME_BYTES, resume),
      },
    });
  } finally {
    maskers.stdout.end();
    maskers.stderr.end();
    chunkers.stdout.flush();
    chunkers.stderr.flush();
  }
}

function stepOutcome(result: StepProcessResult, signal: AbortSignal): StepOutcome {
  if (result.ended === 'timed_out') return 'timed_out';
  if (result.ended === 'interrupted')
    return (signal.reason as { outcome?: string } | undefined)?.outcome === 'timed_out' ? 'timed_out' : 'cancelled';
  return result.exitCode === 0 && !result.signal ? 'succeeded' : 'failed';
}

/** The attempt's end when it was stopped from outside (cancel, job timeout, shutdown, superseded). */
export function stopEnd(signal: AbortSignal): AttemptEnd {
  const request = signal.reason as { outcome?: string; reason?: string } | undefined;
  return request?.outcome === 'timed_out'
    ? { outcome: 'OUTCOME_TIMED_OUT', exitCode: -1, reason: 'timeout' }
    : { outcome: 'OUTCOME_CANCELLED', exitCode: -1, reason: request?.reason ?? 'cancelled' };
}

type Command = StepCommand | { kind: 'builtin'; name: 'noop' };

function commandOf(step: pb.Step__Output): Command | undefined {
  if (step.run === 'builtin' && step.builtin === 'noop') return { kind: 'builtin', name: 'noop' };
  if (step.run === 'shell' && step.shell) return { kind: 'shell', script: step.shell };
  if (step.run === 'argv' && step.argv && step.argv.args.length > 0 && step.argv.args[0])
    return { kind: 'argv', args: step.argv.args };
  return undefined;
}
