/**
 * The k-means update step, from the column sums to new centres: empty
 * clusters take the farthest points, as scikit-learn's
 * `_relocate_empty_clusters_dense` ({@link relocateKernel}); then the chunks
 * of the sums are added, each centre becomes its cluster's mean, and the
 * squared change of every centre element is kept for the convergence test
 * and the pruning bounds ({@link updateKernel}).
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel, type Elem } from "../declare.ts";
import { GATE, GATE_DIRECT, stateSlot } from "./state.ts";

/** Specialisation of {@link relocateKernel}. */
export interface RelocateSpec {
  /** Recompute MIN_DIST for every point first (pruned assignment: MIN_DIST is stale). */
  recompute: boolean;
  /** The recomputation mirrors the vec4 scan's arithmetic. */
  vec4: boolean;
  /**
   * Running sums (`runningSumsKernel`): also move relocated points in HELD
   * (the cluster the sums hold each point in) and clear the compensation
   * term of the cluster that receives one.
   */
  runningSums: boolean;
}

/**
 * Empty clusters of every run (one workgroup per run), as scikit-learn's
 * `_relocate_empty_clusters_dense`: the m-th empty cluster (in index order)
 * takes the m-th farthest point from its own centre (distance descending,
 * index ascending), which also leaves its old cluster. Works on the partial
 * sums of `sumsKernel` before they are added up: an empty cluster's
 * partials are exact zeros in every chunk, so it is enough to edit chunk 0.
 * Returns at once when no cluster is empty (the usual case).
 * Bindings: X, LABELS [R, row_stride], STATE, [C (with `recompute`)],
 * MIN_DIST [R, row_stride] (rw with `recompute`), PART (rw), [HELD, PART_LO
 * (with `runningSums`)]. Uniform: n, k, d, chunks, gate, row_stride.
 * Dispatch: (1, 1, R).
 */
export const relocateKernel: (spec: RelocateSpec) => DeclaredKernel = family(
  "kmeans_relocate",
  (spec: RelocateSpec) => {
    // With pruning MIN_DIST is stale for unlisted points: recompute it (with
    // the full scan's arithmetic) before choosing the farthest points.
    const dist = spec.vec4
      ? /* wgsl */ `
      for (var t = 0u; t < u.d; t += 4u) {
        let q0 = X[x_row + t] - C[c_row + t];
        let q1 = X[x_row + t + 1u] - C[c_row + t + 1u];
        let q2 = X[x_row + t + 2u] - C[c_row + t + 2u];
        let q3 = X[x_row + t + 3u] - C[c_row + t + 3u];
        acc = fma(q0, q0, fma(q1, q1, fma(q2, q2, fma(q3, q3, acc))));
      }`
      : /* wgsl */ `
      for (var t = 0u; t < u.d; t++) {
        let q = X[x_row + t] - C[c_row + t];
        acc = fma(q, q, acc);
      }`;
    const recompute = spec.recompute
      ? /* wgsl */ `
  for (var p = lid; p < u.n; p += 256u) {
    let x_row = p * u.d;
    let c_row = (run * u.k + u32(LABELS[points + p])) * u.d;
    var acc = 0.0;
    ${dist}
    MIN_DIST[points + p] = acc;
  }
  storageBarrier();`
      : "";
    // Binding order: X, LABELS, STATE, [C], MIN_DIST (written with
    // `recompute`), PART, [HELD, PART_LO]; the read-only ones come first either way.
    const inputs: Record<string, Elem> = { X: "f32", LABELS: "i32", STATE: "f32" };
    const outputs: Record<string, Elem> = {};
    if (spec.recompute) {
      inputs.C = "f32";
      outputs.MIN_DIST = "f32";
    } else inputs.MIN_DIST = "f32";
    outputs.PART = "f32";
    if (spec.runningSums) {
      outputs.HELD = "i32";
      outputs.PART_LO = "f32";
    }
    return declare({
      key: `kmeans_relocate${spec.recompute ? `/recompute${spec.vec4 ? "/vec4" : ""}` : ""}${
        spec.runningSums ? "/incremental" : ""
      }`,
      inputs,
      outputs,
      uniforms: { n: "u32", k: "u32", d: "u32", chunks: "u32", gate: "u32", row_stride: "u32" },
      entry: { workgroupSize: 256, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> gate_flag: u32;
var<workgroup> flag: u32;
var<workgroup> far: u32;
var<workgroup> far_dist: array<f32, 256>;
var<workgroup> far_index: array<u32, 256>;
fn better(d0: f32, i0: u32, d1: f32, i1: u32) -> bool {
  return d0 > d1 || (d0 == d1 && i0 < i1);
}`,
      main: /* wgsl */ `
  let run = wid.z;
  ${GATE}
  let w = u.d + 1u;
  let points = run * u.row_stride;
  // Chunk 0 of this run's partials, and the count of cluster j over all chunks.
  let chunk0 = run * u.chunks * u.k * w;
  if (lid == 0u) {
    flag = 0u;
    for (var j = 0u; j < u.k; j++) {
      var count = 0.0;
      for (var c = 0u; c < u.chunks; c++) { count += PART[chunk0 + (c * u.k + j) * w + u.d]; }
      if (count == 0.0) { flag = 1u; }
    }
  }
  if (workgroupUniformLoad(&flag) == 0u) { return; }
  ${recompute}
  var have_prev = false;
  var prev_dist = 0.0;
  var prev_index = 0u;
  for (var j = 0u; j < u.k; j++) {
    if (lid == 0u) {
      var count = 0.0;
      for (var c = 0u; c < u.chunks; c++) { count += PART[chunk0 + (c * u.k + j) * w + u.d]; }
      flag = select(0u, 1u, count == 0.0);
    }
    if (workgroupUniformLoad(&flag) == 0u) { continue; }
    // The farthest point ranked after the previous pick (distance descending, index ascending).
    var best_dist = -1.0;
    var best_index = 0xffffffffu;
    for (var p = lid; p < u.n; p += 256u) {
      let dp = MIN_DIST[points + p];
      let after = !have_prev || dp < prev_dist || (dp == prev_dist && p > prev_index);
      if (after && better(dp, p, best_dist, best_index)) { best_dist = dp; best_index = p; }
    }
    far_dist[lid] = best_dist;
    far_index[lid] = best_index;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
      if (lid < h && better(far_dist[lid + h], far_index[lid + h], far_dist[lid], far_index[lid])) {
        far_dist[lid] = far_dist[lid + h];
        far_index[lid] = far_index[lid + h];
      }
      workgroupBarrier();
    }
    // Relocating the farthest point only pays when it is off its centre.
    // With duplicated points every point sits on a centre up to the
    // rounding of the means; moving one anyway sends centres jumping
    // between copies and the labels churn for maxIter iterations. "On its
    // centre": within the tolerance (tol · mean variance, scikit-learn's
    // scale of a negligible move) or within 1e-10 of its squared norm
    // (rounding, when tol is 0). It is the farthest point, so every point
    // is that close and the other empty clusters stay put too.
    if (lid == 0u) {
      var xx = 0.0;
      for (var t = 0u; t < u.d; t++) { xx += X[far_index[0] * u.d + t] * X[far_index[0] * u.d + t]; }
      flag = select(0u, 1u, far_dist[0] <= max(${stateSlot("tol")}, 1e-10 * xx));
    }
    if (workgroupUniformLoad(&flag) != 0u) { break; }
    if (lid == 0u) {
      far = far_index[0];
      ${spec.runningSums ? "HELD[points + far_index[0]] = i32(j);" : ""}
    }
    let picked = workgroupUniformLoad(&far);
    have_prev = true;
    prev_dist = MIN_DIST[points + picked];
    prev_index = picked;
    let old = u32(LABELS[points + picked]);
    for (var t = lid; t <= u.d; t += 256u) {
      let value = select(X[picked * u.d + min(t, u.d - 1u)], 1.0, t == u.d);
      PART[chunk0 + old * w + t] -= value;
      PART[chunk0 + j * w + t] = value;
      ${spec.runningSums ? "PART_LO[chunk0 + j * w + t] = 0.0;" : ""}
    }
    workgroupBarrier();
  }`,
    });
  },
);

/**
 * New centres of every run: C[r, j, f] = Σ_c PART[r, c, j, f] / Σ_c PART[r,
 * c, j, d] (the old centre stays if the cluster is still empty), SHIFT_SQ[r,
 * j, f] = (C_new − C_old)². In place on C. With `runningSums` (one chunk)
 * the compensation term PART_LO is added to the sum. Bindings: PART, STATE,
 * [PART_LO], C (rw), SHIFT_SQ [R, k·d]. Uniform: kd, d, chunks, gate.
 * Dispatch: (ceil(kd / 256) split over x·y, 1, R).
 */
export const updateKernel: (spec: { runningSums: boolean }) => DeclaredKernel = family(
  "kmeans_update",
  (spec: { runningSums: boolean }) =>
    declare({
      key: `kmeans_update${spec.runningSums ? "/incremental" : ""}`,
      inputs: {
        PART: "f32",
        STATE: "f32",
        ...(spec.runningSums ? { PART_LO: "f32" } as const : {}),
      },
      outputs: { C: "f32", SHIFT_SQ: "f32" },
      uniforms: { kd: "u32", d: "u32", chunks: "u32", gate: "u32" },
      entry: {
        workgroupSize: 256,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
      },
      main: /* wgsl */ `
  let run = wid.z;
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd || (${GATE_DIRECT})) { return; }
  let k = u.kd / u.d;
  let j = e / u.d;
  let f = e - j * u.d;
  let w = u.d + 1u;
  var s = 0.0;
  var count = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    let p = ((run * u.chunks + c) * k + j) * w;
    s += PART[p + f]${spec.runningSums ? " + PART_LO[p + f]" : ""};
    count += PART[p + u.d];
  }
  let o = run * u.kd + e;
  let old = C[o];
  var updated = old;
  if (count > 0.0) { updated = s / count; }
  C[o] = updated;
  SHIFT_SQ[o] = (updated - old) * (updated - old);`,
    }),
);
