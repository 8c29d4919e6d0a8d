import type { Journal } from '@jr/journal';
import { isDroppable, mergeGaps, type AttemptBox, type BoxEntry } from './outbox-box';
import { commitGeneration, removeGeneration } from './outbox-generations';
import { encodeRecord, type OutboxRecord } from './outbox-record';

/** What compaction needs of the outbox. */
export interface CompactionHost {
  readonly boxes: Map<string, AttemptBox>;
  nextOrder(): number;
  recount(): void;
}

export interface CompactionPlan {
  root: string;
  fromGen: number;
  toGen: number;
  open(gen: number): Promise<Journal>;
}

/** Why a compaction failed, and the journal to go on with (the old generation, reopened) if any. */
export class CompactionError extends Error {
  override readonly name = 'CompactionError';
  constructor(
    readonly journal: Journal | undefined,
    readonly error: unknown,
  ) {
    super(`outbox compaction failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Drops the oldest log chunks (across attempts, by when they were queued) until what is queued fits
 * in `targetBytes`, replacing each run of dropped chunks by one gap marker. Statuses, completions and
 * existing markers are never dropped. Returns the log bytes dropped.
 */
export function planDrops(host: CompactionHost, targetBytes: number): number {
  let live = 0;
  const candidates: BoxEntry[] = [];
  for (const box of host.boxes.values()) {
    for (const e of box.events) {
      live += e.bytes;
      if (isDroppable(e) && e.event.seq > box.sentThrough) candidates.push(e);
    }
    live += box.completion?.bytes ?? 0;
  }
  let excess = live - targetBytes;
  if (excess <= 0) return 0;
  candidates.sort((a, b) => a.order - b.order);
  const dropped = new Set<BoxEntry>();
  let droppedBytes = 0;
  for (const c of candidates) {
    if (excess <= 0) break;
    dropped.add(c);
    excess -= c.bytes;
    droppedBytes += c.event.log?.data.length ?? 0;
  }
  for (const box of host.boxes.values()) {
    if (!box.events.some((e) => dropped.has(e))) continue;
    const merged = mergeGaps(box.events, dropped, () => host.nextOrder());
    box.events.splice(0, box.events.length, ...merged);
  }
  host.recount();
  return droppedBytes;
}

interface Copy {
  record: OutboxRecord;
  target: { lsn: number | undefined };
}

/** Everything queued, attempt by attempt (events in seq order, then the completion). Synchronous. */
function snapshot(host: CompactionHost): Copy[] {
  const copies: Copy[] = [];
  for (const box of host.boxes.values()) {
    const trace = box.trace;
    for (const e of box.events)
      copies.push({ record: { type: 'event', ref: box.ref, event: e.event, trace }, target: e });
    if (box.completion)
      copies.push({
        record: { type: 'complete', ref: box.ref, completion: box.completion.completion, trace },
        target: box.completion,
      });
  }
  return copies;
}

/**
 * Rewrites what is queued into generation `toGen`, switches to it and deletes `fromGen`. The snapshot
 * is taken synchronously, before the first await (the caller defers writes meanwhile). On failure the
 * new generation is removed and the old one reopened (CompactionError carries it).
 */
export async function compactOutbox(host: CompactionHost, old: Journal, plan: CompactionPlan): Promise<Journal> {
  const copies = snapshot(host);
  await old.close();
  let fresh: Journal | undefined;
  try {
    await removeGeneration(plan.root, plan.toGen);
    const journal = await plan.open(plan.toGen);
    fresh = journal;
    const lsns = await Promise.all(copies.map((c) => journal.append(encodeRecord(c.record))));
    await commitGeneration(plan.root, plan.toGen);
    copies.forEach((c, i) => (c.target.lsn = lsns[i]));
  } catch (err) {
    await fresh?.close().catch(() => undefined);
    await removeGeneration(plan.root, plan.toGen).catch(() => undefined);
    const reopened = await plan.open(plan.fromGen).catch(() => undefined);
    throw new CompactionError(reopened, err);
  }
  // Best effort: the next start removes a leftover generation anyway.
  await removeGeneration(plan.root, plan.fromGen).catch(() => undefined);
  return fresh;
}
