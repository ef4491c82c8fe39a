/**
 * A seeded, counter-based pseudo-random number generator for host-side data
 * work (blobs, shuffles, splits).
 *
 * The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers: as
 * easy as 1, 2, 3", SC 2011), the counter-based generator behind cuRAND, JAX
 * and TensorFlow. Being counter-based, block `i` of a stream is a pure
 * function of `(seed, stream, i)`, so a WGSL kernel using only 32-bit integer
 * arithmetic can reproduce exactly the numbers the host draws, and any block
 * can be computed without generating the ones before it.
 *
 * Block `i` of stream `s` under seed `k` is
 * `philox4x32([i mod 2^32, floor(i / 2^32), s, 0], [k mod 2^32, floor(k / 2^32)])`.
 *
 * @module
 */

import { philox4x32 } from "../ops/random.ts";

export { philox4x32 };

const TWO_32 = 4294967296;

function checkSeed(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`Rng: expected ${what} to be a non-negative safe integer, got ${v}`);
  }
}

/**
 * A seeded random stream. The same `(seed, stream)` always yields the same
 * numbers; different streams under one seed are independent.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.uniform();   // in [0, 1)
 * const z = rng.normal();    // standard normal
 * const perm = rng.permutation(10);
 * ```
 */
export class Rng {
  /** The seed this stream was created with. */
  readonly seed: number;
  /** The stream number (third counter word). */
  readonly stream: number;
  #block = 0;
  #buf: number[] = [];
  #pos = 4;
  #spareNormal: number | undefined;

  /**
   * @param seed Non-negative integer up to 2^53 - 1 (the Philox key).
   * @param stream Non-negative integer below 2^32 selecting an independent stream.
   */
  constructor(seed = 0, stream = 0) {
    checkSeed("seed", seed);
    checkSeed("stream", stream);
    if (stream >= TWO_32) throw new RangeError(`Rng: expected stream < 2^32, got ${stream}`);
    this.seed = seed;
    this.stream = stream;
  }

  /**
   * Next uniformly distributed unsigned 32-bit integer.
   *
   * @example
   * ```ts
   * const bits = new Rng(1).nextU32(); // 0 <= bits < 2 ** 32
   * ```
   */
  nextU32(): number {
    if (this.#pos === 4) {
      const i = this.#block++;
      this.#buf = philox4x32(
        [i % TWO_32, Math.floor(i / TWO_32), this.stream, 0],
        [this.seed % TWO_32, Math.floor(this.seed / TWO_32)],
      );
      this.#pos = 0;
    }
    return this.#buf[this.#pos++];
  }

  /**
   * Uniform number in `[0, 1)` with 32 random bits (exactly representable as
   * float64, so GPU code can reproduce it as `f32(u) * 2^-32` up to rounding).
   *
   * @example
   * ```ts
   * const u = new Rng(7).uniform(); // 0 <= u < 1
   * ```
   */
  uniform(): number {
    return this.nextU32() / TWO_32;
  }

  /**
   * Uniform number in `[lo, hi)`.
   *
   * @example
   * ```ts
   * const x = new Rng(7).uniformIn(-10, 10);
   * ```
   */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /**
   * Standard normal sample by the Box-Muller transform; samples come in pairs
   * and the second one of each pair is returned by the next call.
   *
   * @example
   * ```ts
   * const z = new Rng(3).normal(); // mean 0, std 1
   * ```
   */
  normal(): number {
    if (this.#spareNormal !== undefined) {
      const z = this.#spareNormal;
      this.#spareNormal = undefined;
      return z;
    }
    // (u + 0.5) / 2^32 lies in (0, 1): log never sees 0.
    const u1 = (this.nextU32() + 0.5) / TWO_32;
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Uniform integer in `[0, n)` without modulo bias (rejection sampling).
   *
   * @example
   * ```ts
   * const die = new Rng(5).int(6) + 1;
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`Rng.int: expected an integer n in [1, 2^32], got ${n}`);
    }
    // Accept only draws below the largest multiple of n that fits in 2^32.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /**
   * Shuffles `array` in place (Fisher-Yates) and returns it.
   *
   * @example
   * ```ts
   * const a = new Rng(0).shuffle([1, 2, 3, 4]);
   * ```
   */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /**
   * A random permutation of `0 .. n-1`.
   *
   * @example
   * ```ts
   * const order = new Rng(1).permutation(60000); // Int32Array
   * ```
   */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new RangeError(`Rng.permutation: expected a non-negative integer n, got ${n}`);
    }
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
