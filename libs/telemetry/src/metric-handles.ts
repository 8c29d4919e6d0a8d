import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CounterDef, GaugeDef, HistogramDef, MetricDef } from './metric-defs';

/** Longest label value kept; longer values are cut (a hostile pool name must not bloat every scrape). */
export const MAX_LABEL_VALUE_LENGTH = 64;
/** Distinct values one label of one metric may take; later values are folded into `OVERFLOW_LABEL_VALUE`. */
export const MAX_LABEL_VALUES = 200;
export const OVERFLOW_LABEL_VALUE = '_other';

export type Labels<L extends string> = Record<L, string>;
/** Call arguments: metrics without labels take none, the others take every label (consistent label sets). */
type LabelArgs<L extends string> = [L] extends [never] ? [] : [labels: Labels<L>];

/**
 * Bounds label values: cut to MAX_LABEL_VALUE_LENGTH, at most MAX_LABEL_VALUES distinct values per label
 * (then `_other`), and zero-initialises the label combinations a definition declares known, so that a
 * counter's first increment shows up in `rate()`/`increase()` instead of appearing from nowhere.
 */
class LabelGuard<L extends string> {
  private readonly seen = new Map<L, Set<string>>();
  private readonly initialised = new Set<string>();

  constructor(
    private readonly def: MetricDef<L>,
    private readonly zero: (labels: Labels<L>) => void,
  ) {}

  apply(labels: Labels<L> | undefined): Labels<L> | undefined {
    if (labels === undefined || this.def.labelNames.length === 0) return undefined;
    const out = {} as Labels<L>;
    for (const name of this.def.labelNames) out[name] = this.bound(name, labels[name]);
    this.initialiseKnown(out);
    return out;
  }

  forget(): void {
    this.seen.clear();
    this.initialised.clear();
  }

  private bound(name: L, raw: unknown): string {
    const text = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : '';
    const value = text.slice(0, MAX_LABEL_VALUE_LENGTH);
    let values = this.seen.get(name);
    if (!values) this.seen.set(name, (values = new Set()));
    if (values.has(value)) return value;
    if (values.size >= MAX_LABEL_VALUES) return OVERFLOW_LABEL_VALUE;
    values.add(value);
    return value;
  }

  private initialiseKnown(labels: Labels<L>): void {
    const known = this.def.knownValues;
    if (!known || Object.keys(known).length === 0) return;
    const free = this.def.labelNames.filter((n) => !(n in known));
    const key = free.map((n) => labels[n]).join('\u0000');
    if (this.initialised.has(key)) return;
    this.initialised.add(key);
    for (const combo of combinations(known as Partial<Record<L, readonly string[]>>))
      this.zero({ ...labels, ...combo });
  }
}

function combinations<L extends string>(known: Partial<Record<L, readonly string[]>>): Array<Partial<Labels<L>>> {
  let out: Array<Partial<Labels<L>>> = [{}];
  for (const [name, values] of Object.entries(known) as Array<[L, readonly string[]]>) {
    out = out.flatMap((partial) => values.map((v) => ({ ...partial, [name]: v })));
  }
  return out;
}

export class CounterHandle<L extends string> {
  private readonly metric: Counter<L>;
  private readonly guard: LabelGuard<L>;

  constructor(def: CounterDef<L>, registry: Registry) {
    this.metric = new Counter({ name: def.name, help: def.help, labelNames: def.labelNames, registers: [registry] });
    this.guard = new LabelGuard(def, (labels) => this.metric.inc(labels, 0));
  }

  /** Adds `value` (default 1; negative or non-finite values are ignored: counters only go up). */
  inc(...args: [...LabelArgs<L>, value?: number]): void {
    const [labels, value] = split<L>(args);
    if (!Number.isFinite(value) || value < 0) return;
    const bounded = this.guard.apply(labels);
    if (bounded) this.metric.inc(bounded, value);
    else this.metric.inc(value);
  }
}

export class GaugeHandle<L extends string> {
  private readonly metric: Gauge<L>;
  private readonly guard: LabelGuard<L>;

  constructor(def: GaugeDef<L>, registry: Registry) {
    this.metric = new Gauge({ name: def.name, help: def.help, labelNames: def.labelNames, registers: [registry] });
    this.guard = new LabelGuard(def, (labels) => this.metric.set(labels, 0));
  }

  set(...args: [...LabelArgs<L>, value: number]): void {
    const [labels, value] = split<L>(args);
    if (Number.isNaN(value)) return;
    const bounded = this.guard.apply(labels);
    if (bounded) this.metric.set(bounded, value);
    else this.metric.set(value);
  }

  /**
   * Replaces every series of this gauge with `rows` (label values + value): series absent from `rows`
   * disappear. For gauges rebuilt at scrape time from a store (agents, pools), so a vanished agent or
   * pool stops being reported instead of keeping its last value forever.
   */
  replaceAll(rows: ReadonlyArray<{ labels: Labels<L>; value: number }>): void {
    this.metric.reset();
    this.guard.forget();
    for (const row of rows) {
      if (Number.isNaN(row.value)) continue;
      const bounded = this.guard.apply(row.labels);
      if (bounded) this.metric.set(bounded, row.value);
    }
  }
}

export class HistogramHandle<L extends string> {
  private readonly metric: Histogram<L>;
  private readonly guard: LabelGuard<L>;

  constructor(def: HistogramDef<L>, registry: Registry) {
    const config = {
      name: def.name,
      help: def.help,
      labelNames: def.labelNames,
      buckets: [...def.buckets],
      registers: [registry],
    };
    this.metric = new Histogram(config);
    this.guard = new LabelGuard(def, (labels) => this.metric.zero(labels));
  }

  /** Records one observation in the metric's base unit (seconds, bytes); negative/non-finite values are dropped. */
  observe(...args: [...LabelArgs<L>, value: number]): void {
    const [labels, value] = split<L>(args);
    if (!Number.isFinite(value) || value < 0) return;
    const bounded = this.guard.apply(labels);
    if (bounded) this.metric.observe(bounded, value);
    else this.metric.observe(value);
  }

  /** Starts a timer on a monotonic clock; call the result (with the labels, once known) to observe seconds. */
  startTimer(): (...labels: LabelArgs<L>) => number {
    const started = process.hrtime.bigint();
    return (...labels: LabelArgs<L>) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.observe(...([...labels, seconds] as unknown as [...LabelArgs<L>, number]));
      return seconds;
    };
  }
}

function split<L extends string>(args: unknown[]): [Labels<L> | undefined, number] {
  const first = args[0];
  if (typeof first === 'object' && first !== null)
    return [first as Labels<L>, typeof args[1] === 'number' ? args[1] : 1];
  return [undefined, typeof first === 'number' ? first : 1];
}
