/**
 * Isotropic Gaussian blobs for clustering tests and demos, following
 * scikit-learn's `make_blobs`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.datasets.make_blobs.html):
 * same parameters, same defaults, same sample allocation. The random numbers
 * come from {@link Rng}, so the values differ from NumPy's for the same seed.
 *
 * @module
 */

import { Rng } from "./prng.ts";

/** Options of {@link makeBlobs}; the defaults are scikit-learn's. */
export interface BlobsOptions {
  /** Total number of points, split evenly across centres (default 100). */
  nSamples?: number;
  /** Dimensions per point (default 2); taken from `centers` when it is explicit. */
  nFeatures?: number;
  /** Number of centres drawn uniformly in `centerBox`, or the centres themselves (default 3). */
  centers?: number | number[][];
  /** Standard deviation of every blob, or one per centre (default 1). */
  clusterStd?: number | number[];
  /** Bounds of the box the random centres are drawn from (default [-10, 10]). */
  centerBox?: [number, number];
  /** Shuffle the points; otherwise they are grouped by centre (default true). */
  shuffle?: boolean;
  /** Seed of the {@link Rng} (default 0). */
  seed?: number;
}

/** Points, their blob labels and the blob centres. */
export interface Blobs {
  /** `nSamples * nFeatures` coordinates, row-major. */
  x: Float32Array;
  /** `nSamples` labels: the index of the centre each point was drawn around. */
  y: Int32Array;
  /** `nCenters * nFeatures` centre coordinates, row-major. */
  centers: Float64Array;
  /** Number of points. */
  nSamples: number;
  /** Dimensions per point. */
  nFeatures: number;
  /** Number of centres. */
  nCenters: number;
}

function positiveInt(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`makeBlobs: expected ${what} to be a positive integer, got ${v}`);
  }
}

/**
 * Generates isotropic Gaussian blobs: centre `k` gets
 * `floor(nSamples / nCenters)` points, plus one for the first
 * `nSamples % nCenters` centres, each coordinate drawn from
 * `N(center[k][j], clusterStd[k]^2)`.
 *
 * @example
 * ```ts
 * const { x, y, centers } = makeBlobs({ nSamples: 300, nFeatures: 2, centers: 3, seed: 1 });
 * x.length; // 600
 * ```
 */
export function makeBlobs(options: BlobsOptions = {}): Blobs {
  const {
    nSamples = 100,
    centers: centersOpt = 3,
    clusterStd = 1,
    centerBox = [-10, 10],
    shuffle = true,
    seed = 0,
  } = options;
  positiveInt("nSamples", nSamples);
  const rng = new Rng(seed);

  let nFeatures: number, nCenters: number, centers: Float64Array;
  if (typeof centersOpt === "number") {
    positiveInt("centers", centersOpt);
    nFeatures = options.nFeatures ?? 2;
    positiveInt("nFeatures", nFeatures);
    nCenters = centersOpt;
    const [lo, hi] = centerBox;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
      throw new RangeError(
        `makeBlobs: expected centerBox [lo, hi] with lo <= hi, got [${lo}, ${hi}]`,
      );
    }
    centers = new Float64Array(nCenters * nFeatures);
    for (let i = 0; i < centers.length; i++) centers[i] = rng.uniformIn(lo, hi);
  } else {
    nCenters = centersOpt.length;
    if (nCenters < 1) throw new RangeError("makeBlobs: expected at least one centre, got []");
    nFeatures = centersOpt[0].length;
    positiveInt("the length of each centre", nFeatures);
    if (options.nFeatures !== undefined && options.nFeatures !== nFeatures) {
      throw new RangeError(
        `makeBlobs: nFeatures=${options.nFeatures} but the centres have ${nFeatures} coordinates`,
      );
    }
    centers = new Float64Array(nCenters * nFeatures);
    centersOpt.forEach((c, k) => {
      if (c.length !== nFeatures) {
        throw new RangeError(
          `makeBlobs: expected every centre to have ${nFeatures} coordinates, centre ${k} has ${c.length}`,
        );
      }
      centers.set(c, k * nFeatures);
    });
  }

  const stds = typeof clusterStd === "number" ? new Array(nCenters).fill(clusterStd) : clusterStd;
  if (stds.length !== nCenters) {
    throw new RangeError(`makeBlobs: expected ${nCenters} clusterStd values, got ${stds.length}`);
  }
  for (const s of stds) {
    if (!(s >= 0 && Number.isFinite(s))) {
      throw new RangeError(`makeBlobs: expected clusterStd >= 0, got ${s}`);
    }
  }

  const x = new Float32Array(nSamples * nFeatures);
  const y = new Int32Array(nSamples);
  const base = Math.floor(nSamples / nCenters), extra = nSamples % nCenters;
  let row = 0;
  for (let k = 0; k < nCenters; k++) {
    const count = base + (k < extra ? 1 : 0);
    for (let i = 0; i < count; i++, row++) {
      y[row] = k;
      for (let j = 0; j < nFeatures; j++) {
        x[row * nFeatures + j] = centers[k * nFeatures + j] + stds[k] * rng.normal();
      }
    }
  }

  if (shuffle) {
    const p = rng.permutation(nSamples);
    const xs = new Float32Array(x.length), ys = new Int32Array(nSamples);
    for (let i = 0; i < nSamples; i++) {
      xs.set(x.subarray(p[i] * nFeatures, (p[i] + 1) * nFeatures), i * nFeatures);
      ys[i] = y[p[i]];
    }
    return { x: xs, y: ys, centers, nSamples, nFeatures, nCenters };
  }
  return { x, y, centers, nSamples, nFeatures, nCenters };
}
