/**
 * Losses and penalties, reduced on the GPU to a scalar tensor (shape []) with
 * gradients w.r.t. the prediction. Means follow Keras: the loss of each
 * sample (mean or sum over the last axis) averaged over the batch.
 *
 * Elementwise losses evaluate their term inside the first reduction pass and
 * take their gradient in one elementwise kernel; cross-entropies over
 * classes are row kernels (shaders/loss.ts). Targets never receive
 * gradients and must not require them.
 * @module
 */
import { WG } from "../../shaders/common.ts";
import {
  crossentropyGradKernel,
  crossentropyKernel,
  type CrossentropySpec,
  type ElementwiseLoss,
  isPenalty,
  lossGradKernel,
  lossMap,
} from "../../shaders/loss.ts";
import { rowThreads } from "../../shaders/reduce.ts";
import { gradEnabled, record } from "../autograd/tape.ts";
import { inScope } from "../tensor/scope.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";
import { checkAccumulator, type ReduceAccumulator, reduceAxisRaw } from "./reduce.ts";
import { reduceProfile } from "./tuning.ts";
import { runtime } from "../gpu/runtime.ts";

/** What every loss takes. */
export interface LossOptions {
  /**
   * Also adds the loss (times `scale`, default 1) into `into`, a live f32
   * tensor of one element, in the pass that reduces it: a running total on
   * the GPU without a dispatch of its own (fit keeps its epoch loss so).
   */
  accumulate?: ReduceAccumulator;
}

/** Options of the cross-entropy losses. */
export interface CrossentropyOptions extends LossOptions {
  /** Predictions are logits rather than probabilities (default false). */
  fromLogits?: boolean;
  /** Clip bound of probabilities (default 1e-7, Keras' `epsilon()`). */
  epsilon?: number;
}

const EPSILON = 1e-7;

function checkPair(op: string, pred: Tensor, target: Tensor): void {
  for (const [what, t] of [["prediction", pred], ["target", target]] as const) {
    if (t.dtype !== "f32") {
      throw new TypeError(`${op}: expected an f32 ${what}, got ${t.dtype} ${fmtShape(t.shape)}`);
    }
  }
  if (
    pred.shape.length !== target.shape.length || pred.shape.some((d, i) => d !== target.shape[i])
  ) {
    throw new Error(
      `${op}: prediction ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} differ`,
    );
  }
  checkTarget(op, target);
  if (pred.size === 0) throw new Error(`${op}: the prediction ${fmtShape(pred.shape)} is empty`);
}

/** Throws, naming `op`, when a loss's target requires gradients (targets never receive them). */
export function checkTarget(op: string, target: Tensor): void {
  if (target.requiresGrad) {
    throw new Error(
      `${op}: the target must not require gradients (compute it under noGrad, or pass a copy ` +
        `that does not require grad)`,
    );
  }
}

function checkEpsilon(op: string, eps: number): number {
  if (typeof eps !== "number" || !(eps > 0 && eps < 0.5)) {
    throw new RangeError(`${op}: epsilon must be in (0, 0.5), got ${eps}`);
  }
  return eps;
}

/** Rows of a per-sample loss over the last axis: size / last dim (1 for a scalar). */
function rowsOf(t: Tensor): number {
  return t.rank === 0 ? 1 : t.size / t.shape[t.rank - 1];
}

/**
 * scale · Σ term(pred, target) over all elements, as a scalar, and its
 * gradient dpred = g · scale · dterm.
 */
function elementwiseLoss(
  op: string,
  loss: ElementwiseLoss,
  pred: Tensor,
  target: Tensor | null,
  scale: number,
  eps = 0,
  accumulate?: ReduceAccumulator,
): Tensor {
  const inputs = target ? [pred, target] : [pred];
  if (accumulate) checkAccumulator(op, accumulate, 1, inputs);
  // Inside a scope (a training step), the pass that sums the loss also writes
  // its gradient for an upstream gradient of 1: back-propagating from the
  // loss itself then needs neither a filled seed nor a gradient pass (two
  // dispatches per step). The scope frees it with the step's activations.
  const dp = gradEnabled() && pred.requiresGrad && inScope()
    ? empty(pred.shape, "f32", `${op} gradient`)
    : null;
  const out = reduceAxisRaw("sum", pred, 1, pred.size, 1, [], {
    scale,
    map: lossMap(loss, dp !== null),
    inputs,
    p0: eps,
    p1: scale,
    side: dp ?? undefined,
    accumulate,
    name: op,
  }).values;
  return record(out, op, inputs, (g) => {
    const grad = empty(pred.shape, "f32", `${op} gradient`);
    const gradInputs: Record<string, Tensor> = isPenalty(loss)
      ? { P: pred, G: g }
      : { P: pred, T: target!, G: g };
    launchKernel(
      `${op} gradient`,
      lossGradKernel({ loss }),
      { ...gradInputs, out: grad },
      { n: pred.size, scale, eps },
      Math.ceil(pred.size / WG),
    );
    return [grad, null];
  }, dp ? () => (dp.disposed ? null : [dp, null]) : undefined);
}

/**
 * Mean squared error, Keras' `"mse"`: mean over the last axis, then over the
 * batch (for equal rows: the mean over all elements).
 *
 * @example
 * ```ts
 * const loss = lt.meanSquaredError(decoded, x);
 * lt.backward(loss);
 * ```
 */
export function meanSquaredError(
  pred: Tensor,
  target: Tensor,
  options: LossOptions = {},
): Tensor {
  checkPair("meanSquaredError", pred, target);
  return elementwiseLoss(
    "meanSquaredError",
    "mse",
    pred,
    target,
    1 / pred.size,
    0,
    options.accumulate,
  );
}

/**
 * Mean absolute error, Keras' `"mae"`. The gradient at pred = target is 0.
 *
 * @example
 * ```ts
 * const loss = lt.meanAbsoluteError(decoded, x);
 * ```
 */
export function meanAbsoluteError(
  pred: Tensor,
  target: Tensor,
  options: LossOptions = {},
): Tensor {
  checkPair("meanAbsoluteError", pred, target);
  return elementwiseLoss(
    "meanAbsoluteError",
    "mae",
    pred,
    target,
    1 / pred.size,
    0,
    options.accumulate,
  );
}

/**
 * Binary cross-entropy, Keras' `"binary_crossentropy"`, averaged over all
 * elements. From probabilities (default) they are clipped to
 * [eps, 1 − eps] first (the gradient is zero outside that range); with
 * `fromLogits` the stable form max(x, 0) − x·t + log(1 + e^−|x|) is used.
 *
 * @example
 * ```ts
 * const loss = lt.binaryCrossentropy(lt.sigmoid(z), x);
 * const same = lt.binaryCrossentropy(z, x, { fromLogits: true });
 * ```
 */
export function binaryCrossentropy(
  pred: Tensor,
  target: Tensor,
  options: CrossentropyOptions = {},
): Tensor {
  const op = "binaryCrossentropy";
  checkPair(op, pred, target);
  const eps = checkEpsilon(op, options.epsilon ?? EPSILON);
  const loss = options.fromLogits ? "bce_logits" : "bce";
  return elementwiseLoss(op, loss, pred, target, 1 / pred.size, eps, options.accumulate);
}

/**
 * Kullback–Leibler divergence KL(p ‖ q) = Σ p log(p / q) over the last axis,
 * averaged over rows: Keras' `"kld"` with **p the target and q the
 * prediction** (both clipped to [eps, 1]). The gradient goes to q. In DEC,
 * p is the target distribution P and q the soft assignment Q.
 *
 * @example
 * ```ts
 * const loss = lt.klDivergence(p, q); // p: target (no grad), q: prediction
 * ```
 */
export function klDivergence(
  p: Tensor,
  q: Tensor,
  options: LossOptions & { epsilon?: number } = {},
): Tensor {
  const op = "klDivergence";
  checkPair(op, q, p);
  const eps = checkEpsilon(op, options.epsilon ?? EPSILON);
  return elementwiseLoss(op, "kld", q, p, 1 / rowsOf(q), eps, options.accumulate);
}

/**
 * Categorical cross-entropy, Keras' `"categorical_crossentropy"`: per row
 * −Σ t log q, averaged over rows. From probabilities, q = clip(p / Σp, eps,
 * 1 − eps) as Keras does; with `fromLogits`, q = softmax(x) computed as a
 * log-softmax (stable for any logits).
 *
 * @example
 * ```ts
 * const loss = lt.categoricalCrossentropy(logits, oneHot, { fromLogits: true });
 * ```
 */
export function categoricalCrossentropy(
  pred: Tensor,
  target: Tensor,
  options: CrossentropyOptions = {},
): Tensor {
  const op = "categoricalCrossentropy";
  checkPair(op, pred, target);
  if (pred.rank === 0) throw new Error(`${op}: expected predictions of rank >= 1, got a scalar`);
  return rowCrossentropy(op, pred, target, false, options);
}

/**
 * Categorical cross-entropy with integer class labels (i32, shape = the
 * prediction's shape without its last axis), Keras'
 * `"sparse_categorical_crossentropy"`. From probabilities Keras takes
 * log(clip(p)) as logits, so q = clip(p) / Σ clip(p). A label outside
 * [0, classes) makes the loss NaN.
 *
 * @example
 * ```ts
 * const loss = lt.sparseCategoricalCrossentropy(logits, labels, { fromLogits: true });
 * ```
 */
export function sparseCategoricalCrossentropy(
  pred: Tensor,
  labels: Tensor,
  options: CrossentropyOptions = {},
): Tensor {
  const op = "sparseCategoricalCrossentropy";
  if (pred.dtype !== "f32") {
    throw new TypeError(
      `${op}: expected an f32 prediction, got ${pred.dtype} ${fmtShape(pred.shape)}`,
    );
  }
  if (pred.rank === 0) throw new Error(`${op}: expected predictions of rank >= 1, got a scalar`);
  const want = pred.shape.slice(0, -1);
  if (labels.dtype !== "i32") {
    throw new TypeError(
      `${op}: expected i32 labels ${fmtShape(want)}, got ${labels.dtype} ${fmtShape(labels.shape)}`,
    );
  }
  if (labels.shape.length !== want.length || labels.shape.some((d, i) => d !== want[i])) {
    throw new Error(
      `${op}: prediction ${fmtShape(pred.shape)} needs labels ${fmtShape(want)}, got ${
        fmtShape(labels.shape)
      }`,
    );
  }
  if (pred.size === 0) throw new Error(`${op}: the prediction ${fmtShape(pred.shape)} is empty`);
  return rowCrossentropy(op, pred, labels, true, options);
}

function rowCrossentropy(
  op: string,
  pred: Tensor,
  target: Tensor,
  sparse: boolean,
  options: CrossentropyOptions,
): Tensor {
  const eps = checkEpsilon(op, options.epsilon ?? EPSILON);
  const fromLogits = options.fromLogits ?? false;
  if (options.accumulate) checkAccumulator(op, options.accumulate, 1, [pred, target]);
  const len = pred.shape[pred.rank - 1];
  const rows = pred.size / len;
  const spec: CrossentropySpec = { fromLogits, sparse, t: rowThreads(len, reduceProfile()) };
  // The row kernels walk a row up to 4 times (max, sum, target sum, write).
  const budget = runtime().budgets.loopIterations;
  if (4 * Math.ceil(len / spec.t) > budget) {
    throw new RangeError(
      `${op}: rows of ${len} classes need ${4 * Math.ceil(len / spec.t)} loop iterations per ` +
        `invocation; this driver runs at most ${budget} (Mesa < 25's llvmpipe; Mesa >= 25 has ` +
        `no cap). For so many classes, compose the loss from lt.logSoftmax, lt.mul and lt.sum`,
    );
  }
  const workgroups = Math.ceil(rows / (256 / spec.t));
  const uniforms = { rows, len, eps, ninf: -Infinity, scale: 1 / rows, nan: 0x7fc00000 };
  const perRow = empty([rows], "f32", op);
  launchKernel(
    op,
    crossentropyKernel(spec),
    { P: pred, Tg: target, out: perRow },
    uniforms,
    workgroups,
  );
  const out = reduceAxisRaw("sum", perRow, 1, rows, 1, [], {
    scale: 1 / rows,
    accumulate: options.accumulate,
    name: op,
  }).values;
  perRow.dispose();
  return record(out, op, [pred, target], (g) => {
    const dp = empty(pred.shape, "f32", `${op} gradient`);
    launchKernel(
      `${op} gradient`,
      crossentropyGradKernel(spec),
      { P: pred, Tg: target, G: g, out: dp },
      uniforms,
      workgroups,
    );
    return [dp, null];
  });
}

/**
 * L1 penalty scale · Σ|x| (Keras' `regularizers.L1`). The gradient at 0 is 0.
 *
 * @example
 * ```ts
 * const reg = lt.l1Penalty(codes, 1e-5); // a sparse autoencoder's activity penalty
 * ```
 */
export function l1Penalty(x: Tensor, scale: number): Tensor {
  return penalty("l1Penalty", "l1", x, scale);
}

/**
 * L2 penalty scale · Σx² (Keras' `regularizers.L2`: no factor ½).
 *
 * @example
 * ```ts
 * const reg = lt.l2Penalty(kernel, 1e-4);
 * ```
 */
export function l2Penalty(x: Tensor, scale: number): Tensor {
  return penalty("l2Penalty", "l2", x, scale);
}

function penalty(op: string, loss: ElementwiseLoss, x: Tensor, scale: number): Tensor {
  if (x.dtype !== "f32") {
    throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
  if (typeof scale !== "number" || !Number.isFinite(scale)) {
    throw new TypeError(`${op}: scale must be a finite number, got ${scale}`);
  }
  if (x.size === 0) throw new Error(`${op}: the tensor ${fmtShape(x.shape)} is empty`);
  return elementwiseLoss(op, loss, x, null, scale);
}
