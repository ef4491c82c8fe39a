/**
 * k-means on the GPU: Lloyd's assignment and centroid update, scikit-learn's
 * empty-cluster relocation, convergence bookkeeping, and greedy k-means++
 * seeding — all without float atomics, so every run on one adapter is
 * bit-for-bit reproducible. (The pruned assignment appends to a list with
 * integer atomics; only the list's order varies, never a result.)
 *
 * Every k-means kernel is **batched over runs** (the `nInit` restarts):
 * workgroup z (or the single workgroup of run z) works on run z's centres
 * C [R, k, d], labels [R, n], state [R, 8], … while all runs share X [n, d].
 * One dispatch therefore advances every restart, and the host reads one
 * state block for all of them.
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
 * dispatches, far less work. A run's state (layout {@link KMEANS_STATE}) lives on the
 * GPU; once it says "done", every gated kernel returns at once for that run,
 * so the host may record many iterations ahead and read the states only now
 * and then.
 *
 * Kernels with barriers gate with `workgroupUniformLoad` so that the early
 * return is uniform; barrier-free kernels simply return.
 * @module
 */
import { family } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";
import { pairwiseMain } from "./distance.ts";

/** Slots of a run's f32 state vector shared by the k-means kernels and the host. */
export const KMEANS_STATE = {
  /** 1 once converged or out of iterations. */
  done: 0,
  /** Lloyd iterations completed. */
  iterations: 1,
  /** Inertia of the last assignment (Σ squared distance to the nearest centre). */
  inertia: 2,
  /** Points whose label changed in the last assignment. */
  changed: 3,
  /** Σ ‖c_new − c_old‖² of the last update. */
  shift: 4,
  /** Absolute tolerance: tol · mean over features of the data variance. */
  tol: 5,
  /** 1 if the labels stopped changing (scikit-learn's strict convergence). */
  strict: 6,
  /** 1 if a column mean or variance of the data is not finite. */
  nonFinite: 7,
} as const;

/** Length of a run's state vector (the state of run r starts at r · 8). */
export const KMEANS_STATE_SIZE = 8;

/** WGSL: returns early (uniformly) when the gate is on and run `run`'s state says done. */
const GATE = /* wgsl */ `
  if (lid == 0u) { gate_flag = select(0u, 1u, u.gate != 0u && STATE[run * 8u] != 0.0); }
  if (workgroupUniformLoad(&gate_flag) != 0u) { return; }`;

/** WGSL: the same test for kernels without barriers (a plain, possibly non-uniform return). */
const GATE_DIRECT = "u.gate != 0u && STATE[run * 8u] != 0.0";

/** Specialisation of the assignment family. */
export interface AssignSpec {
  /** Centres per register block (see `pairTiles`). */
  tj: number;
  /** Features per workgroup-memory stage (staged variant). */
  tf: number;
  /**
   * Stage through workgroup memory (GPUs: the shared pairwise core, one row
   * per thread) or read directly (CPU adapters: `rows` rows per thread).
   */
  stage: boolean;
  /** Rows of X per thread in the direct variant (default 1). */
  rows?: number;
  /** Direct variant: read X and C as vec4 (d a multiple of 4). */
  vec4?: boolean;
  /**
   * Direct variant: take the rows from a list — the run's candidate list
   * from {@link pruneKernel}, or a list of all rows shared by the runs — and
   * also store their bounds (distances to the nearest and second-nearest
   * centre). Extra bindings: LIST after STATE, BOUNDS last; extra uniform
   * `ls`, the list's stride between runs (0: shared). Several rows per
   * thread need a list: with rows computed from the thread index,
   * SwiftShader's compiler spends minutes on the kernel (seen with 4 rows).
   */
  list?: boolean;
}

/** Threads per workgroup of the assignment kernels. */
export const ASSIGN_WG = 64;

/** Rows of X one assignment workgroup covers. */
export function assignRowsPerGroup(spec: AssignSpec): number {
  return ASSIGN_WG * (spec.stage ? 1 : spec.rows ?? 1);
}

/** Register tile of the direct assignment on CPU adapters (lavapipe measurements), rows from a list. */
export function directAssignSpec(k: number, d: number): AssignSpec {
  // ≤ 10 centres × 4 rows of accumulators: 4×10 vec4 tiles ran at ~4.5x the
  // one-row scalar core on MNIST shapes (n = 2048, d = 784, k = 10); more
  // accumulators spill.
  const blocks = Math.ceil(Math.max(1, k) / 10);
  return {
    tj: Math.ceil(Math.max(1, k) / blocks),
    tf: 1,
    stage: false,
    rows: 4,
    vec4: d % 4 === 0,
    list: true,
  };
}

/** The assignment kernels' outputs. */
const ASSIGN_OUTPUTS = { LABELS: "i32", MIND: "f32", CHANGED: "u32" } as const;
/** The assignment kernels' uniform fields (the list variant adds `ls`). */
const ASSIGN_FIELDS = { n: "u32", k: "u32", d: "u32", gate: "u32", np: "u32" } as const;

/**
 * Assignment step of every run: labels[r, i] = argmin_j ‖x_i − c_{r,j}‖²
 * (lowest j on ties), mind[r, i] = that distance, changed[r, i] = label
 * differs from the previous one. Distances are Σ (x − c)², no expansion.
 * Bindings: X [n, d], C [R, k, d] (named A and B in the staged variant,
 * the pairwise core's names), STATE [R, 8], LABELS i32 [R, np]
 * (read-write), MIND [R, np], CHANGED u32 [R, np] (np ≥ n: the per-run
 * stride). Uniform: n, k, d, gate, np.
 * Dispatch: (ceil(n / {@link assignRowsPerGroup}) split over x·y, 1, R).
 *
 * Staged (GPUs): the shared pairwise core, one row per thread. Direct (CPU
 * adapters): each thread keeps `rows` × `tj` accumulators and reads X and C
 * straight from storage (as vec4 when d % 4 = 0), so every loaded value
 * feeds several multiply-adds — lavapipe runs a lane-varying load as eight
 * scalar loads, and the register tile is what amortises them. Several rows
 * per thread come from a row list (`list`; see {@link AssignSpec}).
 */
export const assignKernel: (spec: AssignSpec) => DeclaredKernel = family(
  "kmeans_assign",
  (spec: AssignSpec) => (spec.stage ? stagedAssign(spec) : directAssign(spec)),
);

function stagedAssign(spec: AssignSpec): DeclaredKernel {
  return declare({
    key: `kmeans_assign/${spec.tj}x${spec.tf}`,
    inputs: { A: "f32", B: "f32", STATE: "f32" },
    outputs: ASSIGN_OUTPUTS,
    uniforms: ASSIGN_FIELDS,
    body: /* wgsl */ `
var<workgroup> gate_flag: u32;
${
      pairwiseMain({ combine: "sqdist", tj: spec.tj, tf: spec.tf, stage: true, batched: true }, {
        prelude: GATE,
        before: "var best = 3.4e38; var bestj = 0u;",
        each: "if (v < best) { best = v; bestj = j; }",
        after: /* wgsl */ `
  if (valid) {
    let lab = i32(bestj);
    let o = run * u.np + i;
    CHANGED[o] = select(0u, 1u, LABELS[o] != lab);
    LABELS[o] = lab;
    MIND[o] = best;
  }`,
      })
    }`,
  });
}

function directAssign(spec: AssignSpec): DeclaredKernel {
  const { key, T, body } = directAssignBody(spec);
  // The row-list variant reads LIST after STATE, stores bounds, and takes the list's stride `ls`.
  return declare({
    key,
    inputs: spec.list ? { X: T, C: T, STATE: "f32", LIST: "u32" } : { X: T, C: T, STATE: "f32" },
    outputs: spec.list ? { ...ASSIGN_OUTPUTS, BOUNDS: "vec2f" } : ASSIGN_OUTPUTS,
    uniforms: spec.list ? { ...ASSIGN_FIELDS, ls: "u32" } : ASSIGN_FIELDS,
    body,
  });
}

/** The direct assignment's key, X and C's element type, and WGSL after the bindings. */
function directAssignBody(spec: AssignSpec): { key: string; T: "f32" | "vec4f"; body: string } {
  const rm = spec.rows ?? 1, tj = spec.tj, v4 = spec.vec4 ?? false, list = spec.list ?? false;
  if (rm > 1 && !list) {
    throw new Error(`kmeans_assign: ${rm} rows per thread need a row list (spec.list)`);
  }
  const rs = Array.from({ length: rm }, (_, r) => r);
  const js = Array.from({ length: tj }, (_, j) => j);
  const T = v4 ? "vec4f" : "f32";
  // Unrolled scalar accumulators (a private array indexed in a loop may live
  // in memory on lavapipe); a vec4 difference adds its four squares in one chain.
  const sq = (r: number, j: number) =>
    v4
      ? `{ let q = a${r} - c${j}; acc${r}_${j} = fma(q.x, q.x, fma(q.y, q.y, fma(q.z, q.z, fma(q.w, q.w, acc${r}_${j})))); }`
      : `{ let q = a${r} - c${j}; acc${r}_${j} = fma(q, q, acc${r}_${j}); }`;
  // Which rows a thread takes: one row of X, or the next `rows` entries of a row list.
  const rowsOf = list
    ? /* wgsl */ `
  let lb = run * u.ls;
  let count = LIST[lb];
  let p0 = ((wid.y * nwg.x + wid.x) * ${ASSIGN_WG}u + lid) * ${rm}u;
  if (p0 >= count || (${GATE_DIRECT})) { return; }
  // Entries past the count repeat the last one (computed, never stored).
  ${rs.map((r) => `let i${r} = LIST[lb + 4u + min(p0 + ${r}u, count - 1u)];`).join(" ")}
  ${rs.map((r) => `let ok${r} = p0 + ${r}u < count;`).join(" ")}`
    : /* wgsl */ `
  let i0 = (wid.y * nwg.x + wid.x) * ${ASSIGN_WG}u + lid;
  if (i0 >= u.n || (${GATE_DIRECT})) { return; }
  let ok0 = true;`;
  const better = (r: number, j: number) =>
    list
      ? `if (${j}u < jn) {
      let v = acc${r}_${j};
      if (v < best${r}) { sec${r} = best${r}; best${r} = v; bj${r} = j0 + ${j}u; } else if (v < sec${r}) { sec${r} = v; }
    }`
      : `if (${j}u < jn && acc${r}_${j} < best${r}) { best${r} = acc${r}_${j}; bj${r} = j0 + ${j}u; }`;
  return {
    key: `kmeans_assign/${tj}/direct/r${rm}${v4 ? "/vec4" : ""}${list ? "/list" : ""}`,
    T,
    body: /* wgsl */ `
@compute @workgroup_size(${ASSIGN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  ${rowsOf}
  let dl = ${v4 ? "u.d / 4u" : "u.d"};
  let cb = run * u.k * dl;
  ${
      rs.map((r) =>
        `let x${r} = i${r} * dl; var best${r} = 3.4e38; var bj${r} = 0u;${
          list ? ` var sec${r} = 3.4e38;` : ""
        }`
      ).join("\n  ")
    }
  for (var j0 = 0u; j0 < u.k; j0 += ${tj}u) {
    ${rs.map((r) => js.map((j) => `var acc${r}_${j} = 0.0;`).join(" ")).join("\n    ")}
    // Centres past k are clamped to centre k − 1 (computed, never chosen).
    ${js.map((j) => `let b${j} = cb + min(j0 + ${j}u, u.k - 1u) * dl;`).join(" ")}
    for (var t = 0u; t < dl; t++) {
      ${rs.map((r) => `let a${r} = X[x${r} + t];`).join(" ")}
      ${js.map((j) => `let c${j} = C[b${j} + t];`).join(" ")}
      ${rs.map((r) => js.map((j) => sq(r, j)).join("\n      ")).join("\n      ")}
    }
    let jn = min(${tj}u, u.k - j0);
    ${rs.map((r) => js.map((j) => better(r, j)).join("\n    ")).join("\n    ")}
  }
  ${
      rs.map((r) =>
        `if (ok${r}) {
    let o = run * u.np + i${r};
    let lab = i32(bj${r});
    CHANGED[o] = select(0u, 1u, LABELS[o] != lab);
    LABELS[o] = lab;
    MIND[o] = best${r};${list ? `\n    BOUNDS[o] = vec2f(sqrt(best${r}), sqrt(sec${r}));` : ""}
  }`
      ).join("\n  ")
    }
}`,
  };
}

/** Relative margin of the pruning tests: a bound must win by more than float32 rounding. */
const PRUNE_EPS = "1e-4";

/**
 * Hamerly's bounds test (pruned assignment, CPU adapters), one thread per
 * point of every run. With the upper bound u ≥ ‖x − c_a‖ on the distance to
 * the assigned centre a and the lower bound l ≤ min_{j≠a} ‖x − c_j‖ moved by
 * the last centre shifts (u += δ_a, l −= max_{j≠a} δ_j), the label cannot
 * change if u < l. Points that fail (and every point of the first
 * iteration, label −1) are appended to the run's candidate list for the full
 * scan ({@link assignKernel} with `list`), which also renews their bounds.
 * (Hamerly's tightening of u by one exact distance before the full scan does
 * not pay on lavapipe: one distance costs over half a tiled full scan.)
 * The order of the list depends on the atomics, the result of each point
 * does not, so runs stay bit-reproducible; labels, centres and iterations are
 * those of the unpruned scan (the margin {@link PRUNE_EPS} absorbs float32
 * rounding), but MIND is only refreshed for listed points.
 * Bindings: STATE, CS [R, k + 3] (from {@link centreStatsKernel}), LABELS,
 * CHANGED (rw), BOUNDS vec2f [R, np] (rw), LIST atomic u32 [R, np + 4]
 * (count at 0, entries from 4). Uniform: n, k, d, gate, np.
 * Dispatch: (ceil(n / 64) split over x·y, 1, R).
 */
export const pruneKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_prune",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_prune",
      inputs: { STATE: "f32", CS: "f32", LABELS: "i32" },
      outputs: { CHANGED: "u32", BOUNDS: "vec2f", LIST: "atomic<u32>" },
      uniforms: { n: "u32", k: "u32", d: "u32", gate: "u32", np: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= u.n || (${GATE_DIRECT})) { return; }
  let o = run * u.np + i;
  let a = LABELS[o];
  var listed = a < 0;
  if (!listed) {
    let au = u32(a);
    let cs = run * (u.k + 3u);
    let top = u32(CS[cs + u.k + 2u]);
    let b = BOUNDS[o];
    let ub = b.x + CS[cs + au];
    let lb = b.y - select(CS[cs + u.k], CS[cs + u.k + 1u], au == top);
    listed = ub * (1.0 + ${PRUNE_EPS}) >= lb;
    BOUNDS[o] = vec2f(ub, lb);
    if (!listed) { CHANGED[o] = 0u; }
  }
  if (listed) {
    let lb = run * (u.np + 4u);
    let slot = atomicAdd(&LIST[lb], 1u);
    atomicStore(&LIST[lb + 4u + slot], i);
  }
}`,
    }),
);

/**
 * Per-centre movements for the pruning bounds, one workgroup per run, after
 * the update: CS[r, j] = δ_j = ‖c_j^new − c_j^old‖ (from SHIFT), then the
 * largest δ, the second largest and the index of the largest. Also empties
 * the run's candidate list. (Hamerly's second test, against half the
 * distance to the nearest other centre, never pruned a point the lower
 * bound did not on MNIST and cost more than the bounds test itself.)
 * Bindings: SHIFT [R, k·d], STATE, CS (rw) [R, k + 3], LIST (rw).
 * Uniform: k, d, gate, np. Dispatch: (1, 1, R).
 */
export const centreStatsKernel: (spec: { vec4: boolean }) => DeclaredKernel = family(
  "kmeans_centre_stats",
  (spec: { vec4: boolean }) =>
    declare({
      key: `kmeans_centre_stats${spec.vec4 ? "/vec4" : ""}`,
      inputs: { SHIFT: spec.vec4 ? "vec4f" : "f32", STATE: "f32" },
      outputs: { CS: "f32", LIST: "u32" },
      uniforms: { k: "u32", d: "u32", gate: "u32", np: "u32" },
      body: /* wgsl */ `
var<workgroup> gate_flag: u32;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  ${GATE}
  let cs = run * (u.k + 3u);
  let dl = ${spec.vec4 ? "u.d / 4u" : "u.d"};
  let cb = run * u.k * dl;
  for (var j = lid; j < u.k; j += 64u) {
    var m = 0.0;
    for (var f = 0u; f < dl; f++) { m += ${
        spec.vec4 ? "dot(SHIFT[cb + j * dl + f], vec4f(1.0))" : "SHIFT[cb + j * dl + f]"
      }; }
    CS[cs + j] = sqrt(m);
  }
  storageBarrier();
  if (lid == 0u) {
    var d1 = 0.0;
    var d2 = 0.0;
    var top = 0u;
    for (var j = 0u; j < u.k; j++) {
      let v = CS[cs + j];
      if (v > d1) { d2 = d1; d1 = v; top = j; } else if (v > d2) { d2 = v; }
    }
    CS[cs + u.k] = d1;
    CS[cs + u.k + 1u] = d2;
    CS[cs + u.k + 2u] = f32(top);
    LIST[run * (u.np + 4u)] = 0u;
  }
}`,
    }),
);

/** Threads per workgroup of {@link sumsKernel}. */
export const KSUMS_WG = 64;

/** Most runs one {@link sumsKernel} dispatch names in its uniform run map. */
export const KSUMS_MAX_RUNS = 32;

/** The uniform run map of {@link sumsKernel} and {@link deltaKernel}: `array<vec4u, 8>`. */
const RUN_MAP = `vec4u[${KSUMS_MAX_RUNS / 4}]` as const;

/** Specialisation of {@link sumsKernel}. */
export interface SumsSpec {
  /** Clusters per accumulator block (≤ 16). */
  tj: number;
  /** Runs per thread (1, 2, 4 or 8): each X value read serves all of them. */
  g: number;
}

/**
 * Per-cluster column sums and counts of the active runs, over chunks of
 * points: PART[r, c, j, f] = Σ_{i in chunk c, label_{r,i} = j} X[i, f] for
 * f < d and PART[r, c, j, d] = the number of such points (column d is the
 * count: the thread with f = d adds ones instead of X). A thread owns one
 * column f of one chunk for `g` runs (taken from the uniform run map, so runs
 * already done cost nothing) and walks the chunk's points in order, adding
 * each value to the accumulator of its label in each run — `g`·`tj` unrolled
 * accumulators, no atomics, the same order on every run. One X load serves g
 * runs (loads dominate on lavapipe); neighbouring threads read neighbouring
 * columns of a row (coalesced on GPUs) and the same labels, four at a time
 * as a vec4 (labels are stored with a per-run stride np, a multiple of 4,
 * and padded with −1). Empty clusters' partials are exact zeros.
 * Bindings: X [n, d], LABELS i32 [R, np], STATE, PART [R, chunks, k, d + 1].
 * Uniform: n, k, d, np, chunk (a multiple of 4), chunks, gate, n_active, then
 * the run map (array<vec4u, 8>). Dispatch: (ceil((d + 1) / 64), chunks,
 * ceil(active / g)).
 */
export const sumsKernel: (spec: SumsSpec) => DeclaredKernel = family(
  "kmeans_sums",
  (spec: SumsSpec) => {
    const js = Array.from({ length: spec.tj }, (_, j) => j);
    const gs = Array.from({ length: spec.g }, (_, g) => g);
    const point = (q: number) => /* wgsl */ `
      {
        let v = select(X[min(i + ${q}u, u.n - 1u) * u.d + fc], 1.0, is_count);
        ${
      gs.map((g) =>
        `{ let l = l${g}[${q}]; ${
          js.map((j) => `s${g}_${j} += select(0.0, v, l == ${j});`).join(" ")
        } }`
      ).join("\n        ")
    }
      }`;
    return declare({
      key: `kmeans_sums/${spec.tj}/g${spec.g}`,
      inputs: { X: "f32", LABELS: "vec4i", STATE: "f32" },
      outputs: { PART: "f32" },
      uniforms: {
        n: "u32",
        k: "u32",
        d: "u32",
        np: "u32",
        chunk: "u32",
        chunks: "u32",
        gate: "u32",
        n_active: "u32",
        runs: RUN_MAP,
      },
      body: /* wgsl */ `
fn run_of(slot: u32) -> u32 {
  let s = min(slot, u.n_active - 1u);
  return u.runs[s / 4u][s % 4u];
}
@compute @workgroup_size(${KSUMS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * ${KSUMS_WG}u + lid;
  if (f > u.d) { return; }
  // Slots past the active count repeat the last run (computed, never stored).
  ${gs.map((g) => `let run${g} = run_of(wid.z * ${spec.g}u + ${g}u);`).join(" ")}
  ${
        gs.map((g) =>
          `let on${g} = wid.z * ${spec.g}u + ${g}u < u.n_active && !(u.gate != 0u && STATE[run${g} * 8u] != 0.0);`
        ).join(" ")
      }
  if (!(${gs.map((g) => `on${g}`).join(" || ")})) { return; }
  let is_count = f == u.d;
  let fc = min(f, u.d - 1u);
  let c = wid.y;
  let i0 = c * u.chunk;
  let i1 = min(u.n, i0 + u.chunk);
  for (var j0 = 0u; j0 < u.k; j0 += ${spec.tj}u) {
    ${gs.map((g) => js.map((j) => `var s${g}_${j} = 0.0;`).join(" ")).join("\n    ")}
    // Labels four at a time (one load per run); points past n carry the padding label −1.
    for (var i = i0; i < i1; i += 4u) {
      ${
        gs.map((g) => `let l${g} = LABELS[(run${g} * u.np + i) / 4u] - vec4i(i32(j0));`).join(
          "\n      ",
        )
      }
      ${[0, 1, 2, 3].map(point).join("")}
    }
    let jn = min(${spec.tj}u, u.k - j0);
    ${
        gs.map((g) =>
          `if (on${g}) {
      let base = ((run${g} * u.chunks + c) * u.k + j0) * (u.d + 1u) + f;
      ${
            js.map((j) => `if (${j}u < jn) { PART[base + ${j}u * (u.d + 1u)] = s${g}_${j}; }`).join(
              "\n      ",
            )
          }
    }`
        ).join("\n    ")
      }
  }
}`,
    });
  },
);

/** Threads of {@link changesKernel}'s workgroup (one per run). */
export const CHANGES_WG = 64;

/**
 * The points whose label differs from the cluster the running sums hold them
 * in (ACC), in increasing order, for {@link deltaKernel}: CH[r, 0] = count,
 * CH[r, 4 + 2m] = point, CH[r, 5 + 2m] = its old cluster. Then ACC = LABELS.
 * One workgroup per run: each thread counts a contiguous range of points, a
 * scan of the counts gives every thread its offset, and it writes its range
 * (a deterministic order, unlike an atomic append — the sums depend on it).
 * Bindings: LABELS [R, np], STATE, ACC (rw) [R, np], CH (rw) [R, 2np + 4].
 * Uniform: n, np, gate. Dispatch: (1, 1, R).
 */
export const changesKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_changes",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_changes",
      inputs: { LABELS: "i32", STATE: "f32" },
      outputs: { ACC: "i32", CH: "u32" },
      uniforms: { n: "u32", np: "u32", gate: "u32" },
      body: /* wgsl */ `
const T = ${CHANGES_WG}u;
var<workgroup> gate_flag: u32;
var<workgroup> offs: array<u32, ${CHANGES_WG}>;
@compute @workgroup_size(${CHANGES_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  ${GATE}
  let per = (u.n + T - 1u) / T;
  let i0 = min(u.n, lid * per);
  let i1 = min(u.n, i0 + per);
  let lb = run * u.np;
  var cnt = 0u;
  for (var i = i0; i < i1; i++) { cnt += select(0u, 1u, LABELS[lb + i] != ACC[lb + i]); }
  offs[lid] = cnt;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0u;
    for (var t = 0u; t < T; t++) { let c = offs[t]; offs[t] = s; s += c; }
    CH[run * (2u * u.np + 4u)] = s;
  }
  workgroupBarrier();
  var m = offs[lid];
  let cb = run * (2u * u.np + 4u) + 4u;
  for (var i = i0; i < i1; i++) {
    let l = LABELS[lb + i];
    let a = ACC[lb + i];
    if (l != a) {
      CH[cb + 2u * m] = i;
      CH[cb + 2u * m + 1u] = bitcast<u32>(a);
      ACC[lb + i] = l;
      m++;
    }
  }
}`,
    }),
);

/**
 * Running column sums (CPU adapters, one chunk): after the first iteration,
 * only the points that changed cluster ({@link changesKernel}) change the
 * sums, so instead of re-adding every point this adds, per cluster and
 * column, Σ x over the points that joined minus Σ x over those that left,
 * into a compensated (Kahan) pair PART + PARTLO — as accurate as re-adding,
 * whatever the number of iterations. A thread owns one column of one run and
 * walks the run's change list in order (a point that joins from the padding
 * label −1 only adds).
 * Bindings: X, LABELS [R, np], CH [R, 2np + 4], STATE, PART (rw), PARTLO
 * (rw), both [R, k, d + 1]. Uniform: n, k, d, np, gate, n_active, then the
 * run map (array<vec4u, 8>). Dispatch: (ceil((d + 1) / 64), 1, active).
 */
export const deltaKernel: (spec: { tj: number }) => DeclaredKernel = family(
  "kmeans_delta",
  (spec: { tj: number }) => {
    const js = Array.from({ length: spec.tj }, (_, j) => j);
    return declare({
      key: `kmeans_delta/${spec.tj}`,
      inputs: { X: "f32", LABELS: "i32", CH: "u32", STATE: "f32" },
      outputs: { PART: "f32", PARTLO: "f32" },
      uniforms: {
        n: "u32",
        k: "u32",
        d: "u32",
        np: "u32",
        gate: "u32",
        n_active: "u32",
        runs: RUN_MAP,
      },
      body: /* wgsl */ `
@compute @workgroup_size(${KSUMS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * ${KSUMS_WG}u + lid;
  let run = u.runs[wid.z / 4u][wid.z % 4u];
  if (f > u.d || wid.z >= u.n_active || (${GATE_DIRECT})) { return; }
  let is_count = f == u.d;
  let fc = min(f, u.d - 1u);
  let cb = run * (2u * u.np + 4u);
  let count = CH[cb];
  for (var j0 = 0u; j0 < u.k; j0 += ${spec.tj}u) {
    ${js.map((j) => `var s${j} = 0.0;`).join(" ")}
    for (var m = 0u; m < count; m++) {
      let i = CH[cb + 4u + 2u * m];
      let lo = bitcast<i32>(CH[cb + 5u + 2u * m]) - i32(j0);
      let ln = LABELS[run * u.np + i] - i32(j0);
      let v = select(X[i * u.d + fc], 1.0, is_count);
      ${
        js.map((j) => `s${j} += select(0.0, v, ln == ${j}) - select(0.0, v, lo == ${j});`).join(
          "\n      ",
        )
      }
    }
    let jn = min(${spec.tj}u, u.k - j0);
    let base = (run * u.k + j0) * (u.d + 1u) + f;
    ${
        js.map((j) =>
          `if (${j}u < jn) {
      let e = base + ${j}u * (u.d + 1u);
      let hi = PART[e];
      let y = s${j} - PARTLO[e];
      let t = hi + y;
      PARTLO[e] = (t - hi) - y;
      PART[e] = t;
    }`
        ).join("\n    ")
      }
  }
}`,
    });
  },
);

/** How `cluster_sums` weighs point i for cluster j. */
export type SumWeight = "labels" | "dense" | "ones";
/** What `cluster_sums` adds up per feature f. */
export type SumValue = "x" | "sqdev" | "dev";

/** Specialisation of the segmented column-sum family. */
export interface ClusterSumsSpec {
  /** `labels`: w = [label_i = j] (i32 labels); `dense`: w = W[i, j]; `ones`: w = 1 (k = 1). */
  weight: SumWeight;
  /** `x`: X[i, f]; `sqdev`: (X[i, f] − M[f])²; `dev`: X[i, f] − M[j, f]. */
  value: SumValue;
  /** Features per workgroup (a power of two ≤ 64); the other 256 / fc lanes split the points. */
  fc: number;
  /** Bind STATE and skip the work once k-means is done. */
  gated: boolean;
}

/** Threads per `cluster_sums` workgroup. */
export const SUMS_WG = 256;

/**
 * Segmented column sums without atomics: PART[c, j, f] = Σ_{i in chunk c}
 * w(i, j) · value(i, j, f) and WPART[c, j] = Σ_{i in chunk c} w(i, j).
 * One workgroup per (chunk, cluster, feature block); `fc` lanes cover the
 * features (coalesced row reads), 256 / fc lanes stride over the chunk's
 * points, and a tree in workgroup memory adds the lanes. {@link chunkSumKernel}
 * then adds the chunks. This is the per-centre
 * gradient of the soft assignment (Σ_i H_ij (z_i − μ_j)), column means and
 * variances, and DEC's cluster frequencies.
 *
 * Bindings: X, [W or LABELS], [M], [STATE], PART, WPART. Uniform: n, d, k,
 * chunk, gate. Dispatch: (nChunks, k, ceil(d / fc)).
 */
export const clusterSumsKernel: (spec: ClusterSumsSpec) => DeclaredKernel = family(
  "cluster_sums",
  (spec: ClusterSumsSpec) => {
    const fc = spec.fc, lanes = SUMS_WG / fc;
    if (!Number.isInteger(Math.log2(fc)) || fc > 64) {
      throw new Error(`cluster_sums: fc must be a power of two ≤ 64, got ${fc}`);
    }
    const inputs: Record<string, Elem> = { X: "f32" };
    if (spec.weight === "labels") inputs.LABELS = "i32";
    if (spec.weight === "dense") inputs.W = "f32";
    if (spec.value !== "x") inputs.M = "f32";
    if (spec.gated) inputs.STATE = "f32";
    const weight = {
      labels: "select(0.0, 1.0, LABELS[i] == i32(j))",
      dense: "W[i * u.k + j]",
      ones: "1.0",
    }[spec.weight];
    const value = {
      x: "X[i * u.d + f]",
      sqdev: "sq(X[i * u.d + f] - M[f])",
      dev: "X[i * u.d + f] - M[j * u.d + f]",
    }[spec.value];
    return declare({
      key: `cluster_sums/${spec.weight}/${spec.value}/fc${fc}${spec.gated ? "/gated" : ""}`,
      inputs,
      outputs: { PART: "f32", WPART: "f32" },
      uniforms: { n: "u32", d: "u32", k: "u32", chunk: "u32", gate: "u32" },
      body: /* wgsl */ `
const FC = ${fc}u;
const LANES = ${lanes}u;
var<workgroup> sh: array<f32, ${SUMS_WG}>;
var<workgroup> shw: array<f32, ${SUMS_WG}>;
var<workgroup> gate_flag: u32;
fn sq(x: f32) -> f32 { return x * x; }
@compute @workgroup_size(${SUMS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${spec.gated ? `let run = 0u;${GATE}` : ""}
  let fl = lid % FC;
  let p = lid / FC;
  let c = wid.x;
  let j = wid.y;
  let f = wid.z * FC + fl;
  let i0 = c * u.chunk;
  let i1 = min(u.n, i0 + u.chunk);
  var acc = 0.0;
  var wacc = 0.0;
  for (var i = i0 + p; i < i1; i += LANES) {
    let w = ${weight};
    if (w != 0.0) {
      if (f < u.d) { acc = fma(w, ${value}, acc); }
      wacc += w;
    }
  }
  sh[lid] = acc;
  shw[lid] = wacc;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h >>= 1u) {
    if (p < h) {
      sh[lid] += sh[lid + h * FC];
      shw[lid] += shw[lid + h * FC];
    }
    workgroupBarrier();
  }
  if (p == 0u && f < u.d) { PART[(c * u.k + j) * u.d + f] = sh[fl]; }
  if (lid == 0u && wid.z == 0u) { WPART[c * u.k + j] = shw[0]; }
}`,
    });
  },
);

/**
 * Adds the chunks of {@link clusterSumsKernel}: OUT[e] = scale · Σ_c PART[c·E + e].
 * Bindings: PART, OUT. Uniform: E, chunks, scale. Dispatch: ceil(E / 256).
 */
export const chunkSumKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "chunk_sum",
  (_spec: Record<string, never>) =>
    declare({
      key: "chunk_sum",
      inputs: { PART: "f32" },
      outputs: { OUT: "f32" },
      uniforms: { e: "u32", chunks: "u32", scale: "f32" },
      body: /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.e) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += PART[c * u.e + e]; }
  OUT[e] = s * u.scale;
}`,
    }),
);

/**
 * Empty clusters of every run (one workgroup per run), as scikit-learn's
 * `_relocate_empty_clusters_dense`: the m-th empty cluster (in index order)
 * takes the m-th farthest point from its own centre (distance descending,
 * index ascending), which also leaves its old cluster. Works on the partial
 * sums of {@link sumsKernel} before they are added up: an empty cluster's
 * partials are exact zeros in every chunk, so it is enough to edit chunk 0.
 * Returns at once when no cluster is empty (the usual case).
 * Bindings: X, LABELS [R, np], STATE, [C (with `recompute`)], MIND [R, np]
 * (rw with `recompute`), PART (rw). Uniform: n, k, d, chunks, gate, np.
 * Dispatch: (1, 1, R).
 */
/** Specialisation of {@link relocateKernel}. */
export interface RelocateSpec {
  /** Recompute MIND for every point first (pruned assignment: MIND is stale). */
  recompute: boolean;
  /** The recomputation mirrors the vec4 scan's arithmetic. */
  vec4: boolean;
  /**
   * Running sums ({@link deltaKernel}): also move relocated points in ACC
   * (the cluster the sums hold each point in) and clear the compensation
   * term of the cluster that receives one.
   */
  incremental: boolean;
}

export const relocateKernel: (spec: RelocateSpec) => DeclaredKernel = family(
  "kmeans_relocate",
  (spec: RelocateSpec) => {
    // With pruning MIND is stale for unlisted points: recompute it (with the
    // full scan's arithmetic) before choosing the farthest points.
    const dist = spec.vec4
      ? /* wgsl */ `
      for (var t = 0u; t < u.d; t += 4u) {
        let q0 = X[xb + t] - C[cb + t];
        let q1 = X[xb + t + 1u] - C[cb + t + 1u];
        let q2 = X[xb + t + 2u] - C[cb + t + 2u];
        let q3 = X[xb + t + 3u] - C[cb + t + 3u];
        acc = fma(q0, q0, fma(q1, q1, fma(q2, q2, fma(q3, q3, acc))));
      }`
      : /* wgsl */ `
      for (var t = 0u; t < u.d; t++) {
        let q = X[xb + t] - C[cb + t];
        acc = fma(q, q, acc);
      }`;
    const recompute = spec.recompute
      ? /* wgsl */ `
  for (var p = lid; p < u.n; p += 256u) {
    let xb = p * u.d;
    let cb = (run * u.k + u32(LABELS[mb + p])) * u.d;
    var acc = 0.0;
    ${dist}
    MIND[mb + p] = acc;
  }
  storageBarrier();`
      : "";
    // Binding order: X, LABELS, STATE, [C], MIND (written with `recompute`),
    // PART, [ACC, PARTLO]; the read-only ones come first either way.
    const inputs: Record<string, Elem> = { X: "f32", LABELS: "i32", STATE: "f32" };
    const outputs: Record<string, Elem> = {};
    if (spec.recompute) {
      inputs.C = "f32";
      outputs.MIND = "f32";
    } else inputs.MIND = "f32";
    outputs.PART = "f32";
    if (spec.incremental) {
      outputs.ACC = "i32";
      outputs.PARTLO = "f32";
    }
    return declare({
      key: `kmeans_relocate${spec.recompute ? `/recompute${spec.vec4 ? "/vec4" : ""}` : ""}${
        spec.incremental ? "/incremental" : ""
      }`,
      inputs,
      outputs,
      uniforms: { n: "u32", k: "u32", d: "u32", chunks: "u32", gate: "u32", np: "u32" },
      body: /* wgsl */ `
var<workgroup> gate_flag: u32;
var<workgroup> flag: u32;
var<workgroup> far: u32;
var<workgroup> shd: array<f32, 256>;
var<workgroup> shi: array<u32, 256>;
fn better(d0: f32, i0: u32, d1: f32, i1: u32) -> bool {
  return d0 > d1 || (d0 == d1 && i0 < i1);
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  ${GATE}
  let w = u.d + 1u;
  let mb = run * u.np;
  // Chunk 0 of this run's partials, and the count of cluster j over all chunks.
  let p0 = run * u.chunks * u.k * w;
  if (lid == 0u) {
    flag = 0u;
    for (var j = 0u; j < u.k; j++) {
      var cnt = 0.0;
      for (var c = 0u; c < u.chunks; c++) { cnt += PART[p0 + (c * u.k + j) * w + u.d]; }
      if (cnt == 0.0) { flag = 1u; }
    }
  }
  if (workgroupUniformLoad(&flag) == 0u) { return; }
  ${recompute}
  var havePrev = false;
  var prevD = 0.0;
  var prevI = 0u;
  for (var j = 0u; j < u.k; j++) {
    if (lid == 0u) {
      var cnt = 0.0;
      for (var c = 0u; c < u.chunks; c++) { cnt += PART[p0 + (c * u.k + j) * w + u.d]; }
      flag = select(0u, 1u, cnt == 0.0);
    }
    if (workgroupUniformLoad(&flag) == 0u) { continue; }
    var bd = -1.0;
    var bi = 0xffffffffu;
    for (var p = lid; p < u.n; p += 256u) {
      let dp = MIND[mb + p];
      let after = !havePrev || dp < prevD || (dp == prevD && p > prevI);
      if (after && better(dp, p, bd, bi)) { bd = dp; bi = p; }
    }
    shd[lid] = bd;
    shi[lid] = bi;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
      if (lid < h && better(shd[lid + h], shi[lid + h], shd[lid], shi[lid])) {
        shd[lid] = shd[lid + h];
        shi[lid] = shi[lid + h];
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
      for (var t = 0u; t < u.d; t++) { xx += X[shi[0] * u.d + t] * X[shi[0] * u.d + t]; }
      flag = select(0u, 1u, shd[0] <= max(STATE[run * 8u + 5u], 1e-10 * xx));
    }
    if (workgroupUniformLoad(&flag) != 0u) { break; }
    if (lid == 0u) {
      far = shi[0];
      ${spec.incremental ? "ACC[mb + shi[0]] = i32(j);" : ""}
    }
    let fi = workgroupUniformLoad(&far);
    havePrev = true;
    prevD = MIND[mb + fi];
    prevI = fi;
    let old = u32(LABELS[mb + fi]);
    for (var t = lid; t <= u.d; t += 256u) {
      let xv = select(X[fi * u.d + min(t, u.d - 1u)], 1.0, t == u.d);
      PART[p0 + old * w + t] -= xv;
      PART[p0 + j * w + t] = xv;
      ${spec.incremental ? "PARTLO[p0 + j * w + t] = 0.0;" : ""}
    }
    workgroupBarrier();
  }
}`,
    });
  },
);

/**
 * New centres of every run: C[r, j, f] = Σ_c PART[r, c, j, f] / Σ_c PART[r,
 * c, j, d] (the old centre stays if the cluster is still empty), SHIFT[r, j,
 * f] = (C_new − C_old)². In place on C. With `incremental` (running sums, one
 * chunk) the compensation term PARTLO is added to the sum. Bindings: PART,
 * STATE, [PARTLO], C (rw), SHIFT [R, k·d]. Uniform: kd, d, chunks, gate. Dispatch: (ceil(kd / 256) split
 * over x·y, 1, R).
 */
export const updateKernel: (spec: { incremental: boolean }) => DeclaredKernel = family(
  "kmeans_update",
  (spec: { incremental: boolean }) =>
    declare({
      key: `kmeans_update${spec.incremental ? "/incremental" : ""}`,
      inputs: {
        PART: "f32",
        STATE: "f32",
        ...(spec.incremental ? { PARTLO: "f32" } as const : {}),
      },
      outputs: { C: "f32", SHIFT: "f32" },
      uniforms: { kd: "u32", d: "u32", chunks: "u32", gate: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd || (${GATE_DIRECT})) { return; }
  let k = u.kd / u.d;
  let j = e / u.d;
  let f = e - j * u.d;
  let w = u.d + 1u;
  var s = 0.0;
  var cnt = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    let p = ((run * u.chunks + c) * k + j) * w;
    s += PART[p + f]${spec.incremental ? " + PARTLO[p + f]" : ""};
    cnt += PART[p + u.d];
  }
  let o = run * u.kd + e;
  let old = C[o];
  var cn = old;
  if (cnt > 0.0) { cn = s / cnt; }
  C[o] = cn;
  SHIFT[o] = (cn - old) * (cn - old);
}`,
    }),
);

/**
 * End of an iteration, one workgroup per run: inertia = Σ MIND, changed =
 * Σ CHANGED, shift = Σ SHIFT; appends the inertia to HIST and applies
 * scikit-learn's stopping rules (labels unchanged → strict convergence; else
 * shift ≤ tol; or max_iter reached). With `final` set it only stores the
 * inertia (the closing assignment after the loop) and ignores the gate.
 * Bindings: MIND [R, np], CHANGED [R, np], SHIFT [R, kd], STATE (rw), HIST
 * (rw) [R, maxIter]. Uniform: n, kd, maxIter, final, np. Dispatch: (1, 1, R).
 */
export const statsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_stats",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_stats",
      inputs: { MIND: "f32", CHANGED: "u32", SHIFT: "f32" },
      outputs: { STATE: "f32", HIST: "f32" },
      uniforms: { n: "u32", kd: "u32", max_iter: "u32", final_pass: "u32", np: "u32" },
      body: /* wgsl */ `
var<workgroup> flag: u32;
var<workgroup> s_in: array<f32, 256>;
var<workgroup> s_sh: array<f32, 256>;
var<workgroup> s_ch: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let sb = run * 8u;
  if (lid == 0u) { flag = select(0u, 1u, u.final_pass == 0u && STATE[sb] != 0.0); }
  if (workgroupUniformLoad(&flag) != 0u) { return; }
  var a = 0.0;
  var ch = 0u;
  for (var e = lid; e < u.n; e += 256u) { a += MIND[run * u.np + e]; ch += CHANGED[run * u.np + e]; }
  var s = 0.0;
  if (u.final_pass == 0u) {
    for (var e = lid; e < u.kd; e += 256u) { s += SHIFT[run * u.kd + e]; }
  }
  s_in[lid] = a;
  s_sh[lid] = s;
  s_ch[lid] = ch;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) {
      s_in[lid] += s_in[lid + h];
      s_sh[lid] += s_sh[lid + h];
      s_ch[lid] += s_ch[lid + h];
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  let inertia = s_in[0];
  STATE[sb + 2u] = inertia;
  if (u.final_pass != 0u) { return; }
  let it = u32(STATE[sb + 1u]);
  HIST[run * u.max_iter + it] = inertia;
  STATE[sb + 1u] = f32(it + 1u);
  STATE[sb + 3u] = f32(s_ch[0]);
  STATE[sb + 4u] = s_sh[0];
  if (s_ch[0] == 0u) {
    STATE[sb + 6u] = 1.0;
    STATE[sb] = 1.0;
  } else if (s_sh[0] <= STATE[sb + 5u]) {
    STATE[sb] = 1.0;
  }
  if (it + 1u >= u.max_iter) { STATE[sb] = 1.0; }
}`,
    }),
);

/**
 * Resets the states of `runs` runs: tol_abs = tol · mean_f var_f
 * (scikit-learn's `_tolerance`), and flags a non-finite mean or variance
 * (NaN/±Inf anywhere in the data propagates into them). Bindings: MEAN [d],
 * VAR [d], STATE (rw) [R, 8]. Uniform: d, tol, runs. Dispatch: 1 workgroup.
 */
export const resetKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_reset",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_reset",
      inputs: { MEAN: "f32", VAR: "f32" },
      outputs: { STATE: "f32" },
      uniforms: { d: "u32", tol: "f32", runs: "u32" },
      body: /* wgsl */ `
var<workgroup> sv: array<f32, 256>;
var<workgroup> sb: array<u32, 256>;
fn bad(x: f32) -> u32 {
  return select(0u, 1u, (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u);
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var b = 0u;
  for (var f = lid; f < u.d; f += 256u) {
    s += VAR[f];
    b |= bad(MEAN[f]) | bad(VAR[f]);
  }
  sv[lid] = s;
  sb[lid] = b;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) { sv[lid] += sv[lid + h]; sb[lid] |= sb[lid + h]; }
    workgroupBarrier();
  }
  for (var r = lid; r < u.runs; r += 256u) {
    for (var e = 0u; e < 8u; e++) { STATE[r * 8u + e] = 0.0; }
    STATE[r * 8u + 5u] = u.tol * sv[0] / f32(u.d);
    STATE[r * 8u + 7u] = f32(sb[0] | bad(sv[0]));
  }
}`,
    }),
);

/**
 * Gathers rows: C[c, f] = X[IDX[c], f] (random initialisation; c runs over
 * all runs' centres). Bindings: X, IDX u32 [R·k], C. Uniform: total, d.
 * Dispatch: ceil(total / 256).
 */
export const gatherRowsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "gather_rows",
  (_spec: Record<string, never>) =>
    declare({
      key: "gather_rows",
      inputs: { X: "f32", IDX: "u32" },
      outputs: { C: "f32" },
      uniforms: { kd: "u32", d: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd) { return; }
  C[e] = X[IDX[e / u.d] * u.d + e % u.d];
}`,
    }),
);

// ------------------------------------------------------------- k-means++

/**
 * Layout of the batched k-means++ buffers (R runs, L = trials candidates):
 * DC [R, L, n] candidate distances (row SEL[r] of run r doubles as "distance
 * to the nearest centre"), BS [R, L, blocks] block sums, SEL u32 [R],
 * CAND u32 [R, L], RAND [R, (k − 1)·L] uniform draws, FIRST u32 [R].
 */
export const PP_BLOCK = 1024;

/**
 * First k-means++ centre of every run: C[r, 0, :] = x_{FIRST[r]}, SEL[r] = 0
 * and CAND[r, 0] = FIRST[r], so that {@link ppCandDistKernel} in its `first`
 * mode fills row 0 of DC[r] with the distances to it.
 * Bindings: X, FIRST u32 [R], C, SEL u32, CAND u32. Uniform: d, k, trials.
 * Dispatch: (ceil(d / 256), 1, R).
 */
export const ppFirstKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_first",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_first",
      inputs: { X: "f32", FIRST: "u32" },
      outputs: { C: "f32", SEL: "u32", CAND: "u32" },
      uniforms: { d: "u32", k: "u32", trials: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let e = wid.x * 256u + lid;
  let first = FIRST[run];
  if (e < u.d) { C[run * u.k * u.d + e] = X[first * u.d + e]; }
  if (e == 0u) {
    SEL[run] = 0u;
    CAND[run * u.trials] = first;
  }
}`,
    }),
);

/**
 * Block sums of `rows` rows of length n per run: OUT[r, row, b] = Σ IN[r,
 * row, b·1024 .. b·1024+1023], with `rowStride` rows between runs.
 * Bindings: IN, OUT. Uniform: n, blocks, rowStride. Dispatch: (blocks, rows, R).
 */
export const blockSumKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "block_sum",
  (_spec: Record<string, never>) =>
    declare({
      key: "block_sum",
      inputs: { IN: "f32" },
      outputs: { OUT: "f32" },
      uniforms: { n: "u32", blocks: "u32", row_stride: "u32" },
      body: /* wgsl */ `
var<workgroup> sh: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let r = wid.z * u.row_stride + wid.y;
  var s = 0.0;
  for (var q = 0u; q < 4u; q++) {
    let i = b * ${PP_BLOCK}u + q * 256u + lid;
    if (i < u.n) { s += IN[r * u.n + i]; }
  }
  sh[lid] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) { sh[lid] += sh[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) { OUT[r * u.blocks + b] = sh[0]; }
}`,
    }),
);

/**
 * D² sampling of the candidates of one k-means++ step of every run (thread
 * l < L of workgroup r): with the nearest-centre distances in row SEL[r] of
 * DC[r] and its block sums in BS[r], draws ρ = RAND[r, off + l] · Σ D² and
 * finds the first i whose running sum exceeds ρ (scikit-learn's
 * `searchsorted(stable_cumsum(D²), ρ)`, skipping zero-weight points), walking
 * the block sums first and then one block.
 * Bindings: DC, BS, SEL, RAND, CAND u32 [R, L]. Uniform: n, blocks, trials,
 * off, draws (per run). Dispatch: (1, 1, R).
 */
export const ppSearchKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_search",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_search",
      inputs: { DC: "f32", BS: "f32", SEL: "u32", RAND: "f32" },
      outputs: { CAND: "u32" },
      uniforms: { n: "u32", blocks: "u32", trials: "u32", off: "u32", draws: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (lid >= u.trials) { return; }
  let run = wid.z;
  let row = run * u.trials + SEL[run];
  var pot = 0.0;
  for (var b = 0u; b < u.blocks; b++) { pot += BS[row * u.blocks + b]; }
  let r = RAND[run * u.draws + u.off + lid] * pot;
  var cum = 0.0;
  var blk = u.blocks - 1u;
  for (var b = 0u; b < u.blocks; b++) {
    let s = BS[row * u.blocks + b];
    if (cum + s > r) { blk = b; break; }
    cum += s;
  }
  let i0 = blk * ${PP_BLOCK}u;
  let i1 = min(u.n, i0 + ${PP_BLOCK}u);
  var pick = i1 - 1u;
  var lastPos = pick;
  var found = false;
  for (var i = i0; i < i1; i++) {
    let w = DC[row * u.n + i];
    if (w > 0.0) { lastPos = i; }
    cum += w;
    if (cum > r && w > 0.0) { pick = i; found = true; break; }
  }
  if (!found) { pick = lastPos; }
  CAND[run * u.trials + lid] = pick;
}`,
    }),
);

/** Specialisation of {@link ppCandDistKernel}. */
export interface CandDistSpec {
  /** Candidates per pass over a row (unrolled accumulators, ≤ 8). */
  lb: number;
  /** Read X as vec4 (d a multiple of 4). */
  vec4: boolean;
  /** Rows per thread (register tile; 4 on CPU adapters, 1 on GPUs). */
  rows: number;
}

/**
 * Candidate distances of every run: DC[r, l, i] = min(DC[r, SEL[r], i],
 * ‖x_i − x_{CAND[r, l]}‖²) for l < count, each thread reading its
 * nearest-centre distances before overwriting its columns. With `first` set
 * there is nothing to take the minimum with (the first centre: count = 1).
 * A thread keeps `rows` × `lb` accumulators and walks its rows once per `lb`
 * candidates, as vec4 where d allows (the assignment kernel's register tile).
 * Bindings: X, CAND, SEL, DC (rw). Uniform: n, d, trials, count, first.
 * Dispatch: (ceil(n / (64 · rows)) split over x·y, 1, R).
 */
export const ppCandDistKernel: (spec: CandDistSpec) => DeclaredKernel = family(
  "kmeanspp_cand_dist",
  (spec: CandDistSpec) => {
    const ls = Array.from({ length: spec.lb }, (_, l) => l);
    const rs = Array.from({ length: spec.rows }, (_, r) => r);
    const T = spec.vec4 ? "vec4f" : "f32";
    const sq = (r: number, l: number) =>
      spec.vec4
        ? `{ let q = a${r} - b${l}; s${r}_${l} = fma(q.x, q.x, fma(q.y, q.y, fma(q.z, q.z, fma(q.w, q.w, s${r}_${l})))); }`
        : `{ let q = a${r} - b${l}; s${r}_${l} = fma(q, q, s${r}_${l}); }`;
    return declare({
      key: `kmeanspp_cand_dist/${spec.lb}/r${spec.rows}${spec.vec4 ? "/vec4" : ""}`,
      inputs: { X: T, CAND: "u32", SEL: "u32" },
      outputs: { DC: "f32" },
      uniforms: { n: "u32", d: "u32", trials: "u32", count: "u32", first: "u32" },
      body: /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let i0 = ((wid.y * nwg.x + wid.x) * 64u + lid) * ${spec.rows}u;
  if (i0 >= u.n) { return; }
  let dl = ${spec.vec4 ? "u.d / 4u" : "u.d"};
  let base = run * u.trials;
  let sel = SEL[run];
  // Rows past n are clamped to row n − 1 (computed, never stored).
  ${
        rs.map((r) =>
          `let x${r} = min(i0 + ${r}u, u.n - 1u) * dl;
  var near${r} = 3.4e38;
  if (u.first == 0u) { near${r} = DC[(base + sel) * u.n + min(i0 + ${r}u, u.n - 1u)]; }`
        ).join("\n  ")
      }
  for (var l0 = 0u; l0 < u.count; l0 += ${spec.lb}u) {
    ${
        ls.map((l) =>
          `let c${l} = CAND[base + min(l0 + ${l}u, u.count - 1u)] * dl; ${
            rs.map((r) => `var s${r}_${l} = 0.0;`).join(" ")
          }`
        ).join("\n    ")
      }
    for (var t = 0u; t < dl; t++) {
      ${rs.map((r) => `let a${r} = X[x${r} + t];`).join(" ")}
      ${ls.map((l) => `let b${l} = X[c${l} + t];`).join(" ")}
      ${rs.map((r) => ls.map((l) => sq(r, l)).join("\n      ")).join("\n      ")}
    }
    ${
        rs.map((r) =>
          ls.map((l) =>
            `if (l0 + ${l}u < u.count && i0 + ${r}u < u.n) { DC[(base + l0 + ${l}u) * u.n + i0 + ${r}u] = min(near${r}, s${r}_${l}); }`
          ).join("\n    ")
        ).join("\n    ")
      }
  }
}`,
    });
  },
);

/**
 * Greedy choice among the candidates of every run: the one with the smallest
 * potential Σ_i min(D²_i, ‖x_i − x_cand‖²) (first on ties, as `argmin`)
 * becomes centre `c`; SEL[r] names its row of DC[r] for the next step.
 * Bindings: BS [R, L, blocks], CAND, X, C (rw), SEL (rw). Uniform: blocks,
 * trials, d, c, k. Dispatch: (1, 1, R).
 */
export const ppSelectKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_select",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_select",
      inputs: { BS: "f32", CAND: "u32", X: "f32" },
      outputs: { C: "f32", SEL: "u32" },
      uniforms: { blocks: "u32", trials: "u32", d: "u32", c: "u32", k: "u32" },
      body: /* wgsl */ `
var<workgroup> pots: array<f32, 64>;
var<workgroup> bestRow: u32;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let run = wid.z;
  let base = run * u.trials;
  if (lid < u.trials) {
    var s = 0.0;
    for (var b = 0u; b < u.blocks; b++) { s += BS[(base + lid) * u.blocks + b]; }
    pots[lid] = s;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var best = 0u;
    for (var l = 1u; l < u.trials; l++) { if (pots[l] < pots[best]) { best = l; } }
    bestRow = best;
    SEL[run] = best;
  }
  let best = workgroupUniformLoad(&bestRow);
  let src = CAND[base + best];
  let cb = (run * u.k + u.c) * u.d;
  for (var f = lid; f < u.d; f += 256u) { C[cb + f] = X[src * u.d + f]; }
}`,
    }),
);
