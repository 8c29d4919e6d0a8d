import type { Journal } from '@jr/journal';
import { Backoff, sleep } from '@jr/resilience';
import type { Logger } from '../common/logger';
import { isBadData, isDependencyDown } from '../database/db-errors';
import { CheckpointTracker } from './checkpoint-tracker';
import { quarantineRecord } from './quarantine';

/** One unapplied journal record. */
export interface RelayEntry<R> {
  lsn: number;
  record: R;
}

/** How one record of a batch fared in the relay's apply step. */
export type ApplyOutcome =
  | { kind: 'applied' }
  | { kind: 'failed'; err: unknown }
  /** Not tried in this pass (it waits for an earlier record it depends on). */
  | { kind: 'waiting' };

export const APPLIED: ApplyOutcome = { kind: 'applied' };
export const WAITING: ApplyOutcome = { kind: 'waiting' };

/** Where a relay keeps its unapplied records, in journal order (intake also answers reads from it). */
export interface RelayBacklog<R> {
  readonly size: number;
  add(lsn: number, record: R): void;
  /** The oldest `max` entries, left in place until `settle`. */
  oldest(max: number): Array<RelayEntry<R>>;
  /** Applied or quarantined: drop them. */
  settle(entries: Array<RelayEntry<R>>): void;
}

/** What a relay supplies: its journal, its record format, its backlog and its apply step. */
export interface RelaySpec<R> {
  name: 'intake' | 'results';
  journal: Journal;
  dataDir: string;
  log: Logger;
  backlog: RelayBacklog<R>;
  batch: number;
  decode(data: Buffer): R;
  encode(record: R): Buffer;
  /** Applies a batch (journal order) to the system of record; one outcome per entry, in the same order. */
  apply(batch: Array<RelayEntry<R>>): Promise<ApplyOutcome[]>;
  /** Log fields naming a record (its job id). */
  describe(record: R): Record<string, unknown>;
  /** Metrics hook: records found after the checkpoint at start-up (replayed). */
  onReplayed?(records: number): void;
}

/** A record failing for reasons that are neither bad data nor an outage is retried this often, then quarantined. */
export const POISON_TRIES = 3;
const IDLE_RECHECK_MS = 1_000;
/** How long a clean stop lets each relay apply what is pending (main.ts forces the exit at 20 s). */
export const STOP_DRAIN_MS = 8_000;

/**
 * THE relay loop both journals share: read unapplied records in journal order, apply them in batches,
 * checkpoint the applied prefix, back off while a dependency is down (records wait, in order), and
 * quarantine a record Postgres refuses as bad data at once, so it never holds up the records behind
 * it. At start-up everything after the checkpoint is replayed before the API is ready.
 */
export class RelayLoop<R> {
  readonly checkpoints: CheckpointTracker;
  private readonly stop = new AbortController();
  private readonly tries = new Map<number, number>();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(private readonly spec: RelaySpec<R>) {
    this.checkpoints = new CheckpointTracker(spec.journal, spec.log);
  }

  /** Loads the backlog from the journal, applies all of it (retrying until it is), then relays in the background. */
  async start(): Promise<void> {
    const loaded = await this.load();
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000 });
    while (this.spec.backlog.size > 0 && !this.stop.signal.aborted) {
      await this.pass().catch(async (err: unknown) => {
        const delay = backoff.next();
        this.spec.log.warn(
          { err: String(err), retryInMs: delay },
          `${this.spec.name} replay failed; retrying before ready`,
        );
        await sleep(delay, this.stop.signal).catch(() => undefined);
      });
    }
    await this.checkpoints.flush();
    this.spec.onReplayed?.(loaded);
    if (loaded > 0)
      this.spec.log.info(
        { records: loaded, checkpointLsn: this.spec.journal.checkpointLsn },
        `${this.spec.name} journal replayed`,
      );
    this.loop = this.run();
  }

  /**
   * Stops the loop. With `drainMs`, then applies what is still pending (records acknowledged until the
   * intake stopped too), for at most that long and only while passes succeed: the first failed pass (a
   * dependency down) ends it. A clean stop with Postgres answering so leaves nothing acknowledged on this
   * disk alone, and another site or replica can take over without this volume.
   */
  async close(drainMs = 0): Promise<void> {
    this.stop.abort();
    this.wakeUp?.();
    const started = this.loop !== undefined;
    await this.loop;
    if (started) await this.drain(drainMs);
    await this.checkpoints.flush();
  }

  private async drain(drainMs: number): Promise<void> {
    const deadline = Date.now() + drainMs;
    let failed = false;
    while (this.spec.backlog.size > 0 && Date.now() < deadline && !failed)
      await this.pass().catch(() => (failed = true));
    if (drainMs > 0 && this.spec.backlog.size > 0)
      this.spec.log.warn(
        { records: this.spec.backlog.size },
        `${this.spec.name} relay: stopping with records not applied yet; the journal keeps them for the next start`,
      );
  }

  /** A record is durable: queue it and wake the loop. */
  accepted(lsn: number, record: R): void {
    this.spec.backlog.add(lsn, record);
    this.wake();
  }

  /** Something was added to the backlog directly. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Everything after the checkpoint goes into the backlog (acknowledged, not yet applied). */
  private async load(): Promise<number> {
    let count = 0;
    for await (const rec of this.spec.journal.readFrom(this.spec.journal.checkpointLsn)) {
      try {
        this.spec.backlog.add(rec.lsn, this.spec.decode(rec.data));
        count++;
      } catch (err) {
        const file = await quarantineRecord(this.spec.dataDir, this.spec.name, rec.lsn, rec.data);
        this.spec.log.error(
          { lsn: rec.lsn, err: String(err), file },
          `undecodable ${this.spec.name} record quarantined`,
        );
        this.checkpoints.mark([rec.lsn]);
      }
    }
    return count;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 2_000 });
    while (!this.stop.signal.aborted) {
      if (this.spec.backlog.size === 0) {
        await this.idle();
        continue;
      }
      try {
        await this.pass();
        backoff.reset();
      } catch (err) {
        const delay = backoff.next();
        this.spec.log.warn(
          { err: String(err), backlog: this.spec.backlog.size, retryInMs: delay },
          `${this.spec.name} relay: applying failed; retrying`,
        );
        await sleep(delay, this.stop.signal).catch(() => undefined);
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_RECHECK_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    }).finally(() => (this.wakeUp = undefined));
  }

  /** One batch. Throws (the caller backs off) when a record must be tried again later. */
  private async pass(): Promise<void> {
    const batch = this.spec.backlog.oldest(this.spec.batch);
    const outcomes = await this.spec
      .apply(batch)
      .catch((err: unknown) => batch.map((): ApplyOutcome => ({ kind: 'failed', err })));
    const applied: Array<RelayEntry<R>> = [];
    let retryLater: Error | undefined;
    let progress = false;
    for (const [i, entry] of batch.entries()) {
      const o = outcomes[i] ?? WAITING;
      if (o.kind === 'applied') applied.push(entry);
      if (o.kind !== 'failed') continue;
      if (await this.failed(entry, o.err)) progress = true;
      else
        retryLater ??= o.err instanceof Error ? o.err : new Error(`${this.spec.name} relay: ${JSON.stringify(o.err)}`);
    }
    this.settle(applied);
    if (retryLater !== undefined) throw retryLater;
    if (applied.length === 0 && !progress)
      throw new Error(`${this.spec.name} relay: no record of the batch could be applied`);
  }

  /**
   * A record's apply failed: a dependency outage keeps it (in order, tried again after a back-off); bad
   * data is quarantined at once; anything else is tried POISON_TRIES times first. True when quarantined.
   */
  private async failed(entry: RelayEntry<R>, err: unknown): Promise<boolean> {
    if (isDependencyDown(err)) return false;
    const tries = (this.tries.get(entry.lsn) ?? 0) + 1;
    if (!isBadData(err) && tries < POISON_TRIES) {
      this.tries.set(entry.lsn, tries);
      return false;
    }
    const file = await quarantineRecord(this.spec.dataDir, this.spec.name, entry.lsn, this.spec.encode(entry.record));
    this.spec.log.error(
      { lsn: entry.lsn, ...this.spec.describe(entry.record), err: String(err), tries, file },
      `${this.spec.name} record refused by Postgres; quarantined`,
    );
    this.settle([entry]);
    return true;
  }

  private settle(entries: Array<RelayEntry<R>>): void {
    if (entries.length === 0) return;
    for (const e of entries) this.tries.delete(e.lsn);
    this.spec.backlog.settle(entries);
    this.checkpoints.mark(entries.map((e) => e.lsn));
  }
}

/**
 * Applies `batch` with `applyAll` (all or nothing); when that fails for any reason but an outage,
 * bisects at once to find the record(s) at fault, so the others are applied in the same pass.
 */
export async function applyBisecting<E>(
  batch: E[],
  applyAll: (entries: E[]) => Promise<void>,
): Promise<ApplyOutcome[]> {
  if (batch.length === 0) return [];
  try {
    await applyAll(batch);
    return batch.map(() => APPLIED);
  } catch (err) {
    if (batch.length === 1 || isDependencyDown(err)) return batch.map((): ApplyOutcome => ({ kind: 'failed', err }));
    const mid = Math.ceil(batch.length / 2);
    const left = await applyBisecting(batch.slice(0, mid), applyAll);
    const down = left.find((o) => o.kind === 'failed' && isDependencyDown(o.err));
    if (down) return [...left, ...batch.slice(mid).map(() => WAITING)];
    return [...left, ...(await applyBisecting(batch.slice(mid), applyAll))];
  }
}
