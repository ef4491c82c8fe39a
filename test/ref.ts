/**
 * CPU float64 references and input generation for kernel tests.
 *
 * Every kernel test draws random inputs from {@link freshRng} (seeds derived
 * from the run's root seed and the case's name, see `seed.ts`, so the test
 * task's `--seed N --filter NAME` replays a failure exactly), turns on output
 * poisoning so unwritten elements show up as NaN, and compares against a
 * float64 computation here.
 *
 * @module
 */
import { debug } from "../src/tensor/tensor.ts";
import { nextCaseSeed } from "./seed.ts";

/** Poison every op output before its kernel runs (NaN for f32, 0xDEADBEEF for ints). */
export function poisonOutputs(on = true): void {
  debug.poison = on;
}
poisonOutputs(true);

/** A small seeded PRNG (mulberry32) for test inputs. */
export class Rng {
  #s: number;
  constructor(readonly seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next(), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** `n` uniform values in [lo, hi) as float32. */
  uniform(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }
  /** `n` normal values (mean 0, std `std`) as float32. */
  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }
  /** `n` integers in [0, k). */
  ints(n: number, k: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * k);
    return out;
  }
}

/**
 * A generator with the running case's next seed: new inputs for each root
 * seed, the same ones whenever a case is replayed under the same root seed.
 */
export function freshRng(): Rng {
  return new Rng(nextCaseSeed());
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** NumPy broadcast of two shapes (assumes compatible). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[a.length - r + i] ?? 1, db = b[b.length - r + i] ?? 1;
    return da === 1 ? db : da;
  });
}

/** Index into an input of `shape` from a multi-index over the broadcast `out` shape. */
function bIndex(shape: readonly number[], idx: number[]): number {
  const off = idx.length - shape.length;
  let k = 0;
  for (let d = 0; d < shape.length; d++) k = k * shape[d] + (shape[d] === 1 ? 0 : idx[off + d]);
  return k;
}

/** Float64 elementwise binary op with broadcasting. */
export function refBinary(
  f: (x: number, y: number) => number,
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
): { data: Float64Array; shape: number[] } {
  const shape = broadcastShape(aShape, bShape);
  const n = numel(shape), st = stridesOf(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = st.map((s, d) => Math.floor(i / s) % shape[d]);
    data[i] = f(a[bIndex(aShape, idx)], b[bIndex(bShape, idx)]);
  }
  return { data, shape };
}

/** Float64 sum of `x` (of `shape`) down to the broadcast-compatible `to` shape. */
export function refSumTo(
  x: ArrayLike<number>,
  shape: readonly number[],
  to: readonly number[],
): Float64Array {
  const out = new Float64Array(numel(to));
  const st = stridesOf(shape);
  for (let i = 0; i < x.length; i++) {
    const idx = st.map((s, d) => Math.floor(i / s) % shape[d]);
    out[bIndex(to, idx)] += x[i];
  }
  return out;
}

/** Float64 matrix product of row-major a [m,k] and b [k,n]. */
export function refMatmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0; j < n; j++) out[i * n + j] += av * b[p * n + j];
    }
  }
  return out;
}

/**
 * Central finite differences of a scalar function of one input array, in
 * float64: d f / d x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h.
 */
export function numericGrad(
  f: (x: Float64Array) => number,
  x: ArrayLike<number>,
  h = 1e-5,
): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + h;
    const fp = f(xs);
    xs[i] = v - h;
    const fm = f(xs);
    xs[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}
