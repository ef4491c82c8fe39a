/**
 * Hamerly's pruning of the k-means assignment (CPU adapters, where every
 * scanned distance is expensive): each point keeps an upper bound on the
 * distance to its own centre and a lower bound on the distance to every
 * other centre; the bounds move with the centres, and only points whose
 * label may change are listed for the full scan (`assignKernel` with a row
 * list), which also renews their bounds.
 *
 * Per iteration: {@link pruneKernel} (bounds test → candidate list) before
 * the assignment, {@link centreShiftKernel} (how far each centre moved, and
 * an empty list for the next iteration) after the update.
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";
import { GATE, GATE_DIRECT } from "./state.ts";

/** Relative margin of the pruning tests: a bound must win by more than float32 rounding. */
const PRUNE_EPS = "1e-4";

/**
 * Hamerly's bounds test, one thread per point of every run. With the upper
 * bound u ≥ ‖x − c_a‖ on the distance to the assigned centre a and the lower
 * bound l ≤ min_{j≠a} ‖x − c_j‖ moved by the last centre shifts (u += δ_a,
 * l −= max_{j≠a} δ_j), the label cannot change if u < l. Points that fail
 * (and every point of the first iteration, label −1) are appended to the
 * run's candidate list for the full scan (`assignKernel` with `list`), which
 * also renews their bounds. (Hamerly's tightening of u by one exact distance
 * before the full scan does not pay on lavapipe: one distance costs over
 * half a tiled full scan.) The order of the list depends on the atomics, the
 * result of each point does not, so runs stay bit-reproducible; labels,
 * centres and iterations are those of the unpruned scan (the margin
 * {@link PRUNE_EPS} absorbs float32 rounding), but MIN_DIST is only
 * refreshed for listed points.
 * Bindings: STATE, CENTRE_SHIFT [R, k + 3] (from {@link centreShiftKernel}),
 * LABELS, CHANGED (rw), BOUNDS vec2f [R, row_stride] (rw), CANDIDATES atomic
 * u32 [R, row_stride + 4] (count at 0, entries from 4). Uniform: n, k, d,
 * gate, row_stride. Dispatch: (ceil(n / 64) split over x·y, 1, R).
 */
export const pruneKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_prune",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_prune",
      inputs: { STATE: "f32", CENTRE_SHIFT: "f32", LABELS: "i32" },
      outputs: { CHANGED: "u32", BOUNDS: "vec2f", CANDIDATES: "atomic<u32>" },
      uniforms: { n: "u32", k: "u32", d: "u32", gate: "u32", row_stride: "u32" },
      entry: {
        workgroupSize: 64,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
      },
      main: /* wgsl */ `
  let run = wid.z;
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= u.n || (${GATE_DIRECT})) { return; }
  let o = run * u.row_stride + i;
  let a = LABELS[o];
  var listed = a < 0;
  if (!listed) {
    let own = u32(a);
    let shifts = run * (u.k + 3u);
    let farthest = u32(CENTRE_SHIFT[shifts + u.k + 2u]);
    let b = BOUNDS[o];
    let upper = b.x + CENTRE_SHIFT[shifts + own];
    // The largest move of the other centres: the second largest if a's centre moved most.
    let lower = b.y - select(CENTRE_SHIFT[shifts + u.k], CENTRE_SHIFT[shifts + u.k + 1u], own == farthest);
    listed = upper * (1.0 + ${PRUNE_EPS}) >= lower;
    BOUNDS[o] = vec2f(upper, lower);
    if (!listed) { CHANGED[o] = 0u; }
  }
  if (listed) {
    let list_base = run * (u.row_stride + 4u);
    let slot = atomicAdd(&CANDIDATES[list_base], 1u);
    atomicStore(&CANDIDATES[list_base + 4u + slot], i);
  }`,
    }),
);

/**
 * Per-centre movements for the pruning bounds, one workgroup per run, after
 * the update: CENTRE_SHIFT[r, j] = δ_j = ‖c_j^new − c_j^old‖ (from
 * SHIFT_SQ), then the largest δ, the second largest and the index of the
 * largest. Also empties the run's candidate list. (Hamerly's second test,
 * against half the distance to the nearest other centre, never pruned a
 * point the lower bound did not on MNIST and cost more than the bounds test
 * itself.)
 * Bindings: SHIFT_SQ [R, k·d], STATE, CENTRE_SHIFT (rw) [R, k + 3],
 * CANDIDATES (rw). Uniform: k, d, gate, row_stride. Dispatch: (1, 1, R).
 */
export const centreShiftKernel: (spec: { vec4: boolean }) => DeclaredKernel = family(
  "kmeans_centre_stats",
  (spec: { vec4: boolean }) =>
    declare({
      key: `kmeans_centre_stats${spec.vec4 ? "/vec4" : ""}`,
      inputs: { SHIFT_SQ: spec.vec4 ? "vec4f" : "f32", STATE: "f32" },
      outputs: { CENTRE_SHIFT: "f32", CANDIDATES: "u32" },
      uniforms: { k: "u32", d: "u32", gate: "u32", row_stride: "u32" },
      entry: { workgroupSize: 64, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> gate_flag: u32;`,
      main: /* wgsl */ `
  let run = wid.z;
  ${GATE}
  let shifts = run * (u.k + 3u);
  let row_len = ${spec.vec4 ? "u.d / 4u" : "u.d"};
  let centre_base = run * u.k * row_len;
  for (var j = lid; j < u.k; j += 64u) {
    var m = 0.0;
    for (var f = 0u; f < row_len; f++) { m += ${
        spec.vec4
          ? "dot(SHIFT_SQ[centre_base + j * row_len + f], vec4f(1.0))"
          : "SHIFT_SQ[centre_base + j * row_len + f]"
      }; }
    CENTRE_SHIFT[shifts + j] = sqrt(m);
  }
  storageBarrier();
  if (lid == 0u) {
    var d1 = 0.0;
    var d2 = 0.0;
    var farthest = 0u;
    for (var j = 0u; j < u.k; j++) {
      let v = CENTRE_SHIFT[shifts + j];
      if (v > d1) { d2 = d1; d1 = v; farthest = j; } else if (v > d2) { d2 = v; }
    }
    CENTRE_SHIFT[shifts + u.k] = d1;
    CENTRE_SHIFT[shifts + u.k + 1u] = d2;
    CENTRE_SHIFT[shifts + u.k + 2u] = f32(farthest);
    CANDIDATES[run * (u.row_stride + 4u)] = 0u;
  }`,
    }),
);
