/**
 * PCA's covariance as an op (shaders/pca.ts): centred row blocks, one batched
 * product per block through the tuned matmul, then the blocks added, scaled
 * and mirrored. No readback, no autograd; shapes are the caller's to check.
 * @module
 */
import { WG } from "../../../shaders/common.ts";
import { centerRowsKernel, covFinalizeKernel } from "../../../shaders/pca.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { launchKernel } from "../kernel_call.ts";
import { matmulRaw } from "../matmul.ts";

/** Most floats the per-block d × d products may take together (16 MiB). */
const PARTIAL_BUDGET = 4 * 1024 * 1024;

/**
 * The sample covariance (x − μ)ᵀ(x − μ) / (n − 1) of x [n, d] (n ≥ 2) as a
 * new [d, d] tensor, exactly symmetric, given the column means μ [d].
 *
 * @example
 * ```ts
 * const cov = covarianceRaw("PCA.fit", x, columnMeans("PCA.fit", x));
 * ```
 */
export function covarianceRaw(op: string, x: Tensor, mean: Tensor): Tensor {
  const [n, d] = x.shape;
  // Row blocks: enough products to fill the GPU for a small d, within the budget.
  const splits = Math.max(
    1,
    Math.min(Math.ceil(n / 2048), Math.floor(PARTIAL_BUDGET / (d * d)), 64),
  );
  const rows = Math.ceil(n / splits);
  const centred = empty([splits, rows, d], "f32", op);
  launchKernel(
    op,
    centerRowsKernel({}),
    { X: x, MEAN: mean, XC: centred },
    { n, d, size: centred.size },
    Math.ceil(centred.size / WG),
  );
  const products = matmulRaw(centred, centred, { transA: true, op });
  centred.dispose();
  const cov = empty([d, d], "f32", op);
  launchKernel(
    op,
    covFinalizeKernel({}),
    { PART: products, COV: cov },
    { d, splits, scale: 1 / (n - 1) },
    Math.ceil((d * d) / WG),
  );
  products.dispose();
  return cov;
}
