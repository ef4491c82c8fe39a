/**
 * The k-means column sums: per run, cluster and feature, the sum of the
 * points' values and the number of points, over chunks of points, without
 * atomics (so bit-reproducible), for the active runs only.
 *
 * {@link sumsKernel} adds every point afresh each iteration (GPUs, and the
 * first iteration everywhere); on CPU adapters later iterations only move
 * the points that changed cluster (`shaders/kmeans/running_sums.ts`). Both
 * take the runs from a uniform run map ({@link RUN_MAP}), so runs already
 * done cost nothing.
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";
import { KMEANS_STATE_SIZE } from "./state.ts";

/** Threads per workgroup of {@link sumsKernel} (and of the running sums). */
export const KSUMS_WG = 64;

/** Most runs one {@link sumsKernel} dispatch names in its uniform run map. */
export const KSUMS_MAX_RUNS = 32;

/** The uniform run map of the column sums: `array<vec4u, 8>`, slot s → run. */
export const RUN_MAP = `vec4u[${KSUMS_MAX_RUNS / 4}]` as const;

/** Specialisation of {@link sumsKernel}. */
export interface SumsSpec {
  /** Clusters per accumulator block (≤ 16). */
  tj: number;
  /** Runs per thread (1, 2, 4 or 8): each X value read serves all of them. */
  runsPerThread: number;
}

/**
 * Per-cluster column sums and counts of the active runs, over chunks of
 * points: PART[r, c, j, f] = Σ_{i in chunk c, label_{r,i} = j} X[i, f] for
 * f < d and PART[r, c, j, d] = the number of such points (column d is the
 * count: the thread with f = d adds ones instead of X). A thread owns one
 * column f of one chunk for `runsPerThread` runs (taken from the uniform run
 * map, so runs already done cost nothing) and walks the chunk's points in
 * order, adding each value to the accumulator of its label in each run —
 * `runsPerThread`·`tj` unrolled accumulators, no atomics, the same order on
 * every run. One X load serves all its runs (loads dominate on lavapipe);
 * neighbouring threads read neighbouring columns of a row (coalesced on
 * GPUs) and the same labels, four at a time as a vec4 (labels are stored
 * with a per-run stride row_stride, a multiple of 4, and padded with −1).
 * Empty clusters' partials are exact zeros.
 * Bindings: X [n, d], LABELS i32 [R, row_stride], STATE, PART [R, chunks, k,
 * d + 1]. Uniform: n, k, d, row_stride, chunk (a multiple of 4), chunks,
 * gate, n_active, then the run map (array<vec4u, 8>). Dispatch:
 * (ceil((d + 1) / 64), chunks, ceil(active / runsPerThread)).
 */
export const sumsKernel: (spec: SumsSpec) => DeclaredKernel = family(
  "kmeans_sums",
  (spec: SumsSpec) => {
    const g = spec.runsPerThread;
    const js = Array.from({ length: spec.tj }, (_, j) => j);
    const gs = Array.from({ length: g }, (_, r) => r);
    const point = (q: number) => /* wgsl */ `
      {
        let v = select(X[min(i + ${q}u, u.n - 1u) * u.d + fc], 1.0, is_count);
        ${
      gs.map((r) =>
        `{ let l = l${r}[${q}]; ${
          js.map((j) => `s${r}_${j} += select(0.0, v, l == ${j});`).join(" ")
        } }`
      ).join("\n        ")
    }
      }`;
    return declare({
      key: `kmeans_sums/${spec.tj}/g${g}`,
      inputs: { X: "f32", LABELS: "vec4i", STATE: "f32" },
      outputs: { PART: "f32" },
      uniforms: {
        n: "u32",
        k: "u32",
        d: "u32",
        row_stride: "u32",
        chunk: "u32",
        chunks: "u32",
        gate: "u32",
        n_active: "u32",
        runs: RUN_MAP,
      },
      entry: { workgroupSize: KSUMS_WG, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
fn run_of(slot: u32) -> u32 {
  let s = min(slot, u.n_active - 1u);
  return u.runs[s / 4u][s % 4u];
}`,
      main: /* wgsl */ `
  let f = wid.x * ${KSUMS_WG}u + lid;
  if (f > u.d) { return; }
  // Slots past the active count repeat the last run (computed, never stored).
  ${gs.map((r) => `let run${r} = run_of(wid.z * ${g}u + ${r}u);`).join(" ")}
  ${
        gs.map((r) =>
          `let on${r} = wid.z * ${g}u + ${r}u < u.n_active && !(u.gate != 0u && STATE[run${r} * ${KMEANS_STATE_SIZE}u] != 0.0);`
        ).join(" ")
      }
  if (!(${gs.map((r) => `on${r}`).join(" || ")})) { return; }
  let is_count = f == u.d;
  let fc = min(f, u.d - 1u);
  let c = wid.y;
  let i0 = c * u.chunk;
  let i1 = min(u.n, i0 + u.chunk);
  for (var j0 = 0u; j0 < u.k; j0 += ${spec.tj}u) {
    ${gs.map((r) => js.map((j) => `var s${r}_${j} = 0.0;`).join(" ")).join("\n    ")}
    // Labels four at a time (one load per run); points past n carry the padding label −1.
    for (var i = i0; i < i1; i += 4u) {
      ${
        gs.map((r) => `let l${r} = LABELS[(run${r} * u.row_stride + i) / 4u] - vec4i(i32(j0));`)
          .join("\n      ")
      }
      ${[0, 1, 2, 3].map(point).join("")}
    }
    let jn = min(${spec.tj}u, u.k - j0);
    ${
        gs.map((r) =>
          `if (on${r}) {
      let base = ((run${r} * u.chunks + c) * u.k + j0) * (u.d + 1u) + f;
      ${
            js.map((j) => `if (${j}u < jn) { PART[base + ${j}u * (u.d + 1u)] = s${r}_${j}; }`).join(
              "\n      ",
            )
          }
    }`
        ).join("\n    ")
      }
  }`,
    });
  },
);
