/**
 * compile / fit / evaluate / predict.
 *
 * A step gathers its batch on the GPU from the epoch's shuffled index buffer,
 * runs forward, backward and the fused optimizer update inside one `tidy`,
 * and adds the batch's mean loss into a GPU accumulator of its batch size (a
 * built-in loss in the pass that reduces it, with no dispatch of its own). The
 * host reads the accumulators once per epoch; the progress bar's running loss
 * comes from a copy read back at most once per `logInterval` without waiting
 * for it. {@link Runtime.throttle} keeps at most a few steps in flight, so
 * the GPU never idles and host memory never grows.
 *
 * After one eager step, fit captures two steps and replays the captured
 * commands for the rest (src/gpu/capture.ts, {@link FitOptions.compileStep}):
 * the input gather reads the epoch's order (copied once per epoch) from the
 * step's row, given again at each replay, and writes the batch's indices
 * into a buffer of its batch size, so every step of a size records the same
 * commands and none is a copy.
 *
 * The step itself is pluggable, as Keras' `Model.train_step`: a
 * {@link TrainStep} passed as `fit(x, y, { trainStep })` replaces the
 * compiled forward/loss/backward/update while fit keeps the gathering,
 * shuffling, loss accumulation, callbacks, history and checks.
 *
 * @module
 */
import { backward } from "../autograd/tape.ts";
import { noGrad } from "../autograd/tape.ts";
import { type Dataset, dataset } from "../data/dataset.ts";
import { type CompileReport, StepCompiler } from "../gpu/capture.ts";
import { runtime } from "../gpu/runtime.ts";
import { add, binaryRaw } from "../ops/binary.ts";
import { clone, copyInto, fillInPlace, zeros } from "../ops/creation.ts";
import { decodeNonFiniteRow, nonFiniteRowRaw } from "../ops/finite.ts";
import {
  binaryCrossentropy,
  categoricalCrossentropy,
  klDivergence,
  type LossOptions,
  meanAbsoluteError,
  meanSquaredError,
  sparseCategoricalCrossentropy,
} from "../ops/losses.ts";
import { addedInto, type ReduceAccumulator } from "../ops/reduce.ts";
import { accuracyCount } from "../ops/metrics.ts";
import { keep, tidy } from "../tensor/scope.ts";
import { empty, fmtShape, Tensor } from "../tensor/tensor.ts";
import type { Callback, Logs, TrainingTarget } from "./callbacks.ts";
import type { Param } from "./layer.ts";
import type { Model } from "./model.ts";
import { get as getOptimizer, type Optimizer } from "./optimizers.ts";

/** A loss function of (prediction, target) returning a scalar tensor. */
export type LossFn = (pred: Tensor, target: Tensor) => Tensor;

/** Loss names accepted by compile (Keras spellings). */
export type LossName =
  | "mse"
  | "mean_squared_error"
  | "mae"
  | "mean_absolute_error"
  | "binary_crossentropy"
  | "categorical_crossentropy"
  | "sparse_categorical_crossentropy"
  | "kld"
  | "kl_divergence";

/**
 * A built-in loss: it can add itself into a running total in the pass that
 * reduces it (`accumulate`), so fit keeps its epoch loss without an add per
 * step.
 */
type BuiltinLoss = (pred: Tensor, target: Tensor, options?: LossOptions) => Tensor;

const LOSSES: Record<LossName, BuiltinLoss> = {
  mse: (p, t, o) => meanSquaredError(p, t, o),
  mean_squared_error: (p, t, o) => meanSquaredError(p, t, o),
  mae: (p, t, o) => meanAbsoluteError(p, t, o),
  mean_absolute_error: (p, t, o) => meanAbsoluteError(p, t, o),
  binary_crossentropy: (p, t, o) => binaryCrossentropy(p, t, o),
  categorical_crossentropy: (p, t, o) => categoricalCrossentropy(p, t, o),
  sparse_categorical_crossentropy: (p, t, o) => sparseCategoricalCrossentropy(p, t, o),
  kld: (p, t, o) => klDivergence(t, p, o),
  kl_divergence: (p, t, o) => klDivergence(t, p, o),
};

/** What compile takes. */
export interface CompileOptions {
  optimizer: Optimizer | string;
  /**
   * The loss fit minimises and evaluate reports. Omit it only when fit runs a
   * custom {@link TrainStep} that computes its own loss (as Keras allows).
   */
  loss?: LossName | LossFn;
  /** `"accuracy"`: categorical accuracy for multi-class outputs, binary accuracy for one unit or BCE. */
  metrics?: "accuracy"[];
}

/** The compiled training configuration of a model. */
export interface Compiled {
  optimizer: Optimizer;
  /** Null when compiled without a loss (for a custom {@link TrainStep}). */
  loss: LossFn | null;
  /**
   * The same loss adding itself (times `scale`) into a running total in its
   * own reduction; null for a custom loss function.
   */
  lossInto: ((pred: Tensor, target: Tensor, total: ReduceAccumulator) => Tensor) | null;
  lossName: string;
  accuracy: "categorical" | "binary" | null;
  /** How targets are gathered from integer labels. */
  targets: "dense" | "onehot" | "sparse";
}

/** Resolves compile options (validating names before any GPU work). */
export function compileOptions(model: Model, o: CompileOptions): Compiled {
  if (!o || !o.optimizer) {
    throw new Error(
      `compile(${model.name}): pass { optimizer, loss } (the loss may be left out for a custom trainStep)`,
    );
  }
  const optimizer = getOptimizer(o.optimizer);
  let loss: LossFn | null, lossName: string;
  let lossInto: Compiled["lossInto"] = null;
  if (o.loss === undefined) {
    loss = null;
    lossName = "none";
  } else if (typeof o.loss === "string") {
    if (!(o.loss in LOSSES)) {
      throw new Error(
        `compile(${model.name}): unknown loss "${o.loss}" (expected one of ${
          Object.keys(LOSSES).join(", ")
        })`,
      );
    }
    const builtin = LOSSES[o.loss as LossName];
    loss = (p, t) => builtin(p, t);
    lossInto = (p, t, total) => builtin(p, t, { accumulate: total });
    lossName = o.loss;
  } else if (typeof o.loss === "function") {
    loss = o.loss;
    lossName = o.loss.name || "custom";
  } else throw new TypeError(`compile(${model.name}): loss must be a name or a function`);
  let accuracy: Compiled["accuracy"] = null;
  for (const m of o.metrics ?? []) {
    if (m !== "accuracy") {
      throw new Error(`compile(${model.name}): unknown metric "${m}" (expected "accuracy")`);
    }
    const units = model.outputs[0].shape[model.outputs[0].shape.length - 1];
    accuracy = lossName === "binary_crossentropy" || units === 1 ? "binary" : "categorical";
  }
  const targets = lossName === "sparse_categorical_crossentropy"
    ? "sparse"
    : lossName === "categorical_crossentropy"
    ? "onehot"
    : "dense";
  return { optimizer, loss, lossInto, lossName, accuracy, targets };
}

/** Inputs fit/evaluate/predict accept: a GPU dataset, a tensor `[n, ...]`, or host values. */
export type DataLike = Dataset | Tensor | Float32Array | Uint8Array;

/** Targets: like inputs, or integer class labels (one per sample) for classifiers. */
export type TargetLike = DataLike | Int32Array | number[];

interface Source {
  n: number;
  gather(indices: Tensor, offset: number, count: number, training: boolean): Tensor;
  dispose(): void;
  /**
   * Targets that are the inputs themselves (an autoencoder's `fit(x, x)`): a
   * step reuses the input batch instead of gathering the same rows twice,
   * unless the input gather adds noise (a denoising autoencoder's targets
   * are the clean rows).
   */
  sameAsInput?: boolean;
  /** Throws when a sample holds NaN or ±Inf (absent where none can: labels, u8). */
  check?: () => Promise<void>;
}

function isDataset(x: unknown): x is Dataset {
  return !!x && typeof x === "object" && "gather" in x && "epoch" in x;
}

function inputSource(
  op: string,
  x: DataLike,
  shape: readonly number[],
  what = "x",
): Source & { ds: Dataset } {
  let ds: Dataset, owned = false;
  if (isDataset(x)) ds = x;
  else if (x instanceof Float32Array || x instanceof Uint8Array) {
    ds = dataset(x, { shape });
    owned = true;
  } else if (x && typeof x === "object" && "shape" in x) {
    ds = dataset(x as Tensor);
    owned = true;
  } else throw new TypeError(`${op}: expected a Dataset, a Tensor or a Float32Array/Uint8Array`);
  if (ds.sampleShape.join() !== shape.join()) {
    throw new Error(
      `${op}: expected samples of shape ${fmtShape(shape)}, got ${fmtShape(ds.sampleShape)}`,
    );
  }
  return {
    ds,
    n: ds.n,
    gather: (i, o, c, training) => ds.gather(i, o, c, { training }),
    dispose: () => owned && ds.dispose(),
    check: () => ds.assertFinite(op, what),
  };
}

function targetSource(
  op: string,
  y: TargetLike,
  x: Source & { ds: Dataset },
  shape: readonly number[],
  c: Compiled,
  xRaw?: DataLike,
): Source {
  const classes = shape[shape.length - 1];
  const labelled = Array.isArray(y) || y instanceof Int32Array ||
    (y instanceof Uint8Array && c.targets !== "dense" && y.length === x.n);
  if (labelled) {
    if (c.targets === "dense") {
      throw new Error(
        `${op}: integer labels need a classification loss (categorical or sparse_categorical_crossentropy), got ${c.lossName}`,
      );
    }
    const labels = y as ArrayLike<number>;
    if (labels.length !== x.n) {
      throw new Error(`${op}: expected ${x.n} labels (one per sample), got ${labels.length}`);
    }
    const carrier = dataset(new Uint8Array(x.n), {
      shape: [1],
      labels: Int32Array.from(labels),
      classes,
    });
    const oneHot = c.targets === "onehot";
    return {
      n: x.n,
      gather: (i, o, cnt) => carrier.gatherLabels(i, o, cnt, { oneHot }),
      dispose: () => carrier.dispose(),
    };
  }
  if (y === x.ds || (y === xRaw && x.ds.sampleShape.join() === shape.join())) {
    return {
      n: x.n,
      gather: (i, o, cnt) => x.ds.gather(i, o, cnt, { training: false }),
      dispose: () => {},
      sameAsInput: true,
    };
  }
  const s = inputSource(op, y as DataLike, shape, "y");
  if (s.n !== x.n) throw new Error(`${op}: x has ${x.n} samples but y has ${s.n}`);
  return { ...s, gather: (i, o, cnt) => s.gather(i, o, cnt, false) };
}

/** Options of fit. */
export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of the shuffles (default 0). */
  seed?: number;
  /** Held-out inputs and targets evaluated after every epoch. */
  validationData?: [DataLike, TargetLike];
  /** Fraction of the samples (the last ones, before shuffling, as Keras) held out for validation. */
  validationSplit?: number;
  callbacks?: Callback[];
  /** Epoch to start counting from (resuming). */
  initialEpoch?: number;
  /** Milliseconds between running-loss readbacks for per-batch callbacks (default 500). */
  logInterval?: number;
  /**
   * A custom step run on every batch instead of the compiled loss (Keras'
   * `train_step`). Compiled metrics and validation need the compiled loss,
   * so they cannot be combined with it.
   */
  trainStep?: TrainStep;
  /**
   * Compiles the training step (default true): after one eager step, fit
   * captures two steps, checks they recorded the same commands, and replays
   * the captured commands for every later step of the same batch size —
   * no autograd graph, op checks or kernel lookups on the host
   * (src/gpu/capture.ts). The step's JavaScript (a custom `trainStep`'s
   * included) then runs only while it is captured: what changes from step to
   * step must reach the GPU through the batch, the optimizer (its step count
   * and learning rate are refreshed every step), random ops seeded from a
   * stream (dropout, noise: a fresh seed at each replay) or tensors updated
   * in place. A step that cannot be replayed (it uploads or reads back data,
   * or bakes a host value into an op) runs eagerly throughout;
   * `history.compileStep` says how the steps ran and why, and
   * `compileStep: true` also warns once. `false` runs every step eagerly.
   * (Not Keras' `compile`, which sets the optimizer and loss.)
   */
  compileStep?: boolean;
}

/** One batch as {@link fit} hands it to a {@link TrainStep}. */
export interface TrainBatch {
  /** Inputs `[size, ...inputShape]`, gathered in training mode (the dataset's noise added). */
  x: Tensor;
  /** Targets `[size, ...]` as the compiled loss gathers them, or null when fit got no `y`. */
  y: Tensor | null;
  /**
   * Sample indices (i32): rows `offset .. offset + size - 1` name this
   * batch's samples, so per-sample data of the step's own (a target
   * distribution, sample weights) can be gathered with the same rows. fit
   * passes a `[size]` tensor of just this batch's indices and offset 0, so a
   * step that gathers with them records the same commands every step.
   */
  indices: Tensor;
  offset: number;
  size: number;
  /** Epoch number (from 0, counting `initialEpoch`). */
  epoch: number;
  /** Batch number within the epoch, from 0. */
  step: number;
  /**
   * fit's running total of this batch size's losses (f32 `[1]`). fit adds the
   * returned loss into it, unless that very loss already added itself with a
   * loss's `{ accumulate: { into: lossTotal } }` option (in the pass that
   * reduces it: one dispatch fewer per step). Add nothing else into it.
   */
  lossTotal: Tensor;
}

/**
 * A custom training step, as Keras' `Model.train_step`: given one batch and
 * the compiled optimizer, it runs forward, loss, backward and the update,
 * and returns the batch's mean loss as a scalar tensor. Whatever it
 * allocates is freed when it returns (fit runs it inside a `tidy`), and it
 * must record GPU work only: fit sums the returned losses on the GPU and
 * reads them once per epoch into `history.loss`, so a step that read
 * anything back would stall every batch. A loss computed with
 * `{ accumulate: { into: batch.lossTotal } }` and returned as it is adds
 * itself and saves fit the add. Regularization losses are the step's to
 * add, as in Keras.
 *
 * fit compiles the step by default ({@link FitOptions.compileStep}): this
 * function then runs for the first three steps of each batch size, and
 * later steps replay the GPU commands those recorded. JavaScript side
 * effects and decisions taken from `epoch` or `step` are therefore not
 * repeated; pass `compileStep: false` for a step that needs them.
 *
 * @example
 * ```ts
 * model.compile({ optimizer: lt.optim.adam(1e-3) }); // no loss: the step has its own
 * const mse: lt.nn.TrainStep = ({ x, y }, optimizer) => {
 *   const loss = lt.meanSquaredError(model.apply(x, { training: true }), y!);
 *   lt.backward(loss);
 *   optimizer.step(model.trainableWeights());
 *   return loss;
 * };
 * const history = await model.fit(x, y, { epochs: 5, trainStep: mse });
 * console.log(history.history.loss);
 * ```
 */
export type TrainStep = (batch: TrainBatch, optimizer: Optimizer) => Tensor;

/** Per-epoch values of a fit, as Keras' History. */
export interface History {
  epoch: number[];
  history: Record<string, number[]>;
  /** How fit's steps ran when compiled ({@link FitOptions.compileStep}): replayed or eager, and why. */
  compileStep?: CompileReport;
}

function positiveInt(op: string, what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`${op}: ${what} must be a positive integer, got ${v}`);
  }
  return v;
}

/** Adds a step's loss into fit's running total unless the loss added itself already. */
function addToTotal(lossSum: Tensor, total: Tensor): void {
  const added = addedInto(total);
  if (added?.into !== lossSum || added.scale !== 1) noGrad(() => accumulate(lossSum, total, 1));
}

/** Adds `scale`·`x` (a scalar tensor) into the accumulator `acc` in place. */
function accumulate(acc: Tensor, x: Tensor, scale: number): void {
  binaryRaw("add", acc, scale === 1 ? x : binaryRaw("mul", x, zerosLike1(scale)), acc);
}

function zerosLike1(v: number): Tensor {
  return fillInPlace(empty([1], "f32", "fit"), v);
}

/**
 * The step fit runs without a custom one: forward, the compiled loss plus the
 * layers' extra and regularization losses, backward, the update; adds the
 * total loss into the batch's `lossTotal` and counts the accuracy hits into
 * `hitAcc`. A built-in loss that is the whole total adds itself, in the pass
 * that reduces it (one dispatch less per step).
 */
function compiledStep(model: Model, c: Compiled, batch: TrainBatch, hitAcc: Tensor | null): void {
  const yb = batch.y!, lossSum = batch.lossTotal;
  const extra: Tensor[] = [];
  const pred = model.run([batch.x], { training: true, losses: extra })[0];
  const others = [...extra, ...model.regularizationLosses()];
  let total = checkScalarLoss(
    `fit(${model.name})`,
    "the loss",
    others.length === 0 && c.lossInto ? c.lossInto(pred, yb, { into: lossSum }) : c.loss!(pred, yb),
  );
  for (const t of others) total = add(total, t);
  backward(total);
  c.optimizer.step(model.trainableWeights());
  addToTotal(lossSum, total);
  if (hitAcc && c.accuracy) {
    noGrad(() => accumulate(hitAcc, accuracyCount(pred, yb, c.accuracy!), 1));
  }
}

function checkScalarLoss(op: string, what: string, loss: unknown): Tensor {
  if (!(loss instanceof Tensor) || loss.size !== 1) {
    throw new Error(
      `${op}: ${what} must be a scalar tensor, got ${
        loss instanceof Tensor ? fmtShape(loss.shape) : typeof loss
      }`,
    );
  }
  return loss;
}

/**
 * Fits a compiled model. See {@link Model.fit}. `y` may be null only with a
 * custom {@link FitOptions.trainStep} (a step that needs no targets, as
 * DEC's, whose targets are its own per-sample distribution).
 */
export async function fit(
  model: Model,
  c: Compiled,
  x: DataLike,
  y: TargetLike | null,
  o: FitOptions = {},
): Promise<History> {
  const op = `fit(${model.name})`;
  const epochs = positiveInt(op, "epochs", o.epochs ?? 1);
  const batchSize = positiveInt(op, "batchSize", o.batchSize ?? 32);
  const initialEpoch = o.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
    throw new RangeError(
      `${op}: initialEpoch must be an integer in [0, epochs) = [0, ${epochs}), got ${initialEpoch} ` +
        `(epochs is the index of the last epoch plus one, as in Keras, not a count from initialEpoch)`,
    );
  }
  const custom = o.trainStep ?? null;
  if (custom !== null && typeof custom !== "function") {
    throw new TypeError(`${op}: trainStep must be a function (batch, optimizer) => loss`);
  }
  const loss = c.loss;
  if (!custom && !loss) {
    throw new Error(`${op}: compiled without a loss; pass one to compile() or a trainStep`);
  }
  if (!custom && y === null) throw new Error(`${op}: expected targets y, got null`);
  if (custom && c.accuracy) {
    throw new Error(
      `${op}: a custom trainStep cannot report the compiled accuracy metric (fit never sees ` +
        `its predictions); compile without metrics`,
    );
  }
  const validating = o.validationData !== undefined || o.validationSplit !== undefined;
  if (validating && (!loss || y === null)) {
    throw new Error(
      `${op}: validation evaluates the compiled loss on targets; ` +
        `expected a compiled loss and y, got ${loss ? "no y" : "no loss"}`,
    );
  }
  const inShape = model.inputs[0].shape, outShape = model.outputs[0].shape;
  let xs = inputSource(op, x, inShape);
  let ys = y === null ? null : targetSource(op, y, xs, outShape, c, x);
  let val: [DataLike, TargetLike] | null = o.validationData ?? null;
  const cleanup: (() => void)[] = [() => xs.dispose(), () => ys?.dispose()];
  if (o.validationSplit !== undefined && y !== null) {
    const f = o.validationSplit;
    if (!(f > 0 && f < 1)) {
      throw new RangeError(`${op}: validationSplit must be in (0, 1), got ${f}`);
    }
    if (val) throw new Error(`${op}: pass validationData or validationSplit, not both`);
    if (!isDataset(y) && y !== x) {
      throw new Error(`${op}: validationSplit needs x and y as one Dataset or the same data`);
    }
    const cut = Math.floor(xs.n * (1 - f));
    const train = xs.ds.slice(0, cut), held = xs.ds.slice(cut);
    const ownedX = xs;
    xs = {
      ds: train,
      n: train.n,
      gather: (i, of, cnt, tr) => train.gather(i, of, cnt, { training: tr }),
      dispose: () => {},
      check: () => train.assertFinite(op, "x"),
    };
    ys = y === x || y === ownedX.ds
      ? {
        n: train.n,
        gather: (i, of, cnt) => train.gather(i, of, cnt, { training: false }),
        dispose: () => {},
        sameAsInput: true,
      }
      : targetSource(op, (y as Dataset).slice(0, cut), xs, outShape, c);
    val = [held, y === x || y === ownedX.ds ? held : (y as Dataset).slice(cut)];
    cleanup.push(() => {
      train.dispose();
      held.dispose();
    });
  }
  if (xs.n < 1) throw new Error(`${op}: no training samples`);

  const rt = runtime();
  const target: TrainingTarget = {
    stopTraining: false,
    get learningRate() {
      return c.optimizer.learningRate;
    },
    set learningRate(v: number) {
      c.optimizer.learningRate = v;
    },
  };
  const stopRequested = () =>
    target.stopTraining || (model as { stopTraining?: boolean }).stopTraining;
  const callbacks = o.callbacks ?? [];
  const steps = Math.ceil(xs.n / batchSize);
  for (const cb of callbacks) cb.setParams?.({ epochs, steps, samples: xs.n, batchSize }, target);
  (model as { stopTraining?: boolean }).stopTraining = false;

  const history: History = { epoch: [], history: {} };
  // The epoch's sample order, copied once per epoch into a buffer of fit's
  // own, so every step of a batch size records the same commands (compiled
  // steps): the input gather starts at the step's row (`cursor`, given
  // again at each replay) and copies the batch's indices into `rows`, which
  // the targets' gather and a custom step read at offset 0 — no copy command
  // per step (it would split the step's compute pass: ~20 µs of host time
  // per step in Deno). Per batch size (a shorter last batch has its own):
  // those rows and the sum of the batches' mean losses (added in the loss's
  // own pass; the epoch's sample-weighted mean on the host).
  const order = keep(empty([xs.n], "i32", op));
  let cursor = 0;
  const bySize = new Map<number, { rows: Tensor; lossSum: Tensor }>();
  const sized = (size: number) => {
    let b = bySize.get(size);
    if (!b) {
      b = { rows: keep(empty([size], "i32", op)), lossSum: keep(zeros([1])) };
      bySize.set(size, b);
    }
    return b;
  };
  const acc = { hits: c.accuracy ? keep(zeros([1])) : null };
  const step = (batch: TrainBatch) => {
    if (!custom) return compiledStep(model, c, batch, acc.hits);
    const total = checkScalarLoss(op, "trainStep's result", custom(batch, c.optimizer));
    addToTotal(batch.lossTotal, total);
  };
  const interval = o.logInterval ?? 500;
  const weights = model.weights().filter((p) => p.tensor.dtype === "f32");
  const compiler = o.compileStep === false ? null : new StepCompiler(rt);
  try {
    // Once per call, before the first step (a no-op for u8 data and for
    // datasets already checked): a NaN sample would corrupt the weights.
    await xs.check?.();
    await ys?.check?.();
    for (const cb of callbacks) await cb.onTrainBegin?.();
    for (let e = initialEpoch; e < epochs && !stopRequested(); e++) {
      for (const cb of callbacks) await cb.onEpochBegin?.(e);
      for (const b of bySize.values()) fillInPlace(b.lossSum, 0);
      if (acc.hits) fillInPlace(acc.hits, 0);
      let seen = 0, running = NaN, lastRead = performance.now();
      const ep = xs.ds.epoch({
        batchSize,
        shuffle: o.shuffle ?? true,
        seed: o.seed ?? 0,
        epoch: e,
      });
      copyInto(order, ep.indices, { op });
      try {
        for (const s of ep) {
          const { rows, lossSum } = sized(s.size), epoch = e;
          cursor = s.offset;
          const record = () =>
            tidy(() => {
              const xb = xs.ds.gather(order, s.offset, s.size, {
                training: true,
                offsetAt: () => cursor,
                rowsOut: rows,
              });
              const yb = ys === null
                ? null
                : ys.sameAsInput && xs.ds.noise === null
                ? xb
                : ys.gather(rows, 0, s.size, false);
              const batch: TrainBatch = {
                x: xb,
                y: yb,
                indices: rows,
                offset: 0,
                size: s.size,
                epoch,
                step: s.index,
                lossTotal: lossSum,
              };
              step(batch);
            });
          if (compiler) compiler.run(String(s.size), record);
          else record();
          seen += s.size;
          await rt.throttle();
          // The full batches' mean so far (only the last batch is shorter).
          const full = bySize.get(batchSize)?.lossSum,
            fulls = s.index + (s.size === batchSize ? 1 : 0);
          if (callbacks.length && full && performance.now() - lastRead > interval) {
            lastRead = performance.now();
            const snapshot = clone(full);
            snapshot.toArray().then((v) => (running = v[0] / fulls), () => {})
              .finally(() => snapshot.dispose());
          }
          for (const cb of callbacks) {
            await cb.onBatchEnd?.(s.index, { loss: running, size: s.size });
          }
          // As Keras: a stop asked for by a batch callback ends the epoch
          // here; its logs still cover the batches it ran.
          if (stopRequested()) break;
        }
      } finally {
        ep.dispose();
      }
      const sizes = [...bySize.keys()];
      const status = await readChecked(
        op,
        [...[...bySize.values()].map((b) => b.lossSum), acc.hits],
        weights,
      );
      if (status.badWeight) {
        throw nonFiniteWeightError(
          op,
          status.badWeight,
          `epoch ${e + 1}`,
          c.optimizer.learningRate,
        );
      }
      const total = sizes.reduce((sum, b, i) => sum + status.values[i] * b, 0);
      const hitSum = status.values[sizes.length];
      const logs: Logs = { loss: total / seen };
      if (acc.hits) {
        logs.accuracy = hitSum / (c.accuracy === "binary" ? seen * sizeOfOut(outShape) : seen);
      }
      if (!Number.isFinite(logs.loss)) {
        throw new Error(
          `${op}: the loss became ${logs.loss} in epoch ${
            e + 1
          } (learning rate ${c.optimizer.learningRate}); ` +
            `lower the learning rate or check the inputs for NaN/Inf`,
        );
      }
      if (val) {
        const v = await evaluate(model, c, val[0], val[1], { batchSize });
        for (const [k, value] of Object.entries(v)) logs[`val_${k}`] = value;
      }
      logs.lr = c.optimizer.learningRate;
      history.epoch.push(e);
      for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
      for (const cb of callbacks) await cb.onEpochEnd?.(e, logs);
    }
    const last: Logs = {};
    for (const [k, v] of Object.entries(history.history)) last[k] = v[v.length - 1];
    for (const cb of callbacks) await cb.onTrainEnd?.(last);
  } finally {
    compiler?.dispose();
    for (const b of bySize.values()) {
      b.rows.dispose();
      b.lossSum.dispose();
    }
    order.dispose();
    acc.hits?.dispose();
    for (const f of cleanup) f();
  }
  if (compiler) {
    history.compileStep = { ...compiler.report };
    if (o.compileStep === true && compiler.report.fallback) {
      console.warn(`${op}: steps ran eagerly: ${compiler.report.fallback}`);
    }
  }
  return history;
}

/**
 * Reads one-element tensors (`scalars`; a null slot reads as NaN) and finds
 * the first weight that is no longer finite, all in one readback: the
 * scalars and one non-finite code per weight (a reduction each, recorded
 * after the work so far) are copied into one small buffer. Training loops
 * call it where they read anyway (fit: the epoch's loss), so checking the
 * weights costs no extra sync.
 */
export async function readChecked(
  op: string,
  scalars: (Tensor | null)[],
  weights: Param[],
): Promise<{ values: number[]; badWeight: Param | null }> {
  const m = scalars.length;
  const status = fillInPlace(empty([m + weights.length], "f32", op), NaN);
  try {
    const into = (t: Tensor, slot: number) => copyInto(status, t, { offset: slot, op });
    scalars.forEach((t, i) => t && into(t, i));
    weights.forEach((w, i) => {
      const code = nonFiniteRowRaw(w.tensor);
      into(code, m + i);
      code.dispose();
    });
    const v = await status.toArray();
    const bad = weights.findIndex((_, i) => decodeNonFiniteRow(v[m + i]) !== null);
    return { values: Array.from(v.subarray(0, m)), badWeight: bad < 0 ? null : weights[bad] };
  } finally {
    status.dispose();
  }
}

/** The error training loops throw when {@link readChecked} finds a non-finite weight. */
export function nonFiniteWeightError(
  op: string,
  weight: Param,
  when: string,
  learningRate: number,
): Error {
  const { name, tensor } = weight;
  const layer = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : name;
  return new Error(
    `${op}: the weights of layer "${layer}" (${name} ${
      fmtShape(tensor.shape)
    }) hold NaN or ±Inf after ${when} (learning rate ${learningRate}); ` +
      `lower the learning rate or rescale the inputs`,
  );
}

function sizeOfOut(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Evaluates a compiled model: the mean loss (and accuracy) over the data. See {@link Model.evaluate}. */
export async function evaluate(
  model: Model,
  c: Compiled,
  x: DataLike,
  y: TargetLike,
  o: { batchSize?: number } = {},
): Promise<Logs> {
  const op = `evaluate(${model.name})`;
  const loss = c.loss;
  if (!loss) {
    throw new Error(`${op}: compiled without a loss (for a custom trainStep); nothing to evaluate`);
  }
  const batchSize = positiveInt(op, "batchSize", o.batchSize ?? 32);
  const xs = inputSource(op, x, model.inputs[0].shape);
  const ys = targetSource(op, y, xs, model.outputs[0].shape, c, x);
  const lossAcc = keep(zeros([1]));
  const hitAcc = c.accuracy ? keep(zeros([1])) : null;
  const ep = xs.ds.epoch({ batchSize, shuffle: false });
  try {
    await xs.check?.();
    await ys.check?.();
    for (const step of ep) {
      noGrad(() =>
        tidy(() => {
          const xb = xs.gather(ep.indices, step.offset, step.size, false);
          const yb = ys.sameAsInput ? xb : ys.gather(ep.indices, step.offset, step.size, false);
          const pred = model.run([xb], { training: false, losses: [] })[0];
          if (c.lossInto) c.lossInto(pred, yb, { into: lossAcc, scale: step.size });
          else accumulate(lossAcc, loss(pred, yb), step.size);
          if (hitAcc && c.accuracy) accumulate(hitAcc, accuracyCount(pred, yb, c.accuracy), 1);
        })
      );
      await runtime().throttle();
    }
    const logs: Logs = { loss: (await lossAcc.toArray())[0] / xs.n };
    if (hitAcc) {
      logs.accuracy = (await hitAcc.toArray())[0] /
        (c.accuracy === "binary" ? xs.n * sizeOfOut(model.outputs[0].shape) : xs.n);
    }
    return logs;
  } finally {
    ep.dispose();
    lossAcc.dispose();
    hitAcc?.dispose();
    xs.dispose();
    ys.dispose();
  }
}

/**
 * Runs a model over data in batches (inference mode) and returns the outputs
 * as one GPU tensor `[n, ...outputShape]`. See {@link Model.predict}.
 */
export async function predict(
  model: Model,
  x: DataLike,
  o: { batchSize?: number } = {},
): Promise<Tensor> {
  const op = `predict(${model.name})`;
  const batchSize = positiveInt(op, "batchSize", o.batchSize ?? 256);
  const xs = inputSource(op, x, model.inputs[0].shape);
  const outShape = model.outputs[0].shape;
  const per = sizeOfOut(outShape);
  const out = empty([xs.n, ...outShape], "f32", op);
  const ep = xs.ds.epoch({ batchSize, shuffle: false });
  const rt = runtime();
  try {
    await xs.check?.();
    for (const step of ep) {
      noGrad(() =>
        tidy(() => {
          const xb = xs.gather(ep.indices, step.offset, step.size, false);
          const pred = model.run([xb], { training: false, losses: [] })[0];
          copyInto(out, pred, { offset: step.offset * per, op });
        })
      );
      await rt.throttle();
    }
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    ep.dispose();
    xs.dispose();
  }
  return out;
}
