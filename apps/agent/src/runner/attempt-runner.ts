import * as os from 'node:os';
import * as path from 'node:path';
import { verifyJobSignature, type pb, type VerifyKeys } from '@jr/contracts';
import { injectToCarrier, SPANS, SpanKind, withSpan, type AgentMetrics, type Context, type Span } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AttemptRef, AttemptReporter, CompletionResult, Reporter } from '../reporting/reporter';
import { DownloadError, type ArtifactCache } from './artifact-cache';
import { AttemptEventLog } from './attempt-events';
import { attemptAttributes, markAttempt, NO_PARENT } from './attempt-trace';
import { timeoutOrNone } from './limits';
import { runStepSequence, stopEnd, type AttemptEnd } from './step-sequence';
import { buildMaskPatterns } from './mask-patterns';
import { PatternIndex } from './pattern-index';
import { buildStepEnv } from './step-env';
import type { JobUser, JobUserPool } from './job-users';
import { Workspace } from './workspace';

/** `$JR_DATA_DIR/steps`: the process groups of running steps (step-registry.ts). */
export const stepRegistryDir = (dataDir: string): string => path.join(dataDir, 'steps');

export interface AttemptDeps {
  reporter: Reporter;
  artifacts: ArtifactCache;
  dataDir: string;
  /** JR_WORK_DIR: where each attempt's workspace is made (workspace.ts). */
  workRoot: string;
  /** Who steps run as (job-users.ts). */
  jobUsers: JobUserPool;
  killGraceMs: number;
  childEnv: Record<string, string>;
  logger: Logger;
  /** jr_agent_attempts_finished_total, jr_agent_step_duration_seconds, jr_agent_cancellations_total, jr_agent_jobs_refused_total. */
  metrics?: Pick<AgentMetrics, 'attemptsFinished' | 'stepDuration' | 'cancellations' | 'jobsRefused'>;
  /** On the attempt span. */
  agentId?: string;
  /** JR_JOB_VERIFY_KEYS: when set, a job runs only with a valid signature by one of them. */
  verifyKeys?: VerifyKeys;
}

/** Why an attempt was stopped from outside its steps. */
export type StopRequest = { outcome: 'cancelled'; reason: string } | { outcome: 'timed_out'; reason: 'timeout' };

/** Ids become directory names: nothing that could climb out of the data directory. */
const SAFE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * One leased attempt: artifacts, then steps in order, then the outcome, reported through the Reporter.
 * Traced as one span (child of the lease span the API sent with the assignment) with a span per step.
 */
export class AttemptRun {
  readonly ref: AttemptRef;
  private readonly stopper = new AbortController();
  private readonly log: Logger;
  private workspace: Workspace | undefined;

  constructor(
    private readonly assignment: pb.Assignment__Output,
    private readonly deps: AttemptDeps,
    /** The lease span's context from the Lease answer; undefined: the attempt starts a trace. */
    private readonly traceParent?: Context,
  ) {
    this.ref = { jobId: assignment.jobId, attempt: assignment.attempt, leaseToken: assignment.leaseToken };
    this.log = deps.logger.child({ jobId: assignment.jobId, attempt: assignment.attempt });
  }

  get key(): string {
    return `${this.ref.jobId}#${this.ref.attempt}`;
  }

  /** Stops the attempt (TERM, grace, KILL of the running step); the first request wins (true). */
  stop(request: StopRequest): boolean {
    if (this.stopper.signal.aborted) return false;
    this.log.info(request, 'stopping attempt');
    this.stopper.abort(request);
    return true;
  }

  run(): Promise<CompletionResult> {
    const options = { parent: this.traceParent ?? NO_PARENT, kind: SpanKind.CONSUMER };
    return withSpan(
      SPANS.attempt,
      attemptAttributes(this.assignment, this.deps.agentId),
      (span) => this.runTraced(span),
      options,
    );
  }

  /** The API refused the attempt's reports: it runs for nobody, stop it. */
  private superseded(): void {
    if (this.stop({ outcome: 'cancelled', reason: 'superseded' }))
      this.deps.metrics?.cancellations.inc({ reason: 'superseded' });
  }

  private async runTraced(span: Span): Promise<CompletionResult> {
    const startedAtMs = Date.now();
    const report = this.deps.reporter.open(this.ref, {
      onSuperseded: () => this.superseded(),
      trace: injectToCarrier(),
    });
    const events = new AttemptEventLog((e) => report.event(e));
    const timeoutMs = timeoutOrNone(this.assignment.spec?.timeoutMs ?? 0);
    const jobTimer =
      timeoutMs > 0 ? setTimeout(() => this.stop({ outcome: 'timed_out', reason: 'timeout' }), timeoutMs) : undefined;
    let end: AttemptEnd;
    try {
      end = await this.execute(events, report);
    } catch (err) {
      this.log.error({ err }, 'attempt failed inside the agent');
      end = { outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'agent_error' };
    } finally {
      clearTimeout(jobTimer);
    }
    await this.cleanup();
    this.deps.metrics?.attemptsFinished.inc({ outcome: markAttempt(span, end) });
    this.log.info({ outcome: end.outcome, exitCode: end.exitCode, reason: end.reason }, 'attempt finished');
    return report.complete({ ...end, startedAtMs, endedAtMs: Date.now(), lastSeq: events.lastSeq });
  }

  private async execute(events: AttemptEventLog, report: AttemptReporter): Promise<AttemptEnd> {
    const spec = this.assignment.spec;
    const refused = this.checkSignature(events);
    if (refused) return refused;
    if (!SAFE_ID_RE.test(this.ref.jobId) || !Number.isInteger(this.ref.attempt) || this.ref.attempt < 0) {
      return { outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'invalid_assignment' };
    }
    if (!spec || spec.steps.length === 0) return { outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'invalid_spec' };
    const lease = this.deps.jobUsers.acquire();
    try {
      return await this.executeAs(lease.user, spec, events, report);
    } finally {
      lease.release();
    }
  }

  private async executeAs(
    user: JobUser | undefined,
    spec: pb.JobSpec__Output,
    events: AttemptEventLog,
    report: AttemptReporter,
  ): Promise<AttemptEnd> {
    const ws = await Workspace.create(this.deps.workRoot, `${this.ref.jobId}-${this.ref.attempt}`, user);
    this.workspace = ws;
    const artifactsDir = spec.uses.length > 0 ? ws.artifacts : undefined;
    if (artifactsDir !== undefined) {
      const failed = await this.fetchArtifacts(spec.uses, artifactsDir, events, user);
      if (failed) return failed;
    }
    const secrets = this.assignment.secrets ?? {};
    return runStepSequence({
      steps: spec.steps,
      cwd: ws.work,
      env: buildStepEnv(
        this.deps.childEnv,
        spec.env,
        {
          jobId: this.ref.jobId,
          attempt: this.ref.attempt,
          artifactsDir,
          identity: { userName: user?.name ?? os.userInfo().username, home: ws.work, tmpDir: ws.tmp },
        },
        secrets,
      ),
      masks: new PatternIndex(buildMaskPatterns(secrets)),
      user,
      killGraceMs: this.deps.killGraceMs,
      registryDir: stepRegistryDir(this.deps.dataDir),
      signal: this.stopper.signal,
      events,
      report,
      logger: this.log,
      metrics: this.deps.metrics,
    });
  }

  /**
   * With verify keys, before anything else (no directory, no download, no step): the job must carry a
   * valid signature by one of them, else the attempt ends `failed` with reason `signature_invalid`.
   */
  private checkSignature(events: AttemptEventLog): AttemptEnd | undefined {
    const keys = this.deps.verifyKeys;
    if (!keys) return undefined;
    const spec = this.assignment.spec;
    if (spec && runsNothing(spec)) return undefined;
    const verdict = spec
      ? verifyJobSignature({ ...spec, secrets: this.assignment.secrets ?? {} }, keys, Date.now())
      : ({ ok: false, cause: 'missing', message: 'the lease carries no job' } as const);
    if (verdict.ok) return undefined;
    this.deps.metrics?.jobsRefused.inc({ reason: 'signature_invalid', cause: verdict.cause });
    // the job's own fields (env above all) stay out of the log: only what identifies the signature
    this.log.warn(
      { cause: verdict.cause, keyId: spec?.signature?.keyId || undefined },
      `refused the job: ${verdict.message}`,
    );
    events.log(0, 'stderr', Buffer.from(`jr-agent: refused to run this job (signature_invalid): ${verdict.message}\n`));
    return { outcome: 'OUTCOME_FAILED', exitCode: -1, reason: 'signature_invalid' };
  }

  private async fetchArtifacts(
    uses: pb.Artifact__Output[],
    dir: string,
    events: AttemptEventLog,
    user: JobUser | undefined,
  ): Promise<AttemptEnd | undefined> {
    try {
      await this.deps.artifacts.materialize(uses, dir, this.stopper.signal, user);
      return undefined;
    } catch (err) {
      if (this.stopper.signal.aborted) return stopEnd(this.stopper.signal);
      const reason = err instanceof DownloadError ? err.reason : 'download_failed';
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ reason, message }, 'artifact download failed');
      events.log(0, 'stderr', Buffer.from(`jr-agent: ${message}\n`));
      return { outcome: 'OUTCOME_FAILED', exitCode: -1, reason };
    }
  }

  private async cleanup(): Promise<void> {
    const ws = this.workspace;
    if (!ws) return;
    await ws.remove().catch((err: unknown) => this.log.warn({ err, dir: ws.dir }, 'cannot remove a workspace'));
  }
}

/**
 * A job of built-in steps only, with nothing to download and nothing secret (what canaries are): it runs
 * no code of anyone's, so there is nothing for a signature to vouch for. Everything else needs one.
 */
function runsNothing(spec: pb.JobSpec__Output): boolean {
  return (
    spec.steps.length > 0 &&
    spec.steps.every((s) => s.run === 'builtin') &&
    spec.uses.length === 0 &&
    Object.keys(spec.env).length === 0
  );
}
