/**
 * The sample covariance (x − μ)ᵀ(x − μ) / (n − 1) of an [n, d] matrix, for PCA.
 *
 * The product itself is the library's tuned matmul (per-adapter tiles, the
 * transposed operand read in place); these kernels prepare and finish it.
 * `center_rows` writes the centred data as [splits, rows, d] blocks (centring
 * before the product avoids the cancellation of xᵀx − nμμᵀ in float32), a
 * batched matmul forms one d × d product per block so that a small d still
 * fills the GPU, and `cov_finalize` adds the blocks, scales, and mirrors the
 * upper triangle. The projections (transform / inverse transform) use the
 * pairwise core of `distance.ts` with `combine: "dot"`.
 * @module
 */
import { family, type Kernel, kernel } from "./common.ts";

/**
 * Centred row blocks for the batched product: XC[s, r, f] = X[s·rows + r, f] −
 * MEAN[f], and 0 for the padding rows past n (they add nothing to XCᵀXC).
 * Bindings: X [n, d], MEAN [d], XC [splits, rows, d]. Uniform: n, d, size.
 * Dispatch: ceil(size / 256).
 */
export const centerRowsKernel: (spec: Record<string, never>) => Kernel = family(
  "center_rows",
  (_spec: Record<string, never>) =>
    kernel(
      "center_rows",
      /* wgsl */ `
struct U { n: u32, d: u32, size: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> MEAN: array<f32>;
@group(0) @binding(2) var<storage, read_write> XC: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 256u + lid;
  if (e >= u.size) { return; }
  var v = 0.0;
  if (e < u.n * u.d) { v = X[e] - MEAN[e % u.d]; }
  XC[e] = v;
}`,
      ["read", "read", "write"],
    ),
);

/**
 * COV[a, b] = scale · Σ_s PART[s, min(a, b), max(a, b)]: adds the split
 * products and makes the result exactly symmetric.
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
  let e = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 256u + lid;
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
