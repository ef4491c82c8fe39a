/**
 * GPU-resident datasets: samples are uploaded once and every batch is
 * gathered on the GPU from an index buffer (DESIGN.md principle 1: no
 * per-step host round trips).
 *
 * - Storage: `Uint8Array` images stay u8 on the GPU (a quarter of f32's
 *   memory; normalised in the gather as `u8 · scale + offset`), `Float32Array`
 *   data stays f32. Data larger than one storage binding (the adapter's
 *   `maxStorageBufferBindingSize`, 128 MiB on lavapipe: all of MNIST as f32
 *   is 220 MB) is split into shards of a whole number of samples, each its
 *   own tensor; the gather reads the right shard.
 * - Shuffling: {@link Dataset.epoch} uploads one permutation per epoch (one
 *   host→GPU write) and hands out steps as `(offset, size)` into it; the
 *   gather takes the offset as a uniform, so a step creates no index tensor.
 * - Denoising: Gaussian noise (and a clip) is added inside the gather with a
 *   counter-based RNG, fresh for each batch and reproducible from the seed.
 * - Labels gather with the same indices into i32 ids or one-hot f32 rows.
 *
 * Nothing here reads back. Storage is made of tensors, so {@link memory}
 * counts it; views ({@link Dataset.slice}, {@link Dataset.subset},
 * {@link Dataset.withNoise}) share the storage and, like tensor views, are
 * counted once per view in `memory().bytes`. A dataset and its views each
 * own their references until `dispose()`; `tidy` never frees them.
 *
 * @module
 */
import { MAX_SHARDS_PER_DISPATCH } from "../../shaders/gather.ts";
import { runtime } from "../gpu/runtime.ts";
import { tensor } from "../ops/creation.ts";
import { firstNonFiniteRow, nonFiniteRowsRaw } from "../ops/finite.ts";
import { checkIndexRange, gatherLabels, gatherSamples } from "../ops/gather.ts";
import { keep } from "../tensor/scope.ts";
import { empty, fmtShape, sizeOf, Tensor } from "../tensor/tensor.ts";
import type { ImageSet } from "./mnist.ts";
import { Rng } from "./prng.ts";

/** Gaussian input noise added in the gather (denoising autoencoders). */
export interface NoiseOptions {
  /** Standard deviation of the noise, in output units (after scale/offset), e.g. 0.5. */
  std: number;
  /** Clamp the noisy values to `[lo, hi]`, e.g. `[0, 1]` for images. */
  clip?: readonly [number, number];
  /** Seed of the noise stream (default 0). */
  seed?: number;
}

/** A dataset's noise after defaults: {@link NoiseOptions} with `clip` null when not clipping. */
export interface NoiseConfig {
  /** Standard deviation, in output units. */
  readonly std: number;
  /** Clamp bounds, or null. */
  readonly clip: readonly [number, number] | null;
  /** Seed of the noise stream. */
  readonly seed: number;
}

/** Options of {@link dataset}. */
export interface DatasetOptions {
  /**
   * Shape of one sample, e.g. `[784]` or `[28, 28, 1]`. Required for typed
   * arrays; a tensor's default is its shape without the first dimension, an
   * {@link ImageSet}'s is `[rows * cols]`.
   */
  shape?: readonly number[];
  /** Multiplies every stored value (default 1; `1 / 255` maps u8 pixels to [0, 1]). */
  scale?: number;
  /** Added after `scale` (default 0). */
  offset?: number;
  /** Gaussian noise added to batches gathered with `training` (the default). */
  noise?: NoiseOptions | null;
  /** One class id per sample (an {@link ImageSet} brings its own). */
  labels?: Uint8Array | Int32Array | readonly number[];
  /** Number of classes for one-hot labels (default: largest label + 1). */
  classes?: number;
  /**
   * Largest shard in bytes (default and cap: the adapter's
   * maxStorageBufferBindingSize). Lower it to test sharding on small data.
   */
  maxShardBytes?: number;
}

/** What {@link dataset} accepts: sample values, a tensor `[n, ...shape]`, or an image set. */
export type DatasetSource = Uint8Array | Uint8ClampedArray | Float32Array | Tensor | ImageSet;

/** Options of {@link Dataset.gather} and {@link Dataset.batch}. */
export interface GatherOptions {
  /** Write into this f32 tensor of shape `batchShape(count)` instead of allocating one. */
  out?: Tensor;
  /** Add the configured noise (default true; pass false to evaluate or predict on clean inputs). */
  training?: boolean;
  /**
   * For a step compiled with `lt.compileStep` over one index buffer: gives
   * the index row to start from at each replay (the step records `offset`
   * once; this keeps its commands the same from step to step). Checked at
   * each replay against the index buffer.
   */
  offsetAt?: () => number;
  /**
   * An i32 tensor `[count]` that receives the batch's indices
   * (`indices[offset .. offset + count − 1]`) from the same dispatch: what
   * later gathers of the step (targets, per-sample data) read at offset 0.
   */
  rowsOut?: Tensor;
}

/** Options of {@link Dataset.gatherLabels} and {@link Dataset.batchLabels}. */
export interface LabelOptions {
  /** One-hot f32 rows `[count, classes]` instead of i32 ids `[count]`. */
  oneHot?: boolean;
  /** Write into this tensor instead of allocating one. */
  out?: Tensor;
}

/** Options of {@link Dataset.epoch}. */
export interface EpochOptions {
  /** Samples per step (the last step may be smaller unless `dropRemainder`). */
  batchSize: number;
  /** Visit the samples in a random order (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0). */
  seed?: number;
  /**
   * Which epoch's order to draw: the permutation is
   * `new Rng(seed, epoch).permutation(n)`. Default: a per-dataset counter
   * (0, 1, 2, … on successive calls), so each epoch gets a new order.
   */
  epoch?: number;
  /** Skip the last step when it would be smaller than `batchSize` (default false). */
  dropRemainder?: boolean;
}

/** One step of an {@link Epoch}: rows `offset .. offset + size - 1` of its index buffer. */
export interface Step {
  /** Step number within the epoch, from 0. */
  readonly index: number;
  /** First row of the epoch's `indices` this step uses. */
  readonly offset: number;
  /** Number of samples (the batch size, or less for the last step). */
  readonly size: number;
}

const TWO_32 = 4294967296;

/**
 * One pass over a dataset: a GPU index buffer in visiting order and the steps
 * that cut it into batches. Iterating yields the steps; dispose it (or use
 * `using`) when the epoch ends.
 *
 * @example
 * ```ts
 * using ep = x.epoch({ batchSize: 256, seed: 1 });
 * for (const step of ep) {
 *   const batch = x.gather(ep.indices, step.offset, step.size);
 *   // ... forward, backward, update; dispose batch (or use tidy)
 * }
 * ```
 */
export class Epoch implements Iterable<Step>, Disposable {
  /** i32 `[n]`: the samples in this epoch's visiting order. */
  readonly indices: Tensor;
  /** Samples per full step. */
  readonly batchSize: number;
  /** The steps, in order. */
  readonly steps: readonly Step[];
  /** The epoch number the permutation was drawn for. */
  readonly epoch: number;

  /** Made by {@link Dataset.epoch}. */
  constructor(indices: Tensor, batchSize: number, dropRemainder: boolean, epoch: number) {
    this.indices = indices;
    this.batchSize = batchSize;
    this.epoch = epoch;
    const n = indices.size;
    const count = dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
    this.steps = Object.freeze(
      Array.from({ length: count }, (_, index) => {
        const offset = index * batchSize;
        return Object.freeze({ index, offset, size: Math.min(batchSize, n - offset) });
      }),
    );
  }

  /** Number of steps. */
  get length(): number {
    return this.steps.length;
  }

  /** Iterates over the steps. */
  [Symbol.iterator](): Iterator<Step> {
    return this.steps[Symbol.iterator]();
  }

  /** Frees the index buffer. */
  dispose(): void {
    this.indices.dispose();
  }

  /** Same as {@link Epoch.dispose} (for `using`). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The non-finite check of one upload, shared by the dataset and its views so
 * it runs at most once: the first storage sample holding NaN or ±Inf, and,
 * only when there is one and a view needs it, a 0/1 flag per storage sample.
 */
interface FiniteCheck {
  first: Promise<number | null> | null;
  flags: Promise<Uint8Array> | null;
}

/** The GPU storage and configuration a dataset (or a view of one) is built from. */
interface Parts {
  source: "u8" | "f32";
  /** Shards of `rows` samples each (the last may hold fewer), grouped per dispatch. */
  groups: Tensor[][];
  rows: number;
  n: number;
  sampleShape: readonly number[];
  scale: number;
  offset: number;
  noise: NoiseConfig | null;
  /** GPU labels by storage sample id (shared by all views). */
  labels: Tensor | null;
  /** Host labels by storage sample id. */
  rootLabels: Int32Array | null;
  /** Host labels of this view's samples. */
  hostLabels: Int32Array | null;
  classes: number | null;
  /** Subset views: parent sample of each of this view's samples. */
  map: Tensor | null;
  hostMap: Int32Array | null;
  /** Slice views: parent sample of this view's sample 0. */
  base: number;
  /** Shared by every view of the upload. */
  finite: FiniteCheck;
}

/**
 * A dataset resident on the GPU. Make one with {@link dataset}.
 *
 * @example
 * ```ts
 * const x = lt.data.dataset(mnist.train.images, { shape: [784], scale: 1 / 255 });
 * const idx = lt.tensor(new Int32Array([3, 1, 4, 1, 5]));
 * const batch = x.batch(idx); // f32 [5, 784] in [0, 1]
 * ```
 */
export class Dataset implements Disposable {
  /** Number of samples. */
  readonly n: number;
  /** Shape of one sample. */
  readonly sampleShape: readonly number[];
  /** Values per sample (the product of `sampleShape`). */
  readonly features: number;
  /** How the samples are stored on the GPU (batches are always f32). */
  readonly storage: "u8" | "f32";
  /** Number of storage buffers the samples are split over. */
  readonly shards: number;
  /** Multiplier applied in the gather. */
  readonly scale: number;
  /** Offset added in the gather (after `scale`). */
  readonly offset: number;
  /** The configured noise, or null. */
  readonly noise: NoiseConfig | null;
  /** Number of classes, or null without labels. */
  readonly classes: number | null;
  /** Host copy of the labels (one per sample), or null; for metrics. Do not modify. */
  readonly labels: Int32Array | null;
  /**
   * The noise stream's batch counter: each gather that adds noise uses this
   * step and increments it. Set it to replay noise (e.g. when resuming).
   */
  noiseStep = 0;

  #p: Parts;
  #epochs = 0;
  #disposed = false;

  /** Internal: use {@link dataset}, or the view methods. */
  constructor(parts: Parts) {
    this.#p = parts;
    this.n = parts.n;
    this.sampleShape = Object.freeze([...parts.sampleShape]);
    this.features = sizeOf(parts.sampleShape);
    this.storage = parts.source;
    this.shards = parts.groups.reduce((a, g) => a + g.length, 0);
    this.scale = parts.scale;
    this.offset = parts.offset;
    this.noise = parts.noise;
    this.classes = parts.classes;
    this.labels = parts.hostLabels;
  }

  /** True after {@link Dataset.dispose}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  #alive(op: string): void {
    if (this.#disposed) throw new Error(`${op}: the dataset was disposed`);
  }

  /**
   * Shape of a batch of `b` samples: `[b, ...sampleShape]`.
   *
   * @example
   * ```ts
   * x.batchShape(32); // [32, 784]
   * ```
   */
  batchShape(b: number): number[] {
    return [b, ...this.sampleShape];
  }

  #checkRange(op: string, indices: Tensor, offset: number, count: number): void {
    this.#alive(op);
    checkIndexRange(op, { indices, offset, count });
  }

  #output(op: string, shape: number[], dtype: "f32" | "i32", out?: Tensor): Tensor {
    if (!out) return empty(shape, dtype, op);
    if (!(out instanceof Tensor) || out.disposed) {
      throw new TypeError(`${op}: expected out to be a live tensor`);
    }
    if (out.dtype !== dtype || out.shape.join() !== shape.join()) {
      throw new Error(
        `${op}: expected out ${dtype} ${fmtShape(shape)}, got ${out.dtype} ${fmtShape(out.shape)}`,
      );
    }
    return out;
  }

  /**
   * Gathers samples `indices[offset .. offset + count - 1]` into an f32 batch
   * `[count, ...sampleShape]` on the GPU, applying scale, offset and (when
   * `training`, the default) the configured noise. Records GPU work only.
   * An index outside `[0, n)` yields a NaN row.
   *
   * @example
   * ```ts
   * const out = lt.keep(lt.empty(x.batchShape(256)));
   * for (const s of ep) x.gather(ep.indices, s.offset, s.size, { out }); // no allocation
   * ```
   */
  gather(indices: Tensor, offset: number, count: number, options: GatherOptions = {}): Tensor {
    return this.#gather("dataset.gather", indices, offset, count, options);
  }

  #gather(
    op: string,
    indices: Tensor,
    offset: number,
    count: number,
    options: GatherOptions,
  ): Tensor {
    this.#checkRange(op, indices, offset, count);
    const p = this.#p;
    const { offsetAt, rowsOut } = options;
    if (offsetAt !== undefined && typeof offsetAt !== "function") {
      throw new TypeError(`${op}: offsetAt must be a function returning the index row`);
    }
    if (rowsOut !== undefined) {
      if (!(rowsOut instanceof Tensor) || rowsOut.disposed || rowsOut.dtype !== "i32") {
        throw new TypeError(`${op}: rowsOut must be a live i32 tensor [${count}]`);
      }
      if (rowsOut.shape.join() !== String(count)) {
        throw new Error(`${op}: expected rowsOut i32 [${count}], got ${fmtShape(rowsOut.shape)}`);
      }
      if (rowsOut.storage(op) === indices.storage(op)) {
        throw new Error(`${op}: rowsOut must not share storage with the indices it copies`);
      }
    }
    const out = this.#output(op, this.batchShape(count), "f32", options.out);
    const noise = (options.training ?? true) ? p.noise : null;
    let step = noise ? this.noiseStep++ : 0;
    // Fresh noise at each replay of a captured step too: the counter moves on.
    if (noise) runtime().hook(() => void (step = this.noiseStep++));
    gatherSamples(op, p, { indices, offset, count }, out, {
      scale: p.scale,
      shift: p.offset,
      noise,
      step,
    }, { stepAt: noise ? () => step : undefined, offsetAt, rowsOut });
    return out;
  }

  /**
   * Gathers the samples at `indices` (i32 `[b]`) into an f32 batch
   * `[b, ...sampleShape]`. Pass a tensor (or `{ out }`) to write in place.
   *
   * @example
   * ```ts
   * const batch = x.batch(lt.tensor(new Int32Array([0, 5, 2])), { training: false });
   * ```
   */
  batch(indices: Tensor, options: GatherOptions | Tensor = {}): Tensor {
    const o = options instanceof Tensor ? { out: options } : options;
    return this.#gather("dataset.batch", indices, 0, indices?.size, o);
  }

  /**
   * Gathers the labels of `indices[offset .. offset + count - 1]`: i32 class
   * ids `[count]`, or with `oneHot` f32 rows `[count, classes]` built in the
   * kernel. An index outside `[0, n)` yields −1 (or a NaN row).
   *
   * @example
   * ```ts
   * const y = x.gatherLabels(ep.indices, step.offset, step.size, { oneHot: true });
   * ```
   */
  gatherLabels(
    indices: Tensor,
    offset: number,
    count: number,
    options: LabelOptions = {},
  ): Tensor {
    return this.#gatherLabels("dataset.gatherLabels", indices, offset, count, options);
  }

  #gatherLabels(
    op: string,
    indices: Tensor,
    offset: number,
    count: number,
    options: LabelOptions,
  ): Tensor {
    const p = this.#p;
    if (!p.labels || p.classes === null) {
      this.#alive(op);
      throw new Error(`${op}: the dataset has no labels (pass labels to dataset())`);
    }
    this.#checkRange(op, indices, offset, count);
    const oneHot = options.oneHot ?? false;
    const width = oneHot ? p.classes : 1;
    const out = this.#output(
      op,
      oneHot ? [count, width] : [count],
      oneHot ? "f32" : "i32",
      options.out,
    );
    gatherLabels(op, p, p.labels, { indices, offset, count }, out, oneHot);
    return out;
  }

  /**
   * The labels of the samples at `indices` (see {@link Dataset.gatherLabels}).
   *
   * @example
   * ```ts
   * const y = x.batchLabels(idx, { oneHot: true }); // f32 [b, 10]
   * ```
   */
  batchLabels(indices: Tensor, options: LabelOptions = {}): Tensor {
    return this.#gatherLabels("dataset.batchLabels", indices, 0, indices?.size, options);
  }

  /**
   * Starts an epoch: draws the visiting order on the host (seeded; identity
   * without shuffle), uploads it once as an i32 tensor, and returns the steps.
   *
   * @example
   * ```ts
   * for (let e = 0; e < epochs; e++) {
   *   using ep = x.epoch({ batchSize: 256, seed: 42, epoch: e });
   *   for (const s of ep) step(x.gather(ep.indices, s.offset, s.size, { out }));
   * }
   * ```
   */
  epoch(options: EpochOptions): Epoch {
    const op = "dataset.epoch";
    this.#alive(op);
    const { batchSize, shuffle = true, seed = 0, dropRemainder = false } = options ?? {};
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`${op}: expected batchSize >= 1, got ${batchSize}`);
    }
    if (dropRemainder && batchSize > this.n) {
      throw new RangeError(
        `${op}: batchSize ${batchSize} with dropRemainder leaves no step for ${this.n} samples`,
      );
    }
    for (const [name, v] of [["seed", seed], ["epoch", options.epoch ?? 0]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || (name === "epoch" && v >= TWO_32)) {
        throw new RangeError(`${op}: expected ${name} to be a non-negative integer, got ${v}`);
      }
    }
    const number = options.epoch ?? this.#epochs++;
    let order: Int32Array;
    if (shuffle) order = new Rng(seed, number).permutation(this.n);
    else {
      order = new Int32Array(this.n);
      for (let i = 0; i < this.n; i++) order[i] = i;
    }
    const indices = keep(tensor(order, [this.n], "i32"));
    return new Epoch(indices, batchSize, dropRemainder, number);
  }

  /**
   * The whole dataset as one f32 tensor `[n, ...sampleShape]` (scaled, no
   * noise). For small datasets: it must fit one storage binding.
   *
   * @example
   * ```ts
   * const xs = val.toTensor(); // f32 [n, 784]
   * ```
   */
  toTensor(): Tensor {
    const idx = this.#arange("dataset.toTensor");
    try {
      return this.#gather("dataset.toTensor", idx, 0, this.n, { training: false });
    } finally {
      idx.dispose();
    }
  }

  /**
   * All labels as one tensor: i32 `[n]`, or one-hot f32 `[n, classes]`.
   *
   * @example
   * ```ts
   * const y = val.labelsTensor({ oneHot: true });
   * ```
   */
  labelsTensor(options: { oneHot?: boolean } = {}): Tensor {
    const idx = this.#arange("dataset.labelsTensor");
    try {
      return this.#gatherLabels("dataset.labelsTensor", idx, 0, this.n, options);
    } finally {
      idx.dispose();
    }
  }

  /**
   * The first sample (in this dataset's order) that holds NaN or ±Inf, or
   * null. Runs on the GPU once per upload — views share the result — and
   * reads back one number per shard; u8 storage is always finite. Only when
   * the upload has such a sample and this view may not start at it does it
   * also read a flag per stored sample.
   *
   * @example
   * ```ts
   * const bad = await x.firstNonFinite(); // e.g. 7, or null
   * ```
   */
  async firstNonFinite(): Promise<number | null> {
    this.#alive("dataset.firstNonFinite");
    const p = this.#p;
    if (p.source === "u8") return null;
    const shards = p.groups.flat();
    p.finite.first ??= Promise.all(shards.map((t) => firstNonFiniteRow(t, this.features))).then(
      (rows) => {
        const at = rows.findIndex((r) => r !== null);
        return at < 0 ? null : at * p.rows + rows[at]!;
      },
    );
    const first = await p.finite.first;
    if (first === null) return null;
    if (!p.hostMap && first >= p.base && first < p.base + this.n) return first - p.base;
    p.finite.flags ??= Promise.all(shards.map(async (t) => {
      const flags = nonFiniteRowsRaw(t, this.features);
      try {
        return await flags.toArray();
      } finally {
        flags.dispose();
      }
    })).then((parts) => {
      const all = new Uint8Array(parts.reduce((a, f) => a + f.length, 0));
      let at = 0;
      for (const f of parts) for (const v of f) all[at++] = v;
      return all;
    });
    const flags = await p.finite.flags;
    for (let i = 0; i < this.n; i++) {
      if (flags[p.hostMap ? p.hostMap[i] : p.base + i]) return i;
    }
    return null;
  }

  /**
   * Throws, naming `op`, when a sample holds NaN or ±Inf (see
   * {@link Dataset.firstNonFinite}): fit, evaluate, predict and DEC call it
   * before their first step, since such a sample turns weights into NaN
   * while the loss may stay finite.
   *
   * @example
   * ```ts
   * await x.assertFinite("myTraining"); // throws "myTraining: x sample 7 holds NaN or ±Inf …"
   * ```
   */
  async assertFinite(op: string, what = "x"): Promise<void> {
    const bad = await this.firstNonFinite();
    if (bad !== null) {
      throw new Error(
        `${op}: ${what} sample ${bad} holds NaN or ±Inf (the first such sample of ${this.n}); ` +
          `drop or impute it: one non-finite sample silently turns weights into NaN`,
      );
    }
  }

  #arange(op: string): Tensor {
    this.#alive(op);
    const a = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) a[i] = i;
    return tensor(a, [this.n], "i32");
  }

  #view(op: string, change: Partial<Parts>): Dataset {
    this.#alive(op);
    const p = this.#p;
    const share = (t: Tensor | null) => t && keep(t.view(t.shape, op));
    return new Dataset({
      ...p,
      groups: p.groups.map((g) => g.map((t) => share(t)!)),
      labels: share(p.labels),
      ...change,
      map: "map" in change ? change.map! : share(p.map),
    });
  }

  /**
   * A view of samples `start .. end - 1` sharing this dataset's storage
   * (validation splits). Dispose it separately.
   *
   * @example
   * ```ts
   * const train = all.slice(0, 50000), val = all.slice(50000, 60000);
   * ```
   */
  slice(start: number, end: number = this.n): Dataset {
    const op = "dataset.slice";
    if (
      !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.n ||
      start >= end
    ) {
      throw new RangeError(
        `${op}: expected 0 <= start < end <= ${this.n}, got start ${start}, end ${end}`,
      );
    }
    const p = this.#p;
    if (p.hostMap) return this.#subset(op, p.hostMap.subarray(start, end));
    return this.#view(op, {
      n: end - start,
      base: p.base + start,
      hostLabels: p.hostLabels?.slice(start, end) ?? null,
    });
  }

  /**
   * A view of the samples at host `indices` (in that order; repeats allowed),
   * sharing this dataset's storage. Uploads the index map once.
   *
   * @example
   * ```ts
   * const { train, test } = lt.data.trainTestSplit(x.n, { testSize: 0.1, seed: 1 });
   * const xTrain = x.subset(train), xVal = x.subset(test);
   * ```
   */
  subset(indices: ArrayLike<number>): Dataset {
    const op = "dataset.subset";
    this.#alive(op);
    const parents = new Int32Array(indices.length);
    if (indices.length < 1) throw new RangeError(`${op}: expected at least one index, got none`);
    const p = this.#p;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.n) {
        throw new RangeError(
          `${op}: expected indices in [0, ${this.n}), got ${i} at position ${k}`,
        );
      }
      parents[k] = p.hostMap ? p.hostMap[i] : p.base + i;
    }
    return this.#subset(op, parents);
  }

  /** A mapped view over storage sample ids. */
  #subset(op: string, ids: Int32Array): Dataset {
    this.#alive(op);
    const root = this.#p.rootLabels;
    const map = keep(tensor(ids.slice(), [ids.length], "i32"));
    return this.#view(op, {
      n: ids.length,
      base: 0,
      map,
      hostMap: ids.slice(),
      hostLabels: root ? Int32Array.from(ids, (i) => root[i]) : null,
    });
  }

  /**
   * A view with other noise (or none) over the same storage: e.g. noisy
   * inputs and clean targets of a denoising autoencoder from one upload.
   *
   * @example
   * ```ts
   * const clean = lt.data.dataset(images, { shape: [784], scale: 1 / 255 });
   * const noisy = clean.withNoise({ std: 0.5, clip: [0, 1], seed: 1 });
   * // gather both with the same epoch indices: input noisy, target clean
   * ```
   */
  withNoise(noise: NoiseOptions | null): Dataset {
    return this.#view("dataset.withNoise", { noise: checkNoise("dataset.withNoise", noise) });
  }

  /** Frees this dataset's references to the GPU storage (idempotent). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const p = this.#p;
    for (const g of p.groups) for (const t of g) t.dispose();
    p.labels?.dispose();
    p.map?.dispose();
  }

  /** Same as {@link Dataset.dispose} (for `using`). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A one-line description: size, sample shape, storage, shards. */
  toString(): string {
    return `Dataset(n=${this.n}, sample ${
      fmtShape(this.sampleShape)
    }, ${this.storage}, ${this.shards} shard${this.shards === 1 ? "" : "s"}${
      this.#disposed ? ", disposed" : ""
    })`;
  }
}

function checkNoise(op: string, noise: NoiseOptions | null | undefined): NoiseConfig | null {
  if (noise === null || noise === undefined) return null;
  const { std, clip, seed = 0 } = noise;
  if (typeof std !== "number" || !Number.isFinite(std) || std < 0) {
    throw new RangeError(`${op}: expected noise.std to be a finite number >= 0, got ${std}`);
  }
  if (
    clip !== undefined &&
    (!Array.isArray(clip) || clip.length !== 2 ||
      clip.some((v) => typeof v !== "number" || Number.isNaN(v)) || clip[0] > clip[1])
  ) {
    throw new RangeError(
      `${op}: expected noise.clip to be [lo, hi] with lo <= hi, got ${JSON.stringify(clip)}`,
    );
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`${op}: expected noise.seed to be a non-negative integer, got ${seed}`);
  }
  return Object.freeze({
    std,
    clip: clip ? Object.freeze([clip[0], clip[1]] as const) : null,
    seed,
  });
}

function isImageSet(x: unknown): x is ImageSet {
  return typeof x === "object" && x !== null && "images" in x && "rows" in x && "cols" in x;
}

function describe(x: unknown): string {
  if (x instanceof Tensor) return x.toString();
  if (ArrayBuffer.isView(x)) return x.constructor.name;
  return Array.isArray(x) ? "an array" : x === null ? "null" : typeof x;
}

function checkLabels(
  op: string,
  labels: Uint8Array | Int32Array | readonly number[],
  n: number,
  classes: number | undefined,
): { host: Int32Array; classes: number } {
  if (!(labels instanceof Uint8Array || labels instanceof Int32Array || Array.isArray(labels))) {
    throw new TypeError(
      `${op}: expected labels as a Uint8Array, Int32Array or number[], got ${describe(labels)}`,
    );
  }
  if (labels.length !== n) {
    throw new RangeError(`${op}: expected ${n} labels (one per sample), got ${labels.length}`);
  }
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 1)) {
    throw new RangeError(`${op}: expected classes to be an integer >= 1, got ${classes}`);
  }
  const host = new Int32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) {
      throw new RangeError(
        `${op}: expected labels to be integers in [0, ${
          classes ?? "∞"
        }), got ${v} at position ${i}`,
      );
    }
    host[i] = v;
    if (v > max) max = v;
  }
  return { host, classes: classes ?? max + 1 };
}

/**
 * Uploads samples once and returns a {@link Dataset} that gathers batches on
 * the GPU. `Uint8Array` (and `Uint8ClampedArray`) data stays u8 on the GPU
 * and is normalised in the gather (`u8 · scale + offset`); `Float32Array`
 * data stays f32. Data larger than one storage binding is split into shards
 * of whole samples. Validates everything before any GPU work.
 *
 * @example
 * ```ts
 * import * as lt from "latent";
 * await lt.init();
 * const mnist = await lt.data.loadMnist();
 * const x = lt.data.dataset(mnist.train.images, {
 *   shape: [784], scale: 1 / 255, labels: mnist.train.labels,
 *   noise: { std: 0.5, clip: [0, 1], seed: 1 }, // denoising autoencoder inputs
 * });
 * using ep = x.epoch({ batchSize: 256, seed: 1 });
 * for (const s of ep) {
 *   const xb = x.gather(ep.indices, s.offset, s.size);                  // f32 [b, 784]
 *   const yb = x.gatherLabels(ep.indices, s.offset, s.size, { oneHot: true }); // f32 [b, 10]
 * }
 * ```
 */
export function dataset(data: DatasetSource, options: DatasetOptions = {}): Dataset {
  const op = "dataset";
  let shape = options.shape;
  let labels = options.labels;
  let values: Uint8Array | Float32Array | null = null;
  let source: Tensor | null = null;
  if (data instanceof Tensor) {
    if (data.disposed) throw new Error(`${op}: the tensor was already disposed`);
    if (data.dtype !== "u8" && data.dtype !== "f32") {
      throw new TypeError(`${op}: expected a u8 or f32 tensor, got ${data.toString()}`);
    }
    source = data;
    shape ??= data.shape.slice(1);
  } else if (data instanceof Uint8Array || data instanceof Float32Array) {
    values = data;
  } else if (data instanceof Uint8ClampedArray) {
    values = new Uint8Array(data.buffer, data.byteOffset, data.length);
  } else if (isImageSet(data)) {
    values = data.images;
    shape ??= [data.rows * data.cols];
    labels ??= data.labels;
  } else {
    throw new TypeError(
      `${op}: expected a Uint8Array, Float32Array, tensor or image set, got ${describe(data)}`,
    );
  }
  const length = values ? values.length : source!.size;
  if (shape === undefined) {
    throw new TypeError(
      `${op}: expected options.shape (the shape of one sample, e.g. [784]) for ${length} values`,
    );
  }
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new TypeError(
      `${op}: expected shape to be a list of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  const features = sizeOf(shape);
  if (length % features !== 0) {
    throw new RangeError(
      `${op}: ${length} values is not a whole number of samples of shape ${
        fmtShape(shape)
      } (${features} values each)`,
    );
  }
  const n = length / features;
  if (n < 1) throw new RangeError(`${op}: expected at least one sample, got 0 values`);
  const { scale = 1, offset = 0, maxShardBytes } = options;
  for (const [name, v] of [["scale", scale], ["offset", offset]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`${op}: expected ${name} to be a finite number, got ${v}`);
    }
  }
  const noise = checkNoise(op, options.noise);
  const lab = labels === undefined ? null : checkLabels(op, labels, n, options.classes);
  if (lab === null && options.classes !== undefined) {
    throw new Error(`${op}: classes (${options.classes}) given without labels`);
  }
  if (maxShardBytes !== undefined && (!Number.isInteger(maxShardBytes) || maxShardBytes < 1)) {
    throw new RangeError(
      `${op}: expected maxShardBytes to be a positive integer, got ${maxShardBytes}`,
    );
  }

  const rt = runtime();
  const storage: "u8" | "f32" = values
    ? (values instanceof Uint8Array ? "u8" : "f32")
    : source!.dtype as "u8" | "f32";
  const shards: Tensor[] = [];
  let rows = n;
  let labelTensor: Tensor | null = null;
  try {
    if (source) {
      // Already one binding: share its storage.
      shards.push(keep(source.view([n, ...shape], op)));
    } else {
      const sampleBytes = features * (storage === "u8" ? 1 : 4);
      const binding = rt.limits.maxStorageBufferBindingSize;
      // A shard's binding is padded to 4 bytes, so the cap from the limit is too.
      const cap = Math.min(maxShardBytes ?? binding, Math.floor(binding / 4) * 4);
      rows = Math.min(n, Math.floor(cap / sampleBytes));
      if (rows < 1) {
        throw new RangeError(
          `${op}: one sample of shape ${fmtShape(shape)} ${storage} takes ${sampleBytes} bytes, ` +
            `more than a shard may hold (${cap} bytes; maxStorageBufferBindingSize ${binding})`,
        );
      }
      for (let start = 0; start < n; start += rows) {
        const end = Math.min(n, start + rows);
        const part = values!.subarray(start * features, end * features);
        shards.push(keep(tensor(part, [end - start, ...shape])));
      }
    }
    if (lab) labelTensor = keep(tensor(lab.host, [n], "i32"));
  } catch (e) {
    for (const t of shards) t.dispose();
    throw e;
  }
  const groups: Tensor[][] = [];
  for (let i = 0; i < shards.length; i += MAX_SHARDS_PER_DISPATCH) {
    groups.push(shards.slice(i, i + MAX_SHARDS_PER_DISPATCH));
  }
  return new Dataset({
    source: storage,
    groups,
    rows,
    n,
    sampleShape: shape,
    scale,
    offset,
    noise,
    labels: labelTensor,
    rootLabels: lab?.host ?? null,
    hostLabels: lab?.host ?? null,
    classes: lab?.classes ?? null,
    map: null,
    hostMap: null,
    base: 0,
    finite: { first: null, flags: null },
  });
}
