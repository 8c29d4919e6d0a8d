/** One metric as the catalog declares it: Prometheus name, help text, type, labels, buckets. */
interface BaseDef<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Values a label is known to take: every combination is initialised to 0 when a new series appears. */
  readonly knownValues?: Readonly<Partial<Record<L, readonly string[]>>>;
}

export interface CounterDef<L extends string> extends BaseDef<L> {
  readonly kind: 'counter';
}
export interface GaugeDef<L extends string> extends BaseDef<L> {
  readonly kind: 'gauge';
}
export interface HistogramDef<L extends string> extends BaseDef<L> {
  readonly kind: 'histogram';
  readonly buckets: readonly number[];
}
export type MetricDef<L extends string = string> = CounterDef<L> | GaugeDef<L> | HistogramDef<L>;

type Extra<L extends string> = { knownValues?: Readonly<Partial<Record<L, readonly string[]>>> };

export function counter<L extends string = never>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  extra: Extra<L> = {},
): CounterDef<L> {
  return { kind: 'counter', name, help, labelNames, ...extra };
}

export function gauge<L extends string = never>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  extra: Extra<L> = {},
): GaugeDef<L> {
  return { kind: 'gauge', name, help, labelNames, ...extra };
}

export function histogram<L extends string = never>(
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: readonly number[],
  extra: Extra<L> = {},
): HistogramDef<L> {
  return { kind: 'histogram', name, help, labelNames, buckets, ...extra };
}

/**
 * Problems with a metric's name against Prometheus conventions (empty when it is fine): `jr_` prefix,
 * snake_case, counters end in `_total`, histograms carry their base unit (`_seconds`/`_bytes`), nothing
 * but counters ends in `_total`, and no reserved label names.
 */
export function namingProblems(def: MetricDef): string[] {
  const problems: string[] = [];
  if (!/^jr_[a-z][a-z0-9_]*[a-z0-9]$/.test(def.name)) problems.push(`${def.name}: must be jr_ + snake_case`);
  if (def.kind === 'counter' && !def.name.endsWith('_total')) problems.push(`${def.name}: counters end in _total`);
  if (def.kind !== 'counter' && def.name.endsWith('_total')) problems.push(`${def.name}: only counters end in _total`);
  if (def.kind === 'histogram' && !/_(seconds|bytes)$/.test(def.name))
    problems.push(`${def.name}: histograms end in their base unit`);
  if (/_(ms|milliseconds|minutes|kb|mb)(_|$)/.test(def.name))
    problems.push(`${def.name}: use base units (seconds, bytes)`);
  for (const label of def.labelNames) {
    if (!/^[a-z][a-z0-9_]*$/.test(label) || label.startsWith('__'))
      problems.push(`${def.name}: bad label name ${label}`);
    if (label === 'le' || label === 'quantile') problems.push(`${def.name}: reserved label ${label}`);
  }
  if (def.kind === 'histogram' && def.buckets.some((b, i) => i > 0 && b <= (def.buckets[i - 1] ?? -Infinity))) {
    problems.push(`${def.name}: buckets must increase`);
  }
  return problems;
}
