/**
 * Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016), its
 * improved variant IDEC (Guo et al., IJCAI 2017) and convolutional DEC, all
 * trained on the GPU.
 *
 * 1. **Pretrain** an autoencoder (default 784-500-500-2000-10 with a mirrored
 *    decoder, ReLU inside, linear code and output, VarianceScaling(1/3,
 *    fan_in, uniform) weights, MSE, batch 256). For MNIST the strong public
 *    recipe is 300 epochs of SGD(lr 1, momentum 0.9): that is the default.
 * 2. **Initialise** the centres with k-means on the codes (nInit 20).
 * 3. **Fine-tune** encoder and centres on KL(P‖Q) with SGD(0.01, momentum
 *    0.9): Q is the Student-t soft assignment (eq. 1), P the sharpened
 *    target (eq. 3), recomputed over all samples every `updateInterval`
 *    steps; stop when fewer than `tol` of the labels changed since the last
 *    refresh, or after `maxIter` steps. Batches walk the samples in order,
 *    as the reference implementation does. IDEC adds the decoder's
 *    reconstruction loss: L = L_r + γ·L_c.
 *
 * Fine-tuning runs on the model's `fit` with a custom train step (the KL
 * loss, plus IDEC's reconstruction), so batching, loss history and weight
 * checks are fit's; the refreshes and both stopping rules are a batch
 * callback. Each step records GPU work only. The host reads the labels once
 * per refresh (for the stopping rule and, given true labels, ACC/NMI/ARI).
 *
 * @module
 */
import { backward, noGrad } from "../autograd/tape.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Callback, Logs } from "../nn/callbacks.ts";
import { input, type Layer, type Param } from "../nn/layer.ts";
import { dense, setSeed } from "../nn/layers.ts";
import { conv2dLayer, conv2dTransposeLayer } from "../nn/conv_layers.ts";
import { flatten, reshape } from "../nn/layers.ts";
import { type Model, model } from "../nn/model.ts";
import {
  compileOptions,
  fit,
  type History,
  nonFiniteWeightError,
  readChecked,
  type TrainStep,
} from "../nn/training.ts";
import { type Optimizer, sgd } from "../nn/optimizers.ts";
import { varianceScaling } from "../nn/initializers.ts";
import { add, mul } from "../ops/binary.ts";
import { meanSquaredError } from "../ops/losses.ts";
import { argmax } from "../ops/reduce.ts";
import { keep } from "../tensor/scope.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { assign } from "../ops/creation.ts";
import { gatherRows } from "../ops/gather.ts";
import { ari, clusteringAccuracy, nmi } from "../metrics/clustering.ts";
import { KMeans, type KMeansResult } from "./kmeans.ts";
import { ClusteringLayer, decLossFused, softAssign, targetDistribution } from "./soft_assign.ts";

/** Options of {@link DEC}. */
export interface DECOptions {
  /** Number of clusters. */
  clusters: number;
  /** Dense autoencoder sizes, input first, code last (default [784, 500, 500, 2000, 10]). */
  dims?: number[];
  /** A custom autoencoder instead of `dims` (e.g. {@link DEC.convolutional}'s). */
  encoder?: Model;
  decoder?: Model;
  /** Student's t degrees of freedom (default 1). */
  alpha?: number;
  /** Seeds weight init, k-means and the fine-tuning order (default 0). */
  seed?: number;
  /** `"dec"` (default) or `"idec"` (keep the decoder's reconstruction loss). */
  variant?: "dec" | "idec";
  /** IDEC's weight of the clustering loss (default 0.1, as the IDEC paper). */
  gamma?: number;
}

/** Options of {@link DEC.pretrain}. */
export interface PretrainOptions {
  /** Default 300 (the MNIST recipe). */
  epochs?: number;
  /** Default 256. */
  batchSize?: number;
  /** Default SGD(lr 1, momentum 0.9); pass `lt.optim.adam()` for Adam. */
  optimizer?: Optimizer;
  callbacks?: Callback[];
}

/** One refresh of the target distribution during {@link DEC.fit}. */
export interface RefreshLog {
  /** Training steps taken so far. */
  iteration: number;
  /** Fraction of labels that changed since the previous refresh. */
  delta: number;
  /** With true labels: clustering accuracy, NMI (arithmetic), ARI. */
  acc?: number;
  nmi?: number;
  ari?: number;
}

/** Options of {@link DEC.fit}. */
export interface DECFitOptions {
  /** Most fine-tuning steps (default 20 000). */
  maxIter?: number;
  /** Steps between target refreshes (default 140, as for MNIST in the paper's code). */
  updateInterval?: number;
  /** Stop when fewer than this fraction of labels change between refreshes (default 0.001). */
  tol?: number;
  /** Default 256. */
  batchSize?: number;
  /** Default SGD(lr 0.01, momentum 0.9). */
  optimizer?: Optimizer;
  /** True labels (one per sample): ACC / NMI / ARI are logged at each refresh. */
  y?: ArrayLike<number>;
  /**
   * Called at each refresh (e.g. to write a CSV row or print progress). A
   * returned promise is awaited before the next step, so a page can draw the
   * clusters of exactly this refresh; throwing from it stops fit().
   */
  onRefresh?: (log: RefreshLog) => unknown;
  /**
   * fit's callbacks for the fine-tuning (e.g. `lt.callbacks.progress()`):
   * epochs are passes over the samples, and each refresh reaches their
   * `onRefresh` hook (step, ACC / NMI / ARI given `y`, labels changed).
   */
  callbacks?: Callback[];
  /** k-means restarts for the centre initialisation, when not done yet (default 20). */
  nInit?: number;
  /** Compile the fine-tuning step (fit's `compileStep`, default true); `false` runs it eagerly. */
  compileStep?: boolean;
}

/** What {@link DEC.fit} returns. */
export interface DECResult {
  /** Final cluster of every sample. */
  labels: Int32Array;
  /** Steps taken. */
  iterations: number;
  /** One entry per refresh. */
  log: RefreshLog[];
  /** Why training ended. */
  stopped: "tol" | "maxIter";
}

function checkLabels(op: string, y: ArrayLike<number> | undefined, n: number): void {
  if (y && y.length !== n) {
    throw new Error(`${op}: expected ${n} labels (one per sample), got ${y.length}`);
  }
}

/**
 * Deep Embedded Clustering.
 *
 * @example
 * ```ts
 * const x = lt.data.dataset(mnist.train.images, { shape: [784], scale: 1 / 255 });
 * const dec = new lt.cluster.DEC({ clusters: 10, seed: 1 });
 * await dec.pretrain(x, { epochs: 300 });
 * const { labels, log } = await dec.fit(x, { y: mnist.train.labels });
 * console.log(log.at(-1)); // { iteration, delta, acc, nmi, ari }
 * ```
 */
export class DEC {
  readonly clusters: number;
  readonly alpha: number;
  readonly seed: number;
  readonly variant: "dec" | "idec";
  readonly gamma: number;
  /** x → code. */
  readonly encoder: Model;
  /** code → reconstruction. */
  readonly decoder: Model;
  /** x → reconstruction (shares the encoder's and decoder's layers). */
  readonly autoencoder: Model;
  /** The trainable centres, once initialised. */
  clustering: ClusteringLayer | null = null;
  /** The k-means run that initialised the centres. */
  kmeans: KMeansResult | null = null;

  constructor(options: DECOptions) {
    const op = "DEC";
    if (!Number.isInteger(options.clusters) || options.clusters < 1) {
      throw new RangeError(`${op}: clusters must be a positive integer, got ${options.clusters}`);
    }
    this.clusters = options.clusters;
    this.alpha = options.alpha ?? 1;
    this.seed = options.seed ?? 0;
    this.variant = options.variant ?? "dec";
    this.gamma = options.gamma ?? 0.1;
    if (this.variant !== "dec" && this.variant !== "idec") {
      throw new Error(
        `${op}: variant must be "dec" or "idec", got ${JSON.stringify(options.variant)}`,
      );
    }
    // alpha = 0 would divide by zero in the Student-t kernel (1 + d²/α)^(-(α+1)/2).
    if (!(this.alpha > 0) || !Number.isFinite(this.alpha)) {
      throw new RangeError(`${op}: alpha must be a finite number > 0, got ${options.alpha}`);
    }
    if (!Number.isSafeInteger(this.seed) || this.seed < 0) {
      throw new RangeError(`${op}: seed must be a non-negative integer, got ${options.seed}`);
    }
    if (!(this.gamma > 0) || !Number.isFinite(this.gamma)) {
      throw new RangeError(`${op}: gamma must be a finite number > 0, got ${this.gamma}`);
    }
    setSeed(this.seed);
    if (options.encoder || options.decoder) {
      if (!options.encoder || !options.decoder) {
        throw new Error(`${op}: pass both encoder and decoder`);
      }
      if (options.dims) throw new Error(`${op}: pass dims or encoder/decoder, not both`);
      this.encoder = options.encoder;
      this.decoder = options.decoder;
      const code = this.encoder.outputs[0].shape, want = this.decoder.inputs[0].shape;
      if (code.join() !== want.join()) {
        throw new Error(
          `${op}: the encoder's code ${fmtShape(code)} does not match the decoder's input ${
            fmtShape(want)
          }`,
        );
      }
    } else {
      const dims = options.dims ?? [784, 500, 500, 2000, 10];
      if (dims.length < 2 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
        throw new Error(
          `${op}: dims must list at least two positive integers, got ${JSON.stringify(dims)}`,
        );
      }
      // DEC's initialisation: VarianceScaling(scale=1/3, mode=fan_in, distribution=uniform).
      const init = varianceScaling({ scale: 1 / 3, mode: "fan_in", distribution: "uniform" });
      const layer = (units: number, last: boolean) =>
        dense(units, { activation: last ? "linear" : "relu", kernelInitializer: init });
      const enc: Layer[] = dims.slice(1).map((d, i) => layer(d, i === dims.length - 2));
      const dec: Layer[] = dims.slice(0, -1).reverse().map((d, i) =>
        layer(d, i === dims.length - 2)
      );
      const xIn = input([dims[0]], "x");
      let h = xIn;
      for (const l of enc) h = l.apply(h);
      this.encoder = model(xIn, h, "encoder");
      const zIn = input([dims[dims.length - 1]], "code");
      let r = zIn;
      for (const l of dec) r = l.apply(r);
      this.decoder = model(zIn, r, "decoder");
    }
    const x = input(this.encoder.inputs[0].shape, "input");
    this.autoencoder = model(x, this.decoder.apply(this.encoder.apply(x)), "autoencoder");
  }

  /**
   * Convolutional DEC: the convolutional autoencoder of DCEC (Guo et al.,
   * ICONIP 2017) — Conv 32 5×5/2 → Conv 64 5×5/2 → Conv 128 3×3/2 (valid) →
   * Dense code, mirrored with transposed convolutions — as the embedding.
   *
   * @example
   * ```ts
   * const dec = lt.cluster.DEC.convolutional({ clusters: 10, inputShape: [28, 28, 1] });
   * ```
   */
  static convolutional(
    options: Omit<DECOptions, "dims" | "encoder" | "decoder"> & {
      inputShape?: [number, number, number];
      filters?: [number, number, number];
      embedding?: number;
    },
  ): DEC {
    const [h, w, c] = options.inputShape ?? [28, 28, 1];
    const [f1, f2, f3] = options.filters ?? [32, 64, 128];
    const emb = options.embedding ?? options.clusters;
    setSeed(options.seed ?? 0);
    if (h % 8 !== 4 && h % 8 !== 0) {
      throw new Error(
        `DEC.convolutional: input height ${h} must be a multiple of 4 (28 for MNIST)`,
      );
    }
    const pad3 = h % 8 === 0 ? "same" : "valid";
    const x = input([h, w, c], "image");
    const e1 = conv2dLayer(f1, 5, { strides: 2, padding: "same", activation: "relu" }).apply(x);
    const e2 = conv2dLayer(f2, 5, { strides: 2, padding: "same", activation: "relu" }).apply(e1);
    const e3 = conv2dLayer(f3, 3, { strides: 2, padding: pad3, activation: "relu" }).apply(e2);
    const code = dense(emb).apply(flatten().apply(e3));
    const encoder = model(x, code, "conv_encoder");
    const z = input([emb], "code");
    const [sh, sw] = [e3.shape[0], e3.shape[1]];
    const d0 = reshape([sh, sw, f3]).apply(dense(sh * sw * f3, "relu").apply(z));
    const d1 = conv2dTransposeLayer(f2, 3, { strides: 2, padding: pad3, activation: "relu" }).apply(
      d0,
    );
    const d2 = conv2dTransposeLayer(f1, 5, { strides: 2, padding: "same", activation: "relu" })
      .apply(d1);
    const d3 = conv2dTransposeLayer(c, 5, { strides: 2, padding: "same" }).apply(d2);
    const decoder = model(z, d3, "conv_decoder");
    return new DEC({ ...options, encoder, decoder });
  }

  /**
   * Pretrains the autoencoder end to end (MSE). Returns the fit History.
   *
   * @example
   * ```ts
   * await dec.pretrain(x, { epochs: 50, optimizer: lt.optim.adam(1e-3), callbacks: [lt.callbacks.progress()] });
   * ```
   */
  async pretrain(x: Dataset, options: PretrainOptions = {}): Promise<History> {
    await x.assertFinite("DEC.pretrain");
    const optimizer = options.optimizer ?? sgd({ learningRate: 1, momentum: 0.9 });
    this.autoencoder.compile({ optimizer, loss: "mse" });
    return this.autoencoder.fit(x, x, {
      epochs: options.epochs ?? 300,
      batchSize: options.batchSize ?? 256,
      seed: this.seed,
      callbacks: options.callbacks,
    });
  }

  /**
   * Codes of every sample (inference mode), as a GPU tensor [n, code].
   *
   * @example
   * ```ts
   * const z = await dec.embed(x); // [n, 10]
   * ```
   */
  embed(x: Dataset, batchSize = 256): Promise<Tensor> {
    return this.encoder.predict(x, { batchSize });
  }

  /**
   * Initialises the centres with k-means on the codes. Returns the k-means
   * result (its labels are "autoencoder + k-means").
   *
   * @example
   * ```ts
   * const { labels } = await dec.initialize(x);
   * ```
   */
  async initialize(x: Dataset, options: { nInit?: number } = {}): Promise<KMeansResult> {
    if (x.n < this.clusters) {
      throw new Error(
        `DEC.initialize: expected at least ${this.clusters} samples (one per cluster), got ${x.n}`,
      );
    }
    await x.assertFinite("DEC.initialize");
    const z = await this.embed(x);
    try {
      const zv = await z.toArray();
      if (!(zv as Float32Array).every(Number.isFinite)) {
        throw new Error(
          "DEC.initialize: the autoencoder's codes are not finite (pretraining diverged?)",
        );
      }
      const km = new KMeans({ k: this.clusters, nInit: options.nInit ?? 20, seed: this.seed });
      this.kmeans = await km.fit(z);
      km.dispose();
    } finally {
      z.dispose();
    }
    const d = this.encoder.outputs[0].shape[0];
    this.clustering?.dispose();
    this.clustering = new ClusteringLayer({
      nClusters: this.clusters,
      dims: d,
      alpha: this.alpha,
      centers: this.kmeans.centers,
    });
    return this.kmeans;
  }

  /** Soft assignments Q [n, k] of every sample (inference). */
  async softAssignments(x: Dataset): Promise<Tensor> {
    const layer = this.#layer("softAssignments");
    const z = await this.embed(x);
    const q = noGrad(() => softAssign(z, layer.centers, this.alpha));
    z.dispose();
    return q;
  }

  /**
   * Cluster of every sample: argmax of the soft assignment.
   *
   * @example
   * ```ts
   * const labels = await dec.predict(xTest);
   * ```
   */
  async predict(x: Dataset): Promise<Int32Array> {
    const q = await this.softAssignments(x);
    const l = noGrad(() => argmax(q, 1));
    q.dispose();
    try {
      return (await l.toArray()) as Int32Array;
    } finally {
      l.dispose();
    }
  }

  #layer(op: string): ClusteringLayer {
    if (!this.clustering) {
      throw new Error(`DEC.${op}: call initialize() (or fit()) after pretraining first`);
    }
    return this.clustering;
  }

  /**
   * Fine-tunes the encoder (and, for IDEC, the decoder) with the centres
   * against the target distribution. Initialises the centres first if
   * {@link initialize} was not called.
   *
   * @example
   * ```ts
   * const result = await dec.fit(x, { y: labels, onRefresh: (r) => console.log(r) });
   * ```
   */
  async fit(x: Dataset, options: DECFitOptions = {}): Promise<DECResult> {
    const op = `DEC.fit`;
    const n = x.n;
    checkLabels(op, options.y, n);
    const maxIter = options.maxIter ?? 20000;
    const interval = options.updateInterval ?? 140;
    const tol = options.tol ?? 1e-3;
    const batchSize = options.batchSize ?? 256;
    for (
      const [name, v] of [["maxIter", maxIter], ["updateInterval", interval], [
        "batchSize",
        batchSize,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
      }
    }
    if (!(tol >= 0)) throw new RangeError(`${op}: tol must be >= 0, got ${tol}`);
    await x.assertFinite(op);
    if (!this.clustering) await this.initialize(x, { nInit: options.nInit });
    const layer = this.#layer("fit");
    const optimizer = options.optimizer ?? sgd({ learningRate: 0.01, momentum: 0.9 });
    const idec = this.variant === "idec";
    const tuned = idec ? this.autoencoder : this.encoder;
    const params = [...tuned.trainableWeights(), layer.centers];
    // Checked at each refresh, in the same flush as the labels' readback
    // (fit checks the model's weights once per epoch too, but not the centres).
    const watched: Param[] = [
      ...tuned.weights(),
      { name: "clustering/centers", tensor: layer.centers, trainable: true },
    ];
    const yTrue = options.y ? Int32Array.from(options.y) : null;
    // The target distribution P [n, k], replaced at each refresh (the
    // `as` keeps TypeScript from narrowing it to null: closures assign it).
    let p = null as Tensor | null;
    let last: Int32Array = Int32Array.from(this.kmeans?.labels ?? new Int32Array(n));
    const log: RefreshLog[] = [];
    let stopped: DECResult["stopped"] = "maxIter";
    let steps = 0;

    /** Recomputes P over all samples and logs the labels; true when they settled (tol). */
    const refresh = async (): Promise<boolean> => {
      const q = await this.softAssignments(x);
      const next = noGrad(() => targetDistribution(q));
      // Written into the same tensor: the compiled step keeps reading it.
      if (p) {
        assign(p, next);
        next.dispose();
      } else p = keep(next);
      const lt = noGrad(() => argmax(q, 1));
      q.dispose();
      let labels: Int32Array;
      try {
        const [values, status] = await Promise.all([lt.toArray(), readChecked(op, [], watched)]);
        if (status.badWeight) {
          throw nonFiniteWeightError(op, status.badWeight, `step ${steps}`, optimizer.learningRate);
        }
        labels = values as Int32Array;
      } finally {
        lt.dispose();
      }
      let changed = 0;
      for (let i = 0; i < n; i++) if (labels[i] !== last[i]) changed++;
      const entry: RefreshLog = { iteration: steps, delta: changed / n };
      if (yTrue) {
        entry.acc = clusteringAccuracy(yTrue, labels);
        entry.nmi = nmi(yTrue, labels);
        entry.ari = ari(yTrue, labels);
      }
      log.push(entry);
      await options.onRefresh?.(entry);
      const logs: Logs = { changed: entry.delta };
      if (yTrue) Object.assign(logs, { acc: entry.acc, nmi: entry.nmi, ari: entry.ari });
      for (const c of options.callbacks ?? []) await c.onRefresh?.(steps, logs);
      last = labels;
      return steps > 0 && entry.delta < tol;
    };

    // The per-batch loss: KL(P‖Q) on the batch's rows of P (IDEC: plus the
    // reconstruction), gathered with the batch's own indices so every step
    // records the same commands (fit compiles it).
    // DEC's loss adds itself into fit's running total as it is reduced (no
    // add per step); IDEC's sum is added by fit.
    const step: TrainStep = ({ x: xb, indices, offset, size, lossTotal }) => {
      const pb = gatherRows(op, p!, { indices, offset, count: size });
      const z = this.encoder.apply(xb, { training: true });
      let loss = decLossFused(
        z,
        layer.centers,
        pb,
        this.alpha,
        idec ? {} : { accumulate: { into: lossTotal } },
      );
      if (idec) {
        loss = add(
          meanSquaredError(this.decoder.apply(z, { training: true }), xb),
          mul(loss, this.gamma),
        );
      }
      backward(loss);
      optimizer.step(params);
      return loss;
    };

    // The target refresh every `interval` steps (and before the first), the
    // tol stop and the maxIter stop, counted in steps across fit's epochs.
    const schedule: Callback = {
      onTrainBegin: async () => {
        await refresh();
      },
      onBatchEnd: async () => {
        steps++;
        if (steps >= maxIter) tuned.stopTraining = true;
        else if (steps % interval === 0 && await refresh()) {
          stopped = "tol";
          tuned.stopTraining = true;
        }
      },
    };
    // Fine-tuning fits the clean samples, as P was computed from them.
    const clean = x.noise === null ? x : x.withNoise(null);
    try {
      await fit(tuned, compileOptions(tuned, { optimizer }), clean, null, {
        epochs: Math.ceil(maxIter / Math.ceil(n / batchSize)),
        batchSize,
        shuffle: false,
        trainStep: step,
        callbacks: [schedule, ...(options.callbacks ?? [])],
        // No per-batch running loss: the schedule above never reads it.
        logInterval: Infinity,
        ...(options.compileStep === undefined ? {} : { compileStep: options.compileStep }),
      });
    } finally {
      p?.dispose();
      if (clean !== x) clean.dispose();
      if (!options.optimizer) optimizer.dispose();
    }
    const labels = await this.predict(x);
    return { labels, iterations: steps, log, stopped };
  }

  /** Frees the models' weights and the centres. */
  dispose(): void {
    this.autoencoder.dispose();
    this.clustering?.dispose();
  }
}
