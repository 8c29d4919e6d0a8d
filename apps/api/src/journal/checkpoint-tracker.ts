import type { Journal } from '@jr/journal';
import type { Logger } from '../common/logger';

/**
 * Writing a checkpoint costs two fsyncs and a rename (a file-system journal commit) that compete with
 * the appends' fdatasyncs; checkpointing after every relay batch measurably slowed intake. A checkpoint
 * only bounds the replay after a crash and frees applied segments, so a few per second are plenty.
 */
export const CHECKPOINT_MIN_INTERVAL_MS = 200;

/**
 * Advances a journal's checkpoint over the contiguous prefix of applied LSNs. Records may be applied
 * out of order; only "everything through N is applied" is made durable. Checkpoint writes coalesce:
 * at most one runs at a time, at most one per CHECKPOINT_MIN_INTERVAL_MS, and marks arriving meanwhile
 * are covered by the next one. `flush` writes at once.
 */
export class CheckpointTracker {
  private readonly applied = new Set<number>();
  private running: Promise<void> | null = null;
  private again = false;
  private lastWriteAt = 0;
  private hurry: (() => void) | null = null;

  constructor(
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly minIntervalMs = CHECKPOINT_MIN_INTERVAL_MS,
  ) {}

  mark(lsns: Iterable<number>): void {
    for (const lsn of lsns) if (lsn > this.journal.checkpointLsn) this.applied.add(lsn);
    this.kick();
  }

  /** Resolves once every mark so far is covered by a durable checkpoint (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.running !== null) {
      this.hurry?.();
      await this.running;
    }
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
      await this.spaceOut();
      await this.advance().catch((err: unknown) =>
        this.log.warn({ err: String(err) }, 'journal checkpoint failed; the next one covers it'),
      );
    } while (this.again);
  }

  private async spaceOut(): Promise<void> {
    const wait = this.lastWriteAt + this.minIntervalMs - Date.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.hurry = null;
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.hurry = done;
    });
  }

  private async advance(): Promise<void> {
    let cp = this.journal.checkpointLsn;
    while (this.applied.has(cp + 1)) cp++;
    if (cp <= this.journal.checkpointLsn) return;
    this.lastWriteAt = Date.now();
    await this.journal.checkpoint(cp);
    for (const lsn of this.applied) if (lsn <= cp) this.applied.delete(lsn);
  }
}
