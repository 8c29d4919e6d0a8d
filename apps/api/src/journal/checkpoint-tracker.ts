import type { Journal } from '@jr/journal';
import type { Logger } from '../common/logger';

/**
 * Advances a journal's checkpoint over the contiguous prefix of applied LSNs. Records may be applied
 * out of order; only "everything through N is applied" is made durable. Checkpoint writes coalesce:
 * at most one runs at a time, and marks arriving meanwhile are covered by the next one.
 */
export class CheckpointTracker {
  private readonly applied = new Set<number>();
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly journal: Journal,
    private readonly log: Logger,
  ) {}

  mark(lsns: Iterable<number>): void {
    for (const lsn of lsns) if (lsn > this.journal.checkpointLsn) this.applied.add(lsn);
    this.kick();
  }

  /** Resolves once every mark so far is covered by a durable checkpoint (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private kick(): void {
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = null));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.advance().catch((err: unknown) => this.log.warn({ err: String(err) }, 'journal checkpoint failed; the next one covers it'));
    } while (this.again);
  }

  private async advance(): Promise<void> {
    let cp = this.journal.checkpointLsn;
    while (this.applied.has(cp + 1)) cp++;
    if (cp <= this.journal.checkpointLsn) return;
    await this.journal.checkpoint(cp);
    for (const lsn of this.applied) if (lsn <= cp) this.applied.delete(lsn);
  }
}
