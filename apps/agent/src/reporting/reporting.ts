import * as path from 'node:path';
import type { pb } from '@jr/contracts';
import type { AgentMetrics } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config';
import type { AgentStopError } from '../errors';
import type { DeliveryCounters, ReportTransport } from './attempt-delivery';
import { Outbox, type OutboxStats } from './outbox';
import { OutboxReporter } from './outbox-reporter';
import { ReportingBreaker, type BreakerSnapshot, type EnableSource } from './reporting-breaker';
import { FileSuspendedFlag } from './suspended-flag';

export interface ReportingDeps {
  transport: ReportTransport;
  logger: Logger;
  onFatal(err: AgentStopError): void;
  /** The agent's lifetime: failures caused by stopping never count towards the breaker. */
  lifetime: AbortSignal;
  metrics?: AgentMetrics;
}

export interface ReportingStatus {
  breaker: BreakerSnapshot;
  outbox: OutboxStats;
  delivery: DeliveryCounters;
}

/**
 * Reporting as the agent sees it: the durable outbox, the reporting breaker (its state persisted in
 * $JR_DATA_DIR) and the delivery loops, opened together at start-up.
 */
export class Reporting {
  private constructor(
    readonly outbox: Outbox,
    readonly breaker: ReportingBreaker,
    readonly reporter: OutboxReporter,
    private readonly logger: Logger,
  ) {}

  static async open(config: AgentConfig, deps: ReportingDeps): Promise<Reporting> {
    const outbox = await Outbox.open({
      dir: path.join(config.dataDir, 'outbox'),
      maxBytes: config.outboxMaxBytes,
      logger: deps.logger,
    });
    try {
      const breaker = await ReportingBreaker.create({
        threshold: config.breakerThreshold,
        minOutageMs: config.breakerMinOutageMs,
        timeoutMs: config.reportTimeoutMs,
        retries: config.reportRetries,
        flag: new FileSuspendedFlag(config.dataDir),
        logger: deps.logger,
        lifetime: deps.lifetime,
        metrics: deps.metrics,
      });
      const reporter = new OutboxReporter({
        outbox,
        breaker,
        transport: deps.transport,
        logger: deps.logger,
        onFatal: (err) => deps.onFatal(err),
        // cockatiel's per-try timeout fires first; the gRPC deadline is the backstop.
        deadlineMs: config.reportTimeoutMs + 1_000,
        metrics: deps.metrics,
      });
      return new Reporting(outbox, breaker, reporter, deps.logger);
    } catch (err) {
      await outbox.close();
      throw err;
    }
  }

  /** Starts delivering what the outbox held at start-up. */
  start(): void {
    this.reporter.resumeAll();
  }

  /** The heartbeat's view (AgentState fields). */
  agentState(): Pick<pb.AgentState, 'breakerState' | 'outboxDepth' | 'outboxOldestAgeMs'> {
    const s = this.outbox.stats();
    return { breakerState: this.breaker.state, outboxDepth: s.depth, outboxOldestAgeMs: s.oldestAgeMs };
  }

  /** Lifts a suspension (directive, control socket, SIGUSR2); delivery resumes in order. */
  async enable(source: EnableSource): Promise<{ wasOpen: boolean; status: ReportingStatus }> {
    const { wasOpen } = await this.breaker.enable(source);
    if (wasOpen) this.reporter.resumeAfterEnable();
    return { wasOpen, status: this.status() };
  }

  status(): ReportingStatus {
    return { breaker: this.breaker.snapshot(), outbox: this.outbox.stats(), delivery: { ...this.reporter.counters } };
  }

  /** Gives delivery up to `ms` to empty the outbox (no wait while the breaker is open). */
  async flush(ms: number): Promise<void> {
    const limit = AbortSignal.timeout(ms);
    await this.reporter.whenDelivered(limit);
    const s = this.outbox.stats();
    if (s.depth > 0)
      this.logger.info(
        { depth: s.depth, breakerState: this.breaker.state },
        'stopping with undelivered reports: they stay in the outbox for the next start',
      );
  }

  /** Stops delivering; the outbox keeps what is queued (consistent on disk). */
  async close(): Promise<void> {
    this.reporter.close();
    await this.breaker.flushed();
    await this.outbox.close();
  }
}
