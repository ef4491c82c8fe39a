/**
 * The sample covariance (x − μ)ᵀ(x − μ) / (n − 1) of an [n, d] matrix, for PCA.
 *
 * `cov_partial` computes 64 × 64 output tiles with a 4 × 4 register block per
 * thread (16 FMAs per 8 workgroup-memory reads), centring each element as it
 * is staged, and only tiles on or above the diagonal (the matrix is
 * symmetric). The rows are split into `splits` ranges so that a small d still
 * fills the GPU; `cov_finalize` adds the ranges, scales, and mirrors the upper
 * triangle. The projections (transform / inverse transform) use the pairwise
 * core of `distance.ts` with `combine: "dot"`.
 * @module
 */
import { family, type Kernel, kernel } from "./common.ts";

/** Output tile edge of `cov_partial`. */
export const COV_TILE = 64;

/**
 * PART[s, a, b] = Σ_{i in split s} (x_ia − μ_a)(x_ib − μ_b) for tiles with
 * tileRow ≤ tileCol. Bindings: X [n, d], MEAN [d], PART [splits, d, d].
 * Uniform: n, d, rows (per split). Dispatch: (tiles, tiles, splits).
 */
export const covPartialKernel: (spec: Record<string, never>) => Kernel = family(
  "cov_partial",
  (_spec: Record<string, never>) =>
    kernel(
      "cov_partial",
      /* wgsl */ `
struct U { n: u32, d: u32, rows: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> MEAN: array<f32>;
@group(0) @binding(2) var<storage, read_write> PART: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
const T = ${COV_TILE}u;
const R = 16u;
var<workgroup> Ta: array<f32, ${16 * COV_TILE}>;
var<workgroup> Tb: array<f32, ${16 * COV_TILE}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (wid.y > wid.x) { return; }
  let a0 = wid.y * T;
  let b0 = wid.x * T;
  let ty = lid / 16u;
  let tx = lid % 16u;
  let r0 = wid.z * u.rows;
  let r1 = min(u.n, r0 + u.rows);
  var acc = array<array<f32, 4>, 4>();
  for (var r = r0; r < r1; r += R) {
    // Stage R rows × 64 features of each side, centred; 4 elements per thread.
    for (var q = 0u; q < 4u; q++) {
      let e = q * 256u + lid;
      let rr = e / T;
      let cc = e % T;
      let row = r + rr;
      var va = 0.0;
      var vb = 0.0;
      if (row < r1) {
        if (a0 + cc < u.d) { va = X[row * u.d + a0 + cc] - MEAN[a0 + cc]; }
        if (b0 + cc < u.d) { vb = X[row * u.d + b0 + cc] - MEAN[b0 + cc]; }
      }
      Ta[e] = va;
      Tb[e] = vb;
    }
    workgroupBarrier();
    for (var rr = 0u; rr < R; rr++) {
      var av = array<f32, 4>();
      var bv = array<f32, 4>();
      for (var m = 0u; m < 4u; m++) {
        av[m] = Ta[rr * T + ty * 4u + m];
        bv[m] = Tb[rr * T + tx * 4u + m];
      }
      for (var m = 0u; m < 4u; m++) {
        for (var q = 0u; q < 4u; q++) { acc[m][q] = fma(av[m], bv[q], acc[m][q]); }
      }
    }
    workgroupBarrier();
  }
  let base = wid.z * u.d * u.d;
  for (var m = 0u; m < 4u; m++) {
    let a = a0 + ty * 4u + m;
    for (var q = 0u; q < 4u; q++) {
      let b = b0 + tx * 4u + q;
      if (a < u.d && b < u.d) { PART[base + a * u.d + b] = acc[m][q]; }
    }
  }
}`,
      ["read", "read", "write"],
    ),
);

/**
 * COV[a, b] = scale · Σ_s PART[s, min(a, b), max(a, b)].
 * Bindings: PART, COV [d, d]. Uniform: d, splits, scale. Dispatch: ceil(d² / 256).
 */
export const covFinalizeKernel: (spec: Record<string, never>) => Kernel = family(
  "cov_finalize",
  (_spec: Record<string, never>) =>
    kernel(
      "cov_finalize",
      /* wgsl */ `
struct U { d: u32, splits: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> COV: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.d * u.d) { return; }
  let a = e / u.d;
  let b = e % u.d;
  let lo = min(a, b);
  let hi = max(a, b);
  var s = 0.0;
  for (var z = 0u; z < u.splits; z++) { s += PART[z * u.d * u.d + lo * u.d + hi]; }
  COV[e] = s * u.scale;
}`,
      ["read", "write"],
    ),
);
