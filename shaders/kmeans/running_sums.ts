/**
 * Running column sums of k-means (CPU adapters, one chunk of points): after
 * the first iteration only the points that changed cluster change the
 * per-cluster sums, so instead of re-adding every point the sums move just
 * those points between clusters, into Kahan-compensated pairs.
 *
 * Per iteration: {@link changeListKernel} (an ordered list of the points
 * whose label differs from the cluster the sums hold them in) →
 * {@link runningSumsKernel} (adds the joiners, subtracts the leavers).
 * Buffers: HELD i32 [R, row_stride], the cluster whose sums hold each point
 * (−1: none yet); CHANGES u32 [R, 2·row_stride + 4], the change list (count
 * at 0, then (point, old cluster) pairs from 4); PART and PART_LO
 * [R, k, d + 1], the sums and their compensation terms.
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";
import { GATE, GATE_DIRECT } from "./state.ts";
import { KSUMS_WG, RUN_MAP } from "./sums.ts";

/** Threads of {@link changeListKernel}'s workgroup (one workgroup per run). */
export const CHANGES_WG = 64;

/**
 * The points whose label differs from the cluster the running sums hold them
 * in (HELD), in increasing order, for {@link runningSumsKernel}: CHANGES[r, 0]
 * = count, CHANGES[r, 4 + 2m] = point, CHANGES[r, 5 + 2m] = its old cluster.
 * Then HELD = LABELS. One workgroup per run: each thread counts a contiguous
 * range of points, a scan of the counts gives every thread its offset, and
 * it writes its range (a deterministic order, unlike an atomic append — the
 * sums depend on it).
 * Bindings: LABELS [R, row_stride], STATE, HELD (rw) [R, row_stride],
 * CHANGES (rw) [R, 2·row_stride + 4]. Uniform: n, row_stride, gate.
 * Dispatch: (1, 1, R).
 */
export const changeListKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_changes",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_changes",
      inputs: { LABELS: "i32", STATE: "f32" },
      outputs: { HELD: "i32", CHANGES: "u32" },
      uniforms: { n: "u32", row_stride: "u32", gate: "u32" },
      entry: { workgroupSize: CHANGES_WG, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
const T = ${CHANGES_WG}u;
var<workgroup> gate_flag: u32;
var<workgroup> offsets: array<u32, ${CHANGES_WG}>;`,
      main: /* wgsl */ `
  let run = wid.z;
  ${GATE}
  let per = (u.n + T - 1u) / T;
  let i0 = min(u.n, lid * per);
  let i1 = min(u.n, i0 + per);
  let points = run * u.row_stride;
  var count = 0u;
  for (var i = i0; i < i1; i++) { count += select(0u, 1u, LABELS[points + i] != HELD[points + i]); }
  offsets[lid] = count;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0u;
    for (var t = 0u; t < T; t++) { let c = offsets[t]; offsets[t] = s; s += c; }
    CHANGES[run * (2u * u.row_stride + 4u)] = s;
  }
  workgroupBarrier();
  var m = offsets[lid];
  let entries = run * (2u * u.row_stride + 4u) + 4u;
  for (var i = i0; i < i1; i++) {
    let label = LABELS[points + i];
    let held = HELD[points + i];
    if (label != held) {
      CHANGES[entries + 2u * m] = i;
      CHANGES[entries + 2u * m + 1u] = bitcast<u32>(held);
      HELD[points + i] = label;
      m++;
    }
  }`,
    }),
);

/**
 * Running column sums: after the first iteration, only the points that
 * changed cluster ({@link changeListKernel}) change the sums, so instead of
 * re-adding every point this adds, per cluster and column, Σ x over the
 * points that joined minus Σ x over those that left, into a compensated
 * (Kahan) pair PART + PART_LO — as accurate as re-adding, whatever the
 * number of iterations. A thread owns one column of one run and walks the
 * run's change list in order (a point that joins from the padding label −1
 * only adds).
 * Bindings: X, LABELS [R, row_stride], CHANGES [R, 2·row_stride + 4], STATE,
 * PART (rw), PART_LO (rw), both [R, k, d + 1]. Uniform: n, k, d, row_stride,
 * gate, n_active, then the run map (array<vec4u, 8>). Dispatch:
 * (ceil((d + 1) / 64), 1, active).
 */
export const runningSumsKernel: (spec: { tj: number }) => DeclaredKernel = family(
  "kmeans_delta",
  (spec: { tj: number }) => {
    const js = Array.from({ length: spec.tj }, (_, j) => j);
    return declare({
      key: `kmeans_delta/${spec.tj}`,
      inputs: { X: "f32", LABELS: "i32", CHANGES: "u32", STATE: "f32" },
      outputs: { PART: "f32", PART_LO: "f32" },
      uniforms: {
        n: "u32",
        k: "u32",
        d: "u32",
        row_stride: "u32",
        gate: "u32",
        n_active: "u32",
        runs: RUN_MAP,
      },
      entry: { workgroupSize: KSUMS_WG, builtins: ["workgroup_id", "local_invocation_index"] },
      main: /* wgsl */ `
  let f = wid.x * ${KSUMS_WG}u + lid;
  let run = u.runs[wid.z / 4u][wid.z % 4u];
  if (f > u.d || wid.z >= u.n_active || (${GATE_DIRECT})) { return; }
  let is_count = f == u.d;
  let fc = min(f, u.d - 1u);
  let list_base = run * (2u * u.row_stride + 4u);
  let count = CHANGES[list_base];
  for (var j0 = 0u; j0 < u.k; j0 += ${spec.tj}u) {
    ${js.map((j) => `var s${j} = 0.0;`).join(" ")}
    for (var m = 0u; m < count; m++) {
      let i = CHANGES[list_base + 4u + 2u * m];
      let left = bitcast<i32>(CHANGES[list_base + 5u + 2u * m]) - i32(j0);
      let joined = LABELS[run * u.row_stride + i] - i32(j0);
      let v = select(X[i * u.d + fc], 1.0, is_count);
      ${
        js.map((j) => `s${j} += select(0.0, v, joined == ${j}) - select(0.0, v, left == ${j});`)
          .join("\n      ")
      }
    }
    let jn = min(${spec.tj}u, u.k - j0);
    let base = (run * u.k + j0) * (u.d + 1u) + f;
    ${
        js.map((j) =>
          `if (${j}u < jn) {
      let e = base + ${j}u * (u.d + 1u);
      let hi = PART[e];
      let y = s${j} - PART_LO[e];
      let t = hi + y;
      PART_LO[e] = (t - hi) - y;
      PART[e] = t;
    }`
        ).join("\n    ")
      }
  }`,
    });
  },
);
