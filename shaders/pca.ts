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
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/**
 * Centred row blocks for the batched product: XC[s, r, f] = X[s·rows + r, f] −
 * MEAN[f], and 0 for the padding rows past n (they add nothing to XCᵀXC).
 * Bindings: X [n, d], MEAN [d], XC [splits, rows, d]. Uniform: n, d, size.
 * Dispatch: ceil(size / 256).
 */
export const centerRowsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "center_rows",
  (_spec: Record<string, never>) =>
    declare({
      key: "center_rows",
      inputs: { X: "f32", MEAN: "f32" },
      outputs: { XC: "f32" },
      uniforms: { n: "u32", d: "u32", size: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.size) { return; }
  var v = 0.0;
  if (i < u.n * u.d) { v = X[i] - MEAN[i % u.d]; }
  XC[i] = v;`,
    }),
);

/**
 * COV[a, b] = scale · Σ_s PART[s, min(a, b), max(a, b)]: adds the split
 * products and makes the result exactly symmetric.
 * Bindings: PART, COV [d, d]. Uniform: d, splits, scale. Dispatch: ceil(d² / 256).
 */
export const covFinalizeKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "cov_finalize",
  (_spec: Record<string, never>) =>
    declare({
      key: "cov_finalize",
      inputs: { PART: "f32" },
      outputs: { COV: "f32" },
      uniforms: { d: "u32", splits: "u32", scale: "f32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.d * u.d) { return; }
  let a = i / u.d;
  let b = i % u.d;
  let lo = min(a, b);
  let hi = max(a, b);
  var s = 0.0;
  for (var z = 0u; z < u.splits; z++) { s += PART[z * u.d * u.d + lo * u.d + hi]; }
  COV[i] = s * u.scale;`,
    }),
);
