/**
 * Reductions along one axis, as tree reductions in workgroup memory.
 *
 * Every reduction is seen as `[outer, len, inner] → [outer, inner]` (the
 * reduced axis in the middle; a full reduction is `[1, n, 1]`). An output
 * element is a *slot* `s = o · inner + j`. A workgroup has TX × TY threads:
 * TX slots side by side, TY threads per slot that stride along the axis and
 * then combine their partial results in a log₂(TY)-step tree in workgroup
 * memory.
 *
 * - `fast: "axis"` (rows: inner = 1): neighbouring threads read neighbouring
 *   elements of one row, so loads coalesce; several short rows share a workgroup.
 * - `fast: "slot"` (columns: inner > 1, e.g. the bias gradient [256, 2000] →
 *   [2000]): neighbouring threads take neighbouring columns, so each row read
 *   is contiguous, and TY threads split the rows.
 *
 * Long axes are split into `chunks` (the grid is tiles × chunks): a pass
 * writes partial results `[outer, chunks, inner]` and the next pass reduces
 * those, all on the GPU; {@link planReduce} decides. argmax/argmin carry
 * indices through the passes (ties go to the lowest index).
 *
 * A first pass may read a *map* of several inputs instead of X (e.g. the
 * squared difference of a loss), so an elementwise prologue and its
 * reduction share one pass over memory.
 *
 * Also here: the backward kernels that spread a reduced gradient back
 * (`spread`, for sum/mean) or route it to the argmax position (`pick`, for
 * max/min), and the WGSL segment helpers used by row kernels (softmax,
 * cross-entropy).
 *
 * Dispatch: tiles · chunks workgroups of TX · TY threads, tiles = ceil(outer·inner / TX).
 * Bindings: inputs (read) [, I_in (read)], V (write) [, I (write)].
 * Bindings of a last pass that accumulates: …, V [, side], A (read_write).
 * Uniform: outer, len, inner, chunk, chunks, slots, scale (f32), init (f32), p0, p1 (f32),
 * ascale (f32).
 * @module
 */
import { ENTRY_1D, family, stridedOffset, WG } from "./common.ts";
import { declare, type DeclaredKernel, type Elem, type Entry } from "./declare.ts";

/** Reduction operators. */
export type ReduceOp = "sum" | "max" | "min" | "argmax" | "argmin";

/** Specialisation of the axis reduction family. */
export interface ReduceSpec {
  op: ReduceOp;
  /** Slots per workgroup. */
  tx: number;
  /** Threads per slot along the axis (a power of two). */
  ty: number;
  /** Which index neighbouring threads differ in. */
  fast: "axis" | "slot";
  /** arg ops after the first pass: candidate indices come from the previous pass. */
  indexIn: boolean;
  /**
   * Columns only (sum/max/min, inner % 4 = 0, no map): each slot is four
   * neighbouring columns read as one vec4f; `inner` and `slots` are given in
   * vec4 units.
   */
  vec4?: boolean;
  /**
   * Sums only, last pass: also adds each result times `u.ascale` into the
   * read-write output A (a running total: fit's epoch loss). Binding after V.
   */
  accumulate?: boolean;
}

/**
 * A first-pass prologue: input binding names and a WGSL expression of the
 * element at index `i` over them (and the uniforms `u.p0`, `u.p1`).
 */
export interface ReduceMap {
  /** Name used in the kernel key. */
  name: string;
  inputs: string[];
  expr: string;
  /** Extra WGSL functions the expression calls. */
  helpers?: string;
  /**
   * An f32 output written once per element as the first pass loads it:
   * `name[i] = expr` (a loss writes its gradient in the pass that sums it,
   * src/ops/losses.ts). Its binding follows V.
   */
  side?: { name: string; expr: string };
}

const PLAIN: ReduceMap = { name: "x", inputs: ["X"], expr: "X[i]" };

/** True for ops that return indices. */
export function isArgReduce(op: ReduceOp): op is "argmax" | "argmin" {
  return op === "argmax" || op === "argmin";
}

/** The uniform fields of the axis reduction family (see the module comment). */
const REDUCE_FIELDS = {
  outer: "u32",
  len: "u32",
  inner: "u32",
  chunk: "u32",
  chunks: "u32",
  slots: "u32",
  scale: "f32",
  init: "f32",
  p0: "f32",
  p1: "f32",
  ascale: "f32",
} as const;

/**
 * Declares an axis reduction with an optional first-pass map: the map's
 * inputs (then I_in for arg ops after the first pass) are read, V (then I
 * for arg ops) written.
 */
function declareReduce(key: string, spec: ReduceSpec, map: ReduceMap = PLAIN): DeclaredKernel {
  const { op, tx, ty } = spec;
  const arg = isArgReduce(op);
  const vt = spec.vec4 ? "vec4f" : "f32";
  const inputs: Record<string, Elem> = {};
  for (const name of map.inputs) inputs[name] = vt;
  if (spec.indexIn) inputs.I_in = "i32";
  const outputs: Record<string, Elem> = { V: vt };
  if (map.side) outputs[map.side.name] = "f32";
  if (arg) outputs.I = "i32";
  if (spec.accumulate) {
    if (op !== "sum") throw new Error(`reduce: only a sum accumulates, got ${op}`);
    outputs.A = vt;
  }
  // Lower index wins ties, so argmax returns the first maximum.
  const cmp = op === "argmax" ? ">" : "<";
  const step = {
    sum: "acc += v;",
    max: "acc = max(acc, v);",
    min: "acc = min(acc, v);",
    argmax: "if (better(acc, idx, v, ki)) { acc = v; idx = ki; }",
    argmin: "if (better(acc, idx, v, ki)) { acc = v; idx = ki; }",
  }[op];
  const combine = {
    sum: "rv[lid] += rv[p];",
    max: "rv[lid] = max(rv[lid], rv[p]);",
    min: "rv[lid] = min(rv[lid], rv[p]);",
    argmax: "if (better(rv[lid], ri[lid], rv[p], ri[p])) { rv[lid] = rv[p]; ri[lid] = ri[p]; }",
    argmin: "if (better(rv[lid], ri[lid], rv[p], ri[p])) { rv[lid] = rv[p]; ri[lid] = ri[p]; }",
  }[op];
  const axisFast = spec.fast === "axis";
  return declare({
    key,
    inputs,
    outputs,
    uniforms: REDUCE_FIELDS,
    entry: {
      workgroupSize: tx * ty,
      builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
    },
    helpers: /* wgsl */ `
const TX = ${tx}u;
const TY = ${ty}u;
var<workgroup> rv: array<${vt}, ${tx * ty}>;
${arg ? `var<workgroup> ri: array<i32, ${tx * ty}>;` : ""}
${map.helpers ?? ""}
fn load(i: u32) -> ${vt} {${
      map.side ? ` ${map.side.name}[i] = ${map.side.expr};` : ""
    } return ${map.expr}; }
${
      arg
        ? `fn better(v: f32, i: i32, w: f32, j: i32) -> bool {
  return w ${cmp} v || (w == v && j < i);
}`
        : ""
    }`,
    main: /* wgsl */ `
  let w = (wid.z * nwg.y + wid.y) * nwg.x + wid.x;
  let tiles = (u.slots + TX - 1u) / TX;
  if (w >= tiles * u.chunks) { return; }
  let c = w / tiles;
  let tile = w - c * tiles;
  let tx = ${axisFast ? "lid / TY" : "lid % TX"};
  let ty = ${axisFast ? "lid % TY" : "lid / TX"};
  let s = tile * TX + tx;
  let valid = s < u.slots;
${
      axisFast
        ? `  // Rows (inner = 1): the slot is the row.
  let base = s * u.len;
  let stride_k = 1u;
  let at_out = s * u.chunks + c;`
        : `  let o = s / u.inner;
  let j = s - o * u.inner;
  let base = o * u.len * u.inner + j;
  let stride_k = u.inner;
  let at_out = (o * u.chunks + c) * u.inner + j;`
    }
  let k0 = c * u.chunk;
  let k1 = min(u.len, k0 + u.chunk);
  var acc = ${vt}(u.init);
  ${arg ? "var idx = 2147483647i;" : ""}
  if (valid) {
    for (var k = k0 + ty; k < k1; k += TY) {
      let at = base + k * stride_k;
      let v = load(at);
      ${arg ? `let ki = ${spec.indexIn ? "I_in[at]" : "i32(k)"};` : ""}
      ${step}
    }
  }
  rv[lid] = acc;
  ${arg ? "ri[lid] = idx;" : ""}
  workgroupBarrier();
  for (var h = TY / 2u; h > 0u; h >>= 1u) {
    if (ty < h) {
      let p = lid + h * ${axisFast ? "1u" : "TX"};
      ${combine}
    }
    workgroupBarrier();
  }
  if (ty == 0u && valid) {
    let r = ${op === "sum" ? "rv[lid] * u.scale" : "rv[lid]"};
    V[at_out] = r;
    ${spec.accumulate ? "A[at_out] += r * u.ascale;" : ""}
    ${arg ? "I[at_out] = ri[lid];" : ""}
  }`,
  });
}

function specKey(spec: ReduceSpec): string {
  return `${spec.op}/${spec.fast}/${spec.tx}x${spec.ty}${spec.indexIn ? "/idx" : ""}${
    spec.vec4 ? "/vec4" : ""
  }${spec.accumulate ? "/acc" : ""}`;
}

/** The axis reduction kernel (plain input X). */
export const reduceKernel: (spec: ReduceSpec) => DeclaredKernel = family(
  "reduce",
  (spec: ReduceSpec) => declareReduce(`reduce/${specKey(spec)}`, spec),
);

/** Builds a first-pass kernel with a map prologue (used by loss families). */
export function mappedReduceKernel(spec: ReduceSpec, map: ReduceMap): DeclaredKernel {
  return declareReduce(`reduce/${map.name}/${specKey(spec)}`, spec, map);
}

/** Smallest power of two ≥ n (n ≥ 1). */
export function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** How one pass of a reduction is laid out. */
export interface ReducePlan {
  spec: ReduceSpec;
  /** Elements of the axis per chunk. */
  chunk: number;
  /** Chunks the axis is split into (1 = this pass is the last). */
  chunks: number;
  workgroups: number;
}

/**
 * How reductions are shaped for an adapter. Measured on lavapipe (CPU, 8-wide
 * SIMD, 2 cores): small workgroups with long per-thread loops win, because
 * every tree step is a barrier that the CPU pays per workgroup — [2048, 196]
 * rows took 129 ms with 256 threads per row and 2.8 ms with 4. A GPU wants
 * many threads per row and hundreds of workgroups.
 */
export interface ReduceProfile {
  /** Workgroups a pass should offer before the axis is split into chunks. */
  target: number;
  /** Elements each thread should loop over before the tree. */
  perThread: number;
  /** Most threads per slot along the axis. */
  maxTy: number;
}

/** Profile of CPU adapters (lavapipe, SwiftShader). */
export const CPU_REDUCE: ReduceProfile = { target: 8, perThread: 64, maxTy: 8 };
/** Profile of GPUs. */
export const GPU_REDUCE: ReduceProfile = { target: 256, perThread: 8, maxTy: WG };

/**
 * Lays out one pass over `[outer, len, inner]`. The axis is split into
 * chunks when the slots alone would give fewer than `target` workgroups and
 * each chunk still gives every thread `perThread` elements, and whenever a
 * thread would otherwise loop more than `loopIterations` times.
 */
export function planReduce(
  op: ReduceOp,
  outer: number,
  len: number,
  inner: number,
  indexIn: boolean,
  profile: ReduceProfile,
  vec4 = false,
  loopIterations = Infinity,
): ReducePlan {
  if (!(loopIterations >= 2)) {
    throw new RangeError(`reduce: a loop budget of ${loopIterations} iterations is below 2`);
  }
  if (vec4) inner /= 4;
  const slots = outer * inner;
  const along = Math.min(profile.maxTy, pow2ceil(Math.ceil(len / profile.perThread)));
  let tx: number, ty: number;
  const fast = inner === 1 ? "axis" : "slot";
  if (fast === "axis") {
    ty = along;
    tx = Math.min(WG / ty, pow2ceil(slots));
  } else {
    tx = Math.min(64, pow2ceil(slots));
    ty = Math.min(WG / tx, along);
  }
  const tiles = Math.ceil(slots / tx);
  let chunks = 1;
  if (tiles < profile.target) {
    chunks = Math.max(
      1,
      Math.min(Math.ceil(profile.target / tiles), Math.floor(len / (ty * profile.perThread))),
    );
  }
  // Each thread loops over ceil(chunk / ty) elements: keep that within the
  // driver's loop budget (src/gpu/budget.ts) with more chunks, i.e. passes.
  chunks = Math.max(chunks, Math.ceil(len / (ty * loopIterations)));
  const chunk = Math.ceil(len / chunks);
  chunks = Math.ceil(len / chunk);
  return {
    spec: vec4 ? { op, tx, ty, fast, indexIn, vec4 } : { op, tx, ty, fast, indexIn },
    chunk,
    chunks,
    workgroups: tiles * chunks,
  };
}

// ------------------------------------------------------------- backward

/** Specialisation of the reduction backward family. */
export interface ReduceGradSpec {
  /** `spread`: dx = g[broadcast] · scale (sum, mean). `pick`: dx = g where k = argmax (max, min). */
  mode: "spread" | "pick";
}

/**
 * The reduction backward kernel. `spread` — bindings G (read), out (write);
 * uniform n, rank, scale (f32), shape (dims), gs (dims: strides of G, 0 on
 * reduced dims). `pick` — bindings G (read), I (read, i32), out (write);
 * uniform n, len, inner. Dispatch: ceil(n / WG).
 */
export const reduceGradKernel: (spec: ReduceGradSpec) => DeclaredKernel = family(
  "reduce_grad",
  (spec: ReduceGradSpec) => {
    if (spec.mode === "spread") {
      return declare({
        key: "reduce_grad/spread",
        inputs: { G: "f32" },
        outputs: { out: "f32" },
        uniforms: { n: "u32", rank: "u32", scale: "f32", shape: "dims", gs: "dims" },
        entry: ENTRY_1D,
        main: /* wgsl */ `
  if (i >= u.n) { return; }
  ${stridedOffset("ig", "i", "u.shape", "u.gs")}
  out[i] = G[ig] * u.scale;`,
      });
    }
    return declare({
      key: "reduce_grad/pick",
      inputs: { G: "f32", I: "i32" },
      outputs: { out: "f32" },
      uniforms: { n: "u32", len: "u32", inner: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  let j = i % u.inner;
  let k = (i / u.inner) % u.len;
  let o = i / (u.inner * u.len);
  let at = o * u.inner + j;
  out[i] = select(0.0, G[at], I[at] == i32(k));`,
    });
  },
);

// ------------------------------------------------------- row segments

/**
 * Threads per row for row kernels (softmax, cross-entropy): enough that each
 * loops over about `perThread` elements, a power of two ≤ `maxTy`. On
 * lavapipe, softmax of [256, 784] took 3.1 ms with 8 threads per row and
 * 14.7 ms with 256.
 */
export function rowThreads(len: number, profile: ReduceProfile): number {
  return Math.min(profile.maxTy, pow2ceil(Math.ceil(Math.max(1, len) / profile.perThread)));
}

/**
 * The entry point of a row kernel (softmax, cross-entropy), which gives each
 * row a segment of T = `t` neighbouring threads, R = WG / T rows per
 * workgroup. Its helpers declare those constants and `seg_sum` / `seg_max`,
 * tree reductions over a segment that return the result to every lane: call
 * them from uniform control flow (every thread, valid row or not), since they
 * contain barriers. `main` starts with the thread's `row`, its lane `t` and
 * `valid` (the row exists).
 */
export function rowEntry(t: number): Entry {
  return {
    workgroupSize: "WG",
    builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
    helpers: segmentWgsl(t),
    prelude: /* wgsl */ `
  let row = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * R + lid / T;
  let t = lid % T;
  let valid = row < u.rows;`,
  };
}

/** The module-scope WGSL of {@link rowEntry}: its constants, segment memory and trees. */
function segmentWgsl(t: number): string {
  const tree = (name: string, combine: string) => /* wgsl */ `
fn ${name}(v: f32, lid: u32) -> f32 {
  let t = lid % T;
  seg[lid] = v;
  workgroupBarrier();
  for (var h = T / 2u; h > 0u; h >>= 1u) {
    if (t < h) { seg[lid] = ${combine}; }
    workgroupBarrier();
  }
  let r = seg[lid - t];
  workgroupBarrier();
  return r;
}`;
  return /* wgsl */ `
const WG = ${WG}u;
const T = ${t}u;
const R = WG / T;
var<workgroup> seg: array<f32, WG>;
${tree("seg_sum", "seg[lid] + seg[lid + h]")}
${tree("seg_max", "max(seg[lid], seg[lid + h])")}`;
}
