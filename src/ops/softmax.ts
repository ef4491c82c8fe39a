/**
 * Softmax and log-softmax over the last axis, numerically stable, with
 * gradients (shaders/softmax.ts).
 * @module
 */
import { rowThreads } from "../../shaders/reduce.ts";
import { softmaxGradKernel, softmaxKernel, type SoftmaxSpec } from "../../shaders/softmax.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";
import { reduceAxisRaw } from "./reduce.ts";
import { reduceProfile } from "./tuning.ts";
import { binaryRaw } from "./binary.ts";
import { unaryRaw } from "./unary.ts";
import { runtime } from "../gpu/runtime.ts";

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

function rowsUniform(rows: number, len: number) {
  return { rows, len, ninf: -Infinity };
}

/** Loops over the row one softmax invocation runs (max, sum, write), each of ceil(len / t) steps. */
const ROW_LOOPS = 3;

/**
 * True when the one-kernel row softmax would loop past the driver's loop
 * budget (src/gpu/budget.ts): then rows are composed from multi-pass
 * reductions and elementwise kernels instead (a few more passes over memory).
 */
export function rowsTooLong(len: number, t: number): boolean {
  return ROW_LOOPS * Math.ceil(len / t) > runtime().budgets.loopIterations;
}

/**
 * Softmax / log-softmax of long rows, from kernels whose loops the planner
 * bounds: the row maximum and the sum of exponentials are multi-pass axis
 * reductions. Returns the output, recorded with its gradient (composed
 * the same way).
 */
function longRows(op: SoftmaxSpec["op"], x: Tensor, rows: number, len: number): Tensor {
  const kept = [...x.shape.slice(0, -1), 1];
  const m = reduceAxisRaw("max", x, rows, len, 1, kept, { name: op }).values;
  const z = binaryRaw("sub", x, m);
  m.dispose();
  const e = unaryRaw("exp", z);
  const s = reduceAxisRaw("sum", e, rows, len, 1, kept, { name: op }).values;
  let y: Tensor;
  if (op === "softmax") {
    z.dispose();
    y = binaryRaw("div", e, s, e);
  } else {
    e.dispose();
    const ls = unaryRaw("log", s);
    y = binaryRaw("sub", z, ls, z);
    ls.dispose();
  }
  s.dispose();
  return record(y, op, [x], (g) => {
    // softmax: y ⊙ (g − Σ g⊙y); log-softmax: g − exp(y) ⊙ Σ g.
    if (op === "softmax") {
      const gy = binaryRaw("mul", g, y);
      const d = reduceAxisRaw("sum", gy, rows, len, 1, kept, { name: `${op} gradient` }).values;
      gy.dispose();
      const dx = binaryRaw("sub", g, d);
      d.dispose();
      return [binaryRaw("mul", dx, y, dx)];
    }
    const sg = reduceAxisRaw("sum", g, rows, len, 1, kept, { name: `${op} gradient` }).values;
    const p = unaryRaw("exp", y);
    const dx = binaryRaw("sub", g, binaryRaw("mul", p, sg, p));
    p.dispose();
    sg.dispose();
    return [dx];
  });
}

function run(op: SoftmaxSpec["op"], x: Tensor, axis: number): Tensor {
  const { rows, len } = rowsOf(op === "softmax" ? "softmax" : "logSoftmax", x, axis);
  if (x.size === 0) return empty(x.shape, "f32", op);
  const spec: SoftmaxSpec = { op, t: rowThreads(len, reduceProfile()) };
  if (rowsTooLong(len, spec.t)) return longRows(op, x, rows, len);
  const y = empty(x.shape, "f32", op);
  const perGroup = 256 / spec.t;
  const workgroups = Math.ceil(rows / perGroup);
  launchKernel(op, softmaxKernel(spec), { X: x, Y: y }, rowsUniform(rows, len), workgroups);
  return record(y, op, [x], (g) => {
    const dx = empty(x.shape, "f32", `${op} gradient`);
    launchKernel(
      `${op} gradient`,
      softmaxGradKernel(spec),
      { G: g, Y: y, DX: dx },
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
