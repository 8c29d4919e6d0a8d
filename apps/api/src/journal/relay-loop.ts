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

/**
 * How one record of a batch fared in the relay's apply step. `applied` with `noop`: the record is done
 * but changed nothing, `already` (Postgres had it: a replay) or `fenced` (its lease is not the
 * attempt's any more, or its attempt ended otherwise: refused by the same check as the live path).
 */
export type ApplyOutcome =
  | { kind: 'applied'; noop?: 'already' | 'fenced' }
  | { kind: 'failed'; err: unknown }
  /** Not tried in this pass (it waits for an earlier record it depends on). */
  | { kind: 'waiting' };

export const APPLIED: ApplyOutcome = { kind: 'applied' };
export const ALREADY_APPLIED: ApplyOutcome = { kind: 'applied', noop: 'already' };
export const FENCED: ApplyOutcome = { kind: 'applied', noop: 'fenced' };
export const WAITING: ApplyOutcome = { kind: 'waiting' };

/** What a relay did with the records it found after the checkpoint (and those accepted since). */
export interface RelayStats {
  /** Records read from the journal after the checkpoint at start (undecodable ones included). */
  found: number;
  /** Applied and changed Postgres. */
  applied: number;
  /** Applied before (a job id or event already in Postgres): nothing written twice. */
  alreadyApplied: number;
  /** Results refused by the lease fence (nothing written). */
  fenced: number;
  /** Kept in `<dataDir>/quarantine/` instead (undecodable, or refused as bad data). */
  quarantined: number;
}

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
  /** Metrics hook: seconds from a record's durable append (in this process) to its application in Postgres. */
  observeLag?(seconds: number): void;
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
  readonly stats: RelayStats = { found: 0, applied: 0, alreadyApplied: 0, fenced: 0, quarantined: 0 };
  private readonly stop = new AbortController();
  private readonly tries = new Map<number, number>();
  /** When each record accepted by this process became durable (Date.now()), for the lag histogram. */
  private readonly durableAt = new Map<number, number>();
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
    if (started) await this.drainOnStop(drainMs);
    await this.checkpoints.flush();
  }

  private async drainOnStop(drainMs: number): Promise<void> {
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

  /**
   * The one-shot replay of `jr-api journal replay`: applies everything after the checkpoint, then
   * returns. A failure streak (Postgres unreachable, say) longer than `giveUpAfterMs` throws its last
   * error; every record not applied by then stays in the journal, after the durable checkpoint.
   */
  async drain(o: { giveUpAfterMs: number }): Promise<RelayStats> {
    await this.load();
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000 });
    let failingSince: number | undefined;
    try {
      while (this.spec.backlog.size > 0) {
        try {
          await this.pass();
          failingSince = undefined;
          backoff.reset();
        } catch (err) {
          failingSince ??= Date.now();
          if (Date.now() - failingSince >= o.giveUpAfterMs) throw err;
          await sleep(backoff.next());
        }
      }
    } finally {
      await this.checkpoints.flush();
    }
    return { ...this.stats };
  }

  /** A record is durable: queue it and wake the loop. */
  accepted(lsn: number, record: R): void {
    this.durable(lsn);
    this.spec.backlog.add(lsn, record);
    this.wake();
  }

  /** A record appended by this process is durable now (the relay-lag clock starts). */
  durable(lsn: number): void {
    if (this.spec.observeLag) this.durableAt.set(lsn, Date.now());
  }

  /** Something was added to the backlog directly. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Everything after the checkpoint goes into the backlog (acknowledged, not yet applied). */
  private async load(): Promise<number> {
    let count = 0;
    for await (const rec of this.spec.journal.readFrom(this.spec.journal.checkpointLsn)) {
      this.stats.found++;
      try {
        this.spec.backlog.add(rec.lsn, this.spec.decode(rec.data));
        count++;
      } catch (err) {
        this.stats.quarantined++;
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
      if (o.kind === 'applied') {
        applied.push(entry);
        this.count(o);
      }
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
    this.stats.quarantined++;
    this.durableAt.delete(entry.lsn);
    this.settle([entry]);
    return true;
  }

  private count(o: ApplyOutcome & { kind: 'applied' }): void {
    if (o.noop === 'already') this.stats.alreadyApplied++;
    else if (o.noop === 'fenced') this.stats.fenced++;
    else this.stats.applied++;
  }

  private settle(entries: Array<RelayEntry<R>>): void {
    if (entries.length === 0) return;
    const now = Date.now();
    for (const e of entries) {
      this.tries.delete(e.lsn);
      const at = this.durableAt.get(e.lsn);
      if (at === undefined) continue;
      this.durableAt.delete(e.lsn);
      this.spec.observeLag?.((now - at) / 1_000);
    }
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
  applyAll: (entries: E[]) => Promise<ApplyOutcome[] | void>,
): Promise<ApplyOutcome[]> {
  if (batch.length === 0) return [];
  try {
    const outcomes = await applyAll(batch);
    return batch.map((_, i) => outcomes?.[i] ?? APPLIED);
  } catch (err) {
    if (batch.length === 1 || isDependencyDown(err)) return batch.map((): ApplyOutcome => ({ kind: 'failed', err }));
    const mid = Math.ceil(batch.length / 2);
    const left = await applyBisecting(batch.slice(0, mid), applyAll);
    const down = left.find((o) => o.kind === 'failed' && isDependencyDown(o.err));
    if (down) return [...left, ...batch.slice(mid).map(() => WAITING)];
    return [...left, ...(await applyBisecting(batch.slice(mid), applyAll))];
  }
}
