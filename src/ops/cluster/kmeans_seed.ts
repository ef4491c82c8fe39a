/**
 * k-means seeding as ops, batched over runs (shaders/kmeans/seed.ts): the
 * centres of every run gathered from given rows, or chosen by greedy
 * k-means++ entirely on the GPU from random numbers the caller draws on the
 * host. No readback.
 * @module
 */
import {
  blockSumsKernel,
  candidateDistancesKernel,
  gatherRowsKernel,
  PP_BLOCK,
  sampleCandidatesKernel,
  seedFirstKernel,
  selectCandidateKernel,
} from "../../../shaders/kmeans/seed.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { tensor } from "../creation.ts";
import { launchKernel } from "../kernel_call.ts";
import { runGrid } from "./kmeans.ts";

/**
 * Centres from rows of x: `centres` (R·k rows of x's width, e.g. [R, k, d])
 * row c = x row `rows[c]`.
 *
 * @example
 * ```ts
 * gatherRows("KMeans.fit", x, Uint32Array.of(4, 17, 9), centres); // k = 3, one run
 * ```
 */
export function gatherRows(op: string, x: Tensor, rows: Uint32Array, centres: Tensor): void {
  const d = x.shape[1];
  const total = rows.length * d;
  const index = tensor(rows, [rows.length]);
  launchKernel(
    op,
    gatherRowsKernel({}),
    { X: x, IDX: index, C: centres },
    { kd: total, d },
    Math.ceil(total / 256),
  );
  index.dispose();
}

/** What {@link kmeansPlusPlus} draws from. */
export interface KMeansPlusPlusOptions {
  /** Centres per run. */
  k: number;
  /** Candidates per new centre (scikit-learn's 2 + ⌊ln k⌋; 1 = plain k-means++). */
  trials: number;
  /** Row of x that becomes each run's first centre (one entry per run). */
  firstRows: Uint32Array;
  /**
   * Uniform draws in [0, 1) for the D² sampling, (k − 1) · trials per run,
   * run after run (at least one entry).
   */
  draws: Float32Array;
  /** Rows per thread of the distance kernel: 4 on CPU adapters (a register tile), 1 on GPUs. */
  rowsPerThread: number;
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's
 * `_kmeans_plusplus`) of every run into centres [R, k, d], entirely on the
 * GPU. Per new centre, for all runs at once: search (D² sampling of `trials`
 * candidates from the running sum of the nearest-centre distances) →
 * candidate distances → block sums → select (the candidate of least
 * potential).
 *
 * @example
 * ```ts
 * kmeansPlusPlus("KMeans.fit", x, centres, { k, trials: 3, firstRows, draws, rowsPerThread: 1 });
 * ```
 */
export function kmeansPlusPlus(
  op: string,
  x: Tensor,
  centres: Tensor,
  options: KMeansPlusPlusOptions,
): void {
  const { k, trials, rowsPerThread: rows } = options;
  const [n, d] = x.shape;
  const runs = options.firstRows.length;
  const blocks = Math.ceil(n / PP_BLOCK);
  const drawsPerRun = (k - 1) * trials;
  const first = tensor(options.firstRows, [runs]);
  const draws = tensor(options.draws, [options.draws.length]);
  const dist = empty([runs * trials * n], "f32", op);
  const blockSums = empty([runs * trials * blocks], "f32", op);
  const nearestRow = empty([runs], "u32", op);
  const candidates = empty([runs * trials], "u32", op);
  const vec4 = d % 4 === 0;
  // Distances to `count` candidates (or, with `first`, to the first centre alone).
  const distances = (count: number, first: boolean) =>
    launchKernel(
      op,
      candidateDistancesKernel({ perPass: first ? 1 : Math.min(trials, 8), vec4, rows }),
      { X: x, CANDIDATES: candidates, NEAREST_ROW: nearestRow, DIST: dist },
      { n, d, trials, count, first: first ? 1 : 0 },
      runGrid(Math.ceil(n / (64 * rows)), runs),
    );
  const sumBlocks = (count: number) =>
    launchKernel(
      op,
      blockSumsKernel({}),
      { IN: dist, OUT: blockSums },
      { n, blocks, row_stride: trials },
      [blocks, count, runs],
    );
  launchKernel(
    op,
    seedFirstKernel({}),
    { X: x, FIRST: first, C: centres, NEAREST_ROW: nearestRow, CANDIDATES: candidates },
    { d, k, trials },
    [Math.ceil(d / 256), 1, runs],
  );
  distances(1, true);
  sumBlocks(1);
  for (let j = 1; j < k; j++) {
    launchKernel(
      op,
      sampleCandidatesKernel({}),
      {
        DIST: dist,
        BLOCK_SUMS: blockSums,
        NEAREST_ROW: nearestRow,
        DRAWS: draws,
        CANDIDATES: candidates,
      },
      { n, blocks, trials, off: (j - 1) * trials, draws: drawsPerRun },
      [1, 1, runs],
    );
    distances(trials, false);
    sumBlocks(trials);
    launchKernel(
      op,
      selectCandidateKernel({}),
      { BLOCK_SUMS: blockSums, CANDIDATES: candidates, X: x, C: centres, NEAREST_ROW: nearestRow },
      { blocks, trials, d, c: j, k },
      [1, 1, runs],
    );
  }
  for (const t of [first, draws, dist, blockSums, nearestRow, candidates]) t.dispose();
}
