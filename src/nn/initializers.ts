/**
 * Weight initializers with Keras semantics: `VarianceScaling` and its named
 * special cases (Glorot, He, LeCun), random and constant fills.
 *
 * Fans follow Keras' `compute_fans`: a dense kernel `[in, out]` has
 * fan_in = in and fan_out = out; a convolution kernel `[kh, kw, inC, outC]`
 * (HWIO, as in Keras) has fan_in = kh·kw·inC and fan_out = kh·kw·outC; a
 * vector `[n]` has both equal to n, a scalar both 1.
 *
 * Every random initializer draws on the GPU from the counter-based generator,
 * so a seed (or a {@link RandomStream}) reproduces the same weights anywhere.
 *
 * @module
 */
import {
  fillRandom,
  type RandomDistribution,
  RandomStream,
  resolveSeed,
  type Seed,
} from "../ops/random.ts";
import { fillInPlace } from "../ops/creation.ts";
import { checkShape, empty, type Tensor } from "../tensor/tensor.ts";

/** Fan-in and fan-out of a weight tensor. */
export interface Fans {
  fanIn: number;
  fanOut: number;
}

/**
 * Keras' fan rule for a weight shape (dense `[in, out]`, conv `[..., inC, outC]`).
 *
 * @example
 * ```ts
 * lt.initializers.computeFans([3, 3, 16, 32]); // { fanIn: 144, fanOut: 288 }
 * ```
 */
export function computeFans(shape: readonly number[]): Fans {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  let receptive = 1;
  for (const d of shape.slice(0, -2)) receptive *= d;
  return {
    fanIn: shape[shape.length - 2] * receptive,
    fanOut: shape[shape.length - 1] * receptive,
  };
}

/**
 * Makes the initial value of a weight. `create` allocates; `fill` writes an
 * existing f32 tensor in place. Both take the seed (a number or a
 * {@link RandomStream}; constants ignore it) and optional explicit fans
 * (default: {@link computeFans} of the shape).
 */
export interface Initializer {
  /** Keras name, e.g. `glorot_uniform`. */
  readonly name: string;
  /** The parameters, for summaries and saving. */
  readonly config: Readonly<Record<string, number | string>>;
  /** A new tensor of `shape`. */
  create(shape: readonly number[], seed?: Seed, fans?: Fans): Tensor;
  /** Overwrites `t` (f32) in place and returns it. */
  fill(t: Tensor, seed?: Seed, fans?: Fans): Tensor;
}

/** An initializer or its Keras name (`"glorot_uniform"`, `"HeNormal"`, …). */
export type InitializerLike = Initializer | string;

// Std of a standard normal truncated to (-2, 2): Keras divides by it so the
// truncated draw has the requested variance.
const TRUNCATED_STD = 0.87962566103423978;

function make(
  name: string,
  config: Record<string, number | string>,
  dist: (shape: readonly number[], fans: Fans) => RandomDistribution | number,
): Initializer {
  const fill = (t: Tensor, seed?: Seed, fans?: Fans): Tensor => {
    if (t.dtype !== "f32") {
      throw new TypeError(`${name}: expected a f32 tensor, got ${t.dtype}`);
    }
    const d = dist(t.shape, checkFans(name, fans ?? computeFans(t.shape)));
    if (typeof d === "number") return fillInPlace(t, d);
    return fillRandom(t, d, { seed: resolveSeed(name, seed) });
  };
  return {
    name,
    config: Object.freeze({ ...config }),
    create(shape, seed, fans) {
      checkShape(name, shape);
      // Validate before allocating, so a bad argument leaks nothing.
      const f = checkFans(name, fans ?? computeFans(shape));
      dist(shape, f);
      const s = seed === undefined || seed instanceof RandomStream ? seed : resolveSeed(name, seed);
      return fill(empty(shape, "f32", name), s, f);
    },
    fill,
  };
}

function checkFans(name: string, f: Fans): Fans {
  for (const k of ["fanIn", "fanOut"] as const) {
    if (!Number.isFinite(f?.[k]) || f[k] < 0) {
      throw new RangeError(`${name}: ${k} must be a finite number >= 0, got ${f?.[k]}`);
    }
  }
  return f;
}

/** Options of {@link varianceScaling}. */
export interface VarianceScalingOptions {
  /** Variance numerator (default 1). */
  scale?: number;
  /** Which fan divides the scale (default `fan_in`). */
  mode?: "fan_in" | "fan_out" | "fan_avg";
  /** Default `truncated_normal` (Keras). */
  distribution?: "uniform" | "truncated_normal" | "untruncated_normal";
}

const MODES = ["fan_in", "fan_out", "fan_avg"];
const DISTRIBUTIONS = ["uniform", "truncated_normal", "untruncated_normal"];

/**
 * Keras `VarianceScaling`: variance `scale / n` with `n` the fan of `mode`;
 * `uniform` draws from ±sqrt(3·scale/n), `truncated_normal` from a normal of
 * std sqrt(scale/n)/0.8796 cut at 2 std (so the result has std sqrt(scale/n)),
 * `untruncated_normal` from a normal of std sqrt(scale/n).
 *
 * @example
 * ```ts
 * // DEC's encoder init:
 * const init = lt.initializers.varianceScaling({ scale: 1 / 3, mode: "fan_in", distribution: "uniform" });
 * const w = init.create([784, 500], 1);
 * ```
 */
export function varianceScaling(options: VarianceScalingOptions = {}): Initializer {
  return scaled("variance_scaling", options);
}

function scaled(name: string, o: VarianceScalingOptions): Initializer {
  const scale = o.scale ?? 1, mode = o.mode ?? "fan_in";
  const distribution = o.distribution ?? "truncated_normal";
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`${name}: scale must be a finite number > 0, got ${scale}`);
  }
  if (!MODES.includes(mode)) {
    throw new RangeError(`${name}: mode must be one of ${MODES.join(", ")}, got "${mode}"`);
  }
  if (!DISTRIBUTIONS.includes(distribution)) {
    throw new RangeError(
      `${name}: distribution must be one of ${DISTRIBUTIONS.join(", ")}, got "${distribution}"`,
    );
  }
  return make(name, { scale, mode, distribution }, (_shape, f) => {
    const n = mode === "fan_in"
      ? f.fanIn
      : mode === "fan_out"
      ? f.fanOut
      : (f.fanIn + f.fanOut) / 2;
    const variance = scale / Math.max(1, n);
    switch (distribution) {
      case "uniform": {
        const limit = Math.sqrt(3 * variance);
        return { dist: "uniform", lo: -limit, hi: limit };
      }
      case "truncated_normal":
        return { dist: "truncated_normal", std: Math.sqrt(variance) / TRUNCATED_STD };
      default:
        return { dist: "normal", std: Math.sqrt(variance) };
    }
  });
}

/**
 * Glorot (Xavier) uniform: U(−l, l) with l = sqrt(6 / (fan_in + fan_out)).
 * Keras' default kernel initializer.
 *
 * @example
 * ```ts
 * const w = lt.initializers.glorotUniform().create([784, 500], 42);
 * ```
 */
export function glorotUniform(): Initializer {
  return scaled("glorot_uniform", { scale: 1, mode: "fan_avg", distribution: "uniform" });
}

/**
 * Glorot normal: truncated normal with std sqrt(2 / (fan_in + fan_out)).
 *
 * @example
 * ```ts
 * const w = lt.initializers.glorotNormal().create([784, 500], 42);
 * ```
 */
export function glorotNormal(): Initializer {
  return scaled("glorot_normal", { scale: 1, mode: "fan_avg", distribution: "truncated_normal" });
}

/**
 * He uniform: U(−l, l) with l = sqrt(6 / fan_in) (for ReLU layers).
 *
 * @example
 * ```ts
 * const w = lt.initializers.heUniform().create([3, 3, 1, 32], 42);
 * ```
 */
export function heUniform(): Initializer {
  return scaled("he_uniform", { scale: 2, mode: "fan_in", distribution: "uniform" });
}

/**
 * He normal: truncated normal with std sqrt(2 / fan_in).
 *
 * @example
 * ```ts
 * const w = lt.initializers.heNormal().create([784, 500], 42);
 * ```
 */
export function heNormal(): Initializer {
  return scaled("he_normal", { scale: 2, mode: "fan_in", distribution: "truncated_normal" });
}

/**
 * LeCun uniform: U(−l, l) with l = sqrt(3 / fan_in).
 *
 * @example
 * ```ts
 * const w = lt.initializers.lecunUniform().create([784, 500], 42);
 * ```
 */
export function lecunUniform(): Initializer {
  return scaled("lecun_uniform", { scale: 1, mode: "fan_in", distribution: "uniform" });
}

/**
 * LeCun normal: truncated normal with std sqrt(1 / fan_in) (for SELU).
 *
 * @example
 * ```ts
 * const w = lt.initializers.lecunNormal().create([784, 500], 42);
 * ```
 */
export function lecunNormal(): Initializer {
  return scaled("lecun_normal", { scale: 1, mode: "fan_in", distribution: "truncated_normal" });
}

/**
 * Keras `RandomUniform` (default ±0.05).
 *
 * @example
 * ```ts
 * const w = lt.initializers.randomUniform({ minval: -0.1, maxval: 0.1 }).create([10, 10], 1);
 * ```
 */
export function randomUniform(
  { minval = -0.05, maxval = 0.05 }: { minval?: number; maxval?: number } = {},
): Initializer {
  if (!(num("random_uniform", "minval", minval) <= num("random_uniform", "maxval", maxval))) {
    throw new RangeError(`random_uniform: expected minval <= maxval, got ${minval} and ${maxval}`);
  }
  const d: RandomDistribution = { dist: "uniform", lo: minval, hi: maxval };
  return make("random_uniform", { minval, maxval }, () => d);
}

/**
 * Keras `RandomNormal` (default mean 0, std 0.05).
 *
 * @example
 * ```ts
 * const w = lt.initializers.randomNormal({ stddev: 0.01 }).create([10, 10], 1);
 * ```
 */
export function randomNormal(
  { mean = 0, stddev = 0.05 }: { mean?: number; stddev?: number } = {},
): Initializer {
  checkStd("random_normal", mean, stddev);
  const d: RandomDistribution = { dist: "normal", mean, std: stddev };
  return make("random_normal", { mean, stddev }, () => d);
}

/**
 * Keras `TruncatedNormal` (default mean 0, std 0.05, cut at 2 std).
 *
 * @example
 * ```ts
 * const w = lt.initializers.truncatedNormal({ stddev: 0.02 }).create([10, 10], 1);
 * ```
 */
export function truncatedNormal(
  { mean = 0, stddev = 0.05 }: { mean?: number; stddev?: number } = {},
): Initializer {
  checkStd("truncated_normal", mean, stddev);
  const d: RandomDistribution = { dist: "truncated_normal", mean, std: stddev };
  return make("truncated_normal", { mean, stddev }, () => d);
}

function num(name: string, key: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new RangeError(`${name}: ${key} must be a finite number, got ${v}`);
  }
  return v;
}

function checkStd(name: string, mean: number, stddev: number): void {
  num(name, "mean", mean);
  if (num(name, "stddev", stddev) < 0) {
    throw new RangeError(`${name}: stddev must be >= 0, got ${stddev}`);
  }
}

/**
 * Every element equal to `value`.
 *
 * @example
 * ```ts
 * const b = lt.initializers.constant(0.1).create([500]);
 * ```
 */
export function constant(value: number): Initializer {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(`constant: value must be a finite number, got ${value}`);
  }
  return make("constant", { value }, () => value);
}

/** All zeros (Keras' default bias initializer). @example `lt.initializers.zeros().create([10])` */
export function zeros(): Initializer {
  return make("zeros", {}, () => 0);
}

/** All ones. @example `lt.initializers.ones().create([10])` */
export function ones(): Initializer {
  return make("ones", {}, () => 1);
}

const BY_NAME: Record<string, () => Initializer> = {
  glorot_uniform: glorotUniform,
  glorot_normal: glorotNormal,
  he_uniform: heUniform,
  he_normal: heNormal,
  lecun_uniform: lecunUniform,
  lecun_normal: lecunNormal,
  random_uniform: () => randomUniform(),
  random_normal: () => randomNormal(),
  truncated_normal: () => truncatedNormal(),
  variance_scaling: () => varianceScaling(),
  zeros,
  ones,
};

// Keras spellings that do not follow from snake-casing the class name.
const ALIASES: Record<string, string> = {
  xavier_uniform: "glorot_uniform",
  xavier_normal: "glorot_normal",
  zero: "zeros",
  one: "ones",
};

/**
 * Resolves an initializer or its name. Names are Keras' (`"glorot_uniform"`,
 * `"he_normal"`, …); class-style spellings (`"GlorotUniform"`) work too.
 *
 * @example
 * ```ts
 * const init = lt.initializers.get("he_normal");
 * const w = init.create([256, 128], 7);
 * ```
 */
export function get(init: InitializerLike): Initializer {
  if (typeof init !== "string") {
    if (init && typeof init.create === "function" && typeof init.fill === "function") return init;
    throw new TypeError(`initializer: expected a name or an Initializer, got ${String(init)}`);
  }
  const snake = init.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  const key = ALIASES[snake] ?? snake;
  const factory = BY_NAME[key];
  if (!factory) {
    throw new RangeError(
      `initializer: unknown name "${init}"; expected one of ${Object.keys(BY_NAME).join(", ")}`,
    );
  }
  return factory();
}
