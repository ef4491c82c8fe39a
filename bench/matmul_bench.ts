/**
 * Matmul throughput (GFLOP/s = 2·M·N·K / time) at the autoencoder's layer
 * shapes and 1024³: latent's tiled kernel (with the adapter's tuned tile),
 * latent's naive one-thread-per-output kernel, and TensorFlow.js 4.22 on its
 * WebGPU backend (same adapter) and its WASM backend.
 *
 * Each shape M×K×N is a dense layer x [M, K] · W [K, N]; its three products
 * have the same FLOP count: the forward A·B, the weight gradient Aᵀ·B
 * (xᵀ · dZ, A read transposed) and the input gradient A·Bᵀ (dZ · Wᵀ, B read
 * transposed).
 *
 * `matmul-tiles` (opt-in: `--filter matmul-tiles`) sweeps tile choices for
 * the adapter, the measurement behind `src/ops/tuning.ts`.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import * as internal from "../src/internal.ts";
import { type MatmulTile, tileName } from "../shaders/matmul.ts";
import {
  type BenchContext,
  type BenchModule,
  numel,
  random,
  type Row,
  type Timing,
} from "./harness.ts";
import { type Tf, useBackend } from "./tfjs.ts";

/** M×K×N of the benchmarked products. */
export const MATMUL_SHAPES: [number, number, number][] = [
  [256, 784, 500],
  [256, 500, 2000],
  [256, 2000, 10],
  [1024, 1024, 1024],
];

/** The three products of a dense layer, as stored operands. */
const VARIANTS = [
  { name: "A·B (forward)", transA: false, transB: false },
  { name: "Aᵀ·B (weight grad)", transA: true, transB: false },
  { name: "A·Bᵀ (input grad)", transA: false, transB: true },
] as const;

type Variant = typeof VARIANTS[number];

/**
 * Stored operand shapes of a variant for the layer M×K×N: forward x·W,
 * weight gradient xᵀ·G (x [M, K], G [M, N]), input gradient G·Wᵀ.
 */
function operands(v: Variant, m: number, k: number, n: number): [number[], number[]] {
  if (v.transA) return [[m, k], [m, n]];
  if (v.transB) return [[m, n], [k, n]];
  return [[m, k], [k, n]];
}

async function timeLatent(
  ctx: BenchContext,
  sa: number[],
  sb: number[],
  options: internal.MatmulRawOptions,
): Promise<Timing> {
  const a = lt.tensor(random(numel(sa)), sa);
  const b = lt.tensor(random(numel(sb)), sb);
  try {
    return await ctx.timeGpu(() => internal.matmulRaw(a, b, options).dispose());
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function timeTf(
  ctx: BenchContext,
  tf: Tf,
  sa: number[],
  sb: number[],
  v: Variant,
): Promise<Timing> {
  const a = tf.tensor(random(numel(sa)), sa);
  const b = tf.tensor(random(numel(sb)), sb);
  try {
    // A repetition queues `batch` products and waits on the last one's data(),
    // as latent's waits on one sync.
    return await ctx.timeBatches(async (batch) => {
      let c: TfType | null = null;
      for (let i = 0; i < batch; i++) {
        c?.dispose();
        c = tf.matMul(a, b, v.transA, v.transB);
      }
      await c!.data();
      c!.dispose();
    });
  } finally {
    a.dispose();
    b.dispose();
  }
}

type TfType = ReturnType<Tf["matMul"]>;

const IMPLS = ["latent", "latent naive", "tfjs webgpu", "tfjs wasm"] as const;

/** The matmul section: one row per shape and product, four implementations. */
export const matmulBench: BenchModule = {
  name: "matmul",
  async run(ctx) {
    const rows: Row[] = [];
    const notes = new Set<string>();
    for (const [m, k, n] of MATMUL_SHAPES) {
      for (const v of VARIANTS) {
        const name = `${m}x${k}x${n} ${v.name}`;
        if (!ctx.wants("matmul", name)) continue;
        const [sa, sb] = operands(v, m, k, n);
        const flop = 2 * m * n * k;
        const row: Row = { section: "matmul", name, unit: "GFLOP/s", values: {}, ms: {} };
        for (const impl of IMPLS) {
          let t: Timing | null = null;
          if (impl === "latent" || impl === "latent naive") {
            t = await timeLatent(ctx, sa, sb, {
              transA: v.transA,
              transB: v.transB,
              naive: impl === "latent naive",
            });
          } else {
            const tf = await useBackend(impl === "tfjs webgpu" ? "webgpu" : "wasm");
            if (typeof tf === "string") notes.add(tf);
            else t = await timeTf(ctx, tf, sa, sb, v);
          }
          row.values[impl] = t ? flop / t.ms / 1e6 : null;
          row.ms[impl] = t ? t.ms : null;
          ctx.log(
            `matmul ${name} ${impl}: ${
              t
                ? `${t.ms.toFixed(2)} ms (${(flop / t.ms / 1e6).toFixed(2)} GFLOP/s, ` +
                  `batch ${t.batch}, ${t.reps} reps)`
                : "skipped"
            }`,
          );
        }
        const ratio = (x: string, y: string) => {
          const a = row.values[x], b = row.values[y];
          return a && b ? a / b : null;
        };
        row.ratios = {
          "latent / tfjs webgpu": ratio("latent", "tfjs webgpu"),
          "latent / tfjs wasm": ratio("latent", "tfjs wasm"),
        };
        if (notes.size) row.note = [...notes].join("; ");
        rows.push(row);
      }
    }
    return rows;
  },
};

/** Tiles the sweep tries on CPU adapters (direct) and GPUs (staged). */
const SWEEP: MatmulTile[] = [
  { tm: 16, tn: 8, wgm: 2, wgn: 8, bk: 4, stage: false },
  { tm: 16, tn: 16, wgm: 2, wgn: 8, bk: 4, stage: false },
  { tm: 8, tn: 16, wgm: 8, wgn: 8, bk: 4, stage: false },
  { tm: 32, tn: 8, wgm: 8, wgn: 8, bk: 4, stage: false },
  { tm: 8, tn: 8, wgm: 4, wgn: 8, bk: 4, stage: false },
  { tm: 16, tn: 8, wgm: 1, wgn: 16, bk: 4, stage: false },
  { tm: 16, tn: 4, wgm: 2, wgn: 4, bk: 4, stage: false },
  { tm: 8, tn: 8, wgm: 8, wgn: 8, bk: 16, stage: true },
  { tm: 8, tn: 8, wgm: 16, wgn: 8, bk: 16, stage: true },
  { tm: 4, tn: 4, wgm: 16, wgn: 16, bk: 16, stage: true },
  { tm: 4, tn: 8, wgm: 16, wgn: 8, bk: 32, stage: true },
];

/** Opt-in tile sweep: GFLOP/s of each tile on the layer shapes' three products. */
export const matmulTilesBench: BenchModule = {
  name: "matmul-tiles",
  optIn: true,
  async run(ctx) {
    const rows: Row[] = [];
    const chosen = (m: number, n: number, k: number, transB: boolean) =>
      tileName(internal.matmulTile(m, n, k, transB));
    for (const [m, k, n] of MATMUL_SHAPES.slice(0, 3)) {
      for (const v of VARIANTS) {
        const name = `${m}x${k}x${n} ${v.name}`;
        if (!ctx.wants("matmul-tiles", name)) continue;
        const [sa, sb] = operands(v, m, k, n);
        const [pm, pn] = v.transA ? [k, n] : v.transB ? [m, k] : [m, n];
        const row: Row = {
          section: "matmul-tiles",
          name,
          unit: "GFLOP/s",
          values: {},
          ms: {},
          note: `tuned choice: ${chosen(pm, pn, v.transA ? m : v.transB ? n : k, v.transB)}`,
        };
        for (const tile of SWEEP) {
          const t = await timeLatent(ctx, sa, sb, { transA: v.transA, transB: v.transB, tile });
          row.values[tileName(tile)] = (2 * m * n * k) / t.ms / 1e6;
          row.ms[tileName(tile)] = t.ms;
          ctx.log(`matmul-tiles ${name} ${tileName(tile)}: ${t.ms.toFixed(2)} ms`);
        }
        rows.push(row);
      }
    }
    return rows;
  },
};
