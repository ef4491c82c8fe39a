/**
 * Weighted per-cluster column sums without atomics: for every cluster j and
 * feature f, Σ_i w(i, j) · value(i, j, f), with hard labels, dense weights
 * or unit weights, of x itself or of its deviation from a reference. The
 * centre gradient of DEC's soft assignment (Σ_i H_ij (z_i − μ_j)) and the
 * column variances of k-means' tolerance are such sums.
 *
 * The points are split into chunks, one workgroup per (chunk, cluster,
 * feature block) writes its partial sums, and the host adds the chunks with
 * the library's axis reduction (`src/ops/cluster/sums.ts`).
 * @module
 */
import { family } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";

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
}

/** Threads per `cluster_sums` workgroup. */
export const SUMS_WG = 256;

/**
 * Segmented column sums: PART[c, j, f] = scale · Σ_{i in chunk c} w(i, j) ·
 * value(i, j, f) and WPART[c, j] = Σ_{i in chunk c} w(i, j) (one chunk:
 * the sums themselves, scaled here rather than by a pass of their own). One workgroup
 * per (chunk, cluster, feature block); `fc` lanes cover the features
 * (coalesced row reads), 256 / fc lanes stride over the chunk's points, and
 * a tree in workgroup memory adds the lanes.
 *
 * Bindings: X, [W or LABELS], [M], PART, WPART. Uniform: n, d, k, chunk, scale.
 * Dispatch: (nChunks, k, ceil(d / fc)).
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
      key: `cluster_sums/${spec.weight}/${spec.value}/fc${fc}`,
      inputs,
      outputs: { PART: "f32", WPART: "f32" },
      uniforms: { n: "u32", d: "u32", k: "u32", chunk: "u32", scale: "f32" },
      entry: { workgroupSize: SUMS_WG, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
const FC = ${fc}u;
const LANES = ${lanes}u;
var<workgroup> sums: array<f32, ${SUMS_WG}>;
var<workgroup> weights: array<f32, ${SUMS_WG}>;
fn sq(x: f32) -> f32 { return x * x; }`,
      main: /* wgsl */ `
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
  sums[lid] = acc;
  weights[lid] = wacc;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h >>= 1u) {
    if (p < h) {
      sums[lid] += sums[lid + h * FC];
      weights[lid] += weights[lid + h * FC];
    }
    workgroupBarrier();
  }
  if (p == 0u && f < u.d) { PART[(c * u.k + j) * u.d + f] = sums[fl] * u.scale; }
  if (lid == 0u && wid.z == 0u) { WPART[c * u.k + j] = weights[0]; }`,
    });
  },
);
