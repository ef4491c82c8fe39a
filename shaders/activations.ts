/**
 * Activation functions as WGSL snippets, shared by the unary family and by
 * fused epilogues (matmul, convolution).
 *
 * Each activation's derivative is written over the value its backward keeps
 * ({@link ACTIVATION_SAVES}): the output y where f' is a function of it
 * (relu' = [y > 0], sigmoid' = y(1 − y), tanh' = 1 − y², elu' = y > 0 ? 1 :
 * y + α, softplus' = 1 − exp(−y)), so a fused layer keeps only its output;
 * the input x where it is not (gelu, silu: y does not determine x), so a
 * fused layer keeps its pre-activation instead. Adding a pointwise
 * activation means one entry here (forward, derivative, what it keeps), its
 * float64 reference in {@link activationRef}, its default alpha in
 * src/ops/activations.ts, and nothing else: the unary family, the fused
 * dense and conv layers and the shared activation tests all read this table.
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
  "gelu",
  "gelu_tanh",
  "silu",
  "swish",
] as const;

/** Name of an elementwise activation. */
export type Activation = typeof ACTIVATIONS[number];

/**
 * The value each activation's backward reads: `y` (its output) or `x` (its
 * input, for a fused layer the pre-activation).
 */
export const ACTIVATION_SAVES: Readonly<Record<Activation, "x" | "y">> = Object.freeze({
  linear: "y",
  relu: "y",
  leaky_relu: "y",
  elu: "y",
  sigmoid: "y",
  tanh: "y",
  softplus: "y",
  gelu: "x",
  gelu_tanh: "x",
  silu: "x",
  swish: "x",
});

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
    // Keras' gelu (approximate=False): x·Φ(x); Φ' = φ.
    gelu: [
      "return 0.5 * x * (1.0 + erf_as(x * 0.70710678118654752));",
      "return 0.5 * (1.0 + erf_as(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x);",
    ],
    // Keras' gelu(approximate=True): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    gelu_tanh: [
      "return 0.5 * x * (1.0 + tanh_c(0.79788456080286536 * (x + 0.044715 * x * x * x)));",
      "let t = tanh_c(0.79788456080286536 * (x + 0.044715 * x * x * x)); " +
      "return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.79788456080286536 * (1.0 + 0.134145 * x * x);",
    ],
    // silu = swish = x·σ(x); its derivative σ(x)(1 + x(1 − σ(x))).
    silu: [
      "return x * sigmoid_s(x);",
      "let s = sigmoid_s(x); return s * (1.0 + x * (1.0 - s));",
    ],
    swish: [
      "return x * sigmoid_s(x);",
      "let s = sigmoid_s(x); return s * (1.0 + x * (1.0 - s));",
    ],
  };
  const [f, g] = body[a];
  const arg = ACTIVATION_SAVES[a];
  const extra = a === "gelu"
    ? ERF
    : a === "gelu_tanh"
    ? TANH
    : a === "silu" || a === "swish"
    ? SIGMOID
    : "";
  return /* wgsl */ `${extra}
fn act(x: f32, alpha: f32) -> f32 { ${f} }
fn act_grad(${arg}: f32, alpha: f32) -> f32 { ${g} }`;
}

/**
 * erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, under f32's
 * resolution of erf near 1); WGSL has no erf.
 */
const ERF = /* wgsl */ `
fn erf_as(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - p * exp(-a * a));
}`;

/** tanh that cannot overflow (the same form as the tanh activation). */
const TANH = /* wgsl */ `
fn tanh_c(v: f32) -> f32 {
  let c = clamp(v, -15.0, 15.0);
  return 1.0 - 2.0 / (exp(2.0 * c) + 1.0);
}`;

/** The logistic function, never exponentiating a large positive number. */
const SIGMOID = /* wgsl */ `
fn sigmoid_s(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}`;

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
    case "gelu":
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "gelu_tanh":
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case "silu":
    case "swish":
      return x / (1 + Math.exp(-x));
  }
}

/**
 * erf in float64 from the series 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (2n+1)!!,
 * whose terms are all positive (no cancellation); ±1 past |x| = 6, where
 * erfc is below 1e-16.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a, sum = a;
  for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
    term *= 2 * a * a / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}
