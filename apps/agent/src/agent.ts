import * as path from 'node:path';
import type { pb } from '@jr/contracts';
import { Backoff, sleep } from '@jr/resilience';
import type { Logger } from 'pino';
import { AgentApiClient } from './api-client/agent-api.client';
import type { AgentConfig } from './config/agent-config';
import { isApiCallError, stopErrorFor, type AgentStopError } from './errors';
import { createLogger } from './logger';
import { heartbeatOnce, runHeartbeatLoop, type HeartbeatDeps } from './loops/heartbeat-loop';
import { MAX_PARALLEL_LEASES, runLeaseLoop } from './loops/lease-loop';
import { MemoryReporter } from './reporting/memory-reporter';
import { ArtifactCache } from './runner/artifact-cache';
import { AttemptRun } from './runner/attempt-runner';
import { AttemptSlots } from './runner/attempt-slots';
import { CredentialSession } from './state/credential-session';
import { CredentialStore } from './state/credential-store';

export interface AgentExit {
  /** 0 after a requested stop; the AgentStopError's code (77, 78) after a fatal error; 1 on a crash. */
  code: number;
  reason: string;
}

export interface AgentHandle {
  readonly agentId: string;
  /** Graceful stop: no new leases, running attempts get JR_SHUTDOWN_GRACE, then are cancelled. */
  stop(): Promise<void>;
  /** Second-signal stop: cancel running attempts at once. */
  stopNow(): Promise<void>;
  /** Resolves when the agent has ended, for whatever reason. */
  readonly done: Promise<AgentExit>;
}

export interface StartOptions {
  logger?: Logger;
  /** Aborting it while the agent starts (enrolling, first heartbeat) gives up starting. */
  signal?: AbortSignal;
}

/** How long completions may take to reach the API once attempts were cancelled at shutdown. */
const FLUSH_WAIT_MS = 10_000;

/** Starts the agent in this process; resolves once it is enrolled and its first heartbeat was answered. */
export async function startAgent(config: AgentConfig, options: StartOptions = {}): Promise<AgentHandle> {
  const agent = new Agent(config, options.logger ?? createLogger(config.logLevel));
  const onAbort = (): void => agent.abortStart();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (options.signal?.aborted) throw new Error('aborted before start');
    await agent.start();
  } catch (err) {
    agent.dispose();
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return { agentId: agent.agentId, stop: () => agent.shutdown(false), stopNow: () => agent.shutdown(true), done: agent.done };
}

/** Owns the lifecycle: one AbortController for the agent's life, wiring the loops, runner and reporter. */
class Agent {
  /** Aborted when the agent ends: heartbeats stop, retries give up. */
  private readonly lifecycle = new AbortController();
  /** Aborted when leasing stops for good (drain directive, shutdown, fatal error). */
  private readonly leasing = new AbortController();
  private readonly api: AgentApiClient;
  private readonly reporter: MemoryReporter;
  private readonly slots: AttemptSlots;
  private readonly artifacts: ArtifactCache;
  private session: CredentialSession | undefined;
  private heartbeatIntervalMs: number;
  private loops: Array<Promise<void>> = [];
  private stopping: Promise<void> | undefined;
  private cutGrace: (() => void) | undefined;
  private started = false;
  private fatalError: AgentStopError | undefined;
  private resolveDone!: (exit: AgentExit) => void;
  readonly done = new Promise<AgentExit>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly config: AgentConfig,
    private readonly logger: Logger,
  ) {
    this.api = new AgentApiClient(config.apiAddress);
    this.heartbeatIntervalMs = config.heartbeatIntervalMs;
    this.slots = new AttemptSlots(config.slots);
    this.artifacts = new ArtifactCache({ cacheDir: path.join(config.dataDir, 'cache') });
    this.reporter = new MemoryReporter({ transport: this.api, logger, onFatal: (err) => this.fatal(err) });
  }

  get agentId(): string {
    return this.session?.agentId ?? '';
  }

  async start(): Promise<void> {
    const store = new CredentialStore(this.config.dataDir);
    this.session = await CredentialSession.establish({
      api: this.api, store, config: this.config, logger: this.logger, signal: this.lifecycle.signal, onFatal: (err) => this.fatal(err),
    });
    this.api.useCredentials(this.session);
    await this.firstHeartbeat();
    this.started = true;
    this.logger.info({ agentId: this.agentId, pool: this.config.pool, labels: this.config.labels, slots: this.config.slots }, 'jr-agent ready');
    const leaseDeps = {
      api: this.api, slots: this.slots, waitMs: this.config.leaseWaitMs, logger: this.logger,
      onAssignment: (a: pb.Assignment__Output) => this.run(a), onFatal: (err: AgentStopError) => this.fatal(err),
    };
    const leaseLoops = Array.from({ length: Math.min(this.config.slots, MAX_PARALLEL_LEASES) }, () => runLeaseLoop(leaseDeps, this.leasing.signal));
    this.loops = [runHeartbeatLoop(this.heartbeatDeps(), this.lifecycle.signal), ...leaseLoops];
  }

  abortStart(): void {
    this.lifecycle.abort(new Error('stopped while starting'));
  }

  dispose(): void {
    this.lifecycle.abort(new Error('disposed'));
    this.reporter.close();
    this.api.close();
  }

  /** Stops once; a second, immediate call cuts the grace period of a graceful stop in progress. */
  shutdown(immediate: boolean): Promise<void> {
    if (immediate) this.cutGrace?.();
    this.stopping ??= this.drainAndStop(immediate);
    return this.stopping;
  }

  /** An unrecoverable condition (see the status table): log it once, stop at once, exit non-zero. */
  private fatal(err: AgentStopError): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.logger.error({ reason: err.reason }, err.message);
    if (this.started) void this.shutdown(true);
    else this.lifecycle.abort(err);
  }

  private async drainAndStop(immediate: boolean): Promise<void> {
    this.leasing.abort(new Error('stopping'));
    this.logger.info({ running: this.slots.size, immediate }, 'stopping: no new leases');
    if (!immediate && this.slots.size > 0) await this.waitIdle(this.config.shutdownGraceMs, true);
    this.slots.stopAll({ outcome: 'cancelled', reason: 'agent_shutdown' });
    await this.waitIdle(this.config.killGraceMs + FLUSH_WAIT_MS, false);
    this.reporter.close();
    this.lifecycle.abort(new Error('stopped'));
    await Promise.allSettled(this.loops);
    this.api.close();
    const exit = this.fatalError ? { code: this.fatalError.exitCode, reason: this.fatalError.message } : { code: 0, reason: 'stopped' };
    this.logger.info(exit, 'jr-agent stopped');
    this.resolveDone(exit);
  }

  /** Waits for every attempt to finish, at most `ms` (and, if `cuttable`, until a second signal). */
  private async waitIdle(ms: number, cuttable: boolean): Promise<void> {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(), ms);
    if (cuttable) this.cutGrace = () => limit.abort();
    await this.slots.whenIdle(limit.signal);
    clearTimeout(timer);
    this.cutGrace = undefined;
  }

  /** Retries transient failures until the API answers; a refused credential re-enrolls once or stops. */
  private async firstHeartbeat(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
    for (;;) {
      try {
        return await heartbeatOnce(this.heartbeatDeps(), this.lifecycle.signal);
      } catch (err) {
        if (this.fatalError) throw this.fatalError;
        if (this.lifecycle.signal.aborted || !isApiCallError(err)) throw err;
        if (err.action === 'stop') throw stopErrorFor(err);
        this.logger.warn({ code: err.code, details: err.details }, 'first heartbeat failed; retrying');
        await sleep(backoff.next(), this.lifecycle.signal);
      }
    }
  }

  private heartbeatDeps(): HeartbeatDeps {
    return {
      api: this.api,
      leases: () => this.slots.leases(),
      state: () => this.state(),
      interval: { get: () => this.heartbeatIntervalMs, set: (ms) => (this.heartbeatIntervalMs = ms) },
      onDirective: (d) => this.apply(d),
      onFatal: (err) => this.fatal(err),
      logger: this.logger,
    };
  }

  private state(): pb.AgentState {
    const stats = this.reporter.stats();
    return {
      slots: this.config.slots, running: this.slots.size, draining: this.leasing.signal.aborted,
      breakerState: 'closed', outboxDepth: stats.pendingEvents, outboxOldestAgeMs: stats.oldestAgeMs,
    };
  }

  private apply(d: pb.Directive__Output): void {
    switch (d.kind) {
      case 'cancel': {
        const c = d.cancel;
        if (!c) return;
        const reason = /^[a-z_]{1,64}$/.test(c.reason) ? c.reason : 'cancelled';
        const known = this.slots.stop(c.jobId, c.attempt, { outcome: 'cancelled', reason });
        this.logger.info({ jobId: c.jobId, attempt: c.attempt, reason, known }, 'cancel directive');
        return;
      }
      case 'drain':
        if (!this.leasing.signal.aborted) this.logger.info('drain directive: no new leases');
        this.leasing.abort(new Error('draining'));
        return;
      case 'enableReporting':
        this.logger.info('enable-reporting directive: reporting is not suspended (no breaker yet)');
        return;
      case undefined:
        this.logger.warn({ directive: d }, 'unknown directive ignored');
        return;
    }
  }

  private run(assignment: pb.Assignment__Output): void {
    if (this.slots.has(`${assignment.jobId}#${assignment.attempt}`)) {
      this.logger.warn({ jobId: assignment.jobId, attempt: assignment.attempt }, 'the API assigned an attempt already running here; ignoring the duplicate');
      return;
    }
    if (this.slots.free() === 0) this.logger.warn({ jobId: assignment.jobId }, 'the API assigned more attempts than free slots; running it anyway');
    const run = new AttemptRun(assignment, {
      reporter: this.reporter, artifacts: this.artifacts, dataDir: this.config.dataDir,
      killGraceMs: this.config.killGraceMs, childEnv: this.config.childEnv, logger: this.logger,
    });
    this.logger.info({ jobId: assignment.jobId, attempt: assignment.attempt }, 'attempt leased');
    void this.slots.start(run).then(
      (result) => this.logger.info({ jobId: run.ref.jobId, attempt: run.ref.attempt, ...result }, 'attempt reported'),
      (err: unknown) => this.logger.error({ err, jobId: run.ref.jobId }, 'attempt crashed'),
    );
  }
}
