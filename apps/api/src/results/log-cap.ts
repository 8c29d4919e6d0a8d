import type { ReportEvent } from '../jobs/attempt-writes';
import { incompleteUtf8Tail } from '../jobs/log-text';

/** What a job has stored of output so far, over all its attempts (jobs.log_bytes, jobs.log_truncated). */
export interface LogUsage {
  bytes: number;
  truncated: boolean;
}

export interface CappedEvents {
  /** What to store: every step event; log chunks up to the cap, the one that crosses it cut and ending in the marker line. */
  events: ReportEvent[];
  /** Output bytes stored by these events (the marker not counted). */
  addedBytes: number;
  /** These events reached the cap (the marker is among them). */
  truncatedNow: boolean;
}

export function truncationMarker(maxBytes: number): string {
  return `--- output truncated: the job's log reached JR_MAX_LOG_BYTES (${maxBytes} bytes) ---\n`;
}

/**
 * Applies JR_MAX_LOG_BYTES to a report's events that are not stored yet (a replayed record's stored
 * events are neither counted again nor changed), in seq order. Output past the cap is dropped, never
 * refused: an agent told "no" would retry forever. `endsWithNewline`: whether the stored log ends with
 * a newline, so the marker starts a line of its own.
 */
export function capLogEvents(
  fresh: readonly ReportEvent[],
  usage: LogUsage,
  maxBytes: number,
  endsWithNewline: boolean,
): CappedEvents {
  const seen = new Set<number>();
  const events: ReportEvent[] = [];
  let bytes = usage.bytes;
  let truncated = usage.truncated;
  let lineStart = endsWithNewline;
  let truncatedNow = false;
  for (const e of [...fresh].sort((a, b) => a.seq - b.seq)) {
    if (seen.has(e.seq)) continue; // the first of a repeated seq is the one stored
    seen.add(e.seq);
    if (e.kind !== 'log' || !e.data) {
      events.push(e);
      continue;
    }
    if (truncated) continue;
    if (bytes + e.data.length <= maxBytes) {
      events.push(e);
      bytes += e.data.length;
      if (e.data.length > 0) lineStart = e.data[e.data.length - 1] === 0x0a;
      continue;
    }
    const room = e.data.subarray(0, maxBytes - bytes);
    const kept = room.subarray(0, room.length - incompleteUtf8Tail(room)); // never half a character
    if (kept.length > 0) lineStart = kept[kept.length - 1] === 0x0a;
    const marker = Buffer.from(`${lineStart ? '' : '\n'}${truncationMarker(maxBytes)}`, 'utf8');
    events.push({ ...e, data: Buffer.concat([kept, marker]) });
    bytes += kept.length;
    truncated = true;
    truncatedNow = true;
  }
  return { events, addedBytes: bytes - usage.bytes, truncatedNow };
}

/** Output bytes among `events`: enough to tell whether a cap can be reached by them. */
export function logBytes(events: readonly ReportEvent[]): number {
  return events.reduce((n, e) => n + (e.kind === 'log' && e.data ? e.data.length : 0), 0);
}
