/**
 * Core layers: Dense, Activation, Dropout, GaussianNoise, Flatten, Reshape.
 * Keras names and defaults (Dense: glorot_uniform kernel, zero bias).
 *
 * Parameter initialisation draws its seeds from one stream ({@link setSeed}),
 * so a seed fixes a whole model's initial weights, dropout masks and noise.
 *
 * @module
 */
import { add, mul } from "../ops/binary.ts";
import { activation as applyActivation, type ActivationName } from "../ops/activations.ts";
import { linear } from "../ops/matmul.ts";
import { bernoulli, randomNormal, RandomStream } from "../ops/random.ts";
import { ACTIVATIONS, isActivation } from "../../shaders/activations.ts";
import { reshape as viewOp } from "../ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape, sizeOf } from "../tensor/tensor.ts";
import { get as getInitializer, type InitializerLike } from "./initializers.ts";
import { type CallContext, Layer, type Shape, uniqueName } from "./layer.ts";
import type { Regularizer } from "./regularizers.ts";

let stream = new RandomStream(0);

/**
 * Seeds parameter initialisation, dropout and noise layers (like
 * `keras.utils.set_random_seed`). Layers built afterwards draw from it in
 * build order.
 *
 * @example
 * ```ts
 * lt.nn.setSeed(42);
 * ```
 */
export function setSeed(seed: number): void {
  stream = new RandomStream(seed);
}

/** The stream layers draw seeds from. */
export function seedStream(): RandomStream {
  return stream;
}

function checkActivation(layer: string, a: string | undefined): ActivationName {
  const name = a ?? "linear";
  if (name !== "softmax" && !isActivation(name)) {
    throw new Error(
      `${layer}: unknown activation "${name}" (expected ${ACTIVATIONS.join(", ")} or softmax)`,
    );
  }
  return name as ActivationName;
}

function positiveInt(layer: string, what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`${layer}: ${what} must be a positive integer, got ${v}`);
  }
  return v;
}

/** Options of {@link Dense}. */
export interface DenseOptions {
  units: number;
  activation?: ActivationName;
  /** Slope of leaky_relu (default 0.2, as Keras) / scale of elu (default 1). */
  alpha?: number;
  useBias?: boolean;
  kernelInitializer?: InitializerLike;
  biasInitializer?: InitializerLike;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
  /** Penalty on the layer's output (the sparse autoencoder's L1 on the code). */
  activityRegularizer?: Regularizer;
  name?: string;
}

/** A fully connected layer: y = act(x·W + b), one fused kernel. */
export class Dense extends Layer {
  readonly className = "Dense";
  readonly units: number;
  readonly activation: ActivationName;
  readonly options: DenseOptions;
  kernel: Tensor | null = null;
  bias: Tensor | null = null;

  constructor(options: DenseOptions) {
    super(options.name ?? uniqueName("dense"));
    this.units = positiveInt(`dense`, "units", options.units);
    this.activation = checkActivation(this.describe(), options.activation);
    this.options = options;
    // Resolve initializer names now so a typo fails at construction.
    getInitializer(options.kernelInitializer ?? "glorot_uniform");
    getInitializer(options.biasInitializer ?? "zeros");
  }

  override describe(): string {
    return `dense(units=${this.units})`;
  }

  outputShape(s: Shape): Shape {
    if (s.length < 1) {
      throw new Error(`${this.describe()}: expected input [*, features], got a scalar per sample`);
    }
    if (this.kernel && s[s.length - 1] !== this.kernel.shape[0]) {
      throw new Error(
        `${this.describe()}: expected input [*, ${this.kernel.shape[0]}], got [*, ${s.join(", ")}]`,
      );
    }
    return [...s.slice(0, -1), this.units];
  }

  protected override build(s: Shape): void {
    const fanIn = s[s.length - 1];
    const k = getInitializer(this.options.kernelInitializer ?? "glorot_uniform");
    this.kernel = this.addParam("kernel", k.create([fanIn, this.units], stream));
    if (this.options.useBias !== false) {
      const b = getInitializer(this.options.biasInitializer ?? "zeros");
      this.bias = this.addParam("bias", b.create([this.units], stream));
    }
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const inF = this.kernel!.shape[0];
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? x : viewOp(x, [sizeOf(lead), inF]);
    const act = this.activation === "softmax" ? "linear" : this.activation;
    let y = linear(x2, this.kernel!, this.bias ?? undefined, act, this.options.alpha);
    if (this.activation === "softmax") y = applyActivation(y, "softmax");
    if (x.rank !== 2) y = viewOp(y, [...lead, this.units]);
    if (ctx.training && this.options.activityRegularizer) {
      ctx.losses.push(mul(this.options.activityRegularizer.penalty(y), 1 / x.shape[0]));
    }
    return y;
  }

  override regularizationLosses(): Tensor[] {
    const out: Tensor[] = [];
    if (this.kernel && this.options.kernelRegularizer) {
      out.push(this.options.kernelRegularizer.penalty(this.kernel));
    }
    if (this.bias && this.options.biasRegularizer) {
      out.push(this.options.biasRegularizer.penalty(this.bias));
    }
    return out;
  }
}

/**
 * A Dense layer (Keras `Dense(units, activation=...)`).
 *
 * @example
 * ```ts
 * lt.nn.dense(500, "relu");
 * lt.nn.dense(10, { activation: "softmax", kernelInitializer: "he_normal" });
 * ```
 */
export function dense(
  units: number,
  options: ActivationName | Omit<DenseOptions, "units"> = {},
): Dense {
  return new Dense(
    typeof options === "string" ? { units, activation: options } : { ...options, units },
  );
}

/** Applies an activation (Keras `Activation`). */
export class Activation extends Layer {
  readonly className = "Activation";
  constructor(readonly activation: ActivationName, readonly alpha?: number, name?: string) {
    super(name ?? uniqueName("activation"));
    checkActivation("activation", activation);
  }
  outputShape(s: Shape): Shape {
    return s;
  }
  call(x: Tensor): Tensor {
    return applyActivation(x, this.activation, this.alpha);
  }
}

/** An activation layer. @example `lt.nn.activation("relu")` */
export function activation(
  name: ActivationName,
  options: { alpha?: number; name?: string } = {},
): Activation {
  return new Activation(name, options.alpha, options.name);
}

/** Inverted dropout: zeroes a fraction `rate` of inputs while training and scales the rest by 1/(1−rate). */
export class Dropout extends Layer {
  readonly className = "Dropout";
  readonly rate: number;
  #seeds: RandomStream | null = null;
  constructor(rate: number, options: { seed?: number; name?: string } = {}) {
    super(options.name ?? uniqueName("dropout"));
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`);
    }
    this.rate = rate;
    if (options.seed !== undefined) this.#seeds = new RandomStream(options.seed);
  }
  override describe(): string {
    return `dropout(rate=${this.rate})`;
  }
  outputShape(s: Shape): Shape {
    return s;
  }
  protected override build(): void {
    this.#seeds ??= stream.fork();
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    if (!ctx.training || this.rate === 0) return x;
    const keep = 1 - this.rate;
    return mul(x, bernoulli([...x.shape], keep, { seed: this.#seeds!, value: 1 / keep }));
  }
}

/** A dropout layer. @example `lt.nn.dropout(0.2)` */
export function dropout(rate: number, options: { seed?: number; name?: string } = {}): Dropout {
  return new Dropout(rate, options);
}

/** Adds N(0, stddev²) noise while training only (Keras `GaussianNoise`). */
export class GaussianNoise extends Layer {
  readonly className = "GaussianNoise";
  #seeds: RandomStream | null = null;
  constructor(readonly stddev: number, options: { seed?: number; name?: string } = {}) {
    super(options.name ?? uniqueName("gaussian_noise"));
    if (!(stddev >= 0) || !Number.isFinite(stddev)) {
      throw new RangeError(`gaussianNoise: stddev must be a finite number >= 0, got ${stddev}`);
    }
    if (options.seed !== undefined) this.#seeds = new RandomStream(options.seed);
  }
  outputShape(s: Shape): Shape {
    return s;
  }
  protected override build(): void {
    this.#seeds ??= stream.fork();
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    if (!ctx.training || this.stddev === 0) return x;
    return add(x, randomNormal([...x.shape], { std: this.stddev, seed: this.#seeds! }));
  }
}

/** A Gaussian noise layer. @example `lt.nn.gaussianNoise(0.5)` */
export function gaussianNoise(
  stddev: number,
  options: { seed?: number; name?: string } = {},
): GaussianNoise {
  return new GaussianNoise(stddev, options);
}

/** Flattens each sample to one dimension (a view: no copy). */
export class Flatten extends Layer {
  readonly className = "Flatten";
  constructor(name?: string) {
    super(name ?? uniqueName("flatten"));
  }
  outputShape(s: Shape): Shape {
    return [sizeOf(s)];
  }
  call(x: Tensor): Tensor {
    return reshapeBatch(x, [sizeOf(x.shape.slice(1))]);
  }
}

/** A flatten layer. @example `lt.nn.flatten()` */
export function flatten(options: { name?: string } = {}): Flatten {
  return new Flatten(options.name);
}

/** Reshapes each sample (a view: no copy). One dimension may be -1. */
export class Reshape extends Layer {
  readonly className = "Reshape";
  constructor(readonly targetShape: readonly number[], name?: string) {
    super(name ?? uniqueName("reshape"));
    if (
      targetShape.filter((d) => d === -1).length > 1 ||
      targetShape.some((d) => d !== -1 && (!Number.isInteger(d) || d < 1))
    ) {
      throw new Error(
        `reshape: target shape must list positive integers and at most one -1, got ${
          JSON.stringify(targetShape)
        }`,
      );
    }
  }
  override describe(): string {
    return `reshape(${fmtShape(this.targetShape)})`;
  }
  outputShape(s: Shape): Shape {
    const n = sizeOf(s);
    const known = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = this.targetShape.map((d) => (d === -1 ? n / known : d));
    if (out.some((d) => !Number.isInteger(d)) || sizeOf(out) !== n) {
      throw new Error(
        `${this.describe()}: cannot reshape a sample of shape ${fmtShape(s)} (${n} values) to ${
          fmtShape(this.targetShape)
        }`,
      );
    }
    return out;
  }
  call(x: Tensor): Tensor {
    return reshapeBatch(x, this.outputShape(x.shape.slice(1)));
  }
}

/** A reshape layer. @example `lt.nn.reshape([28, 28, 1])` */
export function reshape(targetShape: readonly number[], options: { name?: string } = {}): Reshape {
  return new Reshape(targetShape, options.name);
}

/** A differentiable view of a batch with a new per-sample shape. */
function reshapeBatch(x: Tensor, sample: readonly number[]): Tensor {
  return viewOp(x, [x.shape[0], ...sample]);
}
