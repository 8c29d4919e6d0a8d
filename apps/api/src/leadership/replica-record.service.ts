import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { jittered, sleep } from '@jr/resilience';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { LOGGER, type Logger } from '../common/logger';
import { LEASE_HEARTBEATS } from '../dispatch/lease-expiry';
import { HeardAgents } from './heard-agents';
import { buildRecord, heldElsewhere, type HeldElsewhere } from './replica-record';
import { ReplicaRecordRepository } from './replica-record.repository';

/** How often each replica writes its record, and how long Redis keeps one that is not written again. */
export const RECORD_INTERVAL_MS = 1_000;
export const RECORD_TTL_MS = 5_000;

/**
 * This replica's record in Redis (replica-record.ts), written every second and at once when a completion
 * is journaled here; and the other replicas' records, which the leader's reaper reads before each pass.
 * Redis unreachable: `heldElsewhere()` answers undefined and the reaper does what it did before replicas
 * (it expires by Postgres alone), which is also what it does for a replica that stopped writing.
 */
@Injectable()
export class ReplicaRecordService implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private graceUntilMs = 0;
  private soon: NodeJS.Timeout | undefined;
  private offEnded: (() => void) | undefined;

  constructor(
    private readonly repo: ReplicaRecordRepository,
    private readonly heard: HeardAgents,
    private readonly registry: AttemptRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.offEnded = this.registry.onEndJournaled(() => this.publishSoon());
    this.loop = this.run();
  }

  beforeApplicationShutdown(): void {
    this.offEnded?.();
    clearTimeout(this.soon);
    this.stop.abort();
  }

  /** The record is left to expire: results journaled here stay held while this replica may still come back. */
  async onApplicationShutdown(): Promise<void> {
    await this.loop;
    this.repo.close();
  }

  /** The reaper's amnesty for this replica's agents runs until then (the injected clock). */
  setGraceUntil(ms: number): void {
    this.graceUntilMs = ms;
  }

  /** An agent silent this long is lost (LEASE_HEARTBEATS intervals): heard more recently, it is alive. */
  private get silenceMs(): number {
    return LEASE_HEARTBEATS * this.config.heartbeatIntervalMs;
  }

  /** What live replicas other than this one hold; undefined while Redis cannot say. */
  async heldElsewhere(): Promise<HeldElsewhere | undefined> {
    try {
      return heldElsewhere(await this.repo.readAll(), this.config.replicaId, this.silenceMs);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'replica records unreadable (Redis): reaping by Postgres alone');
      return undefined;
    }
  }

  /** Writes the record now. */
  async publish(): Promise<void> {
    const record = buildRecord(
      this.config.replicaId,
      this.heard.unstored(Date.now(), this.silenceMs),
      this.registry.pendingKeys(),
      this.graceUntilMs - this.clock.now(),
    );
    await this.repo.write(record, RECORD_TTL_MS);
  }

  private publishSoon(): void {
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      void this.publish().catch(() => undefined);
    }, 10);
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      await this.publish().catch((err: unknown) =>
        this.log.debug({ err: String(err) }, 'replica record not written (Redis unreachable)'),
      );
      await sleep(jittered(RECORD_INTERVAL_MS, 0.2), this.stop.signal).catch(() => undefined);
    }
  }
}
