/**
 * The kernels of DEC's clustering layer as raw ops (shaders/soft_assign.ts):
 * the Student's t soft assignment, its gradient in the form H = 2 ∂L/∂d
 * (from an upstream gradient, or fused with KL(P‖Q)), the gradients to the
 * embeddings and the centres from H, and the target distribution. No
 * autograd (src/cluster/soft_assign.ts records them); shapes are the
 * caller's to check.
 * @module
 */
import { WG } from "../../../shaders/common.ts";
import { TI } from "../../../shaders/distance.ts";
import {
  softAssignDzKernel,
  softAssignGradKernel,
  softAssignKernel,
  targetKernel,
} from "../../../shaders/soft_assign.ts";
import { empty, fmtShape, type Tensor } from "../../tensor/tensor.ts";
import { launchKernel } from "../kernel_call.ts";
import { adapterPairTiles } from "./pairwise.ts";
import { clusterSums, columnSums } from "./sums.ts";

/** Uniform fields shared by the forward and gradient kernels. */
function params(n: number, k: number, d: number, alpha: number) {
  return { n, k, d, alpha, expo: (alpha + 1) / 2 };
}

/** Keras' clip of `kld` (src/ops/losses.ts: 1e-7). */
const KL_EPS = 1e-7;

/**
 * q_ij ∝ (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2), rows normalised, for z [n, d] and
 * mu [k, d], as a new [n, k] tensor.
 *
 * @example
 * ```ts
 * const q = softAssignRaw("softAssign", z, mu, 1); // [n, k]
 * ```
 */
export function softAssignRaw(op: string, z: Tensor, mu: Tensor, alpha: number): Tensor {
  const [n, d] = z.shape, k = mu.shape[0];
  const q = empty([n, k], "f32", op);
  launchKernel(
    op,
    softAssignKernel(adapterPairTiles(k, d)),
    { A: z, B: mu, Q: q },
    { ...params(n, k, d, alpha), eps: 0 },
    Math.ceil(n / TI),
  );
  return q;
}

/**
 * Each row's KL(p_i ‖ q_i) = Σ_j p_ij log(p_ij / q_ij) for q = softAssign(z,
 * mu), both clipped to [1e-7, 1] as Keras' `kld`, as a new [n] tensor from
 * the soft assignment's own dispatch (q is not kept): DEC's loss is then one
 * reduction over rows.
 *
 * @example
 * ```ts
 * const rows = softAssignKlRaw("decLossFused", z, mu, p, 1); // [n]
 * ```
 */
export function softAssignKlRaw(
  op: string,
  z: Tensor,
  mu: Tensor,
  p: Tensor,
  alpha: number,
): Tensor {
  const [n, d] = z.shape, k = mu.shape[0];
  const q = empty([n, k], "f32", op), kl = empty([n], "f32", op);
  launchKernel(
    op,
    softAssignKernel({ ...adapterPairTiles(k, d), kl: true }),
    { A: z, B: mu, P: p, Q: q, KL: kl },
    { ...params(n, k, d, alpha), eps: KL_EPS },
    Math.ceil(n / TI),
  );
  q.dispose();
  return kl;
}

/** What {@link softAssignH} differentiates. */
export interface SoftAssignHOptions {
  /**
   * `upstream`: any loss, given q (in `qp`) and g = ∂L/∂q [n, k]; `kl`:
   * L = g · KL(P‖Q) / n fused, given p (in `qp`) and the scalar g [1].
   */
  mode: "upstream" | "kl";
  /** [n, d] embeddings and [k, d] centres. */
  z: Tensor;
  mu: Tensor;
  /** [n, k]: q (`upstream`) or p (`kl`). */
  qp: Tensor;
  /** The upstream gradient: [n, k] (`upstream`) or a scalar [1] (`kl`). */
  g: Tensor;
  /** Student's t degrees of freedom. */
  alpha: number;
  /**
   * `kl` only: ∂L/∂z [n, d] is also written here, by the same dispatch
   * (then {@link softAssignGrads} is asked for ∂L/∂μ alone).
   */
  dz?: Tensor;
}

/**
 * H = 2 ∂L/∂d [n, k] (d_ij = ‖z_i − μ_j‖²) for the soft assignment, the
 * quantity both gradients are built from ({@link softAssignGrads}).
 */
export function softAssignH(op: string, options: SoftAssignHOptions): Tensor {
  const { mode, z, mu, alpha, dz } = options;
  const [n, d] = z.shape, k = mu.shape[0];
  if (dz && (mode !== "kl" || dz.shape.join() !== z.shape.join())) {
    throw new Error(`${op}: a fused dz is written in kl mode, shaped like z ${fmtShape(z.shape)}`);
  }
  const h = empty([n, k], "f32", op);
  launchKernel(
    op,
    softAssignGradKernel({ mode, dz: dz !== undefined, ...adapterPairTiles(k, d) }),
    { A: z, B: mu, QP: options.qp, G: options.g, H: h, ...(dz ? { DZ: dz } : {}) },
    { ...params(n, k, d, alpha), coef: (alpha + 1) / alpha, inv_n: 1 / n },
    Math.ceil(n / TI),
  );
  return h;
}

/**
 * ∂L/∂z_i = Σ_j H_ij (z_i − μ_j) ([n, d], when `dz`) and ∂L/∂μ_j =
 * −Σ_i H_ij (z_i − μ_j) ([k, d], a per-cluster column sum, when `dmu`).
 *
 * @example
 * ```ts
 * const [dz, dmu] = softAssignGrads("softAssign", z, mu, h, { dz: true, dmu: true });
 * ```
 */
export function softAssignGrads(
  op: string,
  z: Tensor,
  mu: Tensor,
  h: Tensor,
  wanted: { dz: boolean; dmu: boolean },
): [Tensor | null, Tensor | null] {
  const [n, d] = z.shape, k = mu.shape[0];
  let dz: Tensor | null = null;
  if (wanted.dz) {
    dz = empty([n, d], "f32", op);
    launchKernel(
      op,
      softAssignDzKernel({}),
      { Z: z, MU: mu, H: h, DZ: dz },
      { n, k, d },
      Math.ceil((n * d) / WG),
    );
  }
  const dmu = wanted.dmu
    ? clusterSums(op, z, { k, weight: "dense", weights: h, value: "dev", reference: mu, scale: -1 })
      .sums
    : null;
  return [dz, dmu];
}

/**
 * DEC's target distribution p_ij = (q_ij² / f_j) / Σ_l (q_il² / f_l) with
 * f_j = Σ_i q_ij, for q [n, k], as a new [n, k] tensor.
 *
 * @example
 * ```ts
 * const p = targetDistributionRaw("targetDistribution", q);
 * ```
 */
export function targetDistributionRaw(op: string, q: Tensor): Tensor {
  const [n, k] = q.shape;
  const f = columnSums(op, q);
  const p = empty([n, k], "f32", op);
  launchKernel(op, targetKernel({}), { Q: q, F: f, P: p }, { n, k }, Math.ceil(n / WG));
  f.dispose();
  return p;
}
