/**
 * The shape every benchmark section returns. `bench/run.ts` prints these as one table and writes them
 * as JSON to `bench/results/`. A figure is only meaningful beside its reference measured in the same
 * run (raw BullMQ, a raw worker, the heartbeat interval…): put it in `reference` and the ratio follows.
 */
export interface Figure {
  /** Short, stable key, e.g. `intake.c64.rate`. */
  key: string;
  /** What a reader sees in the table, e.g. `durable POST /v1/jobs, concurrency 64`. */
  label: string;
  value: number;
  /** `ops/s`, `ms`, `s`, `MiB`, `%CPU`, `agents`, `x heartbeat`… */
  unit: string;
  /** The same thing done by the reference, measured in the same run. */
  reference?: { label: string; value: number };
  /** value / reference.value, when a reference exists (computed by `figure()`). */
  ratio?: number;
  note?: string;
  /**
   * A count of what met a target (the largest fleet that held its heartbeat target): 0 is then a
   * result (nothing met it, e.g. on a machine whose cores other work holds), not a broken measurement.
   */
  zeroIsResult?: boolean;
}

export interface SectionResult {
  /** `intake`, `dispatch`, `throughput`, `fleet`, `recovery`, `footprint`. */
  id: string;
  title: string;
  figures: Figure[];
  /** Raw series, per-step numbers and settings, for the JSON file only. */
  details?: Record<string, unknown>;
  /** Set when the section could not run here (a missing binary…): shown, never hidden. */
  skipped?: string;
  /** Set by the runner when the section threw: its error, shown in the table; the run exits non-zero. */
  error?: string;
  /** Set by the runner: the section's wall time, set-up and clean-up included. */
  wallSeconds?: number;
}

export interface BenchContext {
  /** `--quick`: the whole suite in under a minute; figures are produced but small and noisy. */
  quick: boolean;
  /** Progress lines go to stderr through this; the table and JSON are the only stdout. */
  log: (line: string) => void;
  /** Scratch directory for this run (data dirs, logs); removed by the runner. */
  workDir: string;
}

export type BenchSection = (ctx: BenchContext) => Promise<SectionResult>;

/** A figure with its ratio to the reference computed (undefined when either side is 0 or missing). */
export function figure(f: Omit<Figure, 'ratio'>): Figure {
  const ratio =
    f.reference && f.reference.value !== 0 && Number.isFinite(f.value) ? f.value / f.reference.value : undefined;
  return ratio === undefined ? { ...f } : { ...f, ratio };
}
