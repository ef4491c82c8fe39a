/**
 * Activation functions as WGSL snippets, shared by the unary family and by
 * fused epilogues (matmul, convolution).
 *
 * Every derivative here is written in terms of the activation's *output* y,
 * so a fused layer keeps only its output for the backward pass:
 * relu' = [y > 0], sigmoid' = y(1 − y), tanh' = 1 − y², elu' = y > 0 ? 1 : y + α,
 * softplus' = sigmoid(x) = 1 − exp(−y).
 *
 * @module
 */

/** Elementwise activations with a fused form. */
export const ACTIVATIONS = [
  "linear",
  "relu",
  "leaky_relu",
  "elu",
  "sigmoid",
  "tanh",
  "softplus",
] as const;

/** Name of an elementwise activation. */
export type Activation = typeof ACTIVATIONS[number];

/** True if `name` is an elementwise activation. */
export function isActivation(name: string): name is Activation {
  return (ACTIVATIONS as readonly string[]).includes(name);
}

/**
 * WGSL helper functions `act(x: f32, alpha: f32) -> f32` and
 * `act_grad(y: f32, alpha: f32) -> f32` (derivative from the output) for one
 * activation. `alpha` is leaky_relu's slope / elu's scale; others ignore it.
 */
export function activationWgsl(a: Activation): string {
  const body: Record<Activation, [string, string]> = {
    linear: ["return x;", "return 1.0;"],
    relu: ["return max(x, 0.0);", "return select(0.0, 1.0, y > 0.0);"],
    leaky_relu: ["return select(alpha * x, x, x > 0.0);", "return select(alpha, 1.0, y > 0.0);"],
    elu: [
      "return select(alpha * (exp(x) - 1.0), x, x > 0.0);",
      "return select(y + alpha, 1.0, y > 0.0);",
    ],
    // Stable for large |x|: never exponentiate a large positive number.
    sigmoid: [
      "if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e);",
      "return y * (1.0 - y);",
    ],
    // tanh(x) = 1 - 2 / (exp(2x) + 1), clamped so exp cannot overflow.
    tanh: [
      "let c = clamp(x, -15.0, 15.0); return 1.0 - 2.0 / (exp(2.0 * c) + 1.0);",
      "return 1.0 - y * y;",
    ],
    // WGSL has no log1p / expm1: below 1e-4 their two-term series keep the
    // relative precision that log(1 + e) and 1 − exp(−y) lose (softplus(−30)
    // would be 0 instead of 9.4e-14).
    softplus: [
      "let e = exp(-abs(x)); return max(x, 0.0) + select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-4);",
      "return select(1.0 - exp(-y), y * (1.0 - 0.5 * y), y < 1e-4);",
    ],
  };
  const [f, g] = body[a];
  return /* wgsl */ `
fn act(x: f32, alpha: f32) -> f32 { ${f} }
fn act_grad(y: f32, alpha: f32) -> f32 { ${g} }`;
}

/** Float64 reference of the activations (tests and CPU fallbacks). */
export function activationRef(a: Activation, x: number, alpha = 0.01): number {
  switch (a) {
    case "linear":
      return x;
    case "relu":
      return Math.max(x, 0);
    case "leaky_relu":
      return x > 0 ? x : alpha * x;
    case "elu":
      return x > 0 ? x : alpha * (Math.exp(x) - 1);
    case "sigmoid":
      return 1 / (1 + Math.exp(-x));
    case "tanh":
      return Math.tanh(x);
    case "softplus":
      return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }
}
