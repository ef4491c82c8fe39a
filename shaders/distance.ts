/**
 * Pairwise kernels over two row sets: squared Euclidean distances or dot
 * products between every row of A [n, d] and every row of B [k, d], and the
 * silhouette kernel that sums Euclidean distances per cluster without ever
 * storing the n × n matrix.
 *
 * The shared core ({@link pairwiseMain}) gives each thread one row of A and
 * walks B in register blocks of TJ ≤ 16 rows; A and B are staged through
 * workgroup memory TF features at a time (16, or the next power of two ≥ d
 * when d is smaller, so 2-D data does not pay for 16), so each A element is read from
 * global memory once per B block and each B element once per workgroup. The
 * caller's epilogue sees each (i, j) value `v` once, which is how k-means fuses
 * the arg-min and DEC fuses the Student-t kernel and its row normaliser into
 * the same pass. Distances are sums of squared differences, not
 * ‖a‖² + ‖b‖² − 2a·b, which cancels badly in float32 for nearby points.
 *
 * Dispatch: ceil(n / TI) workgroups of TI = 64 threads (the runtime may split
 * them over x and y). Uniform block: `n` (A rows), `k` (B rows), `d` (shared
 * length), then the kernel's own fields.
 * @module
 */
import { family } from "./common.ts";
import { type Declaration, declare, type DeclaredKernel, type Entry } from "./declare.ts";

/** Rows of A per workgroup (one per thread). */
export const TI = 64;
/** Most rows of B per register block. */
export const MAX_TJ = 16;
/** Most features per workgroup-memory stage. */
export const MAX_TF = 16;

function pow2(v: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, v)));
}

/** Features per stage for a shared length d: min(16, next power of two ≥ d). */
export function featureTile(d: number): number {
  return Math.min(MAX_TF, pow2(d));
}

/**
 * Tile sizes of the pairwise core for k rows of B and a shared length d:
 * `tj` splits k into equal register blocks of at most 16 (k = 10 → one block
 * of 10, k = 17 → two of 9), `tf` = {@link featureTile}(d), so ten centres or
 * 2-D points do not pay for sixteen. `stage: false` (CPU adapters) reads the
 * operands directly instead of through workgroup memory.
 *
 * @example
 * ```ts
 * pairTiles(10, 784); // { tj: 10, tf: 16, stage: true }
 * pairTiles(17, 2);   // { tj: 9, tf: 2, stage: true }
 * ```
 */
export function pairTiles(
  k: number,
  d: number,
  stage = true,
): { tj: number; tf: number; stage: boolean } {
  const blocks = Math.ceil(Math.max(1, k) / MAX_TJ);
  return { tj: Math.ceil(Math.max(1, k) / blocks), tf: stage ? featureTile(d) : 1, stage };
}

/** How a pair's values combine over the shared dimension. */
export type Combine = "sqdist" | "dot";

/** What the core needs to know about its operands. */
export interface PairCore {
  /** `sqdist`: Σ (a − b)²; `dot`: Σ a·b. */
  combine: Combine;
  /** Rows of B per register block, from {@link pairTiles}. */
  tj: number;
  /** Features per stage, from {@link pairTiles}. */
  tf: number;
  /**
   * Stage A and B through workgroup memory (GPUs: coalesced loads, B read
   * once per workgroup), or read them directly with no barriers (CPU
   * adapters such as lavapipe, where a lane-varying load from workgroup
   * memory costs as much as one from storage and barriers split the SIMD
   * groups into coroutines — the matmul family's finding, `src/ops/tuning.ts`).
   */
  stage: boolean;
  /** Subtract `SHIFT[t]` from A's elements as they are loaded (centring for PCA). */
  shiftA?: boolean;
  /**
   * B holds one [k, d] block per workgroup z (`run = wid.z`, visible to the
   * hooks), so one dispatch serves several independent problems over the
   * same A (k-means restarts).
   */
  batched?: boolean;
}

/** WGSL pieces a kernel plugs into the core. */
export interface PairHooks {
  /** After the optional gate, before the B loop; must not branch around barriers. */
  before?: string;
  /** Runs once per (i, j) with `i < u.n`, `j < u.k`; sees `i`, `j`, `v` (the combined value). */
  each: string;
  /** After the B loop (every thread; guard with `valid`). */
  after?: string;
  /** Extra statements before everything (e.g. a workgroup-uniform gate that may `return`). */
  prelude?: string;
}

/** The core's entry point: TI threads, one row of A each; no prelude (the hooks have `prelude`). */
function pairEntry(helpers: string): Entry {
  return {
    workgroupSize: TI,
    builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
    helpers,
  };
}

/**
 * The core's entry point (with its module-scope declarations) and `main`,
 * to spread into a declaration. The declaration has `A`, `B` (and `SHIFT`
 * with `shiftA`) storage arrays and a uniform `u` whose first three fields
 * are `n`, `k`, `d`.
 */
export function pairwiseMain(
  core: PairCore,
  hooks: PairHooks,
): Pick<Declaration, "entry" | "main"> {
  const load = core.shiftA ? "A[gi * u.d + gt] - SHIFT[gt]" : "A[gi * u.d + gt]";
  const runDecl = core.batched ? "let run = wid.z;\n  let b_off = run * u.k * u.d;" : "";
  const bOff = core.batched ? "b_off + " : "";
  const tj = core.tj;
  const js = Array.from({ length: tj }, (_, jj) => jj);
  // The accumulators are unrolled into scalars: a private array indexed in a
  // loop may live in memory (lavapipe's LLVM does that), scalars stay in registers.
  // `b` is the WGSL of B's element: staged in workgroup memory by default.
  const step = (jj: number, b = `Bs[${jj}u * TF + c]`) =>
    core.combine === "sqdist"
      ? `{ let diff = a - ${b}; acc${jj} = fma(diff, diff, acc${jj}); }`
      : `acc${jj} = fma(a, ${b}, acc${jj});`;
  if (!core.stage) return directMain(core, hooks, js, step, runDecl, bOff);
  return {
    entry: pairEntry(/* wgsl */ `
const TI = ${TI}u;
const TJ = ${tj}u;
const TF = ${core.tf}u;
var<workgroup> As: array<f32, ${TI * (core.tf + 1)}>;
var<workgroup> Bs: array<f32, ${tj * core.tf}>;`),
    main: /* wgsl */ `
  let row0 = (wid.y * nwg.x + wid.x) * TI;
  let i = row0 + lid;
  let valid = i < u.n;
  ${runDecl}
  ${hooks.prelude ?? ""}
  ${hooks.before ?? ""}
  for (var j0 = 0u; j0 < u.k; j0 += TJ) {
    // Explicit initialisers: Naga does not re-zero a bare var declared inside a loop.
    ${js.map((jj) => `var acc${jj} = 0.0;`).join(" ")}
    for (var t0 = 0u; t0 < u.d; t0 += TF) {
      for (var e = lid; e < TI * TF; e += TI) {
        let gi = row0 + e / TF;
        let gt = t0 + e % TF;
        var x = 0.0;
        if (gi < u.n && gt < u.d) { x = ${load}; }
        As[(e / TF) * (TF + 1u) + e % TF] = x;
      }
      for (var e = lid; e < TJ * TF; e += TI) {
        let gj = j0 + e / TF;
        let gt = t0 + e % TF;
        var y = 0.0;
        if (gj < u.k && gt < u.d) { y = B[${bOff}gj * u.d + gt]; }
        Bs[e] = y;
      }
      workgroupBarrier();
      for (var c = 0u; c < TF; c++) {
        let a = As[lid * (TF + 1u) + c];
        ${js.map((jj) => step(jj)).join("\n        ")}
      }
      workgroupBarrier();
    }
    if (valid) {
      ${epilogue(js, hooks)}
    }
  }
  ${hooks.after ?? ""}`,
  };
}

/** Hands each of a thread's TJ accumulators that is a real column (j < k) to `hooks.each` as v. */
function epilogue(js: number[], hooks: PairHooks): string {
  return `let jn = min(TJ, u.k - j0);
      ${
    js.map((jj) =>
      `if (${jj}u < jn) {
        let j = j0 + ${jj}u;
        let v = acc${jj};
        ${hooks.each}
      }`
    ).join("\n      ")
  }`;
}

/** The core without workgroup memory: each thread streams its own row of A. */
function directMain(
  core: PairCore,
  hooks: PairHooks,
  js: number[],
  step: (jj: number, b?: string) => string,
  runDecl: string,
  bOff: string,
): Pick<Declaration, "entry" | "main"> {
  const load = core.shiftA ? "A[i * u.d + t] - SHIFT[t]" : "A[i * u.d + t]";
  // B rows past k are clamped to row k − 1 (read, never used by the epilogue).
  const bRow = (jj: number) => `let b${jj} = ${bOff}min(j0 + ${jj}u, u.k - 1u) * u.d;`;
  const stepDirect = (jj: number) => step(jj, `B[b${jj} + t]`);
  return {
    entry: pairEntry(/* wgsl */ `
const TI = ${TI}u;
const TJ = ${core.tj}u;`),
    main: /* wgsl */ `
  let row0 = (wid.y * nwg.x + wid.x) * TI;
  let i = row0 + lid;
  let valid = i < u.n;
  ${runDecl}
  ${hooks.prelude ?? ""}
  ${hooks.before ?? ""}
  for (var j0 = 0u; j0 < u.k; j0 += TJ) {
    ${js.map((jj) => `var acc${jj} = 0.0;`).join(" ")}
    ${js.map(bRow).join(" ")}
    if (valid) {
      for (var t = 0u; t < u.d; t++) {
        let a = ${load};
        ${js.map(stepDirect).join("\n        ")}
      }
      ${epilogue(js, hooks)}
    }
  }
  ${hooks.after ?? ""}`,
  };
}

/** Specialisation of the plain pairwise family. */
export interface PairwiseSpec extends PairCore {
  /** Add `BIAS[j]` to every output (the mean in PCA's inverse transform). */
  biasOut?: boolean;
}

/**
 * out[i, j] = Σ_t combine(A[i, t] (− SHIFT[t]), B[j, t]) (+ BIAS[j]).
 * Bindings: A, B, [SHIFT], [BIAS], OUT. Uniform: n, k, d.
 */
export const pairwiseKernel: (spec: PairwiseSpec) => DeclaredKernel = family(
  "pairwise",
  (spec: PairwiseSpec) =>
    declare({
      key: `pairwise/${spec.combine}/${spec.tj}x${spec.tf}${spec.stage ? "" : "/direct"}${
        spec.shiftA ? "/shift" : ""
      }${spec.biasOut ? "/bias" : ""}`,
      inputs: {
        A: "f32",
        B: "f32",
        ...(spec.shiftA ? { SHIFT: "f32" } as const : {}),
        ...(spec.biasOut ? { BIAS: "f32" } as const : {}),
      },
      outputs: { OUT: "f32" },
      uniforms: { n: "u32", k: "u32", d: "u32" },
      ...pairwiseMain(spec, {
        each: `OUT[i * u.k + j] = v${spec.biasOut ? " + BIAS[j]" : ""};`,
      }),
    }),
);

/** Specialisation of the silhouette family. */
export interface SilhouetteSpec {
  /** Size of the per-thread cluster accumulators: a power of two ≥ the number of clusters. */
  kmax: number;
  /** Features per stage, from {@link featureTile}. */
  tf: number;
}

/** Points of B (the "other" side) per tile in the silhouette kernel. */
export const SIL_TJ = 32;
const SIL_JS = Array.from({ length: SIL_TJ }, (_, jj) => jj);

/**
 * Silhouette coefficient of every point (Rousseeuw 1987), n² distances never
 * stored: each thread owns one point i and walks all points j in tiles of
 * {@link SIL_TJ}, adding ‖x_i − x_j‖ to its accumulator for j's cluster
 * (Kahan-compensated, since a cluster may hold 10⁴ terms of similar size).
 * Then a = D[c_i] / (n_{c_i} − 1), b = min over other non-empty clusters of
 * D[c] / n_c, s = (b − a) / max(a, b), 0 for singletons and for a = b = 0 —
 * scikit-learn's conventions. A point whose sums are not finite (NaN or ±Inf
 * in x) gets s = 3e38, which no valid silhouette reaches.
 *
 * Bindings: X [n, d], CODES i32 [n] (0..k−1), COUNTS f32 [k], S f32 [n].
 * Uniform: n, k, d. Dispatch: ceil(n / 64) workgroups of 64.
 */
export const silhouetteKernel: (spec: SilhouetteSpec) => DeclaredKernel = family(
  "silhouette",
  (spec: SilhouetteSpec) =>
    declare({
      key: `silhouette/k${spec.kmax}/tf${spec.tf}`,
      inputs: { X: "f32", CODES: "i32", COUNTS: "f32" },
      outputs: { S: "f32" },
      uniforms: { n: "u32", k: "u32", d: "u32" },
      entry: {
        workgroupSize: 64,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
      },
      helpers: /* wgsl */ `
const TI = 64u;
const TJ = ${SIL_TJ}u;
const TF = ${spec.tf}u;
const KMAX = ${spec.kmax}u;
var<workgroup> Xi: array<f32, ${64 * (spec.tf + 1)}>;
var<workgroup> Xj: array<f32, ${SIL_TJ * spec.tf}>;
var<workgroup> Lj: array<i32, ${SIL_TJ}>;

fn kahan(sum: ptr<function, array<f32, KMAX>>, comp: ptr<function, array<f32, KMAX>>,
         c: i32, d2: f32) {
  if (c < 0) { return; }
  let y = sqrt(d2) - (*comp)[c];
  let t = (*sum)[c] + y;
  (*comp)[c] = (t - (*sum)[c]) - y;
  (*sum)[c] = t;
}`,
      main: /* wgsl */ `
  let row0 = (wid.y * nwg.x + wid.x) * TI;
  let i = row0 + lid;
  var sum = array<f32, KMAX>();
  var comp = array<f32, KMAX>();
  for (var j0 = 0u; j0 < u.n; j0 += TJ) {
    // Unrolled scalars with explicit initialisers (see pairwiseMain).
    ${SIL_JS.map((jj) => `var part${jj} = 0.0;`).join(" ")}
    for (var t0 = 0u; t0 < u.d; t0 += TF) {
      for (var e = lid; e < TI * TF; e += TI) {
        let gi = row0 + e / TF;
        let gt = t0 + e % TF;
        var x = 0.0;
        if (gi < u.n && gt < u.d) { x = X[gi * u.d + gt]; }
        Xi[(e / TF) * (TF + 1u) + e % TF] = x;
      }
      for (var e = lid; e < TJ * TF; e += TI) {
        let gj = j0 + e / TF;
        let gt = t0 + e % TF;
        var y = 0.0;
        if (gj < u.n && gt < u.d) { y = X[gj * u.d + gt]; }
        Xj[e] = y;
      }
      if (t0 == 0u && lid < TJ) {
        var c = -1;
        if (j0 + lid < u.n) { c = CODES[j0 + lid]; }
        Lj[lid] = c;
      }
      workgroupBarrier();
      for (var c = 0u; c < TF; c++) {
        let a = Xi[lid * (TF + 1u) + c];
        ${
        SIL_JS.map((jj) =>
          `{ let diff = a - Xj[${jj}u * TF + c]; part${jj} = fma(diff, diff, part${jj}); }`
        ).join("\n        ")
      }
      }
      workgroupBarrier();
    }
    // Kahan summation: sum + comp carries the low-order bits the f32 sum drops.
    ${SIL_JS.map((jj) => `kahan(&sum, &comp, Lj[${jj}u], part${jj});`).join("\n    ")}
    workgroupBarrier();
  }
  if (i >= u.n) { return; }
  let ci = CODES[i];
  let ni = COUNTS[ci];
  var s = 0.0;
  // NaN or ±Inf in x reaches the sums; report it as an out-of-range value the host rejects.
  var bad = false;
  for (var c = 0u; c < u.k; c++) {
    bad = bad || (bitcast<u32>(sum[c]) & 0x7f800000u) == 0x7f800000u;
  }
  if (ni > 1.0) {
    let a = sum[ci] / (ni - 1.0);
    var b = 3.4e38;
    for (var c = 0u; c < u.k; c++) {
      if (i32(c) != ci && COUNTS[c] > 0.0) { b = min(b, sum[c] / COUNTS[c]); }
    }
    let m = max(a, b);
    if (m > 0.0) { s = (b - a) / m; }
  }
  S[i] = select(s, 3.0e38, bad);`,
    }),
);
