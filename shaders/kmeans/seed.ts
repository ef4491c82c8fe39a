/**
 * k-means seeding on the GPU, batched over runs: random rows
 * ({@link gatherRowsKernel}) and scikit-learn's greedy k-means++, whose D²
 * sampling runs without any readback.
 *
 * k-means++ per new centre, for all runs at once:
 * {@link sampleCandidatesKernel} (D² sampling of the candidates from the
 * block sums of the nearest-centre distances) → {@link candidateDistancesKernel}
 * (each point's distance to the nearest centre if each candidate were
 * added) → {@link blockSumsKernel} (their block sums, i.e. each candidate's
 * potential) → {@link selectCandidateKernel} (the candidate of least
 * potential becomes the centre). {@link seedFirstKernel} starts it.
 *
 * Buffers (R runs, L = trials candidates): DIST [R, L, n] candidate
 * distances — row NEAREST_ROW[r] of run r doubles as "distance to the
 * nearest centre", so nothing is copied between steps; BLOCK_SUMS [R, L,
 * blocks] their sums over blocks of {@link PP_BLOCK} points; NEAREST_ROW u32
 * [R]; CANDIDATES u32 [R, L] candidate rows of X; DRAWS [R, (k − 1)·L]
 * uniform draws from the host; FIRST u32 [R] the first centre's row.
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";

/**
 * Gathers rows: C[c, f] = X[IDX[c], f] (random initialisation; c runs over
 * all runs' centres). Bindings: X, IDX u32 [R·k], C. Uniform: kd (all runs'
 * centre elements), d. Dispatch: ceil(kd / 256).
 */
export const gatherRowsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "gather_rows",
  (_spec: Record<string, never>) =>
    declare({
      key: "gather_rows",
      inputs: { X: "f32", IDX: "u32" },
      outputs: { C: "f32" },
      uniforms: { kd: "u32", d: "u32" },
      entry: {
        workgroupSize: 256,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
      },
      main: /* wgsl */ `
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd) { return; }
  C[e] = X[IDX[e / u.d] * u.d + e % u.d];`,
    }),
);

/** Points per block of the k-means++ block sums (the search walks blocks, then one block). */
export const PP_BLOCK = 1024;

/**
 * First k-means++ centre of every run: C[r, 0, :] = x_{FIRST[r]},
 * NEAREST_ROW[r] = 0 and CANDIDATES[r, 0] = FIRST[r], so that
 * {@link candidateDistancesKernel} in its `first` mode fills row 0 of DIST[r]
 * with the distances to it.
 * Bindings: X, FIRST u32 [R], C, NEAREST_ROW u32, CANDIDATES u32. Uniform: d,
 * k, trials. Dispatch: (ceil(d / 256), 1, R).
 */
export const seedFirstKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_first",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_first",
      inputs: { X: "f32", FIRST: "u32" },
      outputs: { C: "f32", NEAREST_ROW: "u32", CANDIDATES: "u32" },
      uniforms: { d: "u32", k: "u32", trials: "u32" },
      entry: { workgroupSize: 256, builtins: ["workgroup_id", "local_invocation_index"] },
      main: /* wgsl */ `
  let run = wid.z;
  let e = wid.x * 256u + lid;
  let first = FIRST[run];
  if (e < u.d) { C[run * u.k * u.d + e] = X[first * u.d + e]; }
  if (e == 0u) {
    NEAREST_ROW[run] = 0u;
    CANDIDATES[run * u.trials] = first;
  }`,
    }),
);

/**
 * Block sums of `rows` rows of length n per run: OUT[r, row, b] = Σ IN[r,
 * row, b·1024 .. b·1024+1023], with `row_stride` rows between runs.
 * Bindings: IN, OUT. Uniform: n, blocks, row_stride. Dispatch: (blocks, rows, R).
 */
export const blockSumsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "block_sum",
  (_spec: Record<string, never>) =>
    declare({
      key: "block_sum",
      inputs: { IN: "f32" },
      outputs: { OUT: "f32" },
      uniforms: { n: "u32", blocks: "u32", row_stride: "u32" },
      entry: { workgroupSize: 256, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> partial: array<f32, 256>;`,
      main: /* wgsl */ `
  let b = wid.x;
  let r = wid.z * u.row_stride + wid.y;
  var s = 0.0;
  for (var q = 0u; q < 4u; q++) {
    let i = b * ${PP_BLOCK}u + q * 256u + lid;
    if (i < u.n) { s += IN[r * u.n + i]; }
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) { partial[lid] += partial[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) { OUT[r * u.blocks + b] = partial[0]; }`,
    }),
);

/**
 * D² sampling of the candidates of one k-means++ step of every run (thread
 * l < L of workgroup r): with the nearest-centre distances in row
 * NEAREST_ROW[r] of DIST[r] and its block sums in BLOCK_SUMS[r], draws
 * ρ = DRAWS[r, off + l] · Σ D² and finds the first i whose running sum
 * exceeds ρ (scikit-learn's `searchsorted(stable_cumsum(D²), ρ)`, skipping
 * zero-weight points), walking the block sums first and then one block.
 * Bindings: DIST, BLOCK_SUMS, NEAREST_ROW, DRAWS, CANDIDATES u32 [R, L].
 * Uniform: n, blocks, trials, off, draws (per run). Dispatch: (1, 1, R).
 */
export const sampleCandidatesKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_search",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_search",
      inputs: { DIST: "f32", BLOCK_SUMS: "f32", NEAREST_ROW: "u32", DRAWS: "f32" },
      outputs: { CANDIDATES: "u32" },
      uniforms: { n: "u32", blocks: "u32", trials: "u32", off: "u32", draws: "u32" },
      entry: { workgroupSize: 64, builtins: ["workgroup_id", "local_invocation_index"] },
      main: /* wgsl */ `
  if (lid >= u.trials) { return; }
  let run = wid.z;
  let row = run * u.trials + NEAREST_ROW[run];
  var potential = 0.0;
  for (var b = 0u; b < u.blocks; b++) { potential += BLOCK_SUMS[row * u.blocks + b]; }
  let r = DRAWS[run * u.draws + u.off + lid] * potential;
  var cum = 0.0;
  var hit_block = u.blocks - 1u;
  for (var b = 0u; b < u.blocks; b++) {
    let s = BLOCK_SUMS[row * u.blocks + b];
    if (cum + s > r) { hit_block = b; break; }
    cum += s;
  }
  let i0 = hit_block * ${PP_BLOCK}u;
  let i1 = min(u.n, i0 + ${PP_BLOCK}u);
  var pick = i1 - 1u;
  var last_positive = pick;
  var found = false;
  for (var i = i0; i < i1; i++) {
    let w = DIST[row * u.n + i];
    if (w > 0.0) { last_positive = i; }
    cum += w;
    if (cum > r && w > 0.0) { pick = i; found = true; break; }
  }
  if (!found) { pick = last_positive; }
  CANDIDATES[run * u.trials + lid] = pick;`,
    }),
);

/** Specialisation of {@link candidateDistancesKernel}. */
export interface CandDistSpec {
  /** Candidates per pass over a row (unrolled accumulators, ≤ 8). */
  perPass: number;
  /** Read X as vec4 (d a multiple of 4). */
  vec4: boolean;
  /** Rows per thread (register tile; 4 on CPU adapters, 1 on GPUs). */
  rows: number;
}

/**
 * Candidate distances of every run: DIST[r, l, i] = min(DIST[r,
 * NEAREST_ROW[r], i], ‖x_i − x_{CANDIDATES[r, l]}‖²) for l < count, each
 * thread reading its nearest-centre distances before overwriting its
 * columns. With `first` set there is nothing to take the minimum with (the
 * first centre: count = 1). A thread keeps `rows` × `perPass` accumulators
 * and walks its rows once per `perPass` candidates, as vec4 where d allows
 * (the assignment kernel's register tile).
 * Bindings: X, CANDIDATES, NEAREST_ROW, DIST (rw). Uniform: n, d, trials,
 * count, first. Dispatch: (ceil(n / (64 · rows)) split over x·y, 1, R).
 */
export const candidateDistancesKernel: (spec: CandDistSpec) => DeclaredKernel = family(
  "kmeanspp_cand_dist",
  (spec: CandDistSpec) => {
    const ls = Array.from({ length: spec.perPass }, (_, l) => l);
    const rs = Array.from({ length: spec.rows }, (_, r) => r);
    const T = spec.vec4 ? "vec4f" : "f32";
    const sq = (r: number, l: number) =>
      spec.vec4
        ? `{ let q = a${r} - b${l}; s${r}_${l} = fma(q.x, q.x, fma(q.y, q.y, fma(q.z, q.z, fma(q.w, q.w, s${r}_${l})))); }`
        : `{ let q = a${r} - b${l}; s${r}_${l} = fma(q, q, s${r}_${l}); }`;
    return declare({
      key: `kmeanspp_cand_dist/${spec.perPass}/r${spec.rows}${spec.vec4 ? "/vec4" : ""}`,
      inputs: { X: T, CANDIDATES: "u32", NEAREST_ROW: "u32" },
      outputs: { DIST: "f32" },
      uniforms: { n: "u32", d: "u32", trials: "u32", count: "u32", first: "u32" },
      entry: {
        workgroupSize: 64,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
      },
      main: /* wgsl */ `
  let run = wid.z;
  let i0 = ((wid.y * nwg.x + wid.x) * 64u + lid) * ${spec.rows}u;
  if (i0 >= u.n) { return; }
  let row_len = ${spec.vec4 ? "u.d / 4u" : "u.d"};
  let base = run * u.trials;
  let nearest_row = NEAREST_ROW[run];
  // Rows past n are clamped to row n − 1 (computed, never stored).
  ${
        rs.map((r) =>
          `let x${r} = min(i0 + ${r}u, u.n - 1u) * row_len;
  var near${r} = 3.4e38;
  if (u.first == 0u) { near${r} = DIST[(base + nearest_row) * u.n + min(i0 + ${r}u, u.n - 1u)]; }`
        ).join("\n  ")
      }
  for (var l0 = 0u; l0 < u.count; l0 += ${spec.perPass}u) {
    ${
        ls.map((l) =>
          `let c${l} = CANDIDATES[base + min(l0 + ${l}u, u.count - 1u)] * row_len; ${
            rs.map((r) => `var s${r}_${l} = 0.0;`).join(" ")
          }`
        ).join("\n    ")
      }
    for (var t = 0u; t < row_len; t++) {
      ${rs.map((r) => `let a${r} = X[x${r} + t];`).join(" ")}
      ${ls.map((l) => `let b${l} = X[c${l} + t];`).join(" ")}
      ${rs.map((r) => ls.map((l) => sq(r, l)).join("\n      ")).join("\n      ")}
    }
    ${
        rs.map((r) =>
          ls.map((l) =>
            `if (l0 + ${l}u < u.count && i0 + ${r}u < u.n) { DIST[(base + l0 + ${l}u) * u.n + i0 + ${r}u] = min(near${r}, s${r}_${l}); }`
          ).join("\n    ")
        ).join("\n    ")
      }
  }`,
    });
  },
);

/**
 * Greedy choice among the candidates of every run: the one with the smallest
 * potential Σ_i min(D²_i, ‖x_i − x_cand‖²) (first on ties, as `argmin`)
 * becomes centre `c`; NEAREST_ROW[r] names its row of DIST[r] for the next
 * step. Bindings: BLOCK_SUMS [R, L, blocks], CANDIDATES, X, C (rw),
 * NEAREST_ROW (rw). Uniform: blocks, trials, d, c, k. Dispatch: (1, 1, R).
 */
export const selectCandidateKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeanspp_select",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeanspp_select",
      inputs: { BLOCK_SUMS: "f32", CANDIDATES: "u32", X: "f32" },
      outputs: { C: "f32", NEAREST_ROW: "u32" },
      uniforms: { blocks: "u32", trials: "u32", d: "u32", c: "u32", k: "u32" },
      entry: { workgroupSize: 256, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> potentials: array<f32, 64>;
var<workgroup> best_row: u32;`,
      main: /* wgsl */ `
  let run = wid.z;
  let base = run * u.trials;
  if (lid < u.trials) {
    var s = 0.0;
    for (var b = 0u; b < u.blocks; b++) { s += BLOCK_SUMS[(base + lid) * u.blocks + b]; }
    potentials[lid] = s;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var best = 0u;
    for (var l = 1u; l < u.trials; l++) { if (potentials[l] < potentials[best]) { best = l; } }
    best_row = best;
    NEAREST_ROW[run] = best;
  }
  let best = workgroupUniformLoad(&best_row);
  let src = CANDIDATES[base + best];
  let centre = (run * u.k + u.c) * u.d;
  for (var f = lid; f < u.d; f += 256u) { C[centre + f] = X[src * u.d + f]; }`,
    }),
);
