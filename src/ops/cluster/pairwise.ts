/**
 * Pairwise ops over two row sets (shaders/distance.ts): squared Euclidean
 * distances, and dot products with an optional centring of the left rows
 * and bias on the outputs (PCA's projections). No autograd.
 * @module
 */
import { pairTiles, pairwiseKernel, TI } from "../../../shaders/distance.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { launchKernel } from "../kernel_call.ts";
import { adapterKind } from "../tuning.ts";

/**
 * `pairTiles` for the current adapter: operands staged in workgroup memory
 * on GPUs, read directly on CPU adapters (lavapipe, SwiftShader).
 *
 * @example
 * ```ts
 * const kernel = softAssignKernel(adapterPairTiles(k, d));
 * ```
 */
export function adapterPairTiles(
  k: number,
  d: number,
): { tj: number; tf: number; stage: boolean } {
  return pairTiles(k, d, adapterKind() === "gpu");
}

/**
 * Squared Euclidean distances between the rows of a [n, d] and b [k, d] as a
 * new [n, k] tensor, computed as Σ (a − b)² (no ‖a‖² − 2a·b + ‖b‖²
 * expansion). Shapes are the caller's to check.
 *
 * @example
 * ```ts
 * const d2 = pairwiseDistances("squaredDistances", x, centres); // [n, k]
 * ```
 */
export function pairwiseDistances(op: string, a: Tensor, b: Tensor): Tensor {
  const [n, d] = a.shape, k = b.shape[0];
  const out = empty([n, k], "f32", op);
  launchKernel(
    op,
    pairwiseKernel({ combine: "sqdist", ...adapterPairTiles(k, d) }),
    { A: a, B: b, OUT: out },
    { n, k, d },
    Math.ceil(n / TI),
  );
  return out;
}

/** Options of {@link pairwiseDots}. */
export interface PairwiseDotsOptions {
  /** [d]: subtracted from every row of a as it is read (centring). */
  shift?: Tensor;
  /** [k]: added to every output row. */
  bias?: Tensor;
}

/**
 * out[i, j] = Σ_t (a[i, t] − shift[t]) · b[j, t] + bias[j] as a new [n, k]
 * tensor, for a [n, d] and b [k, d] (shift and bias optional). Shapes are
 * the caller's to check.
 *
 * @example
 * ```ts
 * const z = pairwiseDots("PCA.transform", x, components, { shift: mean }); // [n, c]
 * ```
 */
export function pairwiseDots(
  op: string,
  a: Tensor,
  b: Tensor,
  options: PairwiseDotsOptions = {},
): Tensor {
  const [n, d] = a.shape, k = b.shape[0];
  const { shift, bias } = options;
  const out = empty([n, k], "f32", op);
  launchKernel(
    op,
    pairwiseKernel({
      combine: "dot",
      ...adapterPairTiles(k, d),
      ...(shift ? { shiftA: true } : {}),
      ...(bias ? { biasOut: true } : {}),
    }),
    { A: a, B: b, ...(shift ? { SHIFT: shift } : {}), ...(bias ? { BIAS: bias } : {}), OUT: out },
    { n, k, d },
    Math.ceil(n / TI),
  );
  return out;
}
