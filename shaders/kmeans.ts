/**
 * k-means on the GPU: Lloyd's assignment and centroid update, scikit-learn's
 * empty-cluster relocation, convergence bookkeeping, and greedy k-means++
 * seeding — all without float atomics, so every run on one adapter is
 * bit-for-bit reproducible.
 *
 * One Lloyd iteration is seven dispatches and no readback:
 * `kmeans_assign` (nearest centre, distance, changed flag per point) →
 * `cluster_sums` (partial per-cluster sums over chunks of points) →
 * `chunk_sum` ×2 (sums, counts) → `kmeans_relocate` (empty clusters) →
 * `kmeans_update` (new centres, per-element shift²) → `kmeans_stats`
 * (inertia, #changed, Σ shift², convergence test). The state vector lives on
 * the GPU (layout {@link KMEANS_STATE}); once it says "done", every gated
 * kernel of later iterations returns at once, so the host may record many
 * iterations ahead and read the 32-byte state only now and then.
 *
 * The gate uses `workgroupUniformLoad` so that the early return is uniform
 * and the barriers after it stay valid.
 * @module
 */
import { family, type Kernel, kernel } from "./common.ts";
import { pairwiseMain } from "./distance.ts";

/** Slots of the f32 state vector shared by the k-means kernels and the host. */
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

/** Length of the state vector. */
export const KMEANS_STATE_SIZE = 8;

/** WGSL: returns early (uniformly) when the gate is on and the state says done. */
const GATE = /* wgsl */ `
  if (lid == 0u) { gate_flag = select(0u, 1u, u.gate != 0u && STATE[0] != 0.0); }
  if (workgroupUniformLoad(&gate_flag) != 0u) { return; }`;

/**
 * Assignment step: labels[i] = argmin_j ‖x_i − c_j‖² (lowest j on ties),
 * mind[i] = that distance, changed[i] = label differs from the previous one.
 * Bindings: X [n, d], C [k, d], STATE, LABELS i32 (read-write), MIND, CHANGED u32.
 * Uniform: n, k, d, gate. Dispatch: ceil(n / 64). Spec: `tj`, `tf` (see `pairTiles`).
 */
export const assignKernel: (spec: { tj: number; tf: number; stage: boolean }) => Kernel = family(
  "kmeans_assign",
  (spec: { tj: number; tf: number; stage: boolean }) =>
    kernel(
      `kmeans_assign/${spec.tj}x${spec.tf}${spec.stage ? "" : "/direct"}`,
      /* wgsl */ `
struct U { n: u32, k: u32, d: u32, gate: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> STATE: array<f32>;
@group(0) @binding(3) var<storage, read_write> LABELS: array<i32>;
@group(0) @binding(4) var<storage, read_write> MIND: array<f32>;
@group(0) @binding(5) var<storage, read_write> CHANGED: array<u32>;
@group(0) @binding(6) var<uniform> u: U;
var<workgroup> gate_flag: u32;
${
        pairwiseMain({ combine: "sqdist", ...spec }, {
          prelude: GATE,
          before: "var best = 3.4e38; var bestj = 0u;",
          each: "if (v < best) { best = v; bestj = j; }",
          after: /* wgsl */ `
  if (valid) {
    let lab = i32(bestj);
    CHANGED[i] = select(0u, 1u, LABELS[i] != lab);
    LABELS[i] = lab;
    MIND[i] = best;
  }`,
        })
      }`,
      ["read", "read", "read", "write", "write", "write"],
    ),
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
 * then adds the chunks. This is the k-means centroid update, the per-centre
 * gradient of the soft assignment (Σ_i H_ij (z_i − μ_j)), column means and
 * variances, and DEC's cluster frequencies.
 *
 * Bindings: X, [W or LABELS], [M], [STATE], PART, WPART. Uniform: n, d, k,
 * chunk, gate. Dispatch: (nChunks, k, ceil(d / fc)).
 */
export const clusterSumsKernel: (spec: ClusterSumsSpec) => Kernel = family(
  "cluster_sums",
  (spec: ClusterSumsSpec) => {
    const fc = spec.fc, lanes = SUMS_WG / fc;
    if (!Number.isInteger(Math.log2(fc)) || fc > 64) {
      throw new Error(`cluster_sums: fc must be a power of two ≤ 64, got ${fc}`);
    }
    const binds: [string, string][] = [["X", "f32"]];
    if (spec.weight === "labels") binds.push(["LABELS", "i32"]);
    if (spec.weight === "dense") binds.push(["W", "f32"]);
    if (spec.value !== "x") binds.push(["M", "f32"]);
    if (spec.gated) binds.push(["STATE", "f32"]);
    const decl = binds.map(([n, t], b) =>
      `@group(0) @binding(${b}) var<storage, read> ${n}: array<${t}>;`
    ).join("\n");
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
    return kernel(
      `cluster_sums/${spec.weight}/${spec.value}/fc${fc}${spec.gated ? "/gated" : ""}`,
      /* wgsl */ `
struct U { n: u32, d: u32, k: u32, chunk: u32, gate: u32 }
${decl}
@group(0) @binding(${binds.length}) var<storage, read_write> PART: array<f32>;
@group(0) @binding(${binds.length + 1}) var<storage, read_write> WPART: array<f32>;
@group(0) @binding(${binds.length + 2}) var<uniform> u: U;
const FC = ${fc}u;
const LANES = ${lanes}u;
var<workgroup> sh: array<f32, ${SUMS_WG}>;
var<workgroup> shw: array<f32, ${SUMS_WG}>;
var<workgroup> gate_flag: u32;
fn sq(x: f32) -> f32 { return x * x; }
@compute @workgroup_size(${SUMS_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${spec.gated ? GATE : ""}
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
      [...binds.map(() => "read" as const), "write", "write"],
    );
  },
);

/**
 * Adds the chunks of {@link clusterSumsKernel}: OUT[e] = scale · Σ_c PART[c·E + e].
 * Bindings: PART, OUT. Uniform: E, chunks, scale. Dispatch: ceil(E / 256).
 */
export const chunkSumKernel: (spec: Record<string, never>) => Kernel = family(
  "chunk_sum",
  (_spec: Record<string, never>) =>
    kernel(
      "chunk_sum",
      /* wgsl */ `
struct U { e: u32, chunks: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.e) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += PART[c * u.e + e]; }
  OUT[e] = s * u.scale;
}`,
      ["read", "write"],
    ),
);

/**
 * Empty clusters, as scikit-learn's `_relocate_empty_clusters_dense`: the
 * m-th empty cluster (in index order) takes the m-th farthest point from its
 * own centre (distance descending, index ascending), which also leaves its old
 * cluster. Works on the unnormalised sums and counts, before the division.
 * Returns at once when no cluster is empty (the usual case).
 * Bindings: X, MIND, LABELS, STATE, SUMS (rw), COUNTS (rw). Uniform: n, k, d,
 * gate. Dispatch: 1 workgroup.
 */
export const relocateKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeans_relocate",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeans_relocate",
      /* wgsl */ `
struct U { n: u32, k: u32, d: u32, gate: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> MIND: array<f32>;
@group(0) @binding(2) var<storage, read> LABELS: array<i32>;
@group(0) @binding(3) var<storage, read> STATE: array<f32>;
@group(0) @binding(4) var<storage, read_write> SUMS: array<f32>;
@group(0) @binding(5) var<storage, read_write> COUNTS: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
var<workgroup> gate_flag: u32;
var<workgroup> flag: u32;
var<workgroup> far: u32;
var<workgroup> shd: array<f32, 256>;
var<workgroup> shi: array<u32, 256>;
fn better(d0: f32, i0: u32, d1: f32, i1: u32) -> bool {
  return d0 > d1 || (d0 == d1 && i0 < i1);
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  ${GATE}
  if (lid == 0u) {
    flag = 0u;
    for (var j = 0u; j < u.k; j++) { if (COUNTS[j] == 0.0) { flag = 1u; } }
  }
  if (workgroupUniformLoad(&flag) == 0u) { return; }
  var havePrev = false;
  var prevD = 0.0;
  var prevI = 0u;
  for (var j = 0u; j < u.k; j++) {
    if (lid == 0u) { flag = select(0u, 1u, COUNTS[j] == 0.0); }
    if (workgroupUniformLoad(&flag) == 0u) { continue; }
    var bd = -1.0;
    var bi = 0xffffffffu;
    for (var p = lid; p < u.n; p += 256u) {
      let dp = MIND[p];
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
    if (lid == 0u) {
      far = shi[0];
      let old = LABELS[far];
      COUNTS[old] -= 1.0;
      COUNTS[j] = 1.0;
    }
    let fi = workgroupUniformLoad(&far);
    havePrev = true;
    prevD = MIND[fi];
    prevI = fi;
    let old = u32(LABELS[fi]);
    for (var t = lid; t < u.d; t += 256u) {
      let xv = X[fi * u.d + t];
      SUMS[old * u.d + t] -= xv;
      SUMS[j * u.d + t] = xv;
    }
    workgroupBarrier();
  }
}`,
      ["read", "read", "read", "read", "write", "write"],
    ),
);

/**
 * New centres: C[j, f] = SUMS[j, f] / COUNTS[j] (the old centre stays if the
 * cluster is still empty), SHIFT[j, f] = (C_new − C_old)². In place on C.
 * Bindings: SUMS, COUNTS, STATE, C (rw), SHIFT. Uniform: kd, d, gate.
 * Dispatch: ceil(kd / 256).
 */
export const updateKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeans_update",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeans_update",
      /* wgsl */ `
struct U { kd: u32, d: u32, gate: u32 }
@group(0) @binding(0) var<storage, read> SUMS: array<f32>;
@group(0) @binding(1) var<storage, read> COUNTS: array<f32>;
@group(0) @binding(2) var<storage, read> STATE: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> SHIFT: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd || (u.gate != 0u && STATE[0] != 0.0)) { return; }
  let cnt = COUNTS[e / u.d];
  let old = C[e];
  var c = old;
  if (cnt > 0.0) { c = SUMS[e] / cnt; }
  C[e] = c;
  SHIFT[e] = (c - old) * (c - old);
}`,
      ["read", "read", "read", "write", "write"],
    ),
);

/**
 * End of an iteration, one workgroup: inertia = Σ MIND, changed = Σ CHANGED,
 * shift = Σ SHIFT; appends the inertia to HIST and applies scikit-learn's
 * stopping rules (labels unchanged → strict convergence; else shift ≤ tol;
 * or max_iter reached). With `final` set it only stores the inertia (the
 * closing assignment after the loop) and ignores the gate.
 * Bindings: MIND, CHANGED, SHIFT, STATE (rw), HIST (rw). Uniform: n, kd,
 * maxIter, final. Dispatch: 1 workgroup.
 */
export const statsKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeans_stats",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeans_stats",
      /* wgsl */ `
struct U { n: u32, kd: u32, max_iter: u32, final_pass: u32 }
@group(0) @binding(0) var<storage, read> MIND: array<f32>;
@group(0) @binding(1) var<storage, read> CHANGED: array<u32>;
@group(0) @binding(2) var<storage, read> SHIFT: array<f32>;
@group(0) @binding(3) var<storage, read_write> STATE: array<f32>;
@group(0) @binding(4) var<storage, read_write> HIST: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
var<workgroup> flag: u32;
var<workgroup> s_in: array<f32, 256>;
var<workgroup> s_sh: array<f32, 256>;
var<workgroup> s_ch: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) { flag = select(0u, 1u, u.final_pass == 0u && STATE[0] != 0.0); }
  if (workgroupUniformLoad(&flag) != 0u) { return; }
  var a = 0.0;
  var ch = 0u;
  for (var e = lid; e < u.n; e += 256u) { a += MIND[e]; ch += CHANGED[e]; }
  var s = 0.0;
  for (var e = lid; e < u.kd; e += 256u) { s += SHIFT[e]; }
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
  STATE[2] = inertia;
  if (u.final_pass != 0u) { return; }
  let it = u32(STATE[1]);
  HIST[it] = inertia;
  STATE[1] = f32(it + 1u);
  STATE[3] = f32(s_ch[0]);
  STATE[4] = s_sh[0];
  if (s_ch[0] == 0u) {
    STATE[6] = 1.0;
    STATE[0] = 1.0;
  } else if (s_sh[0] <= STATE[5]) {
    STATE[0] = 1.0;
  }
  if (it + 1u >= u.max_iter) { STATE[0] = 1.0; }
}`,
      ["read", "read", "read", "write", "write"],
    ),
);

/**
 * Resets the state for a new run: tol_abs = tol · mean_f var_f (scikit-learn's
 * `_tolerance`), and flags a non-finite mean or variance (NaN/±Inf anywhere
 * in the data propagates into them). Bindings: MEAN [d], VAR [d], STATE (rw).
 * Uniform: d, tol. Dispatch: 1 workgroup.
 */
export const resetKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeans_reset",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeans_reset",
      /* wgsl */ `
struct U { d: u32, tol: f32 }
@group(0) @binding(0) var<storage, read> MEAN: array<f32>;
@group(0) @binding(1) var<storage, read> VAR: array<f32>;
@group(0) @binding(2) var<storage, read_write> STATE: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
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
  if (lid == 0u) {
    for (var e = 0u; e < 8u; e++) { STATE[e] = 0.0; }
    STATE[5] = u.tol * sv[0] / f32(u.d);
    STATE[7] = f32(sb[0] | bad(sv[0]));
  }
}`,
      ["read", "read", "write"],
    ),
);

/**
 * Gathers rows: C[c, f] = X[IDX[c], f] (random initialisation).
 * Bindings: X, IDX u32 [k], C. Uniform: kd, d. Dispatch: ceil(kd / 256).
 */
export const gatherRowsKernel: (spec: Record<string, never>) => Kernel = family(
  "gather_rows",
  (_spec: Record<string, never>) =>
    kernel(
      "gather_rows",
      /* wgsl */ `
struct U { kd: u32, d: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<u32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= u.kd) { return; }
  C[e] = X[IDX[e / u.d] * u.d + e % u.d];
}`,
      ["read", "read", "write"],
    ),
);

// ------------------------------------------------------------- k-means++

/** Elements per block of the k-means++ block sums (256 threads × 4). */
export const PP_BLOCK = 1024;

/**
 * First k-means++ centre: DC[i] = ‖x_i − x_first‖² (row 0 of the candidate
 * distance matrix doubles as "distance to the nearest centre"), C[0, :] =
 * x_first, SEL[0] = 0. Bindings: X, DC, C, SEL u32. Uniform: n, d, first.
 * Dispatch: ceil(max(n, d) / 256).
 */
export const ppFirstKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeanspp_first",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeanspp_first",
      /* wgsl */ `
struct U { n: u32, d: u32, first: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> DC: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read_write> SEL: array<u32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e < u.n) {
    var s = 0.0;
    for (var f = 0u; f < u.d; f++) {
      let diff = X[e * u.d + f] - X[u.first * u.d + f];
      s = fma(diff, diff, s);
    }
    DC[e] = s;
  }
  if (e < u.d) { C[e] = X[u.first * u.d + e]; }
  if (e == 0u) { SEL[0] = 0u; }
}`,
      ["read", "write", "write", "write"],
    ),
);

/**
 * Block sums of `rows` rows of length n: OUT[r, b] = Σ IN[r, b·1024 .. b·1024+1023].
 * Bindings: IN, OUT. Uniform: n, nBlocks. Dispatch: (nBlocks, rows).
 */
export const blockSumKernel: (spec: Record<string, never>) => Kernel = family(
  "block_sum",
  (_spec: Record<string, never>) =>
    kernel(
      "block_sum",
      /* wgsl */ `
struct U { n: u32, blocks: u32 }
@group(0) @binding(0) var<storage, read> IN: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> sh: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let r = wid.y;
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
      ["read", "write"],
    ),
);

/**
 * D² sampling of the candidates of one k-means++ step (thread l < L): with
 * the nearest-centre distances in row SEL[0] of DC and its block sums in BS,
 * draws r = RAND[off + l] · Σ D² and finds the first i whose running sum
 * exceeds r (scikit-learn's `searchsorted(stable_cumsum(D²), r)`, skipping
 * zero-weight points), walking the block sums first and then one block.
 * Bindings: DC, BS, SEL, RAND, CAND u32 [L]. Uniform: n, blocks, trials, off.
 * Dispatch: 1 workgroup.
 */
export const ppSearchKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeanspp_search",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeanspp_search",
      /* wgsl */ `
struct U { n: u32, blocks: u32, trials: u32, off: u32 }
@group(0) @binding(0) var<storage, read> DC: array<f32>;
@group(0) @binding(1) var<storage, read> BS: array<f32>;
@group(0) @binding(2) var<storage, read> SEL: array<u32>;
@group(0) @binding(3) var<storage, read> RAND: array<f32>;
@group(0) @binding(4) var<storage, read_write> CAND: array<u32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid >= u.trials) { return; }
  let row = SEL[0];
  var pot = 0.0;
  for (var b = 0u; b < u.blocks; b++) { pot += BS[row * u.blocks + b]; }
  let r = RAND[u.off + lid] * pot;
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
  CAND[lid] = pick;
}`,
      ["read", "read", "read", "read", "write"],
    ),
);

/**
 * Candidate distances: DC[l, i] = min(DC[SEL[0], i], ‖x_i − x_{CAND[l]}‖²),
 * each thread reading its nearest-centre distance before overwriting its
 * column. Bindings: X, CAND, SEL, DC (rw). Uniform: n, d, trials.
 * Dispatch: ceil(n / 256).
 */
export const ppCandDistKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeanspp_cand_dist",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeanspp_cand_dist",
      /* wgsl */ `
struct U { n: u32, d: u32, trials: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> CAND: array<u32>;
@group(0) @binding(2) var<storage, read> SEL: array<u32>;
@group(0) @binding(3) var<storage, read_write> DC: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= u.n) { return; }
  let closest = DC[SEL[0] * u.n + i];
  for (var l = 0u; l < u.trials; l++) {
    let ci = CAND[l];
    var s = 0.0;
    for (var f = 0u; f < u.d; f++) {
      let diff = X[i * u.d + f] - X[ci * u.d + f];
      s = fma(diff, diff, s);
    }
    DC[l * u.n + i] = min(closest, s);
  }
}`,
      ["read", "read", "read", "write"],
    ),
);

/**
 * Greedy choice among the candidates: the one with the smallest potential
 * Σ_i min(D²_i, ‖x_i − x_cand‖²) (first on ties, as `argmin`) becomes centre
 * `c`; SEL[0] names its row of DC for the next step.
 * Bindings: BS [L, blocks], CAND, X, C (rw), SEL (rw). Uniform: blocks,
 * trials, d, c. Dispatch: 1 workgroup.
 */
export const ppSelectKernel: (spec: Record<string, never>) => Kernel = family(
  "kmeanspp_select",
  (_spec: Record<string, never>) =>
    kernel(
      "kmeanspp_select",
      /* wgsl */ `
struct U { blocks: u32, trials: u32, d: u32, c: u32 }
@group(0) @binding(0) var<storage, read> BS: array<f32>;
@group(0) @binding(1) var<storage, read> CAND: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> SEL: array<u32>;
@group(0) @binding(5) var<uniform> u: U;
var<workgroup> pots: array<f32, 64>;
var<workgroup> bestRow: u32;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid < u.trials) {
    var s = 0.0;
    for (var b = 0u; b < u.blocks; b++) { s += BS[lid * u.blocks + b]; }
    pots[lid] = s;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var best = 0u;
    for (var l = 1u; l < u.trials; l++) { if (pots[l] < pots[best]) { best = l; } }
    bestRow = best;
    SEL[0] = best;
  }
  let best = workgroupUniformLoad(&bestRow);
  let src = CAND[best];
  for (var f = lid; f < u.d; f += 256u) { C[u.c * u.d + f] = X[src * u.d + f]; }
}`,
      ["read", "read", "read", "write", "write"],
    ),
);
