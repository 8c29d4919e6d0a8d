import { Inject, Injectable } from '@nestjs/common';
import type { Journal } from '@jr/journal';
import { AttemptRegistry } from '../common/attempt-registry';
import { LOGGER, type Logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { IntakeApplier, intakeRelaySpec } from '../intake/intake-applier';
import type { SubmittedRecord } from '../intake/intake-record';
import { PendingSubmissions } from '../intake/pending-submissions';
import { RelayLoop, type RelayStats } from '../journal/relay-loop';
import { ResultsApplier, resultsRelaySpec } from '../results/results-applier';
import { ResultsBacklog } from '../results/results-backlog';
import type { ResultRecord } from '../results/results-record';
import type { JournalName } from './data-dir-check';

/** A failure streak this long (Postgres unreachable, read-only) ends the replay; the rest stays in the journal. */
export const REPLAY_GIVE_UP_MS = 10_000;

/**
 * Applies one journal of a data directory once, through the very relay the API runs (RelayLoop with
 * the same spec: decode, batches, idempotent apply, fencing, quarantine, checkpoints), and returns what
 * it did. Intake first: a job's results never come before the job.
 */
@Injectable()
export class JournalReplayService {
  constructor(
    private readonly intake: IntakeApplier,
    private readonly results: ResultsApplier,
    private readonly registry: AttemptRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  replay(name: JournalName, journal: Journal): Promise<RelayStats> {
    const common = { journal, dataDir: this.config.dataDir, log: this.log };
    if (name === 'intake')
      return new RelayLoop<SubmittedRecord>(
        intakeRelaySpec({ ...common, backlog: new PendingSubmissions(), applier: this.intake }),
      ).drain({ giveUpAfterMs: REPLAY_GIVE_UP_MS });
    return new RelayLoop<ResultRecord>(
      resultsRelaySpec({ ...common, backlog: new ResultsBacklog(this.registry), applier: this.results }),
    ).drain({ giveUpAfterMs: REPLAY_GIVE_UP_MS });
  }
}
