/**
 * The benchmark harness: what a bench module gets (a context with timing
 * helpers and the run's options) and returns (rows), and how rows become the
 * Markdown table on stdout and the JSON file under `bench/results/`.
 *
 * Timing is honest about what a GPU run costs: every measurement first runs
 * the work until its pipelines are compiled and its buffers pooled (warm-up),
 * then times repetitions that each record a batch of runs and wait for the
 * GPU to finish (`runtime().sync()`), and reports the median repetition
 * divided by the batch size. Batches are sized from the warm-up so a
 * repetition lasts long enough that the fixed cost of a submit-and-wait
 * (about 15 ms under Deno on lavapipe) stays a small part of it.
 *
 * @module
 */
import { runtime } from "../src/gpu/runtime.ts";

/** One line of the results table: one measurement across implementations. */
export interface Row {
  /** The bench module that produced it, e.g. `matmul`. */
  section: string;
  /** What was measured, e.g. `256x784x500 A·B`. */
  name: string;
  /** Unit of `values` (higher is better), e.g. `GFLOP/s`. */
  unit: string;
  /** The measured rate per implementation (null: could not run). */
  values: Record<string, number | null>;
  /** Median milliseconds per run, per implementation. */
  ms: Record<string, number | null>;
  /** Ratios to show, e.g. `{ "latent / tfjs webgpu": 6.2 }`. */
  ratios?: Record<string, number | null>;
  /** Remarks (why a value is missing, what was timed). */
  note?: string;
}

/** What every bench module receives. */
export interface BenchContext {
  /** `--quick`: fewer and shorter repetitions, for smoke runs. */
  quick: boolean;
  /** True if the case `name` of `section` passes `--filter`. */
  wants(section: string, name: string): boolean;
  /** Writes a progress line to stderr (stdout carries only the table). */
  log(message: string): void;
  /** Times GPU work recorded by `run` (see {@link timeGpu}). */
  timeGpu(run: () => void, options?: TimeOptions): Promise<Timing>;
  /**
   * Times `repetition(batch)`, which runs the work `batch` times and resolves
   * when it has finished (see {@link timeBatches}).
   */
  timeBatches(repetition: (batch: number) => Promise<void>, options?: TimeOptions): Promise<Timing>;
}

/** A bench section. Add one to the list in `bench/main.ts`. */
export interface BenchModule {
  /** Section name; `--filter` matches `section/case`. */
  name: string;
  /** Only runs when `--filter` names it explicitly (long sweeps). */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<Row[]>;
}

/** Repetition settings. */
export interface TimeOptions {
  /** Untimed runs first (at least 1: compiles pipelines). */
  warmup?: number;
  /** Timed repetitions (the median is reported). */
  reps?: number;
  /** Target duration of one repetition in ms; sets the batch size. */
  targetMs?: number;
  /** Largest batch. */
  maxBatch?: number;
}

/** A timing result. */
export interface Timing {
  /** Median ms per run. */
  ms: number;
  /** Fastest repetition, ms per run. */
  minMs: number;
  /** Runs per repetition. */
  batch: number;
  /** Repetitions timed. */
  reps: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times `repetition(batch)`, which runs the work `batch` times and resolves
 * when it has finished: warm-up repetitions of 1 (stopping early once one
 * takes over a second), a batch size from the fastest warm-up, then timed
 * repetitions; reports the median per run.
 */
export async function timeBatches(
  repetition: (batch: number) => Promise<void>,
  quick: boolean,
  o: TimeOptions = {},
): Promise<Timing> {
  const warmup = Math.max(1, o.warmup ?? 2);
  const targetMs = o.targetMs ?? (quick ? 150 : 400);
  const reps = o.reps ?? (quick ? 3 : 7);
  let one = Infinity;
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now();
    await repetition(1);
    const ms = performance.now() - t0;
    one = Math.min(one, ms);
    // One warm-up compiles; a second only matters for runs short enough to be noisy.
    if (ms > 1000) break;
  }
  const batch = Math.max(1, Math.min(o.maxBatch ?? 64, Math.round(targetMs / Math.max(one, 1e-3))));
  // Long runs (seconds each) get fewer repetitions: the median of 3 is enough.
  const n = one * batch > 2000 ? Math.min(reps, 3) : reps;
  const times: number[] = [];
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    await repetition(batch);
    times.push((performance.now() - t0) / batch);
  }
  return { ms: median(times), minMs: Math.min(...times), batch, reps: n };
}

/**
 * Times GPU work: `run` records dispatches (and disposes what it makes); a
 * repetition records `batch` runs and waits with `runtime().sync()`.
 */
export function timeGpu(run: () => void, quick = false, o: TimeOptions = {}): Promise<Timing> {
  return timeBatches(
    async (batch) => {
      for (let i = 0; i < batch; i++) run();
      await runtime().sync();
    },
    quick,
    o,
  );
}

/** `size` uniform values in [-1, 1): benchmark operands (speed does not depend on them). */
export function random(size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A file-name-safe slug of an adapter name, e.g. `llvmpipe-llvm-15-0-6-256-bits`. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "unknown";
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * One Markdown table of all rows: a column per implementation (in order of
 * first appearance) and per ratio.
 */
export function markdownTable(rows: Row[]): string {
  const impls: string[] = [];
  const ratios: string[] = [];
  for (const r of rows) {
    for (const k of Object.keys(r.values)) if (!impls.includes(k)) impls.push(k);
    for (const k of Object.keys(r.ratios ?? {})) if (!ratios.includes(k)) ratios.push(k);
  }
  const head = ["section", "case", "unit", ...impls, ...ratios];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i < 3 ? "---" : "---:")).join(" | ")} |`,
  ];
  for (const r of rows) {
    const cells = [
      r.section,
      r.name,
      r.unit,
      ...impls.map((k) => fmt(r.values[k])),
      ...ratios.map((k) => {
        const v = r.ratios?.[k];
        return v === null || v === undefined ? "–" : `${fmt(v)}×`;
      }),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}
