/**
 * Training throughput (samples/s at batch 256) of the tutorials' models:
 * latent against TensorFlow.js 4.22 (WebGPU backend on the same adapter, and
 * the WASM backend on one thread) and PyTorch on the CPU at 1 and at 2
 * threads, with identical shapes, batch, loss, optimizer and images:
 *
 * - `deep AE`: 784-128-32-128-784 (ReLU inside, sigmoid output), binary
 *   cross-entropy, Adam(1e-3);
 * - `DEC AE`: 784-500-500-2000-10 and its mirror (ReLU inside, linear code
 *   and output), MSE, Adam(1e-3);
 * - `conv AE`: Conv2D 16 3×3 same ReLU → MaxPool 2×2 → Conv2D 16 3×3 same
 *   ReLU → UpSampling 2×2 → Conv2D 1 3×3 same sigmoid, binary
 *   cross-entropy, Adam(1e-3);
 * - `DEC step`: DEC's fine-tuning step — the DEC encoder, the clustering
 *   layer (Student-t soft assignment to 10 centres), KL(P‖Q) against a fixed
 *   target P, SGD(0.01, momentum 0.9); batches walk the samples in order, as
 *   DEC-keras' `train_on_batch` loop does.
 *
 * Every column trains on the first `steps × 256` MNIST training images (u8;
 * synthetic pixels, said in the note, where MNIST does not load).
 *
 * Columns:
 * - `latent`: `model.fit(x, x, { batchSize: 256 })` on a GPU dataset of u8
 *   images (what a user runs: gather and scale on the GPU, shuffle, one loss
 *   readback per epoch). For `DEC step` there is no fit(): DEC.fit's own
 *   step, written out with public ops (gather, encoder, `decLossFused`,
 *   backward, SGD, `throttle`).
 * - `latent step`: the same training step in a bare loop (gather, forward,
 *   loss, backward, update, `throttle`, one `sync` at the end), without
 *   fit()'s loss accumulation and per-epoch readback: the difference is
 *   fit()'s overhead.
 * - `tfjs webgpu`, `tfjs wasm 1 thread`: `tf.LayersModel.fit(x, y, {
 *   batchSize: 256, epochs: 1 })` on an f32 tensor (TF.js reads each epoch's
 *   loss back, so a timed epoch ends with its GPU work done; a weight is read
 *   once more at the end to be sure). The DEC step uses a custom
 *   `tf.layers.Layer` for the clustering layer (DEC-keras' ClusteringLayer)
 *   and the `kullbackLeiblerDivergence` loss, fitted without shuffling. Each
 *   column's model lives on its backend; an epoch switches to it first.
 * - `pytorch 1 thread`, `pytorch 2 threads`: `bench/pytorch_ae.py --serve`
 *   (bench/pytorch.ts), the same models in PyTorch eager fp32 on the CPU,
 *   with both its OpenMP and its BLAS thread pools set to the count and
 *   OpenMP waiting passively (the note gives what it reports); the same
 *   images, shuffled (in order for DEC), one loss readback per epoch. Only
 *   on CPU adapters: against a GPU the peer is PyTorch on CUDA (`python3
 *   bench/pytorch_ae.py`).
 *
 * Timing, per case: for each column in turn a 1-step warm-up epoch
 * (pipeline/shader compilation, buffer pools, optimizer slots, oneDNN
 * primitives) and a second 1-step epoch (latent's sizes the timed epochs:
 * about 1.5 s, 0.6 s with `--quick`; at least one step); then rounds, each
 * timing one epoch of that many steps per column in the columns' order (A B
 * C … A B C …), so load drifts on a shared CPU hit every column alike: 5
 * rounds (3 for epochs over 3 s, and with `--quick`). Each column reports
 * its median epoch, as the harness does. The note gives the dispatches and
 * submits of a 1-step latent epoch. Rows `… peak GPU memory` give latent's
 * buffer-pool footprint while training (`lt.memory().peakBytes`, measured
 * from an emptied pool).
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { loadMnist } from "../src/data/mnist_deno.ts";
import type { BenchContext, BenchModule, Row } from "./harness.ts";
import { type PytorchPeer, startPytorch } from "./pytorch.ts";
import { type Tf, type TfBackend, useBackend } from "./tfjs.ts";

/** The batch size of every training row. */
export const TRAIN_BATCH = 256;

/** A benchmarked model, built the same way for both libraries. */
interface TrainCase {
  name: string;
  /** One sample's shape. */
  shape: number[];
  /** Number of features (product of shape). */
  features: number;
  latent(): LatentTrainer;
  tfjs(tf: Tf): TfTrainer;
}

/** latent's ways to train a case, on one model; `dispose` frees everything. */
interface LatentTrainer {
  /**
   * fit() for one epoch (batch {@link TRAIN_BATCH} unless given; compiled
   * unless `compileStep` is false); null when the case has no fit() (DEC step).
   */
  fit:
    | ((x: lt.data.Dataset, o?: { batchSize?: number; compileStep?: boolean }) => Promise<void>)
    | null;
  /** The bare step loop for one epoch, ending in a sync. */
  steps(x: lt.data.Dataset): Promise<void>;
  /** The step's parts, for the opt-in `train-profile` section. */
  parts: StepParts;
  dispose(): void;
}

/** A training step cut into its parts: layers in order, the loss, the update. */
interface StepParts {
  layers: { name: string; apply(x: lt.Tensor): lt.Tensor }[];
  /** The loss of the last layer's output `pred` for the input batch `xb`. */
  loss(pred: lt.Tensor, xb: lt.Tensor): lt.Tensor;
  optimizer: lt.optim.Optimizer;
  params: lt.Tensor[];
}

type TfLayer = InstanceType<Tf["layers"]["Layer"]>;

interface TfTrainer {
  /** Makes (and uploads) the samples an epoch trains on, from u8 images. */
  prepare(images: Uint8Array): Promise<void>;
  /** One epoch of fit() on the first `n` samples (prepared before). */
  fit(n: number): Promise<void>;
  dispose(): void;
}

// ------------------------------------------------------------------ data

/** Pixels per image of every case (28×28×1). */
const IMAGE = 784;

/**
 * The u8 images every column of the train section trains on: the first `n`
 * MNIST images (training split, then test, then again), or synthetic pixels
 * where MNIST does not load; `source` says which.
 */
async function trainImages(n: number): Promise<{ pixels: Uint8Array; source: string }> {
  let mnist;
  try {
    mnist = await loadMnist();
  } catch (e) {
    const why = (e as Error).message.split(".")[0];
    return { pixels: pixels(n * IMAGE), source: `synthetic pixels (MNIST: ${why})` };
  }
  const out = new Uint8Array(n * IMAGE);
  for (let at = 0; at < out.length;) {
    for (const split of [mnist.train, mnist.test]) {
      const take = Math.min(split.images.length, out.length - at);
      out.set(split.images.subarray(0, take), at);
      at += take;
    }
  }
  return { pixels: out, source: "MNIST images" };
}

/** Deterministic pseudo-random u8 pixels (speed does not depend on the values). */
function pixels(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) % 256;
  }
  return out;
}

/** A fixed target distribution P [n, k]: positive, rows summing to 1. */
function targets(n: number, k: number): Float32Array {
  const p = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += p[i * k + j] = 0.05 + ((i * 7 + j * 13) % 17) / 17;
    for (let j = 0; j < k; j++) p[i * k + j] /= sum;
  }
  return p;
}

// ------------------------------------------------------------- the models

const DEC_DIMS = [784, 500, 500, 2000, 10];
const CLUSTERS = 10;

/** A step loop over one epoch: `step(xb)` records one step's work. */
async function stepLoop(
  x: lt.data.Dataset,
  order: { shuffle: boolean },
  step: (xb: lt.Tensor, offset: number, size: number) => void,
): Promise<void> {
  const rt = lt.runtime();
  const ep = x.epoch({ batchSize: TRAIN_BATCH, shuffle: order.shuffle, seed: 1 });
  try {
    for (const s of ep) {
      lt.tidy(() =>
        step(x.gather(ep.indices, s.offset, s.size, { training: true }), s.offset, s.size)
      );
      await rt.throttle();
    }
  } finally {
    ep.dispose();
  }
  await rt.sync();
}

/** An autoencoder trained on x → x with fit(), or with the bare step loop. */
function latentAutoencoder(
  layers: () => lt.nn.Layer[],
  inputShape: number[],
  loss: "binary_crossentropy" | "mse",
): LatentTrainer {
  const model = lt.nn.sequential(layers(), { inputShape });
  model.compile({ optimizer: lt.optim.adam(1e-3), loss });
  // The bare loop steps fit()'s own optimizer: one set of Adam moments, as a user has.
  const raw = model.compiled("bench").optimizer;
  const lossFn = loss === "mse" ? lt.meanSquaredError : lt.binaryCrossentropy;
  const params = model.trainableWeights();
  return {
    fit: async (x, o = {}) => {
      await model.fit(x, x, {
        epochs: 1,
        batchSize: o.batchSize ?? TRAIN_BATCH,
        seed: 1,
        compileStep: o.compileStep,
      });
    },
    steps: (x) =>
      stepLoop(x, { shuffle: true }, (xb) => {
        const pred = model.apply(xb, { training: true });
        lt.backward(lossFn(pred, xb));
        raw.step(params);
      }),
    parts: {
      layers: model.layers.map((l) => ({
        name: l.name,
        apply: (x: lt.Tensor) => l.apply(x, { training: true }),
      })),
      loss: (pred, xb) => lossFn(pred, xb),
      optimizer: raw,
      params,
    },
    dispose: () => model.dispose(),
  };
}

function tfAutoencoder(
  tf: Tf,
  layers: () => TfLayer[],
  shape: number[],
  loss: "binaryCrossentropy" | "meanSquaredError",
): TfTrainer {
  const model = tf.sequential({ layers: layers() });
  const optimizer = tf.train.adam(1e-3);
  model.compile({ optimizer, loss });
  return tfFitter(tf, model, shape, null, true, () => optimizer.dispose());
}

/**
 * fit() for one epoch on an f32 input (and target) tensor of n samples, made
 * by `prepare` from u8 pixels (one pair per n).
 */
function tfFitter(
  tf: Tf,
  model: ReturnType<Tf["sequential"]> | ReturnType<Tf["model"]>,
  shape: number[],
  target: ((n: number) => Float32Array) | null,
  shuffle: boolean,
  disposeExtra: () => void,
): TfTrainer {
  const features = shape.reduce((a, b) => a * b, 1);
  const cache = new Map<number, { x: ReturnType<Tf["tensor"]>; y: ReturnType<Tf["tensor"]> }>();
  return {
    async prepare(images) {
      const n = images.length / features;
      if (cache.has(n)) return;
      const x = tf.tensor(Float32Array.from(images, (v) => v / 255), [n, ...shape]);
      const y = target ? tf.tensor(target(n), [n, CLUSTERS]) : x;
      cache.set(n, { x, y });
      // Touch the data so it is on the backend's device before timing.
      await tf.tidy(() => tf.add(tf.sum(x), tf.sum(y))).data();
    },
    async fit(n) {
      const d = cache.get(n);
      if (!d) throw new Error(`tfjs: ${n} samples were not prepared`);
      const { x, y } = d;
      await model.fit(x, y, { epochs: 1, batchSize: TRAIN_BATCH, shuffle, verbose: 0 });
      // fit() already read the epoch's loss; reading a weight makes sure every update ran.
      await model.getWeights()[0].data();
    },
    dispose() {
      for (const { x, y } of cache.values()) {
        x.dispose();
        if (y !== x) y.dispose();
      }
      model.dispose();
      disposeExtra();
    },
  };
}

/** DEC's fine-tuning step with latent's public ops, as DEC.fit runs it. */
function latentDecStep(): LatentTrainer {
  const init = lt.initializers.varianceScaling({
    scale: 1 / 3,
    mode: "fan_in",
    distribution: "uniform",
  });
  const encoder = lt.nn.sequential(
    DEC_DIMS.slice(1).map((d, i) =>
      lt.nn.dense(d, {
        activation: i === DEC_DIMS.length - 2 ? "linear" : "relu",
        kernelInitializer: init,
      })
    ),
    { inputShape: [DEC_DIMS[0]] },
  );
  const layer = new lt.cluster.ClusteringLayer({
    nClusters: CLUSTERS,
    dims: DEC_DIMS.at(-1)!,
    seed: 1,
  });
  const optimizer = lt.optim.sgd({ learningRate: 0.01, momentum: 0.9 });
  const params = [...encoder.trainableWeights(), layer.centers];
  let p: lt.Tensor | null = null, pb: lt.Tensor | null = null;
  const step = (x: lt.data.Dataset) => {
    if (!p || p.shape[0] !== x.n) {
      p?.dispose();
      p = lt.keep(lt.tensor(targets(x.n, CLUSTERS), [x.n, CLUSTERS]));
    }
    const target = p;
    const rt = lt.runtime();
    return stepLoop(x, { shuffle: false }, (xb, offset, size) => {
      // DEC.fit copies the batch's rows of P the same way.
      const pb = lt.empty([size, CLUSTERS], "f32", "dec step");
      rt.copy(
        "dec step",
        target.storage("dec step").buffer,
        offset * CLUSTERS * 4,
        pb.storage("dec step").buffer,
        0,
        size * CLUSTERS * 4,
      );
      const z = encoder.apply(xb, { training: true });
      lt.backward(lt.cluster.decLossFused(z, layer.centers, pb, 1));
      optimizer.step(params);
    });
  };
  return {
    fit: null,
    steps: step,
    parts: {
      layers: encoder.layers.map((l) => ({
        name: l.name,
        apply: (x: lt.Tensor) => l.apply(x, { training: true }),
      })),
      loss: (z) => {
        if (!pb || pb.shape[0] !== z.shape[0]) {
          pb?.dispose();
          pb = lt.keep(lt.tensor(targets(z.shape[0], CLUSTERS), [z.shape[0], CLUSTERS]));
        }
        return lt.cluster.decLossFused(z, layer.centers, pb, 1);
      },
      optimizer,
      params,
    },
    dispose: () => {
      p?.dispose();
      pb?.dispose();
      encoder.dispose();
      layer.dispose();
      optimizer.dispose();
    },
  };
}

/** DEC-keras' ClusteringLayer and fine-tuning model in TF.js. */
function tfDecStep(tf: Tf): TfTrainer {
  class ClusteringLayer extends tf.layers.Layer {
    static className = "ClusteringLayer";
    clusters: ReturnType<ClusteringLayer["addWeight"]> | null = null;
    constructor(readonly k: number, readonly alpha = 1) {
      super({});
    }
    override build(inputShape: number[] | number[][]): void {
      const d = (inputShape as number[])[1];
      this.clusters = this.addWeight(
        "clusters",
        [this.k, d],
        "float32",
        tf.initializers.glorotUniform({}),
      );
      this.built = true;
    }
    override computeOutputShape(inputShape: number[] | number[][]): number[] {
      return [(inputShape as number[])[0], this.k];
    }
    // q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2), normalised per row (DEC eq. 1).
    override call(inputs: unknown): ReturnType<Tf["tensor"]> {
      return tf.tidy(() => {
        const z = (Array.isArray(inputs) ? inputs[0] : inputs) as ReturnType<Tf["tensor"]>;
        const mu = this.clusters!.read();
        const d2 = tf.sum(tf.square(tf.sub(tf.expandDims(z, 1), mu)), 2);
        let q = tf.div(1, tf.add(1, tf.div(d2, this.alpha)));
        q = tf.pow(q, (this.alpha + 1) / 2);
        return tf.div(q, tf.sum(q, 1, true));
      });
    }
  }
  tf.serialization.registerClass(ClusteringLayer);
  const x = tf.input({ shape: [DEC_DIMS[0]] });
  let h = x;
  DEC_DIMS.slice(1).forEach((d, i) => {
    h = tf.layers.dense({
      units: d,
      activation: i === DEC_DIMS.length - 2 ? "linear" : "relu",
      kernelInitializer: tf.initializers.varianceScaling({
        scale: 1 / 3,
        mode: "fanIn",
        distribution: "uniform",
      }),
    }).apply(h) as typeof x;
  });
  const q = new ClusteringLayer(CLUSTERS).apply(h) as typeof x;
  const model = tf.model({ inputs: x, outputs: q });
  const optimizer = tf.train.momentum(0.01, 0.9);
  model.compile({ optimizer, loss: "kullbackLeiblerDivergence" });
  return tfFitter(
    tf,
    model,
    [DEC_DIMS[0]],
    (n) => targets(n, CLUSTERS),
    false,
    () => optimizer.dispose(),
  );
}

/** The benchmarked models, in table order. */
export const TRAIN_CASES: TrainCase[] = [
  {
    name: "deep AE 784-128-32-128-784",
    shape: [784],
    features: 784,
    latent: () =>
      latentAutoencoder(
        () => [
          lt.nn.dense(128, "relu"),
          lt.nn.dense(32, "relu"),
          lt.nn.dense(128, "relu"),
          lt.nn.dense(784, "sigmoid"),
        ],
        [784],
        "binary_crossentropy",
      ),
    tfjs: (tf) =>
      tfAutoencoder(
        tf,
        () => [
          tf.layers.dense({ units: 128, activation: "relu", inputShape: [784] }),
          tf.layers.dense({ units: 32, activation: "relu" }),
          tf.layers.dense({ units: 128, activation: "relu" }),
          tf.layers.dense({ units: 784, activation: "sigmoid" }),
        ],
        [784],
        "binaryCrossentropy",
      ),
  },
  {
    name: "DEC AE 784-500-500-2000-10 (+mirror)",
    shape: [784],
    features: 784,
    latent: () =>
      latentAutoencoder(
        () => {
          const units = [500, 500, 2000, 10, 2000, 500, 500, 784];
          return units.map((u, i) =>
            lt.nn.dense(u, i === 3 || i === units.length - 1 ? "linear" : "relu")
          );
        },
        [784],
        "mse",
      ),
    tfjs: (tf) =>
      tfAutoencoder(
        tf,
        () => {
          const units = [500, 500, 2000, 10, 2000, 500, 500, 784];
          return units.map((u, i) =>
            tf.layers.dense({
              units: u,
              activation: i === 3 || i === units.length - 1 ? "linear" : "relu",
              ...(i === 0 ? { inputShape: [784] } : {}),
            })
          );
        },
        [784],
        "meanSquaredError",
      ),
  },
  {
    name: "conv AE 28x28 (16c3-pool-16c3-up-1c3)",
    shape: [28, 28, 1],
    features: 784,
    latent: () =>
      latentAutoencoder(
        () => [
          lt.nn.conv2d(16, 3, { padding: "same", activation: "relu" }),
          lt.nn.maxPooling2d(2),
          lt.nn.conv2d(16, 3, { padding: "same", activation: "relu" }),
          lt.nn.upSampling2d(2),
          lt.nn.conv2d(1, 3, { padding: "same", activation: "sigmoid" }),
        ],
        [28, 28, 1],
        "binary_crossentropy",
      ),
    tfjs: (tf) =>
      tfAutoencoder(
        tf,
        () =>
          [
            tf.layers.conv2d({
              filters: 16,
              kernelSize: 3,
              padding: "same",
              activation: "relu",
              inputShape: [28, 28, 1],
            }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu" }),
            tf.layers.upSampling2d({ size: [2, 2] }),
            tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: "same", activation: "sigmoid" }),
          ] as TfLayer[],
        [28, 28, 1],
        "binaryCrossentropy",
      ),
  },
  {
    name: "DEC step (encoder + clustering, KL, SGD)",
    shape: [784],
    features: 784,
    latent: latentDecStep,
    tfjs: tfDecStep,
  },
];

// ----------------------------------------------------------------- timing

interface EpochTiming {
  /** Median samples per second. */
  rate: number;
  /** Median ms per step. */
  msPerStep: number;
  /** Steps per timed epoch. */
  steps: number;
  reps: number;
}

/** How one implementation trains: `prepare` makes data for an epoch (untimed), `epoch` trains it. */
interface Epochs {
  prepare(steps: number): Promise<void> | void;
  /** One epoch of `steps` batches, resolving when its GPU work is done. */
  epoch(steps: number): Promise<void>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The most steps a timed epoch takes (CPU adapters get short epochs). */
function maxSteps(ctx: BenchContext, fallback: boolean): number {
  return fallback ? (ctx.quick ? 4 : 16) : (ctx.quick ? 64 : 256);
}

/**
 * Times epochs of one or more implementations: for each, a 1-step epoch to
 * compile and a second to size the timed epochs (about `targetMs`, at least
 * one step, from the first implementation's); then rounds in which each
 * implementation times one epoch in turn (A B C … A B C …, so a shared CPU's
 * load drifts hit them alike); each one's median epoch gives samples/s.
 * Implementations that take seconds per step get 3 rounds, with a single
 * one's sizing epoch counted as the first when it already has the chosen
 * size.
 */
async function timeEpochs(
  ctx: BenchContext,
  fallback: boolean,
  es: Epochs[],
): Promise<EpochTiming[]> {
  const targetMs = ctx.quick ? 600 : 1500;
  const wantReps = ctx.quick ? 3 : 5;
  let one = Infinity;
  for (const e of es) {
    await e.prepare(1);
    await e.epoch(1);
    const t = performance.now();
    await e.epoch(1);
    if (one === Infinity) one = performance.now() - t;
  }
  const steps = Math.max(1, Math.min(maxSteps(ctx, fallback), Math.round(targetMs / one)));
  const reps = one * steps > 3000 ? 3 : wantReps;
  const times: number[][] = es.map(() => (steps === 1 && es.length === 1 ? [one] : []));
  for (const e of es) await e.prepare(steps);
  for (let r = times[0].length; r < reps; r++) {
    for (const [i, e] of es.entries()) {
      const t = performance.now();
      await e.epoch(steps);
      times[i].push(performance.now() - t);
    }
  }
  return times.map((ts) => {
    const ms = median(ts);
    return { rate: (steps * TRAIN_BATCH) / (ms / 1000), msPerStep: ms / steps, steps, reps };
  });
}

/** Datasets of 1, 2, … steps of the first u8 images of `images`. */
function latentData(
  c: TrainCase,
  images: Uint8Array,
): { get(steps: number): lt.data.Dataset; dispose(): void } {
  const sets = new Map<number, lt.data.Dataset>();
  return {
    get(steps) {
      let d = sets.get(steps);
      if (!d) {
        const n = steps * TRAIN_BATCH;
        d = lt.data.dataset(images.subarray(0, n * c.features), { shape: c.shape, scale: 1 / 255 });
        sets.set(steps, d);
      }
      return d;
    },
    dispose() {
      for (const d of sets.values()) d.dispose();
      sets.clear();
    },
  };
}

function fmtRate(t: EpochTiming | null): string {
  return t
    ? `${t.rate.toFixed(0)} samples/s (${
      t.msPerStep.toFixed(1)
    } ms/step, ${t.steps} steps × ${t.reps})`
    : "skipped";
}

/** GPU commands one step records: runs one step between two syncs and counts. */
async function countPerStep(run: () => Promise<void>): Promise<string> {
  const rt = lt.runtime();
  await rt.sync();
  const d0 = rt.dispatchCount, s0 = rt.submitCount;
  await run();
  return `${rt.dispatchCount - d0} dispatches in ${rt.submitCount - s0} submits per step`;
}

/**
 * A peer's column in a case: its epochs, which stop running after the first
 * error (`failed` then says what it was), so one peer that cannot train a
 * model leaves the others' rounds intact.
 */
interface PeerColumn {
  name: string;
  epochs: Epochs;
  failed: string | null;
  dispose(): Promise<void> | void;
}

function peerColumn(
  name: string,
  epochs: Epochs,
  dispose: () => Promise<void> | void,
): PeerColumn {
  // A failing call marks the column failed (its first line) and turns the rest into no-ops.
  const guard = (run: (steps: number) => Promise<void> | void) => async (steps: number) => {
    if (col.failed) return;
    try {
      await run(steps);
    } catch (e) {
      col.failed = (e as Error).message.split("\n")[0];
    }
  };
  const col: PeerColumn = {
    name,
    failed: null,
    dispose,
    epochs: { prepare: guard(epochs.prepare), epoch: guard(epochs.epoch) },
  };
  return col;
}

/** The TF.js columns, and what TF.js calls its backends. */
const TFJS_COLUMNS = { "tfjs webgpu": "webgpu", "tfjs wasm 1 thread": "wasm" } as const;

/**
 * A TF.js column of case `c`: its model is built on `backend` (where its
 * weights, optimizer slots and data then live) and each epoch switches to
 * that backend first. The WASM backend runs its single-threaded build: the
 * threaded one starts its Emscripten pthreads as Node workers from a blob:
 * URL, which Deno's `worker_threads` refuses (ERR_WORKER_PATH), and TF.js
 * turns threads off under Node-like runtimes anyway.
 */
async function tfjsColumn(
  c: TrainCase,
  name: keyof typeof TFJS_COLUMNS,
  images: Uint8Array,
): Promise<PeerColumn | string> {
  const backend: TfBackend = TFJS_COLUMNS[name];
  const tf = await useBackend(backend);
  if (typeof tf === "string") return tf;
  let trainer: TfTrainer;
  try {
    trainer = c.tfjs(tf);
  } catch (e) {
    return `${name} failed: ${(e as Error).message.split("\n")[0]}`;
  }
  const on = async () => void await tf.setBackend(backend);
  return peerColumn(name, {
    prepare: async (s) => {
      await on();
      await trainer.prepare(images.subarray(0, s * TRAIN_BATCH * c.features));
    },
    epoch: async (s) => {
      await on();
      await trainer.fit(s * TRAIN_BATCH);
    },
  }, async () => {
    await on();
    try {
      trainer.dispose();
    } catch {
      // A model that failed may be half built.
    }
  });
}

/** The PyTorch columns and their CPU thread counts. */
const PYTORCH_COLUMNS = { "pytorch 1 thread": 1, "pytorch 2 threads": 2 } as const;

/** The training section: samples/s per model, and latent's peak GPU memory. */
export const trainBench: BenchModule = {
  name: "train",
  async run(ctx) {
    const rows: Row[] = [];
    const rt = lt.runtime();
    const fallback = rt.info.isFallback;
    const cases = TRAIN_CASES.filter((c) => ctx.wants("train", c.name));
    if (!cases.length) return rows;
    const images = await trainImages(maxSteps(ctx, fallback) * TRAIN_BATCH);
    ctx.log(`train: ${images.source}`);

    // One PyTorch process per thread count, for every case (it loads torch once).
    const peers = new Map<string, PytorchPeer | string>();
    for (const [name, threads] of Object.entries(PYTORCH_COLUMNS)) {
      const peer = fallback
        ? await startPytorch(threads, images.pixels)
        : "a GPU adapter: PyTorch's peer is CUDA (python3 bench/pytorch_ae.py)";
      peers.set(name, peer);
      if (typeof peer === "string") ctx.log(`train ${name}: ${peer}`);
      else {
        const { torch, threads, blasThreads } = peer.info;
        ctx.log(`train ${name}: torch ${torch}, ${threads} threads, BLAS ${blasThreads ?? "?"}`);
      }
    }
    const pytorchNote = [...peers].map(([name, p]) =>
      typeof p === "string" ? `${name}: none, ${p}` : `${name}: torch ${p.info.torch}, ` +
        `torch.get_num_threads() ${p.info.threads}, OpenBLAS threads ${
          p.info.blasThreads ?? "unknown"
        }, OMP_WAIT_POLICY ${p.info.ompWaitPolicy ?? "unset"}`
    ).join("; ");

    try {
      for (const c of cases) rows.push(...await trainCase(ctx, c, images, peers, pytorchNote));
    } finally {
      for (const p of peers.values()) if (typeof p !== "string") await p.close();
    }
    return rows;
  },
};

/** One case of the train section: every column in interleaved rounds. */
async function trainCase(
  ctx: BenchContext,
  c: TrainCase,
  images: { pixels: Uint8Array; source: string },
  peers: Map<string, PytorchPeer | string>,
  pytorchNote: string,
): Promise<Row[]> {
  const rt = lt.runtime();
  const fallback = rt.info.isFallback;
  const row: Row = { section: "train", name: c.name, unit: "samples/s", values: {}, ms: {} };
  const names = [
    "latent",
    "latent step",
    ...Object.keys(TFJS_COLUMNS),
    ...Object.keys(PYTORCH_COLUMNS),
  ];
  // Columns in this order whatever runs; a column that cannot run stays null.
  for (const name of names) row.values[name] = row.ms[name] = null;
  const notes: string[] = [];
  const set = (impl: string, t: EpochTiming | null) => {
    row.values[impl] = t ? t.rate : null;
    row.ms[impl] = t ? t.msPerStep : null;
    ctx.log(`train ${c.name} ${impl}: ${fmtRate(t)}`);
  };

  // latent: fit() and the bare loop on one model, fit() first from an emptied pool.
  rt.trim();
  rt.pool.peakBytes = rt.pool.inUseBytes;
  const data = latentData(c, images.pixels);
  const trainer = c.latent();
  const columns: PeerColumn[] = [];
  let peak: number | null = null;
  try {
    const prepare = (s: number) => void data.get(s);
    const steps: Epochs = { prepare, epoch: (s) => trainer.steps(data.get(s)) };
    const fit = trainer.fit;
    const latentColumns: Epochs[] = fit
      ? [{ prepare, epoch: (s) => fit(data.get(s)) }, steps]
      : [steps];

    for (const name of Object.keys(TFJS_COLUMNS) as (keyof typeof TFJS_COLUMNS)[]) {
      const col = await tfjsColumn(c, name, images.pixels);
      if (typeof col === "string") notes.push(col);
      else columns.push(col);
    }
    for (const [name, peer] of peers) {
      if (typeof peer === "string") continue;
      columns.push(peerColumn(name, {
        prepare: () => {},
        epoch: (s) => peer.epoch(c.name, s),
      }, () => {}));
    }

    const timings = await timeEpochs(ctx, fallback, [
      ...latentColumns,
      ...columns.map((col) => col.epochs),
    ]);
    const t = timings.shift()!;
    set("latent", t);
    set("latent step", fit ? timings.shift()! : t);
    peak = rt.pool.peakBytes;
    if (fit) notes.push(`latent fit(): ${await countPerStep(() => fit(data.get(1)))}`);
    else {
      notes.push(
        `latent: DEC.fit's step written with public ops (DEC has no per-step fit()); ${await countPerStep(
          () => steps.epoch(1),
        )}`,
      );
    }
    for (const [i, col] of columns.entries()) {
      if (col.failed) notes.push(`${col.name} failed: ${col.failed}`);
      set(col.name, col.failed ? null : timings[i]);
    }
    notes.push(
      `median of ${t.reps} interleaved rounds of ${t.steps}-step epochs on ${images.source}`,
    );
  } finally {
    for (const col of columns) await col.dispose();
    trainer.dispose();
    data.dispose();
  }
  notes.push(pytorchNote);

  const ratio = (a: string, b: string) => {
    const x = row.values[a], y = row.values[b];
    return x && y ? x / y : null;
  };
  row.ratios = Object.fromEntries(
    names.slice(2).map((name) => [`latent / ${name}`, ratio("latent", name)]),
  );
  row.note = notes.join("; ");
  return [row, {
    section: "train",
    name: `${c.name} peak GPU memory`,
    unit: "MiB",
    values: { latent: peak === null ? null : peak / 2 ** 20 },
    ms: {},
  }];
}

// ---------------------------------------------------------------- profile

/** Steps recorded per round when timing the host's recording. */
const HOST_STEPS = 3;

/**
 * A whole bare training step of a case at `batch` (gather, forward, loss,
 * backward, update), on a dataset of `batch` samples walked in order.
 */
function bareStep(
  c: TrainCase,
  parts: StepParts,
  batch: number,
): { step: () => void; dispose: () => void } {
  const d = lt.data.dataset(pixels(batch * c.features), { shape: c.shape, scale: 1 / 255 });
  const ep = d.epoch({ batchSize: batch, shuffle: false });
  return {
    step: () =>
      lt.tidy(() => {
        const xb = d.gather(ep.indices, 0, batch);
        const pred = parts.layers.reduce((h, l) => l.apply(h), xb);
        lt.backward(parts.loss(pred, xb));
        parts.optimizer.step(parts.params);
      }),
    dispose: () => {
      ep.dispose();
      d.dispose();
    },
  };
}

/** What recording a step costs the host: see {@link hostRecording}. */
interface HostCost {
  /** ms per step, recording and submitting. */
  ms: number;
  /** ms per step recording only (JS, autograd, command encoding), before the submit. */
  recordMs: number;
  /** µs per dispatch (recording and submitting). */
  perDispatch: number;
  /** Dispatches per step. */
  dispatches: number;
  /** Submits that happened while recording the round's steps. */
  submits: number;
}

/**
 * Host time of a step, meant to be measured where the GPU has almost
 * nothing to do (batch 1): recording (JS, autograd, command encoding; no
 * waiting) and recording plus the submit. The fastest of 8 rounds of
 * {@link HOST_STEPS} steps (fewer dispatches than the runtime's uniform ring
 * holds): other processes only ever add time. Submits inside a round (a full
 * uniform ring or command batch, or an upload into a buffer that recorded
 * work uses) are counted.
 *
 * What a submit costs depends on the driver. A bare WebGPU loop in Deno
 * 2.9.6 (10 dispatches of 1, 64, 1024 workgroups): Mesa 22.3's lavapipe ran
 * the work inside `queue.submit` (0.8, 19, 293 ms); Mesa 25.0.7's returns
 * in under 0.2 ms from an idle queue and runs the work on its own threads,
 * but a submit waits while earlier work still runs (a loop of batch-1 deep
 * AE steps: ~5 ms per flush, the steps' execution). Rounds start from an
 * idle queue, so here "+ submit" is the host's own cost.
 */
async function hostRecording(step: () => void): Promise<HostCost> {
  const rt = lt.runtime();
  let best: HostCost = {
    ms: Infinity,
    recordMs: Infinity,
    perDispatch: Infinity,
    dispatches: 0,
    submits: 0,
  };
  let bestRecord = Infinity;
  for (let round = 0; round < 8; round++) {
    await rt.sync();
    const d0 = rt.dispatchCount, s0 = rt.submitCount, h0 = performance.now();
    for (let i = 0; i < HOST_STEPS; i++) step();
    const h1 = performance.now();
    const inside = rt.submitCount - s0;
    rt.flush();
    const ms = (performance.now() - h0) / HOST_STEPS;
    bestRecord = Math.min(bestRecord, (h1 - h0) / HOST_STEPS);
    if (ms < best.ms) {
      const dispatches = rt.dispatchCount - d0;
      best = {
        ms,
        recordMs: 0,
        perDispatch: (1000 * ms * HOST_STEPS) / dispatches,
        dispatches: dispatches / HOST_STEPS,
        submits: inside,
      };
    }
  }
  await rt.sync();
  return { ...best, recordMs: bestRecord };
}

/** Steps of the batch-1 fit() the host section times: about a second's worth, within these. */
const FIT_STEPS = { min: 48, max: 960 };

/**
 * Steps per second of fit() at batch 1, eager and compiled: one epoch per
 * fit (the step, the batch's rows, the loss sum, the throttle, and per fit
 * the epoch's shuffle and readback and, compiled, its eager step and two
 * captures), fastest of 3 interleaved fits each. A warm-up fit of each
 * (48 steps) sizes the epoch to about a second of the compiled fit. Also
 * the dispatches fit records per step: the difference between eager fits
 * of 48 and 50 steps, halved (what an epoch costs once cancels out).
 */
async function fitRate(
  fit: NonNullable<LatentTrainer["fit"]>,
  c: TrainCase,
): Promise<{ eager: number; compiled: number; steps: number; dispatches: number }> {
  const timed = async (ds: lt.data.Dataset, compileStep: boolean) => {
    const t0 = performance.now();
    await fit(ds, { batchSize: 1, compileStep });
    return ds.n / ((performance.now() - t0) / 1000);
  };
  const data = (n: number) =>
    lt.data.dataset(pixels(n * c.features), { shape: c.shape, scale: 1 / 255 });
  const counted = async (ds: lt.data.Dataset) => {
    const d0 = lt.runtime().dispatchCount;
    await timed(ds, false);
    return lt.runtime().dispatchCount - d0;
  };
  const warm = data(FIT_STEPS.min), two = data(FIT_STEPS.min + 2);
  let steps: number, dispatches: number;
  try {
    await timed(warm, false);
    const rate = await timed(warm, true);
    steps = Math.round(Math.min(FIT_STEPS.max, Math.max(FIT_STEPS.min, rate)));
    dispatches = ((await counted(two)) - (await counted(warm))) / 2;
  } finally {
    warm.dispose();
    two.dispose();
  }
  const ds = data(steps);
  try {
    const best = { eager: 0, compiled: 0, steps, dispatches };
    for (let round = 0; round < 3; round++) {
      best.eager = Math.max(best.eager, await timed(ds, false));
      best.compiled = Math.max(best.compiled, await timed(ds, true));
    }
    return best;
  } finally {
    ds.dispose();
  }
}

/** Forward FLOPs per sample of each case (2 per multiply-add), for GFLOP/s. */
const FORWARD_FLOPS: Record<string, number> = {
  "deep AE 784-128-32-128-784": 2 * (784 * 128 + 128 * 32 + 32 * 128 + 128 * 784),
  "DEC AE 784-500-500-2000-10 (+mirror)": 2 * 2 * (784 * 500 + 500 * 500 + 500 * 2000 + 2000 * 10),
  "conv AE 28x28 (16c3-pool-16c3-up-1c3)": 2 *
    (28 * 28 * 9 * 16 + 14 * 14 * 9 * 256 + 28 * 28 * 9 * 16),
  "DEC step (encoder + clustering, KL, SGD)": 2 * (784 * 500 + 500 * 500 + 500 * 2000 + 2000 * 10),
};

/**
 * Opt-in (`--filter train-profile`): where a latent training step's time
 * goes, at batch 256 — each layer's forward + backward on its real input
 * shape (the input gradient too, except for the first layer, as in
 * training), the loss with its gradient, the optimizer update (with a
 * gradient copy per parameter), and the whole bare step at batch 256 and at
 * batch 1 (what a step costs with almost no arithmetic: dispatch and submit
 * overhead, plus the work that scales with the parameters: weight gradients
 * and the update). Units: ms per step. Notes: the step's GFLOP/s (training ≈
 * 3× forward FLOPs) and dispatches per step; at batch 1, the host time to
 * record one step (JS, autograd, command encoding; no waiting), the floor
 * under a step's time on any GPU.
 */
export const trainProfileBench: BenchModule = {
  name: "train-profile",
  optIn: true,
  async run(ctx) {
    const rows: Row[] = [];
    const rt = lt.runtime();
    for (const c of TRAIN_CASES) {
      if (!ctx.wants("train-profile", c.name)) continue;
      const trainer = c.latent();
      const parts = trainer.parts;
      const row = (name: string, ms: number | null, note?: string) => {
        rows.push({
          section: "train-profile",
          name: `${c.name}: ${name}`,
          unit: "ms/step",
          values: { latent: ms },
          ms: { latent: ms },
          ...(note ? { note } : {}),
        });
        ctx.log(`train-profile ${c.name}: ${name}: ${ms?.toFixed(2)} ms ${note ?? ""}`);
      };
      const inputs: lt.Tensor[] = [];
      try {
        // The layers' inputs at batch 256, from a real batch.
        const ds = lt.data.dataset(pixels(TRAIN_BATCH * c.features), {
          shape: c.shape,
          scale: 1 / 255,
        });
        const x0 = lt.keep(ds.toTensor());
        ds.dispose();
        inputs.push(x0);
        for (const l of parts.layers) {
          inputs.push(lt.keep(lt.noGrad(() => l.apply(inputs.at(-1)!))));
        }
        const clear = () => {
          for (const p of [...parts.params, ...inputs]) {
            p.grad?.dispose();
            p.grad = null;
          }
        };
        let sum = 0;
        for (const [i, l] of parts.layers.entries()) {
          const x = inputs[i];
          x.requiresGrad = i > 0;
          const out = inputs[i + 1];
          const dy = lt.keep(lt.fillInPlace(lt.empty(out.shape, "f32", "profile"), 0.001));
          const t = await ctx.timeGpu(() => {
            lt.tidy(() => lt.backward(l.apply(x), dy));
            clear();
          });
          dy.dispose();
          x.requiresGrad = false;
          sum += t.ms;
          row(`${l.name} fwd+bwd`, t.ms);
        }
        const last = inputs.at(-1)!;
        last.requiresGrad = true;
        const tl = await ctx.timeGpu(() => {
          lt.tidy(() => lt.backward(parts.loss(last, x0)));
          clear();
        });
        last.requiresGrad = false;
        sum += tl.ms;
        row("loss fwd+bwd", tl.ms);
        const grads = parts.params.map((p) => lt.keep(lt.fillInPlace(lt.empty(p.shape), 1e-6)));
        const tu = await ctx.timeGpu(() => {
          parts.params.forEach((p, i) => (p.grad = lt.clone(grads[i])));
          parts.optimizer.step(parts.params);
        });
        grads.forEach((g) => g.dispose());
        sum += tu.ms;
        row(`update (${parts.params.length} tensors)`, tu.ms);
        row("sum of the parts", sum);

        // Whole bare steps (gather, forward, loss, backward, update), one per repetition run.
        const whole = async (batch: number, host: boolean): Promise<[number, string]> => {
          const { step, dispose } = bareStep(c, parts, batch);
          try {
            const t = await ctx.timeBatches(async (b) => {
              for (let i = 0; i < b; i++) {
                step();
                await rt.throttle();
              }
              await rt.sync();
            });
            const count = await countPerStep(async () => {
              step();
              await rt.sync();
            });
            if (!host) return [t.ms, count];
            const h = await hostRecording(step);
            return [
              t.ms,
              `${count}; recording a step takes ${h.ms.toFixed(2)} ms on the host ` +
              `(${
                h.perDispatch.toFixed(0)
              } µs per dispatch; ${h.submits} submits while recording ${HOST_STEPS} steps)`,
            ];
          } finally {
            dispose();
          }
        };
        const flops = 3 * FORWARD_FLOPS[c.name] * TRAIN_BATCH;
        const [w, count] = await whole(TRAIN_BATCH, false);
        row("whole step, batch 256", w, `${(flops / w / 1e6).toFixed(2)} GFLOP/s; ${count}`);
        const [w1, count1] = await whole(1, true);
        row("whole step, batch 1", w1, count1);
      } finally {
        for (const t of inputs) t.dispose();
        trainer.dispose();
      }
    }
    return rows;
  },
};

/**
 * `--filter host`: what a training step costs the host, for each training
 * case, eager (the graph re-run every step) and compiled (the captured
 * commands replayed: `lt.compileStep`, as fit runs its steps) in the same
 * run: dispatches per step, µs per step recording only and recording plus
 * the submit, at batch 1 where the adapter has least work, the fastest of 8
 * rounds ({@link hostRecording}); and for the cases with a fit(), whole
 * fit() steps per second at batch 1, eager and compiled ({@link fitRate}).
 */
export const hostBench: BenchModule = {
  name: "host",
  async run(ctx) {
    const rows: Row[] = [];
    for (const c of TRAIN_CASES) {
      if (!ctx.wants("host", c.name)) continue;
      const trainer = c.latent();
      const { step, dispose } = bareStep(c, trainer.parts, 1);
      const compiled = lt.compileStep();
      const replay = () => compiled.run("1", step);
      try {
        // Warm-up: pipelines, the buffer pool, the optimizer's state, and
        // for the compiled step its eager run and two captures.
        for (let i = 0; i < 4; i++) replay();
        await lt.runtime().sync();
        if (compiled.report.fallback) {
          throw new Error(`host ${c.name}: the step did not compile: ${compiled.report.fallback}`);
        }
        const eager = await hostRecording(step);
        const fast = await hostRecording(replay);
        rows.push({
          section: "host",
          name: `${c.name}: record + submit`,
          unit: "µs/step",
          values: { eager: 1000 * eager.ms, compiled: 1000 * fast.ms },
          ms: { eager: eager.ms, compiled: fast.ms },
          ratios: { "compiled / eager": fast.ms / eager.ms },
          note: `dispatches per step: eager ${eager.dispatches}, compiled ${fast.dispatches}; ` +
            `${eager.perDispatch.toFixed(1)} vs ${fast.perDispatch.toFixed(1)} µs per dispatch`,
        });
        rows.push({
          section: "host",
          name: `${c.name}: record`,
          unit: "µs/step",
          values: { eager: 1000 * eager.recordMs, compiled: 1000 * fast.recordMs },
          ms: { eager: eager.recordMs, compiled: fast.recordMs },
          ratios: { "compiled / eager": fast.recordMs / eager.recordMs },
        });
        if (trainer.fit) {
          const rate = await fitRate(trainer.fit, c);
          rows.push({
            section: "host",
            name: `${c.name}: fit() at batch 1`,
            unit: "steps/s",
            values: { eager: rate.eager, compiled: rate.compiled },
            ms: { eager: 1000 / rate.eager, compiled: 1000 / rate.compiled },
            ratios: { "compiled / eager": rate.compiled / rate.eager },
            note: `one epoch of ${rate.steps} steps per fit, fastest of 3 fits each, ` +
              `interleaved; ${rate.dispatches} dispatches per step`,
          });
        }
        ctx.log(
          `host ${c.name}: eager ${(1000 * eager.recordMs).toFixed(0)} µs recording, ` +
            `${(1000 * eager.ms).toFixed(0)} with the submit, ${eager.dispatches} dispatches; ` +
            `compiled ${(1000 * fast.recordMs).toFixed(0)} / ${(1000 * fast.ms).toFixed(0)} µs, ` +
            `${fast.dispatches} dispatches`,
        );
      } finally {
        compiled.dispose();
        dispose();
        trainer.dispose();
      }
    }
    return rows;
  },
};
