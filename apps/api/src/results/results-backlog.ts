import type { JobState } from '@jr/contracts';
import type { AttemptRegistry } from '../common/attempt-registry';
import type { RelayBacklog, RelayEntry } from '../journal/relay-loop';
import type { ResultRecord } from './results-record';

type Entry = RelayEntry<ResultRecord>;

/** The results relay's unapplied records, in journal order; registers each with the attempt registry (fencing, the reaper). */
export class ResultsBacklog implements RelayBacklog<ResultRecord> {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly registry: AttemptRegistry) {}

  get size(): number {
    return this.entries.size;
  }

  /** `jobState`: what a completion leads to, for answering a repeat of it before it is applied. */
  add(lsn: number, record: ResultRecord, jobState?: JobState): void {
    this.entries.set(lsn, { lsn, record });
    const end =
      record.type === 'complete'
        ? record.late
          ? 'superseded'
          : record.outcome.end
        : record.late
          ? 'superseded'
          : undefined;
    const maxSeq = record.type === 'report' ? record.events.reduce((m, e) => Math.max(m, e.seq), 0) : 0;
    this.registry.journaled(record.jobId, record.attempt, { end, maxSeq, jobState });
  }

  oldest(max: number): Entry[] {
    const out: Entry[] = [];
    for (const e of this.entries.values()) {
      if (out.length >= max) break;
      out.push(e);
    }
    return out;
  }

  settle(entries: Entry[]): void {
    for (const e of entries) {
      if (this.entries.delete(e.lsn)) this.registry.applied(e.record.jobId, e.record.attempt);
    }
  }
}
