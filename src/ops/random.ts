/**
 * Random tensors from a counter-based generator (Philox4x32-10, see
 * shaders/random.ts), and {@link RandomStream}, which derives one sub-seed
 * per use from a single user seed.
 *
 * A draw is a pure function of (seed, stream, element index): the same seed
 * gives the same numbers on every adapter, no generator state lives on the
 * GPU, and a training step that needs fresh noise only passes a new seed in a
 * uniform (no allocation, no recompilation, no readback). None of these ops
 * record gradients: random values are constants of the graph.
 *
 * @module
 */
import { WG } from "../../shaders/common.ts";
import { type RandomDist, randomKernel } from "../../shaders/random.ts";
import { checkShape, empty, fmtShape, sizeOf, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";

const TWO_32 = 4294967296;

// Philox4x32-10 on the host: sub-seed derivation here, and the host data
// generator of src/data/prng.ts (the GPU draws tensors with the same function).
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (JS numbers hold only 53 exact bits). */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * One Philox4x32-10 block: four u32 outputs from a 128-bit counter and a
 * 64-bit key. Matches the Random123 known-answer vectors.
 *
 * @example
 * ```ts
 * const out = philox4x32([0, 0, 0, 0], [0, 0]);
 * // out is [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 * ```
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

function splitSeed(seed: number): [number, number] {
  return [seed % TWO_32, Math.floor(seed / TWO_32)];
}

function isSeed(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

// Tags the counter's last word so sub-seeds never coincide with data blocks.
const SUBSEED_TAG = 0x5eed0001;

/**
 * A reproducible source of seeds: every {@link RandomStream.next} call returns
 * a fresh 53-bit sub-seed derived from the stream's seed and the call count.
 * Give one stream to a model (parameter init), the data pipeline (shuffles,
 * noise) and dropout, and the whole run follows from one number.
 *
 * @example
 * ```ts
 * const rs = new lt.RandomStream(42);
 * const w = lt.randomNormal([784, 10], { std: 0.05, seed: rs }); // uses rs.next()
 * const noise = lt.randomUniform([32, 784], { seed: rs.next() });
 * ```
 */
export class RandomStream {
  /** The seed the stream was created with. */
  readonly seed: number;
  #count = 0;

  /** @param seed A non-negative safe integer (up to 2^53 − 1). */
  constructor(seed: number) {
    if (!isSeed(seed)) {
      throw new RangeError(`RandomStream: seed must be a non-negative safe integer, got ${seed}`);
    }
    this.seed = seed;
  }

  /** Sub-seeds drawn so far; assign to rewind or skip ahead (e.g. when resuming a run). */
  get position(): number {
    return this.#count;
  }
  set position(n: number) {
    if (!isSeed(n)) {
      throw new RangeError(`RandomStream: position must be a non-negative safe integer, got ${n}`);
    }
    this.#count = n;
  }

  /**
   * The next sub-seed: a 53-bit integer, a pure function of (seed, call number).
   *
   * @example
   * ```ts
   * const a = new lt.RandomStream(1).next(); // same value in every run
   * ```
   */
  next(): number {
    const n = this.#count++;
    const [lo, hi] = philox4x32(
      [n % TWO_32, Math.floor(n / TWO_32), 0, SUBSEED_TAG],
      splitSeed(this.seed),
    );
    return (hi & 0x1fffff) * TWO_32 + lo;
  }

  /**
   * An independent child stream (seeded by {@link RandomStream.next}), for a
   * component that draws an unknown number of seeds.
   *
   * @example
   * ```ts
   * const initStream = rs.fork();
   * ```
   */
  fork(): RandomStream {
    return new RandomStream(this.next());
  }
}

/** A seed: a non-negative safe integer, or a {@link RandomStream} to draw the next sub-seed from. */
export type Seed = number | RandomStream;

/** Options shared by every random op. */
export interface RandomOptions {
  /**
   * The seed (a non-negative safe integer or a {@link RandomStream}). When
   * omitted the draw is seeded from `Math.random()` and not reproducible.
   */
  seed?: Seed;
  /** An independent stream under the same seed (a u32; default 0). */
  stream?: number;
}

/** A distribution for {@link fillRandom}. */
export type RandomDistribution =
  | { dist: "bits" }
  | { dist: "uniform"; lo?: number; hi?: number }
  | { dist: "normal"; mean?: number; std?: number }
  | { dist: "truncated_normal"; mean?: number; std?: number }
  | { dist: "bernoulli"; p: number; value?: number };

const DISTS = ["bits", "uniform", "normal", "truncated_normal", "bernoulli"];

/** Resolves a {@link Seed} to a 53-bit integer (drawing from a stream, or from Math.random). */
export function resolveSeed(op: string, seed: Seed | undefined): number {
  if (seed instanceof RandomStream) return seed.next();
  if (seed === undefined) {
    return Math.floor(Math.random() * 2 ** 21) * TWO_32 + Math.floor(Math.random() * TWO_32);
  }
  if (!isSeed(seed)) {
    throw new RangeError(
      `${op}: seed must be a non-negative safe integer or a RandomStream, got ${seed}`,
    );
  }
  return seed;
}

function finite(op: string, name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RangeError(`${op}: ${name} must be a finite number, got ${v}`);
  }
  return v;
}

/** Validates a distribution and returns its kernel parameters (a, b, c). */
function params(op: string, d: RandomDistribution): [number, number, number] {
  switch (d.dist) {
    case "bits":
      return [0, 0, 0];
    case "uniform": {
      const lo = finite(op, "lo", d.lo ?? 0), hi = finite(op, "hi", d.hi ?? 1);
      if (!(lo <= hi)) throw new RangeError(`${op}: expected lo <= hi, got lo=${lo}, hi=${hi}`);
      return [lo, finite(op, "hi - lo", hi - lo), 0];
    }
    case "normal":
    case "truncated_normal": {
      const std = finite(op, "std", d.std ?? 1);
      if (std < 0) throw new RangeError(`${op}: std must be >= 0, got ${std}`);
      return [finite(op, "mean", d.mean ?? 0), std, 0];
    }
    case "bernoulli": {
      const p = d.p;
      if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
        throw new RangeError(`${op}: p must be a probability in [0, 1], got ${p}`);
      }
      return [0, p, finite(op, "value", d.value ?? 1)];
    }
    default:
      throw new TypeError(
        `${op}: unknown distribution ${JSON.stringify((d as { dist: unknown }).dist)}; ` +
          `expected one of ${DISTS.join(", ")}`,
      );
  }
}

interface Prepared {
  dist: RandomDist;
  uniforms: Record<string, number>;
  /**
   * Draws the next seed again at each replay of a captured step (a seed
   * from a {@link RandomStream} or `Math.random()`: a dropout layer's masks
   * stay fresh per step, in the eager order); null for a fixed seed.
   */
  refresh: (() => Record<string, number>) | null;
}

/** Validates everything and packs the uniforms, before any allocation or GPU work. */
function prepare(op: string, d: RandomDistribution, o: RandomOptions, size: number): Prepared {
  const [a, b, c] = params(op, d);
  const stream = o.stream ?? 0;
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_32) {
    throw new RangeError(`${op}: stream must be an integer in [0, 2^32), got ${stream}`);
  }
  const draw = () => {
    const [key0, key1] = splitSeed(resolveSeed(op, o.seed));
    return { n: size, key0, key1, stream, a, b, c, pad: 0 };
  };
  const uniforms = draw();
  return { dist: d.dist, uniforms, refresh: typeof o.seed === "number" ? null : draw };
}

function run(op: string, t: Tensor, p: Prepared): Tensor {
  if (t.size === 0) return t;
  const blocks = Math.ceil(t.size / 4);
  // Bits into an i32 tensor: the kernel declares its output i32.
  const spec = p.dist === "bits" && t.dtype === "i32"
    ? { dist: p.dist, i32: true }
    : { dist: p.dist };
  launchKernel(
    op,
    randomKernel(spec),
    { out: t },
    p.uniforms,
    Math.ceil(blocks / WG),
    p.refresh ?? undefined,
  );
  return t;
}

function fresh(
  op: string,
  shape: readonly number[],
  d: RandomDistribution,
  o: RandomOptions,
): Tensor {
  checkShape(op, shape);
  const p = prepare(op, d, o, sizeOf(shape));
  return run(op, empty(shape, d.dist === "bits" ? "u32" : "f32", op), p);
}

/**
 * Overwrites `t` in place with random values (no allocation: per-step noise
 * and dropout masks reuse one buffer and pass a new seed each step). Returns `t`.
 *
 * @example
 * ```ts
 * const rs = new lt.RandomStream(7);
 * const noise = lt.zeros([256, 784]);
 * // each step:
 * lt.fillRandom(noise, { dist: "normal", std: 0.5 }, { seed: rs });
 * ```
 */
export function fillRandom(t: Tensor, d: RandomDistribution, options: RandomOptions = {}): Tensor {
  const op = `fillRandom(${d?.dist})`;
  params(op, d);
  const want = d.dist === "bits" ? ["u32", "i32"] : ["f32"];
  if (!want.includes(t.dtype)) {
    throw new TypeError(
      `${op}: expected a ${want.join(" or ")} tensor for ${d.dist} values, got ${t.dtype} ${
        fmtShape(t.shape)
      }`,
    );
  }
  return run(op, t, prepare(op, d, options, t.size));
}

/**
 * Uniform values in [lo, hi) (default [0, 1)); f32 rounding of
 * lo + (hi − lo)·u can give exactly `hi`, rarely.
 *
 * @example
 * ```ts
 * const w = lt.randomUniform([784, 500], { lo: -0.05, hi: 0.05, seed: 1 });
 * ```
 */
export function randomUniform(
  shape: readonly number[],
  options: RandomOptions & { lo?: number; hi?: number } = {},
): Tensor {
  return fresh(
    "randomUniform",
    shape,
    { dist: "uniform", lo: options.lo, hi: options.hi },
    options,
  );
}

/**
 * Normal values (default mean 0, std 1), by Box–Muller.
 *
 * @example
 * ```ts
 * const z = lt.randomNormal([32, 10], { seed: 3 });
 * ```
 */
export function randomNormal(
  shape: readonly number[],
  options: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  return fresh("randomNormal", shape, {
    dist: "normal",
    mean: options.mean,
    std: options.std,
  }, options);
}

/**
 * Normal values truncated to within 2 std of the mean (Keras'
 * `TruncatedNormal`; the result's std is about 0.88 · `std`).
 *
 * @example
 * ```ts
 * const w = lt.truncatedNormal([784, 500], { std: 0.05, seed: 4 });
 * ```
 */
export function truncatedNormal(
  shape: readonly number[],
  options: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  return fresh("truncatedNormal", shape, {
    dist: "truncated_normal",
    mean: options.mean,
    std: options.std,
  }, options);
}

/**
 * Bernoulli values: `value` (default 1) with probability `p`, else 0. With
 * `value = 1 / keep` and `p = keep` this is an inverted-dropout mask.
 * The third argument is a seed or an options object.
 *
 * @example
 * ```ts
 * const mask = lt.bernoulli([32, 500], 0.8, { seed: rs, value: 1 / 0.8 });
 * const coin = lt.bernoulli([10], 0.5, 123);
 * ```
 */
export function bernoulli(
  shape: readonly number[],
  p: number,
  options: Seed | (RandomOptions & { value?: number }) = {},
): Tensor {
  const o = typeof options === "number" || options instanceof RandomStream
    ? { seed: options }
    : options;
  return fresh("bernoulli", shape, {
    dist: "bernoulli",
    p,
    value: (o as { value?: number }).value,
  }, o);
}

/**
 * Raw 32-bit random words (u32): block `i` holds Philox4x32-10 of counter
 * `[i, 0, stream, 0]` under key `[seed mod 2^32, floor(seed / 2^32)]`.
 *
 * @example
 * ```ts
 * const bits = lt.randomBits([1024], { seed: 9 });
 * ```
 */
export function randomBits(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return fresh("randomBits", shape, { dist: "bits" }, options);
}
