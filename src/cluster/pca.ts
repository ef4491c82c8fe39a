/**
 * Principal component analysis with the heavy passes on the GPU, in the
 * manner of scikit-learn's `PCA`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.decomposition.PCA.html).
 *
 * `fit` computes the column means and the covariance (x − μ)ᵀ(x − μ)/(n − 1)
 * on the GPU (centred blocks through the tuned batched matmul), reads back the
 * d × d matrix, and diagonalises it on the host in float64 (`symmetricEigen`,
 * about a second for d = 784). The components go back to the GPU once;
 * `transform` and `inverseTransform` are single GPU passes.
 *
 * Sign convention: scikit-learn's `svd_flip(u_based_decision=False)` — the
 * largest-magnitude entry of every component is positive.
 * `explainedVariance` holds the covariance eigenvalues (scikit-learn's
 * `explained_variance_`, n − 1 denominator), clamped at 0 against rounding.
 *
 * @module
 */
import { covarianceRaw } from "../ops/cluster/pca.ts";
import { pairwiseDots } from "../ops/cluster/pairwise.ts";
import { columnMeans } from "../ops/cluster/sums.ts";
import { tensor } from "../ops/creation.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { checkMatrix } from "./check.ts";
import { symmetricEigen } from "./eigen.ts";

/**
 * Sample covariance of x [n, d] (n ≥ 2) as a [d, d] tensor, given its column
 * means [d]. GPU only, no readback.
 *
 * @example
 * ```ts
 * const cov = covariance(x, lt.mean(x, 0));
 * ```
 */
export function covariance(x: Tensor, mean: Tensor): Tensor {
  const op = "covariance";
  checkMatrix(op, "x", x);
  const [n, d] = x.shape;
  if (n < 2) throw new Error(`${op}: expected at least 2 samples, got ${fmtShape(x.shape)}`);
  if (mean.size !== d) {
    throw new Error(`${op}: expected ${d} means for x ${fmtShape(x.shape)}, got ${mean.size}`);
  }
  return covarianceRaw(op, x, mean);
}

/** Options of {@link PCA}. */
export interface PCAOptions {
  /** Components to keep (default min(n, d)); at most min(n, d). */
  nComponents?: number;
  /** Scale the projections to unit variance (divide by √explainedVariance). */
  whiten?: boolean;
}

/**
 * PCA on the GPU.
 *
 * @example
 * ```ts
 * const pca = new PCA({ nComponents: 2 });
 * await pca.fit(x);                 // x: f32 [n, d]
 * const z = pca.transform(x);       // [n, 2]
 * console.log(pca.explainedVarianceRatio);
 * ```
 */
export class PCA {
  readonly nComponents: number | undefined;
  readonly whiten: boolean;
  /** Column means [d] (GPU), after fit. */
  mean: Tensor | null = null;
  /** Principal axes, nComponents × d row-major (unit rows), after fit. */
  components: Float32Array = new Float32Array(0);
  /** Variance along each component (eigenvalues of the covariance, descending). */
  explainedVariance: Float64Array = new Float64Array(0);
  /** explainedVariance divided by the total variance (the covariance trace). */
  explainedVarianceRatio: Float64Array = new Float64Array(0);
  /** Number of features seen in fit. */
  nFeatures = 0;
  #forward: Tensor | null = null; // [c, d]: components, divided by √variance when whitening
  #backward: Tensor | null = null; // [d, c]: componentsᵀ, times √variance when whitening

  constructor(options: PCAOptions = {}) {
    const { nComponents, whiten = false } = options;
    if (nComponents !== undefined && (!Number.isInteger(nComponents) || nComponents < 1)) {
      throw new Error(`PCA: expected nComponents to be a positive integer, got ${nComponents}`);
    }
    this.nComponents = nComponents;
    this.whiten = whiten;
  }

  /**
   * Fits the components to x [n, d] (n ≥ 2). One readback: the d × d covariance.
   *
   * @example
   * ```ts
   * await new PCA({ nComponents: 50 }).fit(x);
   * ```
   */
  async fit(x: Tensor): Promise<this> {
    const op = "PCA.fit";
    checkMatrix(op, "x", x);
    const [n, d] = x.shape;
    const c = this.nComponents ?? Math.min(n, d);
    if (c > Math.min(n, d)) {
      throw new Error(
        `${op}: expected nComponents ≤ min(n, d) = ${Math.min(n, d)} for x ${
          fmtShape(x.shape)
        }, got ${c}`,
      );
    }
    if (n < 2) throw new Error(`${op}: expected at least 2 samples, got ${fmtShape(x.shape)}`);
    const mean = columnMeans(op, x);
    const cov = covariance(x, mean);
    let host: Float32Array;
    try {
      host = (await cov.toArray()) as Float32Array;
    } catch (e) {
      mean.dispose();
      throw e;
    } finally {
      cov.dispose();
    }
    for (let e = 0; e < host.length; e++) {
      if (!Number.isFinite(host[e])) {
        mean.dispose();
        throw new Error(`${op}: x contains NaN or infinite values (its covariance is not finite)`);
      }
    }
    const { values, vectors } = symmetricEigen(host, d);
    let trace = 0;
    for (let f = 0; f < d; f++) trace += host[f * d + f];
    const variance = new Float64Array(c);
    const ratio = new Float64Array(c);
    const comps = new Float32Array(c * d);
    const fwd = new Float32Array(c * d);
    const bwd = new Float32Array(d * c);
    for (let m = 0; m < c; m++) {
      const v = Math.max(0, values[m]);
      variance[m] = v;
      ratio[m] = trace > 0 ? v / trace : 0;
      // A zero-variance direction whitens to 0 rather than to ±∞.
      const down = this.whiten ? (v > 0 ? 1 / Math.sqrt(v) : 0) : 1;
      const up = this.whiten ? Math.sqrt(v) : 1;
      for (let f = 0; f < d; f++) {
        const w = vectors[f * d + m];
        comps[m * d + f] = w;
        fwd[m * d + f] = w * down;
        bwd[f * c + m] = w * up;
      }
    }
    this.dispose();
    this.mean = keep(mean);
    this.#forward = keep(tensor(fwd, [c, d]));
    this.#backward = keep(tensor(bwd, [d, c]));
    this.components = comps;
    this.explainedVariance = variance;
    this.explainedVarianceRatio = ratio;
    this.nFeatures = d;
    return this;
  }

  /**
   * Projects x [m, d] onto the components: (x − μ) Wᵀ (÷ √variance when whitening) → [m, c].
   *
   * @example
   * ```ts
   * const z = pca.transform(x);
   * ```
   */
  transform(x: Tensor): Tensor {
    const op = "PCA.transform";
    const [mean, fwd] = this.#fitted(op);
    checkMatrix(op, "x", x);
    if (x.shape[1] !== this.nFeatures) {
      throw new Error(`${op}: expected x [*, ${this.nFeatures}], got ${fmtShape(x.shape)}`);
    }
    return pairwiseDots(op, x, fwd, { shift: mean });
  }

  /**
   * Maps projections z [m, c] back to data space: z W (× √variance when whitening) + μ → [m, d].
   *
   * @example
   * ```ts
   * const xHat = pca.inverseTransform(pca.transform(x));
   * ```
   */
  inverseTransform(z: Tensor): Tensor {
    const op = "PCA.inverseTransform";
    const [mean] = this.#fitted(op);
    const bwd = this.#backward!;
    checkMatrix(op, "z", z);
    const c = bwd.shape[1];
    if (z.shape[1] !== c) {
      throw new Error(`${op}: expected z [*, ${c}] (nComponents), got ${fmtShape(z.shape)}`);
    }
    return pairwiseDots(op, z, bwd, { bias: mean });
  }

  /**
   * Fits, then transforms the same data.
   *
   * @example
   * ```ts
   * const z = await new PCA({ nComponents: 2 }).fitTransform(x);
   * ```
   */
  async fitTransform(x: Tensor): Promise<Tensor> {
    await this.fit(x);
    return this.transform(x);
  }

  #fitted(op: string): [Tensor, Tensor] {
    if (!this.mean || !this.#forward) throw new Error(`${op}: call fit() first`);
    return [this.mean, this.#forward];
  }

  /** Frees the GPU copies of the mean and components. */
  dispose(): void {
    this.mean?.dispose();
    this.#forward?.dispose();
    this.#backward?.dispose();
    this.mean = this.#forward = this.#backward = null;
  }
}
