/**
 * k-means on the GPU: Lloyd's assignment and centroid update, scikit-learn's
 * empty-cluster relocation, convergence bookkeeping, and greedy k-means++
 * seeding — all without float atomics, so every run on one adapter is
 * bit-for-bit reproducible. (The pruned assignment appends to a list with
 * integer atomics; only the list's order varies, never a result.)
 *
 * Every k-means kernel is **batched over runs** (the `nInit` restarts):
 * workgroup z (or the single workgroup of run z) works on run z's centres
 * C [R, k, d], labels [R, row_stride], state [R, 8], … while all runs share
 * X [n, d]. One dispatch therefore advances every restart, and the host
 * reads one state block for all of them.
 *
 * One Lloyd iteration is five dispatches and no readback:
 * `kmeans_assign` (nearest centre, distance, changed flag per point) →
 * `kmeans_sums` (per-cluster column sums and counts over chunks of points) →
 * `kmeans_relocate` (empty clusters) → `kmeans_update` (adds the chunks, new
 * centres, per-element shift²) → `kmeans_stats` (inertia, #changed, Σ shift²,
 * convergence test). On CPU adapters the assignment is `kmeans_prune`
 * (Hamerly's bounds test, candidate list) → `kmeans_assign` over the list,
 * the sums after the first iteration are `kmeans_changes` (ordered list of
 * the points that changed cluster) → `kmeans_delta` (running sums), and
 * `kmeans_centre_stats` (centre movements) follows the update: eight
 * dispatches, far less work.
 *
 * The kernels, by job:
 * - `state.ts`: the run state ({@link KMEANS_STATE}), the gate that turns a
 *   finished run's kernels into no-ops, reset and end-of-iteration stats;
 * - `assign.ts`: the assignment (staged on GPUs, register-tiled over a row
 *   list on CPU adapters);
 * - `prune.ts`: Hamerly's bounds test and the centre movements it needs;
 * - `sums.ts`: the column sums of every point, per chunk;
 * - `running_sums.ts`: the change list and the running (Kahan) sums;
 * - `update.ts`: empty-cluster relocation and the new centres;
 * - `seed.ts`: random-row and k-means++ seeding.
 *
 * The host side records them through `src/ops/cluster/kmeans.ts` and
 * `src/ops/cluster/kmeans_seed.ts`.
 * @module
 */
export * from "./state.ts";
export * from "./assign.ts";
export * from "./prune.ts";
export * from "./sums.ts";
export * from "./running_sums.ts";
export * from "./update.ts";
export * from "./seed.ts";
