/**
 * Softmax and log-softmax over the last axis, numerically stable, with
 * gradients (shaders/softmax.ts).
 * @module
 */
import { rowThreads } from "../../shaders/reduce.ts";
import { softmaxGradKernel, softmaxKernel, type SoftmaxSpec } from "../../shaders/softmax.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launch, Uniforms } from "./kernel_call.ts";
import { reduceProfile } from "./reduce.ts";

function rowsOf(op: string, x: Tensor, axis: number): { rows: number; len: number } {
  if (x.dtype !== "f32") {
    throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
  if (x.rank === 0) throw new Error(`${op}: expected a tensor of rank >= 1, got a scalar`);
  if (axis !== -1 && axis !== x.rank - 1) {
    throw new RangeError(
      `${op}: only the last axis is supported (axis -1 or ${x.rank - 1}), got axis ${axis} ` +
        `for ${fmtShape(x.shape)}`,
    );
  }
  const len = x.shape[x.rank - 1];
  return { rows: len === 0 ? 0 : x.size / len, len };
}

function rowsUniform(rows: number, len: number): Uniforms {
  return new Uniforms().u32(rows).u32(len).f32(-Infinity).u32(0);
}

function run(op: SoftmaxSpec["op"], x: Tensor, axis: number): Tensor {
  const { rows, len } = rowsOf(op === "softmax" ? "softmax" : "logSoftmax", x, axis);
  const y = empty(x.shape, "f32", op);
  if (y.size === 0) return y;
  const spec: SoftmaxSpec = { op, t: rowThreads(len, reduceProfile()) };
  const perGroup = 256 / spec.t;
  const workgroups = Math.ceil(rows / perGroup);
  launch(op, softmaxKernel(spec), [x], [y], rowsUniform(rows, len), workgroups);
  return record(y, op, [x], (g) => {
    const dx = empty(x.shape, "f32", `${op} gradient`);
    launch(
      `${op} gradient`,
      softmaxGradKernel(spec),
      [g, y],
      [dx],
      rowsUniform(rows, len),
      workgroups,
    );
    return [dx];
  });
}

/**
 * Softmax over the last axis: exp(x − max) / Σ exp(x − max), finite for any
 * finite logits. The gradient is y ⊙ (g − Σ g ⊙ y).
 *
 * @example
 * ```ts
 * const probs = lt.softmax(logits); // [n, classes], rows sum to 1
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return run("softmax", x, axis);
}

/**
 * Log-softmax over the last axis: (x − max) − log Σ exp(x − max). The
 * gradient is g − softmax(x) ⊙ Σ g.
 *
 * @example
 * ```ts
 * const logp = lt.logSoftmax(logits);
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return run("log_softmax", x, axis);
}
