/**
 * Unary elementwise ops: neg, abs, exp, log, sqrt, rsqrt, square, powScalar,
 * clamp, sign, affine. Each op's gradient rule sits beside its forward; the
 * derivatives run as one backward kernel that reads the saved input or
 * output (see shaders/unary.ts).
 * @module
 */
import { WG } from "../../shaders/common.ts";
import { UNARY_GRADS, unaryGradKernel, unaryKernel, type UnaryKind } from "../../shaders/unary.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { zeros } from "./creation.ts";
import { launchKernel } from "./kernel_call.ts";

const INF_BITS = 0x7f800000;

/** Throws unless `x` is an f32 tensor (the unary family is f32 only). */
export function checkF32(op: string, x: Tensor): void {
  if (x.dtype !== "f32") {
    throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
}

function uniforms(n: number, a: number, b: number) {
  return { n, a, b, inf: INF_BITS };
}

/**
 * Runs the unary kernel `op` on `x` without recording autograd: `out = f(x)`
 * with scalar parameters `a`, `b` (pow's exponent, clamp's bounds, an
 * activation's alpha, affine's scale and shift). Exported for fused and
 * in-place uses by other ops.
 *
 * @example
 * ```ts
 * const halved = lt.unaryRaw("affine", x, 0.5, 0); // x · 0.5 + 0
 * ```
 */
export function unaryRaw(op: UnaryKind, x: Tensor, a = 0, b = 0, out?: Tensor): Tensor {
  checkF32(op, x);
  const o = out ?? empty(x.shape, "f32", op);
  if (o.size !== x.size) {
    throw new Error(`${op}: output ${fmtShape(o.shape)} does not match ${fmtShape(x.shape)}`);
  }
  if (x.size === 0) return o;
  // Four elements per thread where the size allows: measured on lavapipe,
  // see the unary benchmark case in test/cases/unary_cases.ts.
  const vec4 = x.size % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  launchKernel(
    op,
    unaryKernel({ op, vec4 }),
    { X: x, out: o },
    uniforms(n, a, b),
    Math.ceil(n / WG),
  );
  return o;
}

/**
 * The backward kernel of a unary op without recording autograd:
 * `g · f'(s)`, where `s` is the op's saved input or output (activations and
 * exp/sqrt/rsqrt save the output; see `UNARY_GRADS` in shaders/unary.ts).
 *
 * @example
 * ```ts
 * const dz = lt.unaryGradRaw("relu", g, y); // g ⊙ [y > 0]
 * ```
 */
export function unaryGradRaw(op: UnaryKind, g: Tensor, s: Tensor, a = 0, b = 0): Tensor {
  checkF32(op, g);
  checkF32(op, s);
  if (g.size !== s.size) {
    throw new Error(
      `${op} gradient: upstream ${fmtShape(g.shape)} does not match ${fmtShape(s.shape)}`,
    );
  }
  const o = empty(s.shape, "f32", `${op} gradient`);
  if (s.size === 0) return o;
  const vec4 = s.size % 4 === 0;
  const n = vec4 ? s.size / 4 : s.size;
  launchKernel(
    `${op} gradient`,
    unaryGradKernel({ op, vec4 }),
    { G: g, S: s, out: o },
    uniforms(n, a, b),
    Math.ceil(n / WG),
  );
  return o;
}

/**
 * A recorded unary op whose derivative comes from the backward family with
 * the saved tensor named in UNARY_GRADS.
 */
export function unaryOp(op: UnaryKind, x: Tensor, a = 0, b = 0, saved?: "x" | "y"): Tensor {
  const out = unaryRaw(op, x, a, b);
  const which = saved ?? UNARY_GRADS[op]?.[0] ?? "y";
  return record(out, op, [x], (g) => [unaryGradRaw(op, g, which === "x" ? x : out, a, b)]);
}

/** Elementwise −x. @example `const y = lt.neg(x);` */
export function neg(x: Tensor): Tensor {
  const out = unaryRaw("neg", x);
  return record(out, "neg", [x], (g) => [unaryRaw("neg", g)]);
}

/**
 * Elementwise |x|. The gradient is sign(x) (0 at x = 0).
 *
 * @example
 * ```ts
 * const l1 = lt.sum(lt.abs(w));
 * ```
 */
export function abs(x: Tensor): Tensor {
  return unaryOp("abs", x);
}

/** Elementwise eˣ. @example `const y = lt.exp(x);` */
export function exp(x: Tensor): Tensor {
  return unaryOp("exp", x);
}

/** Elementwise natural logarithm (−Infinity at 0, NaN below). @example `const y = lt.log(p);` */
export function log(x: Tensor): Tensor {
  return unaryOp("log", x);
}

/** Elementwise √x. @example `const std = lt.sqrt(variance);` */
export function sqrt(x: Tensor): Tensor {
  return unaryOp("sqrt", x);
}

/** Elementwise 1/√x. @example `const inv = lt.rsqrt(lt.add(variance, 1e-5));` */
export function rsqrt(x: Tensor): Tensor {
  return unaryOp("rsqrt", x);
}

/** Elementwise x². @example `const sq = lt.square(lt.sub(a, b));` */
export function square(x: Tensor): Tensor {
  return unaryOp("square", x);
}

/**
 * Elementwise xᵖ for a scalar exponent. Negative bases give real results for
 * integer exponents (odd ones keep the sign) and NaN otherwise, like
 * `Math.pow`.
 *
 * @example
 * ```ts
 * const cube = lt.powScalar(x, 3);
 * const q = lt.powScalar(lt.add(d2, 1), -1); // Student's t kernel in DEC
 * ```
 */
export function powScalar(x: Tensor, p: number): Tensor {
  if (typeof p !== "number" || !Number.isFinite(p)) {
    throw new TypeError(`powScalar: expected a finite exponent, got ${p}`);
  }
  return unaryOp("pow", x, p);
}

/**
 * Elementwise min(max(x, lo), hi). The gradient passes where lo ≤ x ≤ hi
 * (bounds included, as TensorFlow's clip_by_value).
 *
 * @example
 * ```ts
 * const p = lt.clamp(probs, 1e-7, 1 - 1e-7);
 * ```
 */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (typeof lo !== "number" || typeof hi !== "number" || Number.isNaN(lo) || Number.isNaN(hi)) {
    throw new TypeError(`clamp: bounds must be numbers, got lo=${lo}, hi=${hi}`);
  }
  if (lo > hi) throw new RangeError(`clamp: expected lo <= hi, got lo=${lo}, hi=${hi}`);
  return unaryOp("clamp", x, lo, hi);
}

/**
 * Elementwise sign: −1, 0 or 1. Its gradient is zero everywhere.
 *
 * @example
 * ```ts
 * const s = lt.sign(x);
 * ```
 */
export function sign(x: Tensor): Tensor {
  const out = unaryRaw("sign", x);
  return record(out, "sign", [x], () => [zeros(x.shape)]);
}

/**
 * Elementwise x · scale + shift in one pass (a scalar multiply-add without
 * scalar tensors).
 *
 * @example
 * ```ts
 * const centred = lt.affine(x, 2, -1); // maps [0, 1] to [-1, 1]
 * ```
 */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  if (!Number.isFinite(scale) || !Number.isFinite(shift)) {
    throw new TypeError(`affine: scale and shift must be finite, got ${scale} and ${shift}`);
  }
  const out = unaryRaw("affine", x, scale, shift);
  return record(out, "affine", [x], (g) => [unaryRaw("affine", g, scale, 0)]);
}
