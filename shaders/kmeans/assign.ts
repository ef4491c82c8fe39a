/**
 * The k-means assignment step: every point's nearest centre in every run,
 * its squared distance, and whether its label changed.
 *
 * Two layouts: on GPUs the shared pairwise core of `shaders/distance.ts`
 * (operands staged through workgroup memory, one row per thread); on CPU
 * adapters (lavapipe, SwiftShader) a direct register tile (several rows ×
 * up to 10 centres per thread, vec4 loads), whose rows come from a row list
 * — every row, or the candidates left by Hamerly's bounds test
 * (`shaders/kmeans/prune.ts`) — and which also refreshes those rows' bounds.
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";
import { pairwiseMain } from "../distance.ts";
import { GATE, GATE_DIRECT } from "./state.ts";

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
   * from `pruneKernel`, or a list of all rows shared by the runs — and
   * also store their bounds (distances to the nearest and second-nearest
   * centre). Extra bindings: LIST after STATE, BOUNDS last; extra uniform
   * `list_stride`, the list's stride between runs (0: shared). Several rows
   * per thread need a list: with rows computed from the thread index,
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
const ASSIGN_OUTPUTS = { LABELS: "i32", MIN_DIST: "f32", CHANGED: "u32" } as const;
/** The assignment kernels' uniform fields (the list variant adds `list_stride`). */
const ASSIGN_FIELDS = { n: "u32", k: "u32", d: "u32", gate: "u32", row_stride: "u32" } as const;

/**
 * Assignment step of every run: labels[r, i] = argmin_j ‖x_i − c_{r,j}‖²
 * (lowest j on ties), min_dist[r, i] = that distance, changed[r, i] = label
 * differs from the previous one. Distances are Σ (x − c)², no expansion.
 * Bindings: X [n, d], C [R, k, d] (named A and B in the staged variant,
 * the pairwise core's names), STATE [R, 8], LABELS i32 [R, row_stride]
 * (read-write), MIN_DIST [R, row_stride], CHANGED u32 [R, row_stride]
 * (row_stride ≥ n: the per-run stride). Uniform: n, k, d, gate, row_stride.
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
    helpers: "var<workgroup> gate_flag: u32;",
    ...pairwiseMain({ combine: "sqdist", tj: spec.tj, tf: spec.tf, stage: true, batched: true }, {
      prelude: GATE,
      before: "var best = 3.4e38; var best_j = 0u;",
      each: "if (v < best) { best = v; best_j = j; }",
      after: /* wgsl */ `
  if (valid) {
    let label = i32(best_j);
    let o = run * u.row_stride + i;
    CHANGED[o] = select(0u, 1u, LABELS[o] != label);
    LABELS[o] = label;
    MIN_DIST[o] = best;
  }`,
    }),
  });
}

function directAssign(spec: AssignSpec): DeclaredKernel {
  const { key, T, main } = directAssignMain(spec);
  // The row-list variant reads LIST after STATE, stores bounds, and takes the list's stride.
  return declare({
    key,
    inputs: spec.list ? { X: T, C: T, STATE: "f32", LIST: "u32" } : { X: T, C: T, STATE: "f32" },
    outputs: spec.list ? { ...ASSIGN_OUTPUTS, BOUNDS: "vec2f" } : ASSIGN_OUTPUTS,
    uniforms: spec.list ? { ...ASSIGN_FIELDS, list_stride: "u32" } : ASSIGN_FIELDS,
    entry: {
      workgroupSize: ASSIGN_WG,
      builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
    },
    main,
  });
}

/** The direct assignment's key, X and C's element type, and the statements of its `main`. */
function directAssignMain(spec: AssignSpec): { key: string; T: "f32" | "vec4f"; main: string } {
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
  let list_base = run * u.list_stride;
  let listed = LIST[list_base];
  let p0 = ((wid.y * nwg.x + wid.x) * ${ASSIGN_WG}u + lid) * ${rm}u;
  if (p0 >= listed || (${GATE_DIRECT})) { return; }
  // Entries past the count repeat the last one (computed, never stored).
  ${rs.map((r) => `let i${r} = LIST[list_base + 4u + min(p0 + ${r}u, listed - 1u)];`).join(" ")}
  ${rs.map((r) => `let ok${r} = p0 + ${r}u < listed;`).join(" ")}`
    : /* wgsl */ `
  let i0 = (wid.y * nwg.x + wid.x) * ${ASSIGN_WG}u + lid;
  if (i0 >= u.n || (${GATE_DIRECT})) { return; }
  let ok0 = true;`;
  const better = (r: number, j: number) =>
    list
      ? `if (${j}u < jn) {
      let v = acc${r}_${j};
      if (v < best${r}) { second${r} = best${r}; best${r} = v; best_j${r} = j0 + ${j}u; } else if (v < second${r}) { second${r} = v; }
    }`
      : `if (${j}u < jn && acc${r}_${j} < best${r}) { best${r} = acc${r}_${j}; best_j${r} = j0 + ${j}u; }`;
  return {
    key: `kmeans_assign/${tj}/direct/r${rm}${v4 ? "/vec4" : ""}${list ? "/list" : ""}`,
    T,
    main: /* wgsl */ `
  let run = wid.z;
  ${rowsOf}
  let row_len = ${v4 ? "u.d / 4u" : "u.d"};
  let centre_base = run * u.k * row_len;
  ${
      rs.map((r) =>
        `let x${r} = i${r} * row_len; var best${r} = 3.4e38; var best_j${r} = 0u;${
          list ? ` var second${r} = 3.4e38;` : ""
        }`
      ).join("\n  ")
    }
  for (var j0 = 0u; j0 < u.k; j0 += ${tj}u) {
    ${rs.map((r) => js.map((j) => `var acc${r}_${j} = 0.0;`).join(" ")).join("\n    ")}
    // Centres past k are clamped to centre k − 1 (computed, never chosen).
    ${js.map((j) => `let b${j} = centre_base + min(j0 + ${j}u, u.k - 1u) * row_len;`).join(" ")}
    for (var t = 0u; t < row_len; t++) {
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
    let o = run * u.row_stride + i${r};
    let label = i32(best_j${r});
    CHANGED[o] = select(0u, 1u, LABELS[o] != label);
    LABELS[o] = label;
    MIN_DIST[o] = best${r};${
          list ? `\n    BOUNDS[o] = vec2f(sqrt(best${r}), sqrt(second${r}));` : ""
        }
  }`
      ).join("\n  ")
    }`,
  };
}
