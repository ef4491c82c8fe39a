/**
 * Pooling over NHWC activations: `maxPool2d` (Keras MaxPooling2D) and
 * `avgPool2d` (Keras AveragePooling2D), with their gradients.
 *
 * Keras semantics: pool size default 2×2, strides default to the pool size,
 * padding `valid` (default) or `same` (TensorFlow's rule: ceil(size / s)
 * outputs, the odd padded element at the bottom/right). Padded elements never
 * win a max and are not counted in an average. A max's gradient goes to the
 * window's first maximum (row-major order) only.
 *
 * @module
 */
import { poolKernel, type PoolSpec } from "../../shaders/pool.ts";
import { WG } from "../../shaders/common.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { convAxis, type Padding, paddingOf, type Size2, size2 } from "./conv.ts";
import { launchKernel } from "./kernel_call.ts";

/** Options of {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2DOptions {
  /** Window [ph, pw] (default 2). */
  poolSize?: Size2;
  /** Strides [sh, sw] (default: the pool size). */
  strides?: Size2;
  /** `"valid"` (default) or `"same"`. */
  padding?: Padding;
}

function pool(op: string, mode: "max" | "avg", x: Tensor, o: Pool2DOptions): Tensor {
  if (x.rank !== 4) {
    throw new Error(
      `${op}: expected input [batch, height, width, channels], got ${fmtShape(x.shape)}`,
    );
  }
  if (x.dtype !== "f32") throw new TypeError(`${op}: expected an f32 input, got ${x.dtype}`);
  const [ph, pw] = size2(op, "poolSize", o.poolSize, 2);
  const [sh, sw] = size2(op, "strides", o.strides ?? [ph, pw], 1);
  const padding = paddingOf(op, o.padding);
  const [batch, h, w, c] = x.shape;
  const ah = convAxis(h, ph, sh, 1, padding), aw = convAxis(w, pw, sw, 1, padding);
  if (ah.out === 0 || aw.out === 0) {
    throw new Error(
      h * w === 0
        ? `${op}: input ${fmtShape(x.shape)} has no pixels`
        : `${op}: pool ${ph}x${pw} does not fit a ${padding}-padded ${h}x${w} input`,
    );
  }
  const g = { h, w, c, ho: ah.out, wo: aw.out, ph, pw, sh, sw, pt: ah.before, pl: aw.before };
  const uniforms = (n: number) => ({
    n,
    H: g.h,
    W: g.w,
    C: g.c,
    HO: g.ho,
    WO: g.wo,
    PH: g.ph,
    PW: g.pw,
    SH: g.sh,
    SW: g.sw,
    PT: g.pt,
    PL: g.pl,
  });
  // Max pools up to 3x3 get unrolled, branch-free window scans.
  const fixed: [number, number] | undefined = mode === "max" && ph <= 3 && pw <= 3
    ? [ph, pw]
    : undefined;
  const y = empty([batch, g.ho, g.wo, c], "f32", op);
  if (y.size > 0) {
    const spec: PoolSpec = { mode, dir: "fwd", size: fixed };
    launchKernel(op, poolKernel(spec), { X: x, OUT: y }, uniforms(y.size), Math.ceil(y.size / WG));
  }
  return record(y, op, [x], (gy) => {
    const dx = empty(x.shape, "f32", `${op} (gradient)`);
    if (dx.size === 0) return [dx];
    // Non-overlapping max windows: one thread per window writes all of it.
    const tiled = mode === "max" && sh === ph && sw === pw;
    const spec: PoolSpec = { mode, dir: "bwd", tiled, size: tiled ? fixed : undefined };
    const n = tiled ? gy.size : dx.size;
    launchKernel(
      `${op} (gradient)`,
      poolKernel(spec),
      mode === "max" ? { X: x, G: gy, DX: dx } : { G: gy, DX: dx },
      uniforms(n),
      Math.ceil(n / WG),
    );
    return [dx];
  });
}

/**
 * Max pooling (Keras MaxPooling2D) over NHWC `[batch, H, W, C]`.
 *
 * @example
 * ```ts
 * const y = lt.maxPool2d(lt.zeros([8, 28, 28, 16])); // [8, 14, 14, 16]
 * const z = lt.maxPool2d(x, { poolSize: 3, strides: 2, padding: "same" });
 * ```
 */
export function maxPool2d(x: Tensor, options: Pool2DOptions = {}): Tensor {
  return pool("maxPool2d", "max", x, options);
}

/**
 * Average pooling (Keras AveragePooling2D) over NHWC `[batch, H, W, C]`;
 * with `same` padding, edge windows average their in-bounds elements only.
 *
 * @example
 * ```ts
 * const y = lt.avgPool2d(lt.zeros([8, 28, 28, 16]), { poolSize: 2 }); // [8, 14, 14, 16]
 * ```
 */
export function avgPool2d(x: Tensor, options: Pool2DOptions = {}): Tensor {
  return pool("avgPool2d", "avg", x, options);
}
