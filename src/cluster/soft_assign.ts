/**
 * Deep Embedded Clustering's clustering layer as differentiable ops (Xie,
 * Girshick & Farhadi 2016, https://arxiv.org/abs/1511.06335):
 *
 * - {@link softAssign}: q_ij ∝ (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2), rows sum to 1
 *   (eq. 1), one kernel; gradients to both z and μ.
 * - {@link targetDistribution}: p_ij ∝ q_ij² / f_j with f_j = Σ_i q_ij (eq. 3),
 *   not differentiated (DEC holds P fixed between updates).
 * - {@link decLoss}: KL(P‖Q) summed over clusters and averaged over samples,
 *   the loss DEC's reference code minimises (Keras `kld` with a batch mean);
 *   it is the library's `klDivergence` with DEC's shape checks.
 * - {@link decLossFused}: KL(P‖softAssign(z, μ)) with the closed-form
 *   gradient of eq. 4–5 straight to z and μ, skipping ∂L/∂q.
 * - {@link ClusteringLayer}: trainable centres + `apply(z)`.
 *
 * Gradient rules (derivation in `shaders/soft_assign.ts`): every path
 * produces H_ij = 2 ∂L/∂d_ij (d_ij = ‖z_i − μ_j‖²), then
 *   ∂L/∂z_i = Σ_j H_ij (z_i − μ_j)      (a thread per element of z)
 *   ∂L/∂μ_j = −Σ_i H_ij (z_i − μ_j)     (a segmented column sum, no atomics).
 * With upstream G = ∂L/∂q: H_ij = ((α+1)/α) q_ij (Σ_l G_il q_il − G_ij) / (1 + d_ij/α).
 * For L = KL(P‖Q)/n: H_ij = ((α+1)/α) (p_ij − q_ij) / (n (1 + d_ij/α)).
 *
 * @module
 */
import { noGrad, record } from "../autograd/tape.ts";
import {
  softAssignGrads,
  softAssignH,
  softAssignKlRaw,
  softAssignRaw,
  targetDistributionRaw,
} from "../ops/cluster/soft_assign.ts";
import { assign, tensor } from "../ops/creation.ts";
import { checkTarget, klDivergence, type LossOptions } from "../ops/losses.ts";
import { checkAccumulator, reduceAxisRaw } from "../ops/reduce.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { checkMatrix } from "./check.ts";

function checkAlpha(op: string, alpha: number): void {
  if (!(alpha > 0 && Number.isFinite(alpha))) {
    throw new Error(`${op}: expected alpha > 0 (the Student's t degrees of freedom), got ${alpha}`);
  }
}

function checkPair(op: string, z: Tensor, mu: Tensor): [number, number, number] {
  checkMatrix(op, "z", z);
  checkMatrix(op, "mu", mu);
  if (z.shape[1] !== mu.shape[1]) {
    throw new Error(
      `${op}: expected z [n, d] and mu [k, d] with the same d, got ${fmtShape(z.shape)} and ${
        fmtShape(mu.shape)
      }`,
    );
  }
  return [z.shape[0], mu.shape[0], z.shape[1]];
}

function forwardRaw(op: string, z: Tensor, mu: Tensor, alpha: number): Tensor {
  checkPair(op, z, mu);
  return softAssignRaw(op, z, mu, alpha);
}

/** ∂L/∂z and ∂L/∂μ from H = 2 ∂L/∂d (each only if its input requires grad); frees H. */
function gradsFromH(op: string, z: Tensor, mu: Tensor, h: Tensor): [Tensor | null, Tensor | null] {
  const grads = softAssignGrads(op, z, mu, h, { dz: z.requiresGrad, dmu: mu.requiresGrad });
  h.dispose();
  return grads;
}

/**
 * DEC's soft assignment: Student's t similarity between embedded points z
 * [n, d] and centres mu [k, d], normalised per row (eq. 1 of Xie et al. 2016):
 * q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2) / Σ_l (1 + ‖z_i − μ_l‖²/α)^(−(α+1)/2).
 * Differentiable with respect to both z and mu.
 *
 * @example
 * ```ts
 * const q = softAssign(encoder.apply(x), centers); // [n, k], rows sum to 1
 * ```
 */
export function softAssign(z: Tensor, mu: Tensor, alpha = 1): Tensor {
  const op = `softAssign(alpha=${alpha})`;
  checkAlpha(op, alpha);
  const q = forwardRaw(op, z, mu, alpha);
  return record(q, "softAssign", [z, mu], (g) => {
    const h = softAssignH(op, { mode: "upstream", z, mu, qp: q, g, alpha });
    return gradsFromH(op, z, mu, h);
  });
}

/**
 * DEC's auxiliary target distribution (eq. 3): p_ij = (q_ij² / f_j) /
 * Σ_l (q_il² / f_l) with soft cluster frequencies f_j = Σ_i q_ij. Squaring
 * sharpens confident assignments; dividing by f_j keeps large clusters from
 * taking over. Not differentiated: DEC treats P as a constant target.
 *
 * @example
 * ```ts
 * const p = targetDistribution(q); // [n, k], rows sum to 1
 * ```
 */
export function targetDistribution(q: Tensor): Tensor {
  const op = "targetDistribution";
  checkMatrix(op, "q", q);
  return noGrad(() => targetDistributionRaw(op, q));
}

function checkSame(op: string, p: Tensor, q: Tensor): void {
  checkMatrix(op, "p", p);
  checkMatrix(op, "q", q);
  if (p.shape[0] !== q.shape[0] || p.shape[1] !== q.shape[1]) {
    throw new Error(
      `${op}: expected p and q of the same shape [n, k], got ${fmtShape(p.shape)} and ${
        fmtShape(q.shape)
      }`,
    );
  }
}

/**
 * DEC's loss: KL(P‖Q) = (1/n) Σ_i Σ_j p_ij log(p_ij / q_ij), a scalar (shape
 * []): the library's {@link klDivergence} (Keras' `kld` with a batch mean,
 * p and q clipped to [1e-7, 1]), which is what DEC's reference code
 * minimises. Gradient to q only; P is a constant target and must not
 * require gradients.
 *
 * @example
 * ```ts
 * const loss = decLoss(p, softAssign(z, centers));
 * lt.backward(loss);
 * ```
 */
export function decLoss(p: Tensor, q: Tensor): Tensor {
  checkSame("decLoss", p, q);
  return klDivergence(p, q);
}

/**
 * KL(P‖softAssign(z, mu, alpha)) as one op: the same value as
 * `decLoss(p, softAssign(z, mu, alpha))`, with DEC's closed-form gradient
 * (eq. 4–5) to z and mu:
 * ∂L/∂z_i = ((α+1)/α) Σ_j (1 + ‖z_i − μ_j‖²/α)^(−1) (p_ij − q_ij)(z_i − μ_j) / n,
 * ∂L/∂μ_j = −((α+1)/α) Σ_i (1 + ‖z_i − μ_j‖²/α)^(−1) (p_ij − q_ij)(z_i − μ_j) / n.
 * The value is {@link decLoss}'s (Keras' clipping at 1e-7 included; the
 * closed form ignores the clip, which only matters where q < 1e-7). The
 * backward pass recomputes q inside its kernel instead of keeping it.
 * `options.accumulate` adds the loss into a running total as it is reduced
 * (as every loss's, {@link LossOptions}).
 *
 * @example
 * ```ts
 * const loss = decLossFused(encoder.apply(xBatch), layer.centers, pBatch);
 * lt.backward(loss);
 * ```
 */
export function decLossFused(
  z: Tensor,
  mu: Tensor,
  p: Tensor,
  alpha = 1,
  options: LossOptions = {},
): Tensor {
  const op = `decLossFused(alpha=${alpha})`;
  checkAlpha(op, alpha);
  const [n, k] = checkPair(op, z, mu);
  checkMatrix(op, "p", p);
  if (p.shape[0] !== n || p.shape[1] !== k) {
    throw new Error(
      `${op}: expected p [${n}, ${k}] for z ${fmtShape(z.shape)} and mu ${
        fmtShape(mu.shape)
      }, got ${fmtShape(p.shape)}`,
    );
  }
  checkTarget(op, p);
  if (options.accumulate) checkAccumulator(op, options.accumulate, 1, [z, mu, p]);
  // decLoss's value (Keras' clipped KL, over rows), its row terms from the
  // soft assignment's own dispatch; only the gradient takes the closed form.
  const rows = softAssignKlRaw(op, z, mu, p, alpha);
  const out = reduceAxisRaw("sum", rows, 1, n, 1, [], {
    scale: 1 / n,
    accumulate: options.accumulate,
    name: op,
  }).values;
  rows.dispose();
  return record(out, "decLossFused", [z, mu, p], (g) => {
    // ∂L/∂z comes from the dispatch that makes H; ∂L/∂μ from H after it.
    const dz = z.requiresGrad ? empty(z.shape, "f32", op) : undefined;
    const h = softAssignH(op, { mode: "kl", z, mu, qp: p, g, alpha, dz });
    const [, dmu] = softAssignGrads(op, z, mu, h, { dz: false, dmu: mu.requiresGrad });
    h.dispose();
    return [dz ?? null, dmu, null];
  });
}

/** Glorot-uniform k × d values (Keras' default for DEC's clustering weights), mulberry32 stream. */
function glorotUniform(k: number, d: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const limit = Math.sqrt(6 / (k + d));
  const out = new Float32Array(k * d);
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1) * limit;
  }
  return out;
}

/** Options of {@link ClusteringLayer}. */
export interface ClusteringLayerOptions {
  /** Number of clusters k. */
  nClusters: number;
  /** Embedding width d. */
  dims: number;
  /** Student's t degrees of freedom (default 1, as in DEC). */
  alpha?: number;
  /** Initial centres, k × d row-major (e.g. k-means centres); default Glorot-uniform from `seed`. */
  centers?: Float32Array | Tensor;
  /** Seed of the default initialisation (default 0). */
  seed?: number;
}

/**
 * DEC's clustering layer: trainable centres μ [k, d] (a tensor with
 * `requiresGrad`) mapping embeddings to soft assignments.
 *
 * @example
 * ```ts
 * const { centers } = await new KMeans({ k: 10, nInit: 20 }).fit(z);
 * const layer = new ClusteringLayer({ nClusters: 10, dims: 10, centers });
 * const q = layer.apply(encoder.apply(x)); // [n, 10]
 * ```
 */
export class ClusteringLayer {
  readonly nClusters: number;
  readonly dims: number;
  readonly alpha: number;
  /** The centres μ [k, d]; `requiresGrad` is true, so optimisers can update them. */
  readonly centers: Tensor;

  constructor(options: ClusteringLayerOptions) {
    const { nClusters: k, dims: d, alpha = 1, seed = 0 } = options;
    const where = `ClusteringLayer(nClusters=${k}, dims=${d})`;
    if (!Number.isInteger(k) || k < 1) {
      throw new Error(`${where}: expected nClusters to be a positive integer`);
    }
    if (!Number.isInteger(d) || d < 1) {
      throw new Error(`${where}: expected dims to be a positive integer`);
    }
    checkAlpha(where, alpha);
    this.nClusters = k;
    this.dims = d;
    this.alpha = alpha;
    const given = options.centers;
    if (given === undefined || given instanceof Float32Array) {
      const init = given ?? glorotUniform(k, d, seed);
      this.#check(where, init.length, [init.length]);
      this.centers = keep(tensor(init, [k, d]));
    } else {
      this.#check(where, given.size, given.shape);
      this.centers = keep(empty([k, d], "f32", where));
      assign(this.centers, given);
    }
    this.centers.requiresGrad = true;
    this.centers.name = "clustering/centers";
  }

  #check(where: string, size: number, shape: readonly number[]): void {
    if (size !== this.nClusters * this.dims) {
      throw new Error(
        `${where}: expected ${this.nClusters} × ${this.dims} centre values, got ${fmtShape(shape)}`,
      );
    }
  }

  /**
   * Soft assignments q [n, k] of embeddings z [n, d].
   *
   * @example
   * ```ts
   * const q = layer.apply(z);
   * ```
   */
  apply(z: Tensor): Tensor {
    return softAssign(z, this.centers, this.alpha);
  }

  /**
   * Overwrites the centres (k × d values or a [k, d] tensor), e.g. with k-means centres.
   *
   * @example
   * ```ts
   * layer.setCenters((await new KMeans({ k: 10 }).fit(z)).centers);
   * ```
   */
  setCenters(centers: Float32Array | Tensor): void {
    const where = `ClusteringLayer.setCenters`;
    this.#check(where, centers instanceof Float32Array ? centers.length : centers.size, [
      ...(centers instanceof Float32Array ? [centers.length] : centers.shape),
    ]);
    if (centers instanceof Float32Array) {
      const t = tensor(centers, [this.nClusters, this.dims]);
      assign(this.centers, t);
      t.dispose();
    } else assign(this.centers, centers);
  }

  /** The trainable tensors (the centres). */
  parameters(): Tensor[] {
    return [this.centers];
  }

  /** Frees the centres. */
  dispose(): void {
    this.centers.dispose();
  }
}
