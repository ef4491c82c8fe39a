/**
 * The MNIST clustering study's recipe and data, shared by the Deno script
 * (`demos/mnist_dec.ts`) and the browser page (`demos/web/main.ts`) so both
 * train the same models on the same images and print comparable tables.
 *
 * @module
 */
import * as lt from "../src/mod.ts";

/** Hyperparameters of one study run. */
export interface StudyRecipe {
  /** Dense autoencoder pretraining epochs. */
  pretrainEpochs: number;
  /** Most DEC / IDEC / conv-DEC fine-tuning steps. */
  maxIter: number;
  /** Steps between target refreshes. */
  updateInterval: number;
  /** Stop when fewer than this fraction of labels change between refreshes. */
  tol: number;
  /** Batch size of the fine-tuning and of the convolutional pretraining. */
  batchSize: number;
  /**
   * Batch size of the dense autoencoder's pretraining. The shortened recipe
   * takes 128: on 10 000 images and 20 epochs, twice the Adam steps of batch
   * 256 gave codes that cluster better for the same samples (PyTorch
   * reference, seed 1: AE + k-means ACC 0.70 against 0.67 for 25 epochs of
   * batch 256; batch 64 for 12 epochs: 0.61), and lavapipe trains at
   * nearly the same samples/s (652 against ~700 at batch 256).
   */
  pretrainBatchSize: number;
  /** k-means restarts on the codes. */
  kmeansInit: number;
  /** Dense pretraining: "sgd" = SGD(1, 0.9) (the paper's), "adam" = Adam(learningRate). */
  optimizer: "sgd" | "adam";
  /** Adam's learning rate for the dense pretraining (default 1e-3). */
  learningRate: number;
  /**
   * Standard deviation of the Gaussian noise added to the pretraining inputs
   * (a denoising autoencoder, as the DEC paper's stacked one); 0: none.
   */
  noise: number;
  /** Convolutional autoencoder pretraining epochs (always Adam(1e-3), as DCEC). */
  convPretrainEpochs: number;
}

/** conv-DEC's pretraining epochs in the shortened recipe (DCEC: 200). */
export const SHORT_CONV_EPOCHS = 10;

/**
 * The published recipe (`full`) or the shortened one, with any field
 * overridden. The shortened recipe is sized for a CPU adapter: on the first
 * 10 000 images a seed of the whole study (k-means, autoencoder + k-means,
 * DEC, IDEC) takes about 10 minutes on 2 lavapipe cores. Its 20 epochs of
 * batch 128 are 200 000 pretraining samples, under half of what the
 * ordering of the paper needs at full strength (~500 000: 50 epochs of
 * batch 256 gave AE + k-means 0.72 and DEC 0.75 ACC in the PyTorch
 * reference, seed 1), and DEC and IDEC stop after 300 steps unless their
 * labels settle first (with 500, seed 1 took 694 s: pretraining and
 * k-means 365 s, DEC 123 s, IDEC 480 steps 205 s).
 *
 * @example
 * ```ts
 * const r = studyRecipe(false, { pretrainEpochs: 5 });
 * r.updateInterval; // 40
 * ```
 */
export function studyRecipe(full: boolean, over: Partial<StudyRecipe> = {}): StudyRecipe {
  const r: StudyRecipe = {
    pretrainEpochs: full ? 300 : 20,
    maxIter: full ? 20000 : 300,
    updateInterval: full ? 140 : 40,
    tol: 0.001,
    batchSize: 256,
    pretrainBatchSize: full ? 256 : 128,
    kmeansInit: full ? 20 : 10,
    optimizer: full ? "sgd" : "adam",
    learningRate: 1e-3,
    noise: 0,
    convPretrainEpochs: full ? 200 : SHORT_CONV_EPOCHS,
  };
  for (const [k, v] of Object.entries(over)) {
    if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
  }
  if (r.optimizer !== "sgd" && r.optimizer !== "adam") {
    throw new Error(`optimizer must be sgd or adam, got ${r.optimizer}`);
  }
  if (!(r.learningRate > 0)) {
    throw new RangeError(`learningRate must be > 0, got ${r.learningRate}`);
  }
  if (!(r.noise >= 0)) throw new RangeError(`noise must be >= 0, got ${r.noise}`);
  return r;
}

/**
 * The study's samples: the first `n` images of MNIST train followed by test
 * (70 000 in all), with their labels.
 */
export function firstImages(
  mnist: lt.data.ImageDataset,
  n: number,
): { images: Uint8Array; labels: Int32Array } {
  const total = mnist.train.n + mnist.test.n;
  if (!Number.isInteger(n) || n < 10 || n > total) {
    throw new RangeError(`the number of samples must be an integer in [10, ${total}], got ${n}`);
  }
  const px = mnist.train.rows * mnist.train.cols;
  const images = new Uint8Array(n * px), labels = new Int32Array(n);
  const fromTrain = Math.min(n, mnist.train.n);
  images.set(mnist.train.images.subarray(0, fromTrain * px));
  labels.set(mnist.train.labels.subarray(0, fromTrain));
  if (n > fromTrain) {
    images.set(mnist.test.images.subarray(0, (n - fromTrain) * px), fromTrain * px);
    labels.set(mnist.test.labels.subarray(0, n - fromTrain), fromTrain);
  }
  return { images, labels };
}

/** The model kinds of the study. */
export type StudyModel = "dense" | "conv";

/**
 * A DEC of the study: `dense` is DEC's 784-500-500-2000-10 autoencoder,
 * `conv` DCEC's convolutional one (Conv 32-64-128 → Dense 10, mirrored with
 * transposed convolutions), which keeps its decoder while clustering as
 * DCEC does unless `variant` says otherwise.
 */
export function studyDEC(
  model: StudyModel,
  options: { clusters: number; seed: number; variant?: "dec" | "idec" },
): lt.cluster.DEC {
  if (model === "conv") {
    return lt.cluster.DEC.convolutional({
      clusters: options.clusters,
      inputShape: [28, 28, 1],
      seed: options.seed,
      variant: options.variant ?? "idec",
      gamma: 0.1,
    });
  }
  if (model !== "dense") throw new Error(`model must be "dense" or "conv", got "${model}"`);
  return new lt.cluster.DEC({
    clusters: options.clusters,
    seed: options.seed,
    variant: options.variant ?? "dec",
  });
}

/** The pretraining optimizer of the recipe for a model kind. */
export function pretrainOptimizer(model: StudyModel, recipe: StudyRecipe): lt.optim.Optimizer {
  if (model === "conv") return lt.optim.adam(1e-3);
  return recipe.optimizer === "adam"
    ? lt.optim.adam(recipe.learningRate)
    : lt.optim.sgd({ learningRate: 1, momentum: 0.9 });
}

/** One stage's scores in one seed's run of the study (the demo's rows, PyTorch's too). */
export interface StudyRow {
  seed: number;
  /** e.g. `"DEC (300 steps)"`. */
  stage: string;
  acc: number;
  nmi: number;
  ari: number;
  seconds: number;
}

/** The stage of a row without its step count: `"DEC (300 steps)"` → `"DEC"`. */
export function stageName(stage: string): string {
  return stage.replace(/ \(\d+ steps\)/, "");
}

/**
 * Median ACC / NMI / ARI / seconds of each stage over the rows given (one
 * seed's rows, or all seeds'), stages in first-seen order.
 *
 * @example
 * ```ts
 * medianRows([{ seed: 1, stage: "DEC (9 steps)", acc: 0.5, nmi: 0.4, ari: 0.3, seconds: 2 }]);
 * // [{ stage: "DEC", acc: 0.5, nmi: 0.4, ari: 0.3, seconds: 2 }]
 * ```
 */
export function medianRows(rows: readonly StudyRow[]): Omit<StudyRow, "seed">[] {
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return [...new Set(rows.map((r) => stageName(r.stage)))].map((stage) => {
    const of = rows.filter((r) => stageName(r.stage) === stage);
    const m = (k: "acc" | "nmi" | "ari" | "seconds") => median(of.map((r) => r[k]));
    return { stage, acc: m("acc"), nmi: m("nmi"), ari: m("ari"), seconds: m("seconds") };
  });
}
