import type { AttemptBox } from './outbox-box';

interface Mark {
  /** Events up to this seq were queued when reporting was re-enabled. */
  seq: number;
  completion: boolean;
}

/**
 * What the outbox held when reporting was re-enabled, so the events delivered afterwards can be
 * told apart from new ones: jr_agent_outbox_replayed_events_total counts the former (the backlog a
 * suspension built up, whether it was loaded from disk or queued by this process).
 */
export class ReplayMarks {
  private readonly marks = new Map<string, Mark>();

  constructor(private readonly onReplayed: (events: number) => void = () => undefined) {}

  /** Takes the backlog: every attempt's queued events (by seq) and completion, as they are now. */
  mark(boxes: Iterable<AttemptBox>): void {
    this.marks.clear();
    for (const box of boxes) {
      if (box.pending === 0) continue;
      this.marks.set(box.key, { seq: box.lastSeq, completion: box.completion !== undefined });
    }
  }

  /** The API acknowledged these events of the attempt: counts those that were part of the backlog. */
  eventsDelivered(key: string, seqs: readonly number[]): number {
    const mark = this.marks.get(key);
    if (!mark) return 0;
    const n = seqs.filter((seq) => seq <= mark.seq).length;
    this.count(n);
    return n;
  }

  /** The API holds the attempt's completion: counts it if it was part of the backlog. */
  completionDelivered(key: string): number {
    const mark = this.marks.get(key);
    this.marks.delete(key);
    const n = mark?.completion ? 1 : 0;
    this.count(n);
    return n;
  }

  private count(n: number): void {
    if (n > 0) this.onReplayed(n);
  }
}
