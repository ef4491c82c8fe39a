/**
 * Float64 references for convolution, pooling and upsampling, written the
 * plain way (loops over outputs, or scatters from inputs for the transposed
 * convolution) so they share no index arithmetic with the kernels.
 *
 * Layouts as the ops: NHWC activations, HWIO conv2d kernels, `[kh, kw, outC,
 * inC]` conv2dTranspose kernels. Padding is TensorFlow's: `same` gives
 * ceil(size / s) outputs and pads max((out − 1)·s + (k − 1)·d + 1 − size, 0),
 * the extra one at the end; `valid` pads nothing.
 *
 * @module
 */
import { type Activation, activationRef } from "../shaders/activations.ts";

/** An NHWC array and its shape. */
export interface Ref4 {
  data: Float64Array;
  shape: [number, number, number, number];
}

/** Geometry options shared by the references. */
export interface RefWindow {
  strides?: [number, number];
  padding: "same" | "valid";
  dilation?: [number, number];
}

/** TensorFlow's output size and leading pad for one axis. */
export function tfAxis(
  size: number,
  k: number,
  s: number,
  d: number,
  padding: "same" | "valid",
): { out: number; before: number } {
  const span = (k - 1) * d + 1;
  if (padding === "valid") {
    return { out: Math.max(0, Math.floor((size - span) / s) + 1), before: 0 };
  }
  const out = Math.ceil(size / s);
  return { out, before: Math.floor(Math.max((out - 1) * s + span - size, 0) / 2) };
}

function finish(
  out: Float64Array,
  c: number,
  bias: ArrayLike<number> | undefined,
  act: Activation,
  alpha: number,
): void {
  for (let i = 0; i < out.length; i++) {
    out[i] = activationRef(act, out[i] + (bias ? bias[i % c] : 0), alpha);
  }
}

/** Options of the convolution references. */
export interface RefConvOptions extends RefWindow {
  bias?: ArrayLike<number>;
  activation?: Activation;
  alpha?: number;
}

/** Float64 conv2d: x NHWC, w HWIO. */
export function refConv2d(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  o: RefConvOptions,
): Ref4 {
  const [n, h, wd, ci] = xs;
  const [kh, kw, , co] = ws;
  const [sh, sw] = o.strides ?? [1, 1];
  const [dh, dw] = o.dilation ?? [1, 1];
  const ah = tfAxis(h, kh, sh, dh, o.padding), aw = tfAxis(wd, kw, sw, dw, o.padding);
  const out = new Float64Array(n * ah.out * aw.out * co);
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ah.out; oh++) {
      for (let ow = 0; ow < aw.out; ow++) {
        const base = ((b * ah.out + oh) * aw.out + ow) * co;
        for (let ky = 0; ky < kh; ky++) {
          const ih = oh * sh + ky * dh - ah.before;
          if (ih < 0 || ih >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const iw = ow * sw + kx * dw - aw.before;
            if (iw < 0 || iw >= wd) continue;
            for (let c = 0; c < ci; c++) {
              const xv = x[((b * h + ih) * wd + iw) * ci + c];
              const wb = ((ky * kw + kx) * ci + c) * co;
              for (let f = 0; f < co; f++) out[base + f] += xv * w[wb + f];
            }
          }
        }
      }
    }
  }
  finish(out, co, o.bias, o.activation ?? "linear", o.alpha ?? 0);
  return { data: out, shape: [n, ah.out, aw.out, co] };
}

/**
 * Float64 conv2dTranspose, as a scatter: every input pixel adds its kernel
 * footprint into the output. x NHWC `[n, h, w, inC]`, w `[kh, kw, outC, inC]`.
 */
export function refConv2dTranspose(
  x: ArrayLike<number>,
  xs: readonly number[],
  w: ArrayLike<number>,
  ws: readonly number[],
  o: RefConvOptions,
): Ref4 {
  const [n, h, wd, ci] = xs;
  const [kh, kw, co] = ws;
  const [sh, sw] = o.strides ?? [1, 1];
  const [dh, dw] = o.dilation ?? [1, 1];
  const ho = o.padding === "same" ? h * sh : (h - 1) * sh + (kh - 1) * dh + 1;
  const wo = o.padding === "same" ? wd * sw : (wd - 1) * sw + (kw - 1) * dw + 1;
  const pt = tfAxis(ho, kh, sh, dh, o.padding).before;
  const pl = tfAxis(wo, kw, sw, dw, o.padding).before;
  const out = new Float64Array(n * ho * wo * co);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x0 = 0; x0 < wd; x0++) {
        for (let ky = 0; ky < kh; ky++) {
          const oy = y * sh + ky * dh - pt;
          if (oy < 0 || oy >= ho) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ox = x0 * sw + kx * dw - pl;
            if (ox < 0 || ox >= wo) continue;
            for (let c = 0; c < ci; c++) {
              const xv = x[((b * h + y) * wd + x0) * ci + c];
              for (let f = 0; f < co; f++) {
                out[((b * ho + oy) * wo + ox) * co + f] += xv *
                  w[((ky * kw + kx) * co + f) * ci + c];
              }
            }
          }
        }
      }
    }
  }
  finish(out, co, o.bias, o.activation ?? "linear", o.alpha ?? 0);
  return { data: out, shape: [n, ho, wo, co] };
}

/** Options of the pooling references. */
export interface RefPoolOptions {
  pool: [number, number];
  strides?: [number, number];
  padding: "same" | "valid";
}

function pool(
  x: ArrayLike<number>,
  xs: readonly number[],
  o: RefPoolOptions,
  reduce: (values: number[]) => number,
): Ref4 {
  const [n, h, w, c] = xs;
  const [ph, pw] = o.pool;
  const [sh, sw] = o.strides ?? o.pool;
  const ah = tfAxis(h, ph, sh, 1, o.padding), aw = tfAxis(w, pw, sw, 1, o.padding);
  const out = new Float64Array(n * ah.out * aw.out * c);
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let oh = 0; oh < ah.out; oh++) {
      for (let ow = 0; ow < aw.out; ow++) {
        for (let ch = 0; ch < c; ch++) {
          // Only in-bounds elements: TensorFlow's padded elements never win a
          // max and are not counted in an average.
          const vals: number[] = [];
          for (let ky = 0; ky < ph; ky++) {
            const y = oh * sh + ky - ah.before;
            if (y < 0 || y >= h) continue;
            for (let kx = 0; kx < pw; kx++) {
              const x0 = ow * sw + kx - aw.before;
              if (x0 < 0 || x0 >= w) continue;
              vals.push(x[((b * h + y) * w + x0) * c + ch]);
            }
          }
          out[i++] = reduce(vals);
        }
      }
    }
  }
  return { data: out, shape: [n, ah.out, aw.out, c] };
}

/** Float64 MaxPooling2D (NHWC). */
export function refMaxPool2d(x: ArrayLike<number>, xs: readonly number[], o: RefPoolOptions): Ref4 {
  return pool(x, xs, o, (v) => Math.max(...v));
}

/** Float64 AveragePooling2D (NHWC; `same` averages over in-bounds elements only). */
export function refAvgPool2d(x: ArrayLike<number>, xs: readonly number[], o: RefPoolOptions): Ref4 {
  return pool(x, xs, o, (v) => v.reduce((a, b) => a + b, 0) / v.length);
}

/**
 * Float64 UpSampling2D. `nearest` repeats each pixel size[0]×size[1] times.
 * `bilinear` is TensorFlow's resize with half-pixel centers (what Keras's
 * UpSampling2D(interpolation="bilinear") calls): output row i samples input
 * coordinate (i + 0.5) / s − 0.5, between rows max(floor, 0) and
 * min(ceil, h − 1), weighted by its fractional part.
 */
export function refUpSampling2d(
  x: ArrayLike<number>,
  xs: readonly number[],
  size: [number, number],
  interpolation: "nearest" | "bilinear",
): Ref4 {
  const [n, h, w, c] = xs;
  const [sh, sw] = size;
  const ho = h * sh, wo = w * sw;
  const out = new Float64Array(n * ho * wo * c);
  const axis = (i: number, s: number, len: number) => {
    const src = (i + 0.5) / s - 0.5;
    const f = Math.floor(src);
    return { lo: Math.max(f, 0), hi: Math.min(Math.ceil(src), len - 1), t: src - f };
  };
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let ch = 0; ch < c; ch++) {
          const at = (y: number, x0: number) => x[((b * h + y) * w + x0) * c + ch];
          if (interpolation === "nearest") {
            out[i++] = at(Math.floor(oy / sh), Math.floor(ox / sw));
          } else {
            const ay = axis(oy, sh, h), ax = axis(ox, sw, w);
            const top = at(ay.lo, ax.lo) * (1 - ax.t) + at(ay.lo, ax.hi) * ax.t;
            const bottom = at(ay.hi, ax.lo) * (1 - ax.t) + at(ay.hi, ax.hi) * ax.t;
            out[i++] = top * (1 - ay.t) + bottom * ay.t;
          }
        }
      }
    }
  }
  return { data: out, shape: [n, ho, wo, c] };
}
