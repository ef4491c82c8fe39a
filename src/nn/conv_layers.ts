/**
 * Convolutional layers: Conv2D, Conv2DTranspose, MaxPooling2D,
 * AveragePooling2D, UpSampling2D. Layout NHWC (per-sample shape
 * [height, width, channels]); Conv2D kernels are HWIO [kh, kw, inC, outC] and
 * Conv2DTranspose kernels [kh, kw, outC, inC], as in Keras, so weights move
 * between the two frameworks unchanged.
 *
 * @module
 */
import { type Activation, isActivation } from "../../shaders/activations.ts";
import {
  conv2d,
  type Conv2DOptions,
  conv2dTranspose,
  convAxis,
  type Padding,
  type Size2,
} from "../ops/conv.ts";
import { avgPool2d, maxPool2d } from "../ops/pool.ts";
import { upSampling2d } from "../ops/upsample.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/tensor.ts";
import { get as getInitializer, type InitializerLike } from "./initializers.ts";
import { type CallContext, Layer, type Shape, uniqueName } from "./layer.ts";
import { seedStream } from "./layers.ts";
import type { Regularizer } from "./regularizers.ts";
import { mul } from "../ops/binary.ts";

function pair(layer: string, what: string, v: Size2 | undefined, dflt: number): [number, number] {
  const p = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (p.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${layer}: ${what} must be positive integers, got ${JSON.stringify(v)}`);
  }
  return p as [number, number];
}

function image(layer: string, s: Shape): [number, number, number] {
  if (s.length !== 3) {
    throw new Error(
      `${layer}: expected input [*, height, width, channels], got [*, ${s.join(", ")}]`,
    );
  }
  return [s[0], s[1], s[2]];
}

/** Options of {@link Conv2D} and {@link Conv2DTranspose}. */
export interface ConvLayerOptions {
  filters: number;
  kernelSize: Size2;
  strides?: Size2;
  padding?: Padding;
  dilationRate?: Size2;
  activation?: Activation;
  alpha?: number;
  useBias?: boolean;
  kernelInitializer?: InitializerLike;
  biasInitializer?: InitializerLike;
  kernelRegularizer?: Regularizer;
  activityRegularizer?: Regularizer;
  name?: string;
}

abstract class ConvBase extends Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: Padding;
  readonly activation: Activation;
  kernel: Tensor | null = null;
  bias: Tensor | null = null;

  constructor(base: string, readonly options: ConvLayerOptions) {
    super(options.name ?? uniqueName(base));
    if (!Number.isInteger(options.filters) || options.filters < 1) {
      throw new RangeError(`${base}: filters must be a positive integer, got ${options.filters}`);
    }
    this.filters = options.filters;
    this.kernelSize = pair(base, "kernelSize", options.kernelSize, 1);
    this.strides = pair(base, "strides", options.strides, 1);
    this.dilation = pair(base, "dilationRate", options.dilationRate, 1);
    this.padding = options.padding ?? "valid";
    if (this.padding !== "same" && this.padding !== "valid") {
      throw new Error(
        `${base}: padding must be "same" or "valid", got ${JSON.stringify(options.padding)}`,
      );
    }
    const a = options.activation ?? "linear";
    if (!isActivation(a)) throw new Error(`${base}: unknown activation "${a}"`);
    this.activation = a;
    getInitializer(options.kernelInitializer ?? "glorot_uniform");
    getInitializer(options.biasInitializer ?? "zeros");
  }

  override describe(): string {
    return `${this.name}(filters=${this.filters}, kernel=${this.kernelSize.join("x")})`;
  }

  /** Kernel shape for `inC` input channels. */
  protected abstract kernelShape(inC: number): number[];

  protected override build(s: Shape): void {
    const inC = s[2];
    const k = getInitializer(this.options.kernelInitializer ?? "glorot_uniform");
    this.kernel = this.addParam("kernel", k.create(this.kernelShape(inC), seedStream()));
    if (this.options.useBias !== false) {
      const b = getInitializer(this.options.biasInitializer ?? "zeros");
      this.bias = this.addParam("bias", b.create([this.filters], seedStream()));
    }
  }

  protected finish(y: Tensor, ctx: CallContext): Tensor {
    if (ctx.training && this.options.activityRegularizer) {
      ctx.losses.push(mul(this.options.activityRegularizer.penalty(y), 1 / y.shape[0]));
    }
    return y;
  }

  override regularizationLosses(): Tensor[] {
    return this.kernel && this.options.kernelRegularizer
      ? [this.options.kernelRegularizer.penalty(this.kernel)]
      : [];
  }

  protected convOptions(): Conv2DOptions {
    return {
      strides: this.strides,
      padding: this.padding,
      dilation: this.dilation,
      bias: this.bias ?? undefined,
      activation: this.activation,
      alpha: this.options.alpha,
    };
  }
}

/** 2-D convolution over NHWC images, implicit GEMM with a fused bias + activation epilogue. */
export class Conv2D extends ConvBase {
  readonly className = "Conv2D";
  constructor(options: ConvLayerOptions) {
    super("conv2d", options);
  }
  protected kernelShape(inC: number): number[] {
    return [...this.kernelSize, inC, this.filters];
  }
  outputShape(s: Shape): Shape {
    const [h, w, c] = image(this.describe(), s);
    if (this.kernel && this.kernel.shape[2] !== c) {
      throw new Error(
        `${this.describe()}: input has ${c} channels, kernel expects ${this.kernel.shape[2]}`,
      );
    }
    const oh = convAxis(h, this.kernelSize[0], this.strides[0], this.dilation[0], this.padding).out;
    const ow = convAxis(w, this.kernelSize[1], this.strides[1], this.dilation[1], this.padding).out;
    if (oh < 1 || ow < 1) {
      throw new Error(
        `${this.describe()}: kernel ${
          this.kernelSize.join("x")
        } does not fit a ${this.padding}-padded ${h}x${w} input`,
      );
    }
    return [oh, ow, this.filters];
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    return this.finish(conv2d(x, this.kernel!, this.convOptions()), ctx);
  }
}

/**
 * A Conv2D layer (Keras `Conv2D(filters, kernel_size, ...)`).
 *
 * @example
 * ```ts
 * lt.nn.conv2d(16, 3, { padding: "same", activation: "relu" });
 * ```
 */
export function conv2dLayer(
  filters: number,
  kernelSize: Size2,
  options: Omit<ConvLayerOptions, "filters" | "kernelSize"> = {},
): Conv2D {
  return new Conv2D({ ...options, filters, kernelSize });
}

/** Transposed 2-D convolution (learned upsampling). */
export class Conv2DTranspose extends ConvBase {
  readonly className = "Conv2DTranspose";
  constructor(options: ConvLayerOptions) {
    super("conv2d_transpose", options);
  }
  protected kernelShape(inC: number): number[] {
    return [...this.kernelSize, this.filters, inC];
  }
  outputShape(s: Shape): Shape {
    const [h, w, c] = image(this.describe(), s);
    if (this.kernel && this.kernel.shape[3] !== c) {
      throw new Error(
        `${this.describe()}: input has ${c} channels, kernel expects ${this.kernel.shape[3]}`,
      );
    }
    const axis = (n: number, i: 0 | 1) =>
      this.padding === "same"
        ? n * this.strides[i]
        : (n - 1) * this.strides[i] + (this.kernelSize[i] - 1) * this.dilation[i] + 1;
    return [axis(h, 0), axis(w, 1), this.filters];
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    return this.finish(conv2dTranspose(x, this.kernel!, this.convOptions()), ctx);
  }
}

/** A Conv2DTranspose layer. @example `lt.nn.conv2dTranspose(16, 3, { strides: 2, padding: "same" })` */
export function conv2dTransposeLayer(
  filters: number,
  kernelSize: Size2,
  options: Omit<ConvLayerOptions, "filters" | "kernelSize"> = {},
): Conv2DTranspose {
  return new Conv2DTranspose({ ...options, filters, kernelSize });
}

/** Options of the pooling layers. */
export interface PoolLayerOptions {
  poolSize?: Size2;
  strides?: Size2;
  padding?: Padding;
  name?: string;
}

class Pool2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  constructor(readonly className: string, readonly mode: "max" | "avg", options: PoolLayerOptions) {
    super(options.name ?? uniqueName(mode === "max" ? "max_pooling2d" : "average_pooling2d"));
    this.poolSize = pair(this.name, "poolSize", options.poolSize, 2);
    this.strides = pair(this.name, "strides", options.strides ?? this.poolSize, 1);
    this.padding = options.padding ?? "valid";
  }
  override describe(): string {
    return `${this.name}(pool=${this.poolSize.join("x")})`;
  }
  outputShape(s: Shape): Shape {
    const [h, w, c] = image(this.describe(), s);
    const oh = convAxis(h, this.poolSize[0], this.strides[0], 1, this.padding).out;
    const ow = convAxis(w, this.poolSize[1], this.strides[1], 1, this.padding).out;
    if (oh < 1 || ow < 1) {
      throw new Error(
        `${this.describe()}: pooling a ${h}x${w} input with ${this.padding} padding gives an empty output ${
          fmtShape([oh, ow, c])
        }`,
      );
    }
    return [oh, ow, c];
  }
  call(x: Tensor): Tensor {
    const o = { poolSize: this.poolSize, strides: this.strides, padding: this.padding };
    return this.mode === "max" ? maxPool2d(x, o) : avgPool2d(x, o);
  }
}

/** Max pooling (Keras `MaxPooling2D`). @example `lt.nn.maxPooling2d(2)` */
export function maxPooling2d(
  poolSize: Size2 = 2,
  options: Omit<PoolLayerOptions, "poolSize"> = {},
): Layer {
  return new Pool2D("MaxPooling2D", "max", { ...options, poolSize });
}

/** Average pooling (Keras `AveragePooling2D`). @example `lt.nn.averagePooling2d(2)` */
export function averagePooling2d(
  poolSize: Size2 = 2,
  options: Omit<PoolLayerOptions, "poolSize"> = {},
): Layer {
  return new Pool2D("AveragePooling2D", "avg", { ...options, poolSize });
}

/** Nearest or bilinear upsampling (Keras `UpSampling2D`). */
export class UpSampling2D extends Layer {
  readonly className = "UpSampling2D";
  readonly size: [number, number];
  constructor(
    size: Size2 = 2,
    readonly interpolation: "nearest" | "bilinear" = "nearest",
    name?: string,
  ) {
    super(name ?? uniqueName("up_sampling2d"));
    this.size = pair("upSampling2d", "size", size, 2);
  }
  outputShape(s: Shape): Shape {
    const [h, w, c] = image(this.name, s);
    return [h * this.size[0], w * this.size[1], c];
  }
  call(x: Tensor): Tensor {
    return upSampling2d(x, { size: this.size, interpolation: this.interpolation });
  }
}

/** An upsampling layer. @example `lt.nn.upSampling2d(2)` */
export function upSampling2dLayer(
  size: Size2 = 2,
  options: { interpolation?: "nearest" | "bilinear"; name?: string } = {},
): UpSampling2D {
  return new UpSampling2D(size, options.interpolation, options.name);
}
