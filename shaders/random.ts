/**
 * Counter-based random numbers: Philox4x32-10 in WGSL, and a family that
 * fills a tensor with bits, uniform, normal, truncated normal or Bernoulli
 * values.
 *
 * Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011) maps a 128-bit counter and a 64-bit key to 128 random bits using
 * only 32-bit multiplies and xors, so every adapter computes the same bits and
 * no generator state lives on the GPU. Thread `b` computes block
 * `philox([b, 0, stream, 0], [key0, key1])` and writes elements `4b .. 4b+3`,
 * which is the same block layout as the host `Rng` of src/data/prng.ts.
 *
 * Transforms (each element uses one 32-bit lane; normals use lane pairs):
 * - uniform: `lo + (hi − lo) · (r >> 8) · 2^-24`, in [lo, hi).
 * - normal: Box–Muller on the pairs (x, y) and (z, w), with
 *   `u1 = ((x >> 9) + ½) · 2^-23` in (0, 1) so the log never sees 0, and the
 *   angle taken in [−π, π) where WGSL's sin/cos accuracy is specified.
 * - truncated_normal: inverse CDF, `√2 · erfinv(E · (2u − 1))` with
 *   `E = erf(√2)`, i.e. a standard normal conditioned on |z| < 2 (Keras'
 *   TruncatedNormal) without a data-dependent resampling loop; erfinv is
 *   Giles' single-precision polynomial ("Approximating the erfinv function",
 *   GPU Computing Gems, 2011), relative error about 1e-7 on this range.
 * - bernoulli: `value` where `(r >> 8) · 2^-24 < p`, else 0.
 *
 * Dispatch: ceil(ceil(n / 4) / WG) workgroups. Declared buffer: out (write;
 * f32, or u32 / i32 for bits). Uniforms: n, key0, key1, stream, a, b, c (f32
 * parameters of the transform), pad (0).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/** Distributions the random family draws. */
export type RandomDist = "bits" | "uniform" | "normal" | "truncated_normal" | "bernoulli";

/** Specialisation of the random family. */
export interface RandomSpec {
  dist: RandomDist;
  /** bits only: the output is an i32 tensor (the same bits, declared `i32`). */
  i32?: boolean;
}

/**
 * WGSL for `philox(counter: vec4u, key: vec2u) -> vec4u` (Philox4x32-10).
 * Other families (noisy batch gathers, fused dropout) include it to draw the
 * same numbers as {@link randomKernel}.
 */
export const PHILOX_WGSL: string = /* wgsl */ `
// High and low 32 bits of a * b; WGSL has no 32x32->64 multiply.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2u(p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), a * b);
}
fn philox(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let r0 = mulhilo(0xd2511f53u, c.x);
    let r1 = mulhilo(0xcd9e8d57u, c.z);
    c = vec4u(r1.x ^ c.y ^ k.x, r1.y, r0.x ^ c.w ^ k.y, r0.y);
    k = k + vec2u(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}
// Uniform in [0, 1) from the top 24 bits (exact in f32).
fn unit_float(r: u32) -> f32 { return f32(r >> 8u) * 5.9604644775390625e-8; }
// Uniform in (0, 1) from the top 23 bits, never 0 (log-safe) nor 1.
fn open_unit_float(r: u32) -> f32 { return (f32(r >> 9u) + 0.5) * 1.1920928955078125e-7; }
// Two standard normals from two lanes (Box-Muller).
fn box_muller(r0: u32, r1: u32) -> vec2f {
  let radius = sqrt(-2.0 * log(open_unit_float(r0)));
  let angle = 6.283185307179586 * unit_float(r1) - 3.141592653589793;
  return radius * vec2f(cos(angle), sin(angle));
}`;

const ERFINV_WGSL = /* wgsl */ `
// Giles' single-precision erfinv, central branch (valid for |x| <= 0.9966).
fn erfinv_central(x: f32) -> f32 {
  let w = -log((1.0 - x) * (1.0 + x)) - 2.5;
  var p = 2.81022636e-08;
  p = 3.43273939e-07 + p * w;
  p = -3.5233877e-06 + p * w;
  p = -4.39150654e-06 + p * w;
  p = 0.00021858087 + p * w;
  p = -0.00125372503 + p * w;
  p = -0.00417768164 + p * w;
  p = 0.246640727 + p * w;
  p = 1.50140941 + p * w;
  return p * x;
}
// A standard normal truncated to (-2, 2) by inverse CDF; 0.9544997 = erf(sqrt(2)).
fn truncated_normal(r: u32) -> f32 {
  let x = 0.9544997361036416 * (2.0 * open_unit_float(r) - 1.0);
  return clamp(1.4142135623730951 * erfinv_central(x), -2.0, 2.0);
}`;

const TRANSFORMS: Record<Exclude<RandomDist, "bits">, string> = {
  uniform: "let v = vec4f(u.a) + u.b * vec4f(unit_float(r.x), unit_float(r.y), " +
    "unit_float(r.z), unit_float(r.w));",
  normal: "let v = vec4f(u.a) + u.b * vec4f(box_muller(r.x, r.y), box_muller(r.z, r.w));",
  truncated_normal: "let v = vec4f(u.a) + u.b * vec4f(truncated_normal(r.x), " +
    "truncated_normal(r.y), truncated_normal(r.z), truncated_normal(r.w));",
  bernoulli: "let v = select(vec4f(0.0), vec4f(u.c), vec4f(unit_float(r.x), unit_float(r.y), " +
    "unit_float(r.z), unit_float(r.w)) < vec4f(u.b));",
};

/**
 * The random-fill kernel for a distribution. Uniform fields `a`, `b`, `c`
 * are (lo, hi − lo, −) for uniform, (mean, std, −) for the normals and
 * (−, p, value) for bernoulli.
 */
export const randomKernel: (spec: RandomSpec) => DeclaredKernel = family(
  "random",
  (spec: RandomSpec) => {
    const bits = spec.dist === "bits";
    const signed = bits && !!spec.i32;
    return declare({
      key: `random/${spec.dist}${signed ? "/i32" : ""}`,
      inputs: {},
      outputs: { out: signed ? "i32" : bits ? "u32" : "f32" },
      uniforms: {
        n: "u32",
        key0: "u32",
        key1: "u32",
        stream: "u32",
        a: "f32",
        b: "f32",
        c: "f32",
        pad: "u32",
      },
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
${PHILOX_WGSL}
${spec.dist === "truncated_normal" ? ERFINV_WGSL : ""}`,
      main: /* wgsl */ `
  let base = i * 4u;
  if (base >= u.n) { return; }
  let r = philox(vec4u(i, 0u, u.stream, 0u), vec2u(u.key0, u.key1));
  ${
        signed
          ? "let v = bitcast<vec4i>(r);"
          : bits
          ? "let v = r;"
          : TRANSFORMS[spec.dist as Exclude<RandomDist, "bits">]
      }
  for (var j = 0u; j < 4u; j++) {
    if (base + j < u.n) { out[base + j] = v[j]; }
  }`,
    });
  },
);
