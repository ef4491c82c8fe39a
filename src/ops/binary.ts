/**
 * Binary elementwise ops with broadcasting: add, sub, mul, div, maximum,
 * minimum, pow. Each op's gradient rule sits beside its forward.
 * @module
 */
import { packDims, WG } from "../../shaders/common.ts";
import { binaryKernel, type BinaryOp, type BroadcastMode } from "../../shaders/binary.ts";
import { gradOps, record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { full } from "./creation.ts";
import { broadcastShapes, broadcastStrides, collapse, reduceTo } from "./broadcast.ts";
import { launchKernel } from "./kernel_call.ts";
import { unaryRaw } from "./unary.ts";

/** A tensor or a plain number (broadcast as a scalar). */
export type TensorLike = Tensor | number;

function asTensor(x: TensorLike, like: Tensor): Tensor {
  return typeof x === "number" ? full([], x, like.dtype === "u8" ? "f32" : like.dtype) : x;
}

/** Runs the binary kernel without recording autograd. Exported for in-place and fused uses. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (out && out === b) throw new Error(`${op}: the output may alias the first operand only`);
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${op}: dtypes differ: ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}`,
    );
  }
  if (a.dtype === "u8") {
    throw new TypeError(`${op}: u8 tensors are storage-only; convert them first`);
  }
  const shape = broadcastShapes(op, a.shape, b.shape);
  const o = out ?? empty(shape, a.dtype, op);
  if (o.shape.join() !== shape.join()) {
    throw new Error(`${op}: output ${fmtShape(o.shape)} does not match ${fmtShape(shape)}`);
  }
  if (o.size === 0) return o;
  let mode: BroadcastMode;
  if (a.size === o.size && b.size === o.size) mode = "same";
  else if (a.size === 1 && b.size === o.size) mode = "scalar_a";
  else if (b.size === 1 && a.size === o.size) mode = "scalar_b";
  else if (
    a.size === o.size && b.rank <= a.rank &&
    b.shape.every((d, i) => d === a.shape[a.rank - b.rank + i])
  ) mode = "suffix_b";
  else mode = "general";
  // Only `general` reads rank and the dims; the other modes leave them 0.
  let dims = { rank: 0, shape: [] as number[], sa: [] as number[], sb: [] as number[] };
  if (mode === "general") {
    const c = collapse(
      [...shape],
      broadcastStrides(a.shape, shape),
      broadcastStrides(b.shape, shape),
    );
    // Shape slots past the rank are 1, stride slots 0, as before.
    dims = { rank: c.shape.length, shape: packDims(c.shape), sa: c.strides[0], sb: c.strides[1] };
  }
  // Writing into an operand needs the in-place variant: WebGPU forbids binding
  // one buffer as both read-only and writable storage in a dispatch.
  const inplace = o === a;
  const kernel = binaryKernel({ op, dtype: a.dtype, mode, inplace });
  const buffers: Record<string, Tensor> = inplace ? { B: b, A: o } : { A: a, B: b, out: o };
  const u = { n: o.size, nb: b.size, pad: 0, ...dims };
  launchKernel(op, kernel, buffers, u, Math.ceil(o.size / WG));
  return o;
}

function binary(
  op: BinaryOp,
  x: TensorLike,
  y: TensorLike,
  grad: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null],
): Tensor {
  if (typeof x === "number" && typeof y === "number") {
    throw new TypeError(`${op}: at least one operand must be a tensor`);
  }
  const a = typeof x === "number" ? asTensor(x, y as Tensor) : x;
  const b = typeof y === "number" ? asTensor(y, a) : y;
  const out = binaryRaw(op, a, b);
  return record(out, op, [a, b], (g) => {
    const [ga, gb] = grad(g, a, b, out);
    return [
      ga && a.requiresGrad ? reduceTo(ga, a.shape) : null,
      gb && b.requiresGrad ? reduceTo(gb, b.shape) : null,
    ];
  });
}

/**
 * Elementwise a + b with broadcasting.
 *
 * @example
 * ```ts
 * const y = lt.add(xw, bias); // [n, k] + [k]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary("add", a, b, (g) => [g, g]);
}

/** Elementwise a − b with broadcasting. @example `lt.sub(x, mean)` */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    "sub",
    a,
    b,
    (g, _a, b) => [g, b.requiresGrad ? binaryRaw("mul", g, full([], -1)) : null],
  );
}

/** Elementwise a · b with broadcasting. @example `lt.mul(x, 0.5)` */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary("mul", a, b, (g, a, b) => [
    a.requiresGrad ? binaryRaw("mul", g, b) : null,
    b.requiresGrad ? binaryRaw("mul", g, a) : null,
  ]);
}

/** Elementwise a / b with broadcasting. @example `lt.div(x, 255)` */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary("div", a, b, (g, a, b, out) => [
    a.requiresGrad ? binaryRaw("div", g, b) : null,
    // d(a/b)/db = -(a/b)/b
    b.requiresGrad
      ? binaryRaw("mul", binaryRaw("div", binaryRaw("mul", g, out), b), full([], -1))
      : null,
  ]);
}

gradOps.add = (a, b) => binaryRaw("add", a, b);
gradOps.addInto = (dst, src) => {
  binaryRaw("add", dst, src, dst);
};

/**
 * Elementwise max(a, b) with broadcasting. The gradient goes to a where
 * a ≥ b and to b elsewhere (TensorFlow's tie rule).
 *
 * @example
 * ```ts
 * const y = lt.maximum(x, 0.1);
 * ```
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary("maximum", a, b, (g, a, b) => [
    a.requiresGrad ? binaryRaw("mul", g, binaryRaw("greater_equal", a, b)) : null,
    b.requiresGrad ? binaryRaw("mul", g, binaryRaw("less", a, b)) : null,
  ]);
}

/**
 * Elementwise min(a, b) with broadcasting. The gradient goes to a where
 * a ≤ b and to b elsewhere.
 *
 * @example
 * ```ts
 * const y = lt.minimum(x, 6); // relu6-style cap
 * ```
 */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary("minimum", a, b, (g, a, b) => [
    a.requiresGrad ? binaryRaw("mul", g, binaryRaw("less_equal", a, b)) : null,
    b.requiresGrad ? binaryRaw("mul", g, binaryRaw("greater", a, b)) : null,
  ]);
}

/**
 * Elementwise aᵇ with broadcasting, for a > 0 (WGSL's pow is undefined for
 * a ≤ 0; use `powScalar` for integer powers of any sign). Gradients:
 * b·aᵇ⁻¹ and aᵇ·log a.
 *
 * @example
 * ```ts
 * const y = lt.pow(base, exponents);
 * ```
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary("pow", a, b, (g, a, b, out) => [
    a.requiresGrad
      ? binaryRaw(
        "mul",
        binaryRaw("mul", g, b),
        binaryRaw("pow", a, binaryRaw("sub", b, full([], 1))),
      )
      : null,
    b.requiresGrad ? binaryRaw("mul", binaryRaw("mul", g, out), unaryRaw("log", a)) : null,
  ]);
}

function compare(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === "number" && typeof b === "number") {
    throw new TypeError(`${op}: at least one operand must be a tensor`);
  }
  const x = typeof a === "number" ? asTensor(a, b as Tensor) : a;
  const y = typeof b === "number" ? asTensor(b, x) : b;
  return binaryRaw(op, x, y);
}

/** 1 where a > b, else 0 (operands' dtype; not differentiable). @example `lt.greater(x, 0)` */
export function greater(a: TensorLike, b: TensorLike): Tensor {
  return compare("greater", a, b);
}

/** 1 where a ≥ b, else 0 (not differentiable). @example `lt.greaterEqual(x, 0)` */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor {
  return compare("greater_equal", a, b);
}

/** 1 where a < b, else 0 (not differentiable). @example `lt.less(x, 0)` */
export function less(a: TensorLike, b: TensorLike): Tensor {
  return compare("less", a, b);
}

/** 1 where a ≤ b, else 0 (not differentiable). @example `lt.lessEqual(x, 0)` */
export function lessEqual(a: TensorLike, b: TensorLike): Tensor {
  return compare("less_equal", a, b);
}

/** 1 where a = b, else 0 (not differentiable). @example `lt.equal(pred, labels)` */
export function equal(a: TensorLike, b: TensorLike): Tensor {
  return compare("equal", a, b);
}

/** 1 where a ≠ b, else 0 (not differentiable). @example `lt.notEqual(pred, labels)` */
export function notEqual(a: TensorLike, b: TensorLike): Tensor {
  return compare("not_equal", a, b);
}
