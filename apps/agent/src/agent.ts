import * as path from 'node:path';
import type { pb } from '@jr/contracts';
import { Backoff, sleep } from '@jr/resilience';
import type { Context } from '@jr/telemetry';
import type { Logger } from 'pino';
import { AgentApiClient } from './api-client/agent-api.client';
import { resolveApiTrust, type ApiTrust } from './api-client/api-trust';
import { ClientCertificates } from './api-client/client-certificates';
import type { AgentConfig } from './config/agent-config';
import { describeAgent, HeartbeatStats, type AgentCounters } from './agent-counters';
import { applyDirectives, type DirectiveTarget } from './agent-directives';
import { AgentObservability } from './agent-observability';
import type { AgentStatusView } from './control/agent-status';
import { ControlServer } from './control/control-server';
import { controlSocketPath, type ControlCommand, type ControlResponse } from './control/control-protocol';
import { isApiCallError, retryDelayMs, stopErrorFor, type AgentStopError } from './errors';
import { createLogger } from './logger';
import { heartbeatLeases, heartbeatOnce, runHeartbeatLoop, type HeartbeatDeps } from './loops/heartbeat-loop';
import { MAX_PARALLEL_LEASES, runLeaseLoop } from './loops/lease-loop';
import { describeEndpoint, failbackDeps, logEndpointSwitch } from './api-client/endpoint-events';
import { runFailbackLoop } from './loops/failback-loop';
import type { EnableSource } from './reporting/reporting-breaker';
import { Reporting } from './reporting/reporting';
import { ArtifactCache } from './runner/artifact-cache';
import { AttemptRun, stepRegistryDir } from './runner/attempt-runner';
import { reapOrphanedSteps } from './runner/step-registry';
import { AttemptSlots } from './runner/attempt-slots';
import { prepareIsolation } from './runner/isolation';
import type { JobUserPool } from './runner/job-users';
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
  /** The external signal that lifts a reporting suspension (SIGUSR2, the control socket). */
  enableReporting(source: EnableSource): Promise<{ wasOpen: boolean }>;
  /** Counters for `jr-agent reporting status`. */
  metrics(): AgentCounters;
  /** What `jr-agent status` prints, health judged. */
  status(): AgentStatusView;
  /** Where JR_METRICS_PORT serves /metrics (undefined when unset). */
  readonly metricsUrl: string | undefined;
}

export interface StartOptions {
  logger?: Logger;
  /** Aborting it while the agent starts (enrolling, first heartbeat) gives up starting. */
  signal?: AbortSignal;
}

/** How long queued reports may take to reach the API at shutdown (graceful, immediate). */
const FLUSH_WAIT_MS = 10_000;
const QUICK_FLUSH_WAIT_MS = 2_000;

/** Starts the agent in this process; resolves once it is enrolled and its first heartbeat was answered. */
export async function startAgent(config: AgentConfig, options: StartOptions = {}): Promise<AgentHandle> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const trust = await resolveApiTrust(config, logger, options.signal);
  const agent = new Agent(config, logger, trust);
  const onAbort = (): void => agent.abortStart();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (options.signal?.aborted) throw new Error('aborted before start');
    await agent.start();
  } catch (err) {
    await agent.dispose();
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return {
    agentId: agent.agentId,
    stop: () => agent.shutdown(false),
    stopNow: () => agent.shutdown(true),
    done: agent.done,
    enableReporting: (source) => agent.enableReporting(source),
    metrics: () => agent.metrics(),
    status: () => agent.status(),
    metricsUrl: agent.metricsUrl,
  };
}

/** Owns the lifecycle: one AbortController for the agent's life, wiring the loops, runner and reporter. */
class Agent {
  /** Aborted when the agent ends: heartbeats stop, retries give up. */
  private readonly lifecycle = new AbortController();
  /** Aborted when leasing stops for good (shutdown, fatal error). */
  private readonly leasing = new AbortController();
  /** Aborted by a drain directive; replaced (and the lease loops started again) when the drain is lifted. */
  private leaseRun = new AbortController();
  private readonly api: AgentApiClient;
  private reporting: Reporting | undefined;
  private control: ControlServer | undefined;
  private readonly beats = new HeartbeatStats();
  private readonly observability: AgentObservability;
  private readonly slots: AttemptSlots;
  private readonly artifacts: ArtifactCache;
  private jobUsers: JobUserPool | undefined;
  private session: CredentialSession | undefined;
  private certificates: ClientCertificates | undefined;
  private heartbeatIntervalMs: number;
  private loops: Array<Promise<void>> = [];
  private stopping: Promise<void> | undefined;
  private cutGrace: (() => void) | undefined;
  private started = false;
  private fatalError: AgentStopError | undefined;
  /** Settled once the outbox and breaker are open (or start-up gave up): control answers wait for it. */
  private markReportingOpen!: () => void;
  private readonly reportingOpen = new Promise<void>((resolve) => (this.markReportingOpen = resolve));
  private resolveDone!: (exit: AgentExit) => void;
  readonly done = new Promise<AgentExit>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly config: AgentConfig,
    private readonly logger: Logger,
    private readonly trust: ApiTrust,
  ) {
    this.observability = new AgentObservability(config);
    this.api = new AgentApiClient(
      config.apiEndpoints,
      {
        failbackAfterMs: config.apiFailbackAfterMs,
        retireAfterMs: config.leaseWaitMs + 60_000,
        onSwitch: (sw) => logEndpointSwitch(sw, this.logger, this.observability.metrics),
      },
      this.observability.metrics,
      trust.credentials,
    );
    this.observability.metrics.apiOnPrimary.set(1);
    for (const kind of ['failover', 'failback']) this.observability.metrics.apiEndpointSwitches.inc({ kind }, 0);
    this.heartbeatIntervalMs = config.heartbeatIntervalMs;
    this.slots = new AttemptSlots(config.slots);
    this.artifacts = new ArtifactCache({
      cacheDir: path.join(config.dataDir, 'cache'),
      urlPolicy: { allowHttp: config.artifactAllowHttp, allowCidrs: config.artifactAllowCidrs },
      onEvict: (sha256, actual) =>
        this.logger.warn({ sha256, actual }, 'a cached artifact no longer matched its sha256; evicted, fetching again'),
    });
    // refusals show as 0 from the start, so an alert on their increase works before the first one
    if (config.verifyKeys)
      this.observability.metrics.jobsRefused.inc({ reason: 'signature_invalid', cause: 'missing' }, 0);
  }

  get agentId(): string {
    return this.session?.agentId ?? '';
  }

  get metricsUrl(): string | undefined {
    return this.observability.url;
  }

  async start(): Promise<void> {
    // Nothing is opened or enrolled before it is clear jobs will not run as root.
    this.jobUsers = await prepareIsolation(this.config, this.logger);
    // The control socket first: it also refuses to start next to a live agent on this data directory,
    // before anything (the outbox journal) is opened that two agents must not share.
    this.control = await ControlServer.start(
      controlSocketPath(this.config.dataDir),
      (c) => this.onControl(c),
      this.logger,
    );
    // Steps of a previous incarnation that died without stopping them would run on beside their re-lease.
    const reaped = await reapOrphanedSteps(stepRegistryDir(this.config.dataDir));
    if (reaped.length > 0)
      this.logger.warn(
        { pgids: reaped },
        `killed ${reaped.length} step process group(s) left running by a previous jr-agent`,
      );
    const metrics = this.observability.metrics;
    this.reporting = await Reporting.open(this.config, {
      transport: this.api,
      logger: this.logger,
      onFatal: (err) => this.fatal(err),
      lifetime: this.lifecycle.signal,
      metrics,
    });
    this.markReportingOpen();
    // Before enrolling: while the API is unreachable the metrics already tell (breaker, outbox, no heartbeat).
    await this.observability.start(
      { running: () => this.slots.size, outbox: () => this.reporting?.outbox.stats() },
      this.logger,
    );
    const store = new CredentialStore(this.config.dataDir);
    const certificates = await ClientCertificates.open(this.config, this.trust, this.api, this.logger);
    this.certificates = certificates;
    this.session = await CredentialSession.establish({
      identity: certificates.identity,
      onCertificate: (cert) => certificates.present(cert),
      api: this.api,
      store,
      config: this.config,
      logger: this.logger,
      signal: this.lifecycle.signal,
      onFatal: (err) => this.fatal(err),
    });
    this.api.useCredentials(this.session);
    await this.firstHeartbeat();
    this.started = true;
    this.logger.info(
      {
        agentId: this.agentId,
        pool: this.config.pool,
        labels: this.config.labels,
        slots: this.config.slots,
        jobVerifyKeys: this.config.verifyKeys ? [...this.config.verifyKeys.keys()] : 'off (unsigned jobs run)',
      },
      'jr-agent ready',
    );
    this.loops = [runHeartbeatLoop(this.heartbeatDeps(), this.lifecycle.signal)];
    if (this.config.apiEndpoints.length > 1)
      this.loops.push(runFailbackLoop(failbackDeps(this.api, this.config), this.lifecycle.signal));
    this.startLeaseLoops(); // they end at once if the first heartbeat said drain
    this.reporting.start();
  }

  /** The lease loops of this run of leasing: they end on a drain (leaseRun) or for good (leasing). */
  private startLeaseLoops(): void {
    const leaseDeps = {
      api: this.api,
      slots: this.slots,
      waitMs: this.config.leaseWaitMs,
      logger: this.logger,
      onAssignment: (a: pb.Assignment__Output, trace: Context | undefined) => this.run(a, trace),
      onFatal: (err: AgentStopError) => this.fatal(err),
    };
    const signal = AbortSignal.any([this.leasing.signal, this.leaseRun.signal]);
    for (let i = 0; i < Math.min(this.config.slots, MAX_PARALLEL_LEASES); i++)
      this.loops.push(runLeaseLoop(leaseDeps, signal));
  }

  private get draining(): boolean {
    return this.leasing.signal.aborted || this.leaseRun.signal.aborted;
  }

  async enableReporting(source: EnableSource): Promise<{ wasOpen: boolean }> {
    if (!this.reporting) return { wasOpen: false };
    const { wasOpen } = await this.reporting.enable(source);
    return { wasOpen };
  }

  metrics(): AgentCounters {
    return {
      heartbeats: { ...this.beats },
      reporting: this.reporting?.status(),
      attempts: {
        slots: this.config.slots,
        running: this.slots.size,
        undelivered: this.reporting?.reporter.undeliveredLeases().length ?? 0,
      },
      draining: this.draining,
    };
  }

  status(): AgentStatusView {
    return describeAgent({
      config: { ...this.config, apiAddress: describeEndpoint(this.api.endpoints) },
      agentId: this.agentId,
      counters: this.metrics(),
      beats: this.beats,
      intervalMs: this.heartbeatIntervalMs,
      metricsUrl: this.metricsUrl,
    });
  }

  private async onControl(command: ControlCommand): Promise<ControlResponse> {
    // The socket listens first (it guards the data directory): a command during start-up is answered
    // once the outbox is open, never with the breaker state missing or "not suspended" for a breaker being read.
    await this.reportingOpen;
    switch (command) {
      case 'agent.status':
        return { ok: true, ...this.status() };
      case 'reporting.enable': {
        const { wasOpen } = await this.enableReporting('control');
        return { ok: true, wasOpen, ...this.metrics() };
      }
      case 'reporting.status':
        return { ok: true, ...this.metrics() };
    }
  }

  abortStart(): void {
    this.lifecycle.abort(new Error('stopped while starting'));
  }

  /** After a failed start: releases what was opened. */
  async dispose(): Promise<void> {
    this.lifecycle.abort(new Error('disposed'));
    this.markReportingOpen();
    await this.control?.close();
    await this.reporting?.close();
    await this.observability.close();
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
    // Every attempt ends with its outcome in the outbox, on disk, before the agent lets go of it.
    await this.waitIdle(this.config.killGraceMs + FLUSH_WAIT_MS, false);
    if (!this.fatalError) await this.reporting?.flush(immediate ? QUICK_FLUSH_WAIT_MS : FLUSH_WAIT_MS);
    this.lifecycle.abort(new Error('stopped'));
    await Promise.allSettled(this.loops);
    await this.control?.close();
    await this.reporting?.close();
    await this.observability.close();
    this.api.close();
    const exit = this.fatalError
      ? { code: this.fatalError.exitCode, reason: this.fatalError.message }
      : { code: 0, reason: 'stopped' };
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
        await heartbeatOnce(this.heartbeatDeps(), this.lifecycle.signal);
        return this.onBeat({ ok: true, lagMs: 0 });
      } catch (err) {
        if (this.fatalError) throw this.fatalError;
        if (this.lifecycle.signal.aborted || !isApiCallError(err)) throw err;
        this.onBeat({ ok: false, lagMs: 0 });
        if (err.action === 'stop') throw stopErrorFor(err);
        this.logger.warn({ code: err.code, details: err.details }, 'first heartbeat failed; retrying');
        await sleep(retryDelayMs(err, backoff.next()), this.lifecycle.signal);
      }
    }
  }

  private heartbeatDeps(): HeartbeatDeps {
    return {
      api: this.api,
      leases: () => heartbeatLeases(this.slots.leases(), this.reporting?.reporter.undeliveredLeases() ?? []),
      state: () => this.state(),
      observe: (beat) => this.onBeat(beat),
      interval: { get: () => this.heartbeatIntervalMs, set: (ms) => (this.heartbeatIntervalMs = ms) },
      onDirectives: (ds) => applyDirectives(ds, this.directiveTarget()),
      onFatal: (err) => this.fatal(err),
      logger: this.logger,
      renewal: this.certificates?.renewal(),
    };
  }

  private directiveTarget(): DirectiveTarget {
    return {
      slots: this.slots,
      reporting: () => this.reporting,
      enableReporting: (source) => this.enableReporting(source),
      metrics: this.observability.metrics,
      logger: this.logger,
      drain: () => {
        if (this.draining) return false;
        this.leaseRun.abort(new Error('draining'));
        return true;
      },
      undrain: () => {
        if (!this.started || this.leasing.signal.aborted || !this.leaseRun.signal.aborted) return false;
        this.leaseRun = new AbortController();
        this.startLeaseLoops();
        return true;
      },
    };
  }

  private onBeat(beat: { ok: boolean; lagMs: number }): void {
    const now = Date.now();
    this.beats.observe(beat, now);
    if (beat.ok) this.observability.metrics.lastHeartbeat.set(now / 1000);
  }

  private state(): pb.AgentState {
    return {
      slots: this.config.slots,
      running: this.slots.size,
      draining: this.draining,
      ...(this.reporting?.agentState() ?? { breakerState: 'closed', outboxDepth: 0, outboxOldestAgeMs: 0 }),
    };
  }

  private run(assignment: pb.Assignment__Output, traceContext: Context | undefined): void {
    if (this.slots.has(`${assignment.jobId}#${assignment.attempt}`)) {
      this.logger.warn(
        { jobId: assignment.jobId, attempt: assignment.attempt },
        'the API assigned an attempt already running here; ignoring the duplicate',
      );
      return;
    }
    if (this.slots.free() === 0)
      this.logger.warn(
        { jobId: assignment.jobId },
        'the API assigned more attempts than free slots; running it anyway',
      );
    const run = new AttemptRun(
      assignment,
      {
        reporter: (this.reporting as Reporting).reporter,
        artifacts: this.artifacts,
        dataDir: this.config.dataDir,
        workRoot: this.config.workDir,
        jobUsers: this.jobUsers as JobUserPool,
        killGraceMs: this.config.killGraceMs,
        childEnv: this.config.childEnv,
        logger: this.logger,
        metrics: this.observability.metrics,
        agentId: this.agentId,
        verifyKeys: this.config.verifyKeys,
      },
      traceContext,
    );
    this.logger.info({ jobId: assignment.jobId, attempt: assignment.attempt }, 'attempt leased');
    void this.slots.start(run).then(
      (result) =>
        this.logger.info(
          { jobId: run.ref.jobId, attempt: run.ref.attempt, ...result },
          'attempt done; its outcome is queued for the API',
        ),
      (err: unknown) => this.logger.error({ err, jobId: run.ref.jobId }, 'attempt crashed'),
    );
  }
}
