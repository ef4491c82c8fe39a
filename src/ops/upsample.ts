/**
 * `upSampling2d` (Keras UpSampling2D): integer-factor upsampling of NHWC
 * activations, nearest (default) or bilinear, with its gradient.
 *
 * `bilinear` matches Keras's UpSampling2D(interpolation="bilinear"), which
 * calls TensorFlow's `tf.image.resize(method="bilinear")`: half-pixel
 * centers (output i samples input (i + 0.5) / s − 0.5, clamped at the edges),
 * no antialiasing. See `shaders/upsample.ts` for the exact formula.
 *
 * @module
 */
import { upsampleKernel, type UpsampleSpec } from "../../shaders/upsample.ts";
import { WG } from "../../shaders/common.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { type Size2, size2 } from "./conv.ts";
import { launchKernel } from "./kernel_call.ts";

/** Options of {@link upSampling2d}. */
export interface UpSampling2DOptions {
  /** Factors [sh, sw] (default 2). */
  size?: Size2;
  /** `"nearest"` (default) or `"bilinear"`. */
  interpolation?: "nearest" | "bilinear";
}

/**
 * Upsamples NHWC `[batch, H, W, C]` to `[batch, H·sh, W·sw, C]`.
 *
 * @example
 * ```ts
 * const y = lt.upSampling2d(lt.zeros([8, 14, 14, 16])); // [8, 28, 28, 16]
 * const z = lt.upSampling2d(x, { size: [2, 3], interpolation: "bilinear" });
 * ```
 */
export function upSampling2d(x: Tensor, options: UpSampling2DOptions = {}): Tensor {
  const op = "upSampling2d";
  if (x.rank !== 4) {
    throw new Error(
      `${op}: expected input [batch, height, width, channels], got ${fmtShape(x.shape)}`,
    );
  }
  if (x.dtype !== "f32") throw new TypeError(`${op}: expected an f32 input, got ${x.dtype}`);
  const [sh, sw] = size2(op, "size", options.size, 2);
  const mode = options.interpolation ?? "nearest";
  if (mode !== "nearest" && mode !== "bilinear") {
    throw new RangeError(
      `${op}: interpolation must be "nearest" or "bilinear", got ${JSON.stringify(mode)}`,
    );
  }
  const [batch, h, w, c] = x.shape;
  const uniforms = (n: number) => ({
    n,
    H: h,
    W: w,
    C: c,
    SH: sh,
    SW: sw,
    HO: h * sh,
    WO: w * sw,
  });
  // Nearest factors up to 4x4 get an unrolled block.
  const size: [number, number] | undefined = mode === "nearest" && sh <= 4 && sw <= 4
    ? [sh, sw]
    : undefined;
  const y = empty([batch, h * sh, w * sw, c], "f32", op);
  if (y.size > 0) {
    const spec: UpsampleSpec = { mode, dir: "fwd", size };
    // Nearest: a thread per input element writes its block.
    const n = mode === "nearest" ? x.size : y.size;
    launchKernel(op, upsampleKernel(spec), { X: x, OUT: y }, uniforms(n), Math.ceil(n / WG));
  }
  return record(y, op, [x], (gy) => {
    const dx = empty(x.shape, "f32", `${op} (gradient)`);
    if (dx.size === 0) return [dx];
    const spec: UpsampleSpec = { mode, dir: "bwd", size };
    launchKernel(
      `${op} (gradient)`,
      upsampleKernel(spec),
      { G: gy, DX: dx },
      uniforms(dx.size),
      Math.ceil(dx.size / WG),
    );
    return [dx];
  });
}
