/**
 * Convolution throughput (GFLOP/s) at the convolutional autoencoder's layer
 * shapes (batch 256, 3×3 kernels, `same` padding): latent's implicit-GEMM
 * kernels against TensorFlow.js 4.22 on its WebGPU backend (same adapter).
 *
 * Per shape, four measurements with the same work on both sides:
 * - `forward`: y = relu(conv(x, w) + b) (TF.js: `tf.fused.conv2d`);
 * - `input grad`: dX = conv2dTranspose(dY, w), the input-gradient product
 *   (TF.js: `tf.conv2dTranspose`, its Conv2DBackpropInput);
 * - `fwd + kernel grad`: forward, then dW and dB (x needs no gradient, as
 *   in an autoencoder's first layer; TF.js: `tf.grads` over w and b);
 * - `fwd + all grads`: forward, then dX, dW and dB (one layer's training step).
 *
 * FLOPs counted: 2·N·Ho·Wo·kh·kw·inC·outC per product (forward, dX and dW
 * each); the bias and activation are not counted.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import {
  type BenchContext,
  type BenchModule,
  numel,
  random,
  type Row,
  type Timing,
} from "./harness.ts";
import { type Tf, useBackend } from "./tfjs.ts";

/**
 * [batch, height, width, inC, outC] of the benchmarked layers (3×3, same):
 * the conv autoencoder's input (K = 9), middle and output (N = 1) layers,
 * and a 16→16 layer at 28×28.
 */
export const CONV_SHAPES: [number, number, number, number, number][] = [
  [256, 28, 28, 1, 16],
  [256, 28, 28, 16, 16],
  [256, 14, 14, 16, 16],
  [256, 28, 28, 16, 1],
];

const MEASURES = ["forward", "input grad", "fwd + kernel grad", "fwd + all grads"] as const;
type Measure = typeof MEASURES[number];

/** Products each measurement runs (for the FLOP count). */
const PRODUCTS: Record<Measure, number> = {
  "forward": 1,
  "input grad": 1,
  "fwd + kernel grad": 2,
  "fwd + all grads": 3,
};

async function timeLatent(
  ctx: BenchContext,
  m: Measure,
  xs: number[],
  ws: number[],
): Promise<Timing> {
  const ys = [xs[0], xs[1], xs[2], ws[3]];
  const x = lt.tensor(random(numel(xs)), xs);
  const w = lt.tensor(random(numel(ws)), ws);
  const b = lt.tensor(random(ws[3]), [ws[3]]);
  const dy = lt.tensor(random(numel(ys)), ys);
  const opts = { padding: "same", bias: b, activation: "relu" } as const;
  const params = [x, w, b];
  const clear = () => {
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
  };
  let run: () => void;
  if (m === "forward") run = () => lt.conv2d(x, w, opts).dispose();
  else if (m === "input grad") {
    run = () => lt.conv2dTranspose(dy, w, { padding: "same" }).dispose();
  } else {
    x.requiresGrad = m === "fwd + all grads";
    w.requiresGrad = b.requiresGrad = true;
    run = () => {
      lt.tidy(() => lt.backward(lt.conv2d(x, w, opts), dy));
      clear();
    };
  }
  try {
    return await ctx.timeGpu(run);
  } finally {
    clear();
    for (const t of [x, w, b, dy]) t.dispose();
  }
}

async function timeTf(
  ctx: BenchContext,
  tf: Tf,
  m: Measure,
  xs: number[],
  ws: number[],
): Promise<Timing> {
  const ys = [xs[0], xs[1], xs[2], ws[3]] as [number, number, number, number];
  const x = tf.tensor4d(random(numel(xs)), xs as [number, number, number, number]);
  const w = tf.tensor4d(random(numel(ws)), ws as [number, number, number, number]);
  const b = tf.tensor1d(random(ws[3]));
  const dy = tf.tensor4d(random(numel(ys)), ys);
  const fwd = (xx: typeof x, ww: typeof w, bb: typeof b) =>
    tf.fused.conv2d({ x: xx, filter: ww, strides: 1, pad: "same", bias: bb, activation: "relu" });
  // Each run returns the tensors it made; a repetition waits on the last one's data().
  let run: () => { wait: { data(): Promise<unknown> }; all: { dispose(): void }[] };
  if (m === "forward") {
    run = () => {
      const y = fwd(x, w, b);
      return { wait: y, all: [y] };
    };
  } else if (m === "input grad") {
    run = () => {
      const d = tf.conv2dTranspose(dy, w, xs as [number, number, number, number], 1, "same");
      return { wait: d, all: [d] };
    };
  } else if (m === "fwd + kernel grad") {
    const g = tf.grads((ww, bb) => fwd(x, ww as typeof w, bb as typeof b));
    run = () => {
      const r = g([w, b], dy);
      return { wait: r[0], all: r };
    };
  } else {
    const g = tf.grads((xx, ww, bb) => fwd(xx as typeof x, ww as typeof w, bb as typeof b));
    run = () => {
      const r = g([x, w, b], dy);
      return { wait: r[1], all: r };
    };
  }
  try {
    return await ctx.timeBatches(async (batch) => {
      let last: ReturnType<typeof run> | null = null;
      for (let i = 0; i < batch; i++) {
        last?.all.forEach((t) => t.dispose());
        last = run();
      }
      await last!.wait.data();
      last!.all.forEach((t) => t.dispose());
    });
  } finally {
    for (const t of [x, w, b, dy]) t.dispose();
  }
}

const IMPLS = ["latent", "tfjs webgpu"] as const;

/** The conv2d section: one row per layer shape and measurement. */
export const convBench: BenchModule = {
  name: "conv2d",
  async run(ctx) {
    const rows: Row[] = [];
    const notes = new Set<string>();
    for (const [n, h, wd, ci, co] of CONV_SHAPES) {
      const xs = [n, h, wd, ci], ws = [3, 3, ci, co];
      const flop = 2 * n * h * wd * 9 * ci * co;
      for (const m of MEASURES) {
        const name = `${n}x${h}x${wd} ${ci}→${co} 3x3 ${m}`;
        if (!ctx.wants("conv2d", name)) continue;
        const row: Row = { section: "conv2d", name, unit: "GFLOP/s", values: {}, ms: {} };
        for (const impl of IMPLS) {
          let t: Timing | null = null;
          if (impl === "latent") t = await timeLatent(ctx, m, xs, ws);
          else {
            const tf = await useBackend("webgpu");
            if (typeof tf === "string") notes.add(tf);
            else t = await timeTf(ctx, tf, m, xs, ws);
          }
          const rate = t ? (PRODUCTS[m] * flop) / t.ms / 1e6 : null;
          row.values[impl] = rate;
          row.ms[impl] = t ? t.ms : null;
          ctx.log(
            `conv2d ${name} ${impl}: ${
              t
                ? `${t.ms.toFixed(1)} ms (${rate!.toFixed(2)} GFLOP/s, batch ${t.batch})`
                : "skipped"
            }`,
          );
        }
        const a = row.values["latent"], b = row.values["tfjs webgpu"];
        row.ratios = { "latent / tfjs webgpu": a && b ? a / b : null };
        if (notes.size) row.note = [...notes].join("; ");
        rows.push(row);
      }
    }
    return rows;
  },
};
