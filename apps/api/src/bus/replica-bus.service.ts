import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainEvents, type SharedEvent } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { parseBusMessage, type BusMessage } from './bus-message';
import { ReplicaBusRepository } from './replica-bus.repository';

/** Events raised within this long go out as one message (a job's log events in it, as one). */
const BATCH_MS = 5;
/** The most events one message carries; more go in the next. */
const BATCH_MAX = 500;

/**
 * The replicas' shared events over Redis pub/sub (`<JR_QUEUE_PREFIX>:events`): a cancel, drain or
 * revocation made on one replica answers the Lease calls and unparks the jobs other replicas hold, and
 * log followers on any replica wake as output arrives on another. Best effort: pub/sub keeps nothing,
 * so while Redis is away the followers' and parked jobs' periodic re-checks (and the grant's checks in
 * Postgres) cover what a lost message would have said.
 */
@Injectable()
export class ReplicaBus implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly origin = randomUUID();
  private batch: SharedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private publishFailing = false;

  constructor(
    private readonly events: DomainEvents,
    private readonly channel: ReplicaBusRepository,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.channel
      .open((text) => this.receive(text))
      .catch((err: unknown) => {
        this.log.warn({ err: String(err) }, 'replica bus: subscribing failed; retried when Redis is back');
      });
    this.events.relayTo((event) => this.send(event));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.events.relayTo(undefined);
    clearTimeout(this.timer);
    await this.flush();
    this.channel.close();
  }

  private send(event: SharedEvent): void {
    const last = this.batch.at(-1);
    // a job's log events in a row say one thing: there is more output
    if (event.type === 'job' && event.change.kind === 'log' && sameLog(last, event.change.jobId)) return;
    this.batch.push(event);
    if (this.batch.length >= BATCH_MAX) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), BATCH_MS);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const message: BusMessage = { from: this.origin, events: this.batch };
    this.batch = [];
    try {
      await this.channel.publish(JSON.stringify(message));
      this.publishFailing = false;
    } catch (err) {
      if (!this.publishFailing)
        this.log.warn({ err: String(err) }, 'replica bus: publishing failed; other replicas rely on their re-checks');
      this.publishFailing = true;
    }
  }

  private receive(text: string): void {
    const message = parseBusMessage(text);
    if (!message || message.from === this.origin) return;
    for (const event of message.events) this.events.fromReplica(event);
  }
}

function sameLog(event: SharedEvent | undefined, jobId: string): boolean {
  return event?.type === 'job' && event.change.kind === 'log' && event.change.jobId === jobId;
}
