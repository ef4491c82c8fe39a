/**
 * NumPy broadcasting rules and the reduction that undoes a broadcast.
 * @module
 */
import { fmtShape, sizeOf, type Tensor } from "../tensor/tensor.ts";
import { sumAxesRaw } from "./reduce.ts";

/** The broadcast shape of `a` and `b`, or a thrown error naming `op` and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of `shape` seen at `outShape`'s rank, 0 where broadcast. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = rank - shape.length + i;
    strides[j] = shape[i] === 1 && outShape[j] !== 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/** Merges adjacent dims so kernels see the smallest rank (keeps broadcast patterns). */
export function collapse(
  shape: number[],
  ...strideSets: number[][]
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const out: number[][] = strideSets.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 &&
      strideSets.every((s, k) => out[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strideSets.forEach((s, k) => (out[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strideSets.forEach((s, k) => out[k].push(s[d]));
    }
  }
  if (!outShape.length) return { shape: [1], strides: strideSets.map(() => [1]) };
  return { shape: outShape, strides: out };
}

/**
 * Sums `g` (of a broadcast shape) down to `shape`: the gradient of a
 * broadcast. Returns `g` itself when nothing was broadcast. Runs the tree
 * reductions of `sumAxesRaw` (one pass per group of adjacent broadcast dims).
 */
export function reduceTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  if (sizeOf(shape) === g.size) return g.view(shape, "reduceTo");
  const rank = g.rank;
  if (shape.length > rank) {
    throw new Error(`reduceTo: cannot reduce ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
  }
  const padded = [...new Array(rank - shape.length).fill(1), ...shape];
  const axes: number[] = [];
  for (let d = 0; d < rank; d++) {
    if (padded[d] === g.shape[d]) continue;
    if (padded[d] !== 1) {
      throw new Error(`reduceTo: cannot reduce ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
    }
    axes.push(d);
  }
  return sumAxesRaw(g, axes, shape, 1, "reduceTo");
}
