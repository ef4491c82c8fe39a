/**
 * Layers and the symbolic graph that functional models are built from.
 *
 * A layer owns its parameters and is built lazily from the first input shape
 * it sees. Calling `layer.apply()` on a {@link SymbolicTensor} records a node
 * of a graph (Keras' functional API); calling it on a real {@link Tensor} runs
 * it. Because nodes refer to layers, not copies, a sub-model made from some of
 * an autoencoder's layers (`encoder = model(input, code)`) shares the
 * autoencoder's weights, as in the Keras tutorials.
 *
 * Shapes exclude the batch dimension: `inputShape: [784]`, `[28, 28, 1]`
 * (NHWC: height, width, channels).
 *
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";

/** A per-sample shape (no batch dimension). */
export type Shape = readonly number[];

const counters = new Map<string, number>();

/** A unique layer name in Keras style: `dense`, `dense_1`, `dense_2`, … */
export function uniqueName(base: string): string {
  const n = counters.get(base) ?? 0;
  counters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

/** A placeholder for a layer's output in a functional graph. */
export class SymbolicTensor {
  constructor(
    /** Per-sample shape. */
    readonly shape: Shape,
    /** The layer whose application produced this value (null for inputs). */
    readonly layer: Layer | null,
    /** The values the layer was applied to. */
    readonly inputs: SymbolicTensor[],
    readonly name: string,
  ) {}
  toString(): string {
    return `SymbolicTensor(${this.name}, ${fmtShape(this.shape)})`;
  }
}

/**
 * A graph input of a per-sample `shape`.
 *
 * @example
 * ```ts
 * const x = lt.nn.input([784]);
 * const code = lt.nn.dense(32, "relu").apply(x);
 * const encoder = lt.nn.model(x, code);
 * ```
 */
export function input(shape: Shape, name: string = uniqueName("input")): SymbolicTensor {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new TypeError(
      `input: shape must list positive integers (no batch dimension), got ${JSON.stringify(shape)}`,
    );
  }
  return new SymbolicTensor(shape, null, [], name);
}

/** What a layer call sees besides its input. */
export interface CallContext {
  /** True inside fit(): dropout and noise are active. */
  training: boolean;
  /** Extra loss terms (activity regularizers) added during this call. */
  losses: Tensor[];
}

/** A trainable or fixed parameter of a layer. */
export interface Param {
  /** Qualified name, e.g. `dense_1/kernel`. */
  name: string;
  tensor: Tensor;
  trainable: boolean;
}

/** Base class of every layer. */
export abstract class Layer {
  readonly name: string;
  /** The layer's type name for summaries: `Dense`, `Conv2D`, … */
  abstract readonly className: string;
  /** Per-sample input shape once built. */
  inputShape: Shape | null = null;
  /** Whether `build` ran. */
  built = false;
  /** Whether the layer's parameters are updated by fit(). */
  trainable = true;
  protected params: Param[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** Creates parameters for an input shape. Default: none. */
  protected build(_inputShape: Shape): void {}

  /** The per-sample output shape for a per-sample input shape (validates it). */
  abstract outputShape(inputShape: Shape): Shape;

  /** Runs the layer on a batch `[n, ...inputShape]`. */
  abstract call(x: Tensor, ctx: CallContext): Tensor;

  /** Builds on first use and checks later inputs against the built shape. */
  ensureBuilt(inputShape: Shape): void {
    if (!this.built) {
      this.outputShape(inputShape); // validates before allocating
      this.build(inputShape);
      this.inputShape = [...inputShape];
      this.built = true;
    } else if (this.inputShape && inputShape.join() !== this.inputShape.join()) {
      throw new Error(
        `${this.describe()}: expected input [*, ${this.inputShape.join(", ")}], got [*, ${
          inputShape.join(", ")
        }]`,
      );
    }
  }

  /** `dense(units=10)`-style description for error messages. */
  describe(): string {
    return this.name;
  }

  /** Applies the layer to a symbolic value (records a graph node) or a real batch (runs it). */
  apply(x: SymbolicTensor): SymbolicTensor;
  apply(x: Tensor, ctx?: Partial<CallContext>): Tensor;
  apply(x: SymbolicTensor | Tensor, ctx: Partial<CallContext> = {}): SymbolicTensor | Tensor {
    if (x instanceof SymbolicTensor) {
      this.ensureBuilt(x.shape);
      return new SymbolicTensor(this.outputShape(x.shape), this, [x], this.name);
    }
    if (x.rank < 1) throw new Error(`${this.describe()}: expected a batch [n, ...], got a scalar`);
    const sample = x.shape.slice(1);
    this.ensureBuilt(sample);
    return this.call(x, { training: ctx.training ?? false, losses: ctx.losses ?? [] });
  }

  /** Parameters of this layer (and of nested layers, for models). */
  weights(): Param[] {
    return [...this.params];
  }

  /** Trainable parameter tensors. */
  trainableWeights(): Tensor[] {
    return this.trainable ? this.weights().filter((p) => p.trainable).map((p) => p.tensor) : [];
  }

  /** Total number of parameter values. */
  countParams(): number {
    return this.weights().reduce((s, p) => s + p.tensor.size, 0);
  }

  /** Penalties on parameters (kernel regularizers), added to the training loss. */
  regularizationLosses(): Tensor[] {
    return [];
  }

  /** Adds a parameter (kept out of tidy scopes: it lives as long as the layer). */
  protected addParam(name: string, tensor: Tensor, trainable = true): Tensor {
    keep(tensor);
    tensor.requiresGrad = trainable;
    tensor.name = `${this.name}/${name}`;
    this.params.push({ name: tensor.name, tensor, trainable });
    return tensor;
  }

  /** Frees the layer's parameters. */
  dispose(): void {
    for (const p of this.params) {
      p.tensor.grad?.dispose();
      p.tensor.dispose();
    }
    this.params = [];
    this.built = false;
  }
}
