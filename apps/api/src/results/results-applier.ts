import { Inject, Injectable } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AttemptRegistry } from '../common/attempt-registry';
import { DomainEvents } from '../common/events';
import { LOGGER, type Logger } from '../common/logger';
import { EnqueueService } from '../dispatch/enqueue.service';
import {
  ALREADY_APPLIED,
  APPLIED,
  FENCED,
  WAITING,
  type ApplyOutcome,
  type RelayBacklog,
  type RelayEntry,
  type RelaySpec,
} from '../journal/relay-loop';
import { decodeResult, encodeResult, type ResultRecord } from './results-record';
import { ResultsRepository, type ApplyEffect } from './results.repository';

type Entry = RelayEntry<ResultRecord>;

/** Records taken per pass; the pass applies different jobs side by side, one job's records in order. */
const BATCH = 256;
const LANES = 8;

/**
 * THE apply step for results records, shared by the live relay (ResultsRelayService) and `jr-api
 * journal replay`: in journal order per job, jobs side by side, each record idempotent (events by seq,
 * completions by attempt state) and fenced in its transaction by the attempt's lease token and agent.
 */
@Injectable()
export class ResultsApplier {
  constructor(
    private readonly repo: ResultsRepository,
    private readonly registry: AttemptRegistry,
    private readonly enqueue: EnqueueService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** One batch: jobs side by side (at most LANES at once), each job's records in journal order; a failure holds up only its job. */
  async pass(batch: Entry[]): Promise<ApplyOutcome[]> {
    const outcomes = new Map<Entry, ApplyOutcome>();
    const lanes = new Map<string, Entry[]>();
    for (const e of batch) {
      const lane = lanes.get(e.record.jobId);
      if (lane) lane.push(e);
      else lanes.set(e.record.jobId, [e]);
    }
    const work = [...lanes.values()];
    const worker = async (): Promise<void> => {
      for (let lane = work.shift(); lane; lane = work.shift()) {
        for (const entry of lane) {
          try {
            outcomes.set(entry, await this.applyOne(entry));
          } catch (err) {
            outcomes.set(entry, { kind: 'failed', err });
            break; // later records of this job wait for this one
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LANES, lanes.size) }, worker));
    return batch.map((e) => outcomes.get(e) ?? WAITING);
  }

  /** Applies one record; throws when it failed (the relay loop decides: retry later, or quarantine). */
  private async applyOne(entry: Entry): Promise<ApplyOutcome> {
    const r = entry.record;
    const effect: ApplyEffect =
      r.type === 'report'
        ? await this.repo.applyReport(r)
        : await this.repo.applyComplete(r, this.config.maxLostAttempts);
    await this.afterApply(r, effect);
    if (effect.ignored) return FENCED;
    return effect.unchanged ? ALREADY_APPLIED : APPLIED;
  }

  private async afterApply(r: ResultRecord, effect: ApplyEffect): Promise<void> {
    if (effect.ignored)
      this.log.warn(
        { jobId: r.jobId, attempt: r.attempt, type: r.type, why: effect.ignored },
        'results record not applied',
      );
    if (effect.attemptState) this.registry.setState(r.jobId, r.attempt, effect.attemptState, effect.jobState);
    if (effect.attemptState === 'superseded')
      this.log.info(
        { jobId: r.jobId, attempt: r.attempt, type: r.type },
        'late result recorded on a superseded attempt',
      );
    if (r.type === 'report' && r.events.some((e) => e.kind === 'log'))
      this.events.jobChanged({ jobId: r.jobId, kind: 'log' });
    if (effect.transition) await this.enqueue.afterTransition(effect.transition);
  }
}

/** The results relay as both the live relay and the replay run it: this journal, this backlog, this apply step. */
export function resultsRelaySpec(o: {
  journal: Journal;
  dataDir: string;
  log: Logger;
  backlog: RelayBacklog<ResultRecord>;
  applier: ResultsApplier;
}): RelaySpec<ResultRecord> {
  return {
    name: 'results',
    journal: o.journal,
    dataDir: o.dataDir,
    log: o.log,
    backlog: o.backlog,
    batch: BATCH,
    decode: decodeResult,
    encode: encodeResult,
    apply: (batch) => o.applier.pass(batch),
    describe: (r) => ({ jobId: r.jobId, attempt: r.attempt, type: r.type }),
  };
}
