import { labelsSatisfy } from '@jr/contracts';
import { OrderedSet } from './ordered-set';

/** A pending Lease call: an agent waiting for a job it may run. */
export interface Waiter<T> {
  readonly agentId: string;
  readonly labels: Record<string, string>;
  /** When the Lease call arrived (ms): proof the agent could reach us then. */
  readonly arrivedAtMs: number;
  /** waiting: in the queue; matched: a job processor holds it; done: answered. */
  status: 'waiting' | 'matched' | 'done';
  /** Its call ended (deadline, client cancel): a processor holding it must not grant to it. */
  abandoned: boolean;
  readonly answer: Promise<T | null>;
  settle(value: T | null): void;
}

interface Parked<T> {
  labels: Record<string, string>;
  take(waiter: Waiter<T>): void;
}

interface PoolState<T> {
  readonly waiters: OrderedSet<Waiter<T>>;
  readonly parked: OrderedSet<Parked<T>>;
}

/**
 * Matches pending Lease calls (waiters) with jobs the pool's BullMQ processor holds (parked jobs),
 * FIFO on both sides, by labels. Pure and synchronous: every wake-up happens the moment the other
 * side arrives, never on a polling interval.
 */
export class LeaseMatcher<T> {
  private readonly pools = new Map<string, PoolState<T>>();

  /**
   * @param unreachable a queued waiter whose agent has gone silent (see AgentLiveness): it is answered
   *   empty and dropped instead of being handed a job (a live agent simply calls again).
   */
  /**
   * @param changed called (synchronously) after the pool's queued waiters or parked jobs changed: the
   *   dispatch worker fetches jobs only while there are waiters here to take them (no hoarding).
   */
  constructor(
    private readonly unreachable: (waiter: Waiter<T>) => boolean = () => false,
    private readonly now: () => number = Date.now,
    private readonly changed: (pool: string) => void = () => undefined,
  ) {}

  /** Queues a waiter for `pool`, or hands it at once to the oldest parked job its labels satisfy. */
  addWaiter(pool: string, agentId: string, labels: Record<string, string>): Waiter<T> {
    const waiter = createWaiter<T>(agentId, labels, this.now());
    this.offer(pool, waiter, 'back');
    return waiter;
  }

  /**
   * Removes a waiter that is still queued and answers it `null`. Returns false when a processor holds
   * it (it will be answered by that processor) or it is already answered; marks it abandoned then.
   */
  withdraw(pool: string, waiter: Waiter<T>): boolean {
    if (waiter.status !== 'waiting') {
      waiter.abandoned = true;
      return false;
    }
    const state = this.pools.get(pool);
    state?.waiters.delete(waiter);
    waiter.settle(null);
    this.changed(pool);
    return true;
  }

  /** A processor could not use the waiter (the job went away): give it back its place at the front. */
  putBack(pool: string, waiter: Waiter<T>): void {
    if (waiter.status === 'done') return;
    if (waiter.abandoned || this.unreachable(waiter)) {
      waiter.settle(null);
      return;
    }
    waiter.status = 'waiting';
    this.offer(pool, waiter, 'front');
  }

  /**
   * Parks a job until a waiter it may run on arrives (resolves with that waiter, now `matched`), or
   * until `signal` aborts (resolves undefined).
   */
  park(pool: string, jobLabels: Record<string, string>, signal: AbortSignal): Promise<Waiter<T> | undefined> {
    const state = this.state(pool);
    const waiter = this.takeReachable(pool, state, jobLabels);
    if (waiter) {
      waiter.status = 'matched';
      this.changed(pool);
      return Promise.resolve(waiter);
    }
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const parked: Parked<T> = {
        labels: jobLabels,
        take: (waiter) => {
          signal.removeEventListener('abort', onAbort);
          resolve(waiter);
        },
      };
      const onAbort = (): void => {
        state.parked.delete(parked);
        this.changed(pool);
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      state.parked.pushBack(parked);
      this.changed(pool);
    });
  }

  /** Waiters of `pool` still queued (none of the parked jobs suits them). */
  waitingCount(pool: string): number {
    return this.pools.get(pool)?.waiters.size ?? 0;
  }

  parkedCount(pool: string): number {
    return this.pools.get(pool)?.parked.size ?? 0;
  }

  /** Answers every queued waiter of an agent (drained or lost) with null. */
  dropAgent(agentId: string): void {
    for (const [pool, state] of this.pools) {
      for (const w of [...state.waiters].filter((x) => x.agentId === agentId)) this.withdraw(pool, w);
    }
  }

  /** Shutdown: every queued waiter gets an empty answer. */
  releaseAll(): void {
    for (const [pool, state] of this.pools) for (const w of [...state.waiters]) this.withdraw(pool, w);
  }

  /** The oldest queued waiter that may run the job and whose agent is still heard from; drops silent ones met on the way. */
  private takeReachable(pool: string, state: PoolState<T>, jobLabels: Record<string, string>): Waiter<T> | undefined {
    const silent: Array<Waiter<T>> = [];
    const waiter = state.waiters.takeFirst((w) => {
      if (!labelsSatisfy(w.labels, jobLabels)) return false;
      if (!this.unreachable(w)) return true;
      silent.push(w);
      return false;
    });
    for (const w of silent) this.withdraw(pool, w);
    return waiter;
  }

  private offer(pool: string, waiter: Waiter<T>, end: 'front' | 'back'): void {
    const state = this.state(pool);
    const parked = state.parked.takeFirst((p) => labelsSatisfy(waiter.labels, p.labels));
    if (parked) {
      waiter.status = 'matched';
      parked.take(waiter);
    } else if (end === 'front') state.waiters.pushFront(waiter);
    else state.waiters.pushBack(waiter);
    this.changed(pool);
  }

  private state(pool: string): PoolState<T> {
    let state = this.pools.get(pool);
    if (!state) {
      state = { waiters: new OrderedSet(), parked: new OrderedSet() };
      this.pools.set(pool, state);
    }
    return state;
  }
}

function createWaiter<T>(agentId: string, labels: Record<string, string>, arrivedAtMs: number): Waiter<T> {
  let resolve!: (value: T | null) => void;
  const answer = new Promise<T | null>((r) => (resolve = r));
  const waiter: Waiter<T> = {
    agentId,
    labels,
    arrivedAtMs,
    status: 'waiting',
    abandoned: false,
    answer,
    settle: (value) => {
      if (waiter.status === 'done') return;
      waiter.status = 'done';
      resolve(value);
    },
  };
  return waiter;
}
