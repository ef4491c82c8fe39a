/**
 * Reductions: sum, mean, max, min (over one axis, several, or all elements)
 * and argmax/argmin, with gradients. Kernels are tree reductions in workgroup
 * memory (shaders/reduce.ts); long axes take several passes, all on the GPU.
 * @module
 */
import { packDims, WG } from "../../shaders/common.ts";
import type { DeclaredKernel } from "../../shaders/declare.ts";
import {
  isArgReduce,
  mappedReduceKernel,
  planReduce,
  reduceGradKernel,
  reduceKernel,
  type ReduceMap,
  type ReduceOp,
  type ReduceSpec,
} from "../../shaders/reduce.ts";
import { record } from "../autograd/tape.ts";
import { runtime } from "../gpu/runtime.ts";
import { empty, fmtShape, sizeOf, Tensor } from "../tensor/tensor.ts";
import { fillInPlace } from "./creation.ts";
import { launchKernel } from "./kernel_call.ts";
import { reduceProfile } from "./tuning.ts";

/** An axis, a list of axes (negative counts from the end), or undefined for all. */
export type Axis = number | readonly number[] | undefined;

/** Sorted, unique, non-negative axes of `x`; all axes when `axis` is undefined. */
export function normalizeAxes(op: string, x: Tensor, axis: Axis): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = typeof axis === "number" ? [axis] : [...axis];
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -x.rank || a >= x.rank) {
      throw new RangeError(
        `${op}: axis ${a} is out of range for a tensor of rank ${x.rank} (shape ${
          fmtShape(x.shape)
        })`,
      );
    }
    out.add(a < 0 ? a + x.rank : a);
  }
  return [...out].sort((a, b) => a - b);
}

/** Output shape of reducing `axes` of `shape`. */
export function reducedShape(
  shape: readonly number[],
  axes: readonly number[],
  keepDims: boolean,
): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** Options of {@link reduceAxisRaw}. */
export interface ReduceRawOptions {
  /** Multiplies sums (mean: 1 / count), applied on the last pass. */
  scale?: number;
  /** A first-pass kernel with a map prologue over `inputs` (losses). */
  map?: ReduceMap;
  /** Inputs of the map, bound to its `inputs` names in order (default: `[x]`). */
  inputs?: Tensor[];
  /** Map parameter `u.p0`. */
  p0?: number;
  /** Map parameter `u.p1`. */
  p1?: number;
  /** The tensor the map's side output writes (required when the map has one). */
  side?: Tensor;
  /** Op name for messages. */
  name?: string;
  /**
   * Sums only: the last pass also adds its results times `scale` (default 1)
   * into `into`, a live f32 tensor with one element per output element — a
   * running total kept on the GPU (fit's epoch loss) without a dispatch of its
   * own.
   */
  accumulate?: ReduceAccumulator;
}

/** A running total a sum adds its result into (see {@link ReduceRawOptions.accumulate}). */
export interface ReduceAccumulator {
  into: Tensor;
  /** Multiplies the result before it is added (default 1). */
  scale?: number;
}

/** Reductions whose result was added into a running total, and where (see {@link addedInto}). */
const totals = new WeakMap<Tensor, ReduceAccumulator>();

/**
 * The running total (and scale) that `t` was added into by the reduction that
 * made it, if any: a step that returns a loss which already added itself into
 * fit's total is not added again.
 */
export function addedInto(t: Tensor): ReduceAccumulator | undefined {
  return totals.get(t);
}

/**
 * Throws, naming `op`, unless `acc` is a running total for a reduction with
 * `size` output elements: a live f32 tensor of that size that does not
 * require gradients and shares no storage with the op's `inputs` (a buffer
 * cannot be read and written by one dispatch), and a finite scale.
 */
export function checkAccumulator(
  op: string,
  acc: ReduceAccumulator,
  size: number,
  inputs: readonly Tensor[],
): void {
  const t = acc?.into;
  if (!(t instanceof Tensor) || t.disposed || t.dtype !== "f32") {
    throw new TypeError(
      `${op}: accumulate.into must be a live f32 tensor, got ${
        t instanceof Tensor ? `${t.disposed ? "a disposed " : ""}${t.toString()}` : typeof t
      }`,
    );
  }
  if (t.size !== size) {
    throw new Error(
      `${op}: accumulate.into must have ${size} element(s) (the result's), got ${
        fmtShape(t.shape)
      }`,
    );
  }
  if (t.requiresGrad) {
    throw new Error(`${op}: accumulate.into is a running total and must not require gradients`);
  }
  if (inputs.some((x) => !x.disposed && x.storage(op) === t.storage(op))) {
    throw new Error(`${op}: accumulate.into must not share storage with the op's inputs`);
  }
  const s = acc.scale ?? 1;
  if (typeof s !== "number" || !Number.isFinite(s)) {
    throw new RangeError(`${op}: accumulate.scale must be a finite number, got ${s}`);
  }
}

/**
 * Reduces `x` viewed as `[outer, len, inner]` along `len` into a new tensor
 * of `outShape` (outer · inner elements), without autograd. arg ops also
 * return i32 indices along the axis. Several passes when the plan splits the
 * axis into chunks; temporaries go back to the pool stream-ordered.
 */
export function reduceAxisRaw(
  op: ReduceOp,
  x: Tensor,
  outer: number,
  len: number,
  inner: number,
  outShape: readonly number[],
  options: ReduceRawOptions = {},
): { values: Tensor; indices: Tensor | null } {
  const name = options.name ?? op;
  const arg = isArgReduce(op);
  const init = op === "sum" ? 0 : op === "max" || op === "argmax" ? -Infinity : Infinity;
  const profile = reduceProfile();
  const loops = runtime().budgets.loopIterations;
  let inputs = options.inputs ?? [x];
  // The first pass binds the inputs to the map's names (a plain pass reads X).
  const reads = options.map?.inputs.length ?? 1;
  if (inputs.length !== reads) {
    throw new Error(
      `${name}: ${options.map ? `the reduction map ${options.map.name}` : "a plain reduction"} ` +
        `reads ${reads} input(s), got ${inputs.length}`,
    );
  }
  if (options.accumulate) {
    if (op !== "sum") throw new Error(`${name}: only a sum accumulates into a total, got ${op}`);
    checkAccumulator(name, options.accumulate, outer * inner, options.inputs ?? [x]);
  }
  let idxIn: Tensor | null = null;
  let first = true;
  for (;;) {
    // Column reductions move four columns per thread when they can.
    const vec4 = !arg && inner > 1 && inner % 4 === 0 && !(first && options.map);
    const plan = planReduce(op, outer, len, inner, idxIn !== null, profile, vec4, loops);
    const innerUnits = vec4 ? inner / 4 : inner;
    const last = plan.chunks === 1;
    const acc = last ? options.accumulate : undefined;
    const spec = acc ? { ...plan.spec, accumulate: true } : plan.spec;
    const shape = last ? outShape : [outer, plan.chunks, inner];
    const values = empty(shape, "f32", name);
    const indices = arg ? empty(shape, "i32", name) : null;
    const map = first ? options.map : undefined;
    const kernel = map ? mappedKernel(spec, map) : reduceKernel(spec);
    const names = map ? map.inputs : ["X"];
    const buffers: Record<string, Tensor> = { V: values };
    names.forEach((n, i) => (buffers[n] = inputs[i]));
    if (map?.side) {
      if (!options.side) {
        throw new Error(`${name}: the reduction map ${map.name} writes a side output`);
      }
      buffers[map.side.name] = options.side;
    }
    if (idxIn) buffers.I_in = idxIn;
    if (indices) buffers.I = indices;
    if (acc) buffers.A = acc.into;
    launchKernel(name, kernel, buffers, {
      outer,
      len,
      inner: innerUnits,
      chunk: plan.chunk,
      chunks: plan.chunks,
      slots: outer * innerUnits,
      scale: last ? options.scale ?? 1 : 1,
      init,
      p0: options.p0 ?? 0,
      p1: options.p1 ?? 0,
      ascale: acc?.scale ?? 1,
    }, plan.workgroups);
    if (!first) {
      for (const t of inputs) t.dispose();
      idxIn?.dispose();
    }
    if (last) {
      if (acc) totals.set(values, { into: acc.into, scale: acc.scale ?? 1 });
      return { values, indices };
    }
    inputs = [values];
    idxIn = indices;
    len = plan.chunks;
    first = false;
  }
}

// Mapped kernels are keyed by the map's name (its WGSL is fixed per name).
const mappedCache = new Map<string, DeclaredKernel>();
function mappedKernel(spec: ReduceSpec, map: ReduceMap): DeclaredKernel {
  const key = map.name + JSON.stringify(spec);
  let k = mappedCache.get(key);
  if (!k) mappedCache.set(key, k = mappedReduceKernel(spec, map));
  return k;
}

/**
 * Adjacent dims merged into alternating kept / reduced groups (size-1 dims
 * dropped): the fewest passes and the simplest index arithmetic.
 */
function groupDims(
  shape: readonly number[],
  axes: readonly number[],
): { size: number; reduced: boolean }[] {
  const groups: { size: number; reduced: boolean }[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const reduced = axes.includes(i);
    const last = groups[groups.length - 1];
    if (last && last.reduced === reduced) last.size *= d;
    else groups.push({ size: d, reduced });
  });
  return groups;
}

/**
 * Sums `axes` of `x` (times `scale`) into a tensor of `outShape`, without
 * autograd: one axis-reduction per group of adjacent reduced dims, innermost
 * first. Used by `sum`/`mean` and by `reduceTo` (broadcast gradients).
 */
export function sumAxesRaw(
  x: Tensor,
  axes: readonly number[],
  outShape: readonly number[],
  scale = 1,
  name = "sum",
): Tensor {
  const groups = groupDims(x.shape, axes);
  if (x.size === 0 || sizeOf(outShape) === 0) {
    return fillInPlace(empty(outShape, "f32", name), x.size === 0 ? 0 * scale : 0);
  }
  if (!groups.some((g) => g.reduced)) {
    // Only size-1 dims are reduced: the sum is x itself.
    if (scale === 1) return x.view(outShape, name);
    return reduceAxisRaw("sum", x, x.size, 1, 1, outShape, { scale, name }).values;
  }
  let cur = x;
  let sizes = groups.map((g) => g.size);
  let reduced = groups.map((g) => g.reduced);
  for (;;) {
    const r = reduced.lastIndexOf(true);
    const lastPass = reduced.indexOf(true) === r;
    const outer = sizeOf(sizes.slice(0, r));
    const inner = sizeOf(sizes.slice(r + 1));
    const shape = lastPass ? outShape : [...sizes.slice(0, r), ...sizes.slice(r + 1)];
    const next = reduceAxisRaw("sum", cur, outer, sizes[r], inner, shape, {
      scale: lastPass ? scale : 1,
      name,
    }).values;
    if (cur !== x) cur.dispose();
    if (lastPass) return next;
    cur = next;
    sizes = [...sizes.slice(0, r), ...sizes.slice(r + 1)];
    reduced = [...reduced.slice(0, r), ...reduced.slice(r + 1)];
  }
}

/** dx = broadcast of g (shaped like the reduction's output) over the reduced axes, times `scale`. */
function spreadRaw(g: Tensor, xShape: readonly number[], axes: readonly number[], scale: number) {
  const out = empty(xShape, "f32", "sum gradient");
  if (out.size === 0) return out;
  const groups = groupDims(xShape, axes);
  if (!groups.length) groups.push({ size: 1, reduced: false });
  if (groups.length > 8) {
    throw new Error(`sum gradient: ${fmtShape(xShape)} has too many alternating reduced dims`);
  }
  const gs = new Array(groups.length).fill(0);
  let s = 1;
  for (let i = groups.length - 1; i >= 0; i--) {
    if (!groups[i].reduced) {
      gs[i] = s;
      s *= groups[i].size;
    }
  }
  launchKernel(
    "sum gradient",
    reduceGradKernel({ mode: "spread" }),
    { G: g, out },
    {
      n: out.size,
      rank: groups.length,
      scale,
      shape: packDims(groups.map((x) => x.size)),
      gs: packDims(gs, 0),
    },
    Math.ceil(out.size / WG),
  );
  return out;
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== "f32") {
    throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
}

function sumLike(op: "sum" | "mean", x: Tensor, axis: Axis, keepDims: boolean): Tensor {
  checkInput(op, x);
  const axes = normalizeAxes(op, x, axis);
  const outShape = reducedShape(x.shape, axes, keepDims);
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const scale = op === "mean" ? 1 / count : 1;
  const out = sumAxesRaw(x, axes, outShape, scale, op);
  return record(out, op, [x], (g) => [spreadRaw(g, x.shape, axes, scale)]);
}

/**
 * Sum over `axis` (a number, a list, or all elements when omitted).
 * `keepDims` keeps reduced axes as size 1.
 *
 * @example
 * ```ts
 * const total = lt.sum(x);              // shape []
 * const rows = lt.sum(x, -1);           // [n, k] → [n]
 * const cols = lt.sum(x, 0, true);      // [n, k] → [1, k]
 * ```
 */
export function sum(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return sumLike("sum", x, axis, keepDims);
}

/**
 * Mean over `axis` (a number, a list, or all elements when omitted).
 *
 * @example
 * ```ts
 * const m = lt.mean(x, 0); // per-feature mean of a batch
 * ```
 */
export function mean(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return sumLike("mean", x, axis, keepDims);
}

/** [outer, len, inner] of reducing one axis (or everything when undefined). */
function axisView(op: string, x: Tensor, axis: number | undefined) {
  if (axis === undefined) {
    return {
      outer: 1,
      len: x.size,
      inner: 1,
      axes: x.shape.map((_, i) => i),
    };
  }
  if (typeof axis !== "number") {
    throw new TypeError(`${op}: expected one axis (a number) or none, got ${JSON.stringify(axis)}`);
  }
  const [a] = normalizeAxes(op, x, axis);
  return {
    outer: sizeOf(x.shape.slice(0, a)),
    len: x.shape[a],
    inner: sizeOf(x.shape.slice(a + 1)),
    axes: [a],
  };
}

function extremum(op: "max" | "min", x: Tensor, axis: number | undefined, keepDims: boolean) {
  checkInput(op, x);
  const v = axisView(op, x, axis);
  if (v.len === 0) throw new Error(`${op}: cannot reduce an empty axis of ${fmtShape(x.shape)}`);
  const outShape = reducedShape(x.shape, v.axes, keepDims);
  const out = reduceAxisRaw(op, x, v.outer, v.len, v.inner, outShape).values;
  return record(out, op, [x], (g) => {
    // The position is recomputed here rather than kept from the forward, so
    // the forward allocates nothing that must outlive its scope.
    const arg = op === "max" ? "argmax" : "argmin";
    const { values, indices } = reduceAxisRaw(arg, x, v.outer, v.len, v.inner, outShape, {
      name: `${op} gradient`,
    });
    values.dispose();
    const dx = empty(x.shape, "f32", `${op} gradient`);
    launchKernel(
      `${op} gradient`,
      reduceGradKernel({ mode: "pick" }),
      { G: g, I: indices!, out: dx },
      { n: x.size, len: v.len, inner: v.inner },
      Math.ceil(x.size / WG),
    );
    indices!.dispose();
    return [dx];
  });
}

/**
 * Maximum over one axis, or over all elements when `axis` is omitted. The
 * gradient goes to the position of the maximum (the first one on ties).
 *
 * @example
 * ```ts
 * const m = lt.max(logits, -1); // [n, k] → [n]
 * ```
 */
export function max(x: Tensor, axis?: number, keepDims = false): Tensor {
  return extremum("max", x, axis, keepDims);
}

/**
 * Minimum over one axis, or over all elements when `axis` is omitted. The
 * gradient goes to the position of the minimum (the first one on ties).
 *
 * @example
 * ```ts
 * const lo = lt.min(x);
 * ```
 */
export function min(x: Tensor, axis?: number, keepDims = false): Tensor {
  return extremum("min", x, axis, keepDims);
}

function argExtremum(op: "argmax" | "argmin", x: Tensor, axis: number, keepDims: boolean) {
  checkInput(op, x);
  if (typeof axis !== "number") {
    throw new TypeError(`${op}: expected an axis (a number), got ${JSON.stringify(axis)}`);
  }
  const v = axisView(op, x, axis);
  if (v.len === 0) throw new Error(`${op}: cannot reduce an empty axis of ${fmtShape(x.shape)}`);
  const outShape = reducedShape(x.shape, v.axes, keepDims);
  const { values, indices } = reduceAxisRaw(op, x, v.outer, v.len, v.inner, outShape);
  values.dispose();
  return indices!;
}

/**
 * Index (i32) of the maximum along `axis`; the first one on ties. Not
 * differentiable.
 *
 * @example
 * ```ts
 * const labels = lt.argmax(q, 1); // [n, k] soft assignments → [n] cluster ids
 * ```
 */
export function argmax(x: Tensor, axis: number, keepDims = false): Tensor {
  return argExtremum("argmax", x, axis, keepDims);
}

/**
 * Index (i32) of the minimum along `axis`; the first one on ties. Not
 * differentiable.
 *
 * @example
 * ```ts
 * const nearest = lt.argmin(distances, 1);
 * ```
 */
export function argmin(x: Tensor, axis: number, keepDims = false): Tensor {
  return argExtremum("argmin", x, axis, keepDims);
}
