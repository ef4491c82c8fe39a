/**
 * Column-wise min-max scaling, as scikit-learn's `MinMaxScaler`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.preprocessing.MinMaxScaler.html).
 *
 * @module
 */

/** Rows of numbers: a row-major typed array or plain array. */
export type Matrix = Float32Array | Float64Array | ArrayLike<number>;

/** Options of {@link MinMaxScaler}. */
export interface MinMaxScalerOptions {
  /** Target range of every column (default [0, 1]). */
  featureRange?: [number, number];
  /** Clip transformed values to `featureRange` (default false, as scikit-learn). */
  clip?: boolean;
}

/**
 * Scales each column of a row-major matrix to `featureRange`:
 * `x * scale + min` with `scale = (hi - lo) / (max - min)` and
 * `min = lo - dataMin * scale`. A constant column has range 0; as in
 * scikit-learn its range is taken as 1, so it maps to `lo` and back. NaNs are
 * ignored when fitting and stay NaN.
 *
 * @example
 * ```ts
 * const x = new Float32Array([1, 10, 2, 20, 3, 30]); // 3 rows, 2 columns
 * const scaler = new MinMaxScaler().fit(x, 2);
 * scaler.transform(x);                 // [0, 0, 0.5, 0.5, 1, 1]
 * scaler.inverseTransform(scaler.transform(x)); // back to x
 * ```
 */
export class MinMaxScaler {
  /** Target range. */
  readonly featureRange: [number, number];
  /** Whether transformed values are clipped to the target range. */
  readonly clip: boolean;
  /** Columns seen in `fit` (0 before). */
  nFeatures = 0;
  /** Per-column minimum seen in `fit`. */
  dataMin: Float64Array = new Float64Array(0);
  /** Per-column maximum seen in `fit`. */
  dataMax: Float64Array = new Float64Array(0);
  /** Per-column multiplier of `transform`. */
  scale: Float64Array = new Float64Array(0);
  /** Per-column offset of `transform`. */
  min: Float64Array = new Float64Array(0);

  /**
   * @example
   * ```ts
   * const scaler = new MinMaxScaler({ featureRange: [-1, 1] });
   * ```
   */
  constructor(options: MinMaxScalerOptions = {}) {
    const [lo, hi] = options.featureRange ?? [0, 1];
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
      throw new RangeError(
        `MinMaxScaler: expected featureRange [lo, hi] with lo < hi, got [${lo}, ${hi}]`,
      );
    }
    this.featureRange = [lo, hi];
    this.clip = options.clip ?? false;
  }

  /**
   * Learns the per-column minimum and maximum of `x` (`nFeatures` columns).
   *
   * @example
   * ```ts
   * const scaler = new MinMaxScaler().fit(new Float32Array([0, 5, 10, 15]), 2);
   * scaler.dataMax; // Float64Array [10, 15]
   * ```
   */
  fit(x: Matrix, nFeatures: number): this {
    const rows = checkShape("fit", x, nFeatures);
    if (rows === 0) throw new RangeError("MinMaxScaler.fit: expected at least one row, got 0");
    const dataMin = new Float64Array(nFeatures).fill(Infinity);
    const dataMax = new Float64Array(nFeatures).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < nFeatures; j++) {
        const v = x[r * nFeatures + j];
        if (v < dataMin[j]) dataMin[j] = v;
        if (v > dataMax[j]) dataMax[j] = v;
      }
    }
    const [lo, hi] = this.featureRange;
    this.scale = new Float64Array(nFeatures);
    this.min = new Float64Array(nFeatures);
    for (let j = 0; j < nFeatures; j++) {
      if (dataMin[j] > dataMax[j]) {
        // Only NaNs in this column: scikit-learn leaves it NaN too.
        dataMin[j] = dataMax[j] = NaN;
      }
      const range = dataMax[j] - dataMin[j];
      this.scale[j] = (hi - lo) / (range === 0 ? 1 : range);
      this.min[j] = lo - dataMin[j] * this.scale[j];
    }
    this.dataMin = dataMin;
    this.dataMax = dataMax;
    this.nFeatures = nFeatures;
    return this;
  }

  /**
   * Scales `x` (same number of columns as in `fit`) into a new Float32Array.
   *
   * @example
   * ```ts
   * const scaled = new MinMaxScaler().fit(train, 4).transform(test);
   * ```
   */
  transform(x: Matrix): Float32Array {
    const rows = this.#checkFitted("transform", x);
    const out = new Float32Array(rows * this.nFeatures);
    const [lo, hi] = this.featureRange;
    for (let i = 0; i < out.length; i++) {
      const j = i % this.nFeatures;
      const v = x[i] * this.scale[j] + this.min[j];
      out[i] = this.clip ? Math.min(hi, Math.max(lo, v)) : v;
    }
    return out;
  }

  /**
   * Fits on `x`, then transforms it.
   *
   * @example
   * ```ts
   * const scaled = new MinMaxScaler().fitTransform(x, 2);
   * ```
   */
  fitTransform(x: Matrix, nFeatures: number): Float32Array {
    return this.fit(x, nFeatures).transform(x);
  }

  /**
   * Undoes {@link MinMaxScaler.transform}.
   *
   * @example
   * ```ts
   * const original = scaler.inverseTransform(scaler.transform(x));
   * ```
   */
  inverseTransform(x: Matrix): Float32Array {
    const rows = this.#checkFitted("inverseTransform", x);
    const out = new Float32Array(rows * this.nFeatures);
    for (let i = 0; i < out.length; i++) {
      const j = i % this.nFeatures;
      out[i] = (x[i] - this.min[j]) / this.scale[j];
    }
    return out;
  }

  #checkFitted(method: string, x: Matrix): number {
    if (this.nFeatures === 0) {
      throw new Error(`MinMaxScaler.${method}: call fit first`);
    }
    return checkShape(method, x, this.nFeatures);
  }
}

function checkShape(method: string, x: Matrix, nFeatures: number): number {
  if (!Number.isInteger(nFeatures) || nFeatures < 1) {
    throw new RangeError(
      `MinMaxScaler.${method}: expected nFeatures to be a positive integer, got ${nFeatures}`,
    );
  }
  if (x.length % nFeatures !== 0) {
    throw new RangeError(
      `MinMaxScaler.${method}: expected a length divisible by ${nFeatures} columns, got ${x.length}`,
    );
  }
  return x.length / nFeatures;
}
