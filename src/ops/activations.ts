/**
 * Activation functions as ops: relu, leakyRelu, elu, sigmoid, tanh,
 * softplus, gelu, silu, and `activation(x, name)` for layers that take an
 * activation by its Keras name. Forward and backward run the unary family
 * with the WGSL of shaders/activations.ts, the same code a fused matmul or
 * conv epilogue uses; the backward keeps the output where the derivative is
 * a function of it, the input otherwise (`ACTIVATION_SAVES`).
 * @module
 */
import {
  type Activation,
  ACTIVATION_SAVES,
  ACTIVATION_TABLE,
  ACTIVATIONS,
  isActivation,
} from "../../shaders/activations.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { softmax } from "./softmax.ts";
import { unaryGradRaw, unaryOp } from "./unary.ts";

/**
 * Default `alpha` of each activation (from `ACTIVATION_TABLE`): leaky_relu's
 * negative slope (0.2, as `keras.activations.leaky_relu`) and elu's scale
 * (1, as Keras). Others ignore it.
 */
export const DEFAULT_ALPHA: Readonly<Record<Activation, number>> = Object.freeze(
  Object.fromEntries(ACTIVATIONS.map((a) => [a, ACTIVATION_TABLE[a].alpha])) as Record<
    Activation,
    number
  >,
);

/** Names {@link activation} accepts: the elementwise activations and "softmax". */
export type ActivationName = Activation | "softmax";

function checkAlpha(name: string, alpha: number): number {
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new TypeError(`${name}: alpha must be a finite number, got ${alpha}`);
  }
  return alpha;
}

/**
 * Applies an activation by its Keras name. `"linear"` returns `x` itself;
 * `"softmax"` is taken over the last axis. `alpha` defaults to
 * {@link DEFAULT_ALPHA}.
 *
 * @example
 * ```ts
 * const h = lt.activation(z, "relu");
 * const y = lt.activation(z, "leaky_relu", 0.1);
 * ```
 */
export function activation(x: Tensor, name: ActivationName, alpha?: number): Tensor {
  if (name === "softmax") return softmax(x);
  if (typeof name !== "string" || !isActivation(name)) {
    throw new Error(
      `activation: unknown activation ${JSON.stringify(name)}; expected one of ` +
        `${[...ACTIVATIONS, "softmax"].join(", ")}`,
    );
  }
  if (name === "linear") return x;
  const a = checkAlpha(name, alpha ?? DEFAULT_ALPHA[name]);
  return unaryOp(name, x, a, 0, ACTIVATION_SAVES[name]);
}

/**
 * g ⊙ act'(s) in one kernel and without recording autograd, from the value
 * the activation's backward keeps (`ACTIVATION_SAVES`: the output y, or the
 * pre-activation for gelu and silu): the backward of layers that fused the
 * activation into their forward kernel.
 *
 * @example
 * ```ts
 * const dz = lt.activationGrad(dy, y, "relu");
 * ```
 */
export function activationGrad(g: Tensor, y: Tensor, name: Activation, alpha?: number): Tensor {
  if (!isActivation(name)) throw new Error(`activationGrad: unknown activation ${name}`);
  return unaryGradRaw(name, g, y, checkAlpha(name, alpha ?? DEFAULT_ALPHA[name]));
}

/** max(x, 0). @example `const h = lt.relu(z);` */
export function relu(x: Tensor): Tensor {
  return activation(x, "relu");
}

/** x for x > 0, alpha · x otherwise (alpha defaults to 0.2). @example `lt.leakyRelu(z, 0.3)` */
export function leakyRelu(x: Tensor, alpha: number = DEFAULT_ALPHA.leaky_relu): Tensor {
  return activation(x, "leaky_relu", alpha);
}

/** x for x > 0, alpha · (eˣ − 1) otherwise (alpha defaults to 1). @example `lt.elu(z)` */
export function elu(x: Tensor, alpha: number = DEFAULT_ALPHA.elu): Tensor {
  return activation(x, "elu", alpha);
}

/** 1 / (1 + e⁻ˣ), stable for large |x|. @example `const p = lt.sigmoid(logits);` */
export function sigmoid(x: Tensor): Tensor {
  return activation(x, "sigmoid");
}

/** Hyperbolic tangent. @example `const h = lt.tanh(z);` */
export function tanh(x: Tensor): Tensor {
  return activation(x, "tanh");
}

/** log(1 + eˣ), stable for large |x|. @example `const h = lt.softplus(z);` */
export function softplus(x: Tensor): Tensor {
  return activation(x, "softplus");
}

/**
 * Gaussian error linear unit, Keras' `gelu`: x·Φ(x), or with `approximate`
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 *
 * @example
 * ```ts
 * const h = lt.gelu(z);
 * const h2 = lt.gelu(z, { approximate: true });
 * ```
 */
export function gelu(x: Tensor, options: { approximate?: boolean } = {}): Tensor {
  return activation(x, options.approximate ? "gelu_tanh" : "gelu");
}

/** x·sigmoid(x) (also called swish). @example `const h = lt.silu(z);` */
export function silu(x: Tensor): Tensor {
  return activation(x, "silu");
}
