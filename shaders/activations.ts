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
 * activation means its name in {@link ACTIVATIONS} and its entry in
 * {@link ACTIVATION_TABLE} (forward and derivative in WGSL, what the
 * derivative reads, the default alpha, the float64 reference; the type
 * checker asks for the entry once the name is there), and a line in the
 * tests' table: the unary family, the
 * fused dense and conv layers, `lt.DEFAULT_ALPHA` and the shared activation
 * tests all read this table.
 *
 * @module
 */

/** One activation: everything latent needs to run, fuse, differentiate and test it. */
export interface ActivationEntry {
  /** WGSL body of `act(x: f32, alpha: f32) -> f32`. */
  forward: string;
  /** WGSL body of `act_grad(<saves>: f32, alpha: f32) -> f32`, over the saved value. */
  derivative: string;
  /** What the derivative reads: the output `y`, or the input `x` (a fused layer's pre-activation). */
  saves: "x" | "y";
  /** Default `alpha` (leaky_relu's slope, elu's scale; 0 where unused). */
  alpha: number;
  /** WGSL helper functions the bodies call. */
  helpers?: string;
  /** Float64 reference (tests, CPU fallbacks). */
  ref: (x: number, alpha: number) => number;
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

/** silu = swish = x·σ(x); its derivative σ(x)(1 + x(1 − σ(x))). */
const SILU: ActivationEntry = {
  forward: "return x * sigmoid_s(x);",
  derivative: "let s = sigmoid_s(x); return s * (1.0 + x * (1.0 - s));",
  saves: "x",
  alpha: 0,
  helpers: SIGMOID,
  ref: (x) => x / (1 + Math.exp(-x)),
};

/** Elementwise activations with a fused form, by their Keras names (the table's keys, in order). */
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
 * Every elementwise activation with a fused form, by its Keras name. The
 * type checker requires an entry for each name in {@link ACTIVATIONS}.
 */
export const ACTIVATION_TABLE: Readonly<Record<Activation, ActivationEntry>> = {
  linear: { forward: "return x;", derivative: "return 1.0;", saves: "y", alpha: 0, ref: (x) => x },
  relu: {
    forward: "return max(x, 0.0);",
    derivative: "return select(0.0, 1.0, y > 0.0);",
    saves: "y",
    alpha: 0,
    ref: (x) => Math.max(x, 0),
  },
  // Keras' leaky_relu slope (0.2).
  leaky_relu: {
    forward: "return select(alpha * x, x, x > 0.0);",
    derivative: "return select(alpha, 1.0, y > 0.0);",
    saves: "y",
    alpha: 0.2,
    ref: (x, a) => (x > 0 ? x : a * x),
  },
  elu: {
    forward: "return select(alpha * (exp(x) - 1.0), x, x > 0.0);",
    derivative: "return select(y + alpha, 1.0, y > 0.0);",
    saves: "y",
    alpha: 1,
    ref: (x, a) => (x > 0 ? x : a * (Math.exp(x) - 1)),
  },
  // Stable for large |x|: never exponentiate a large positive number.
  sigmoid: {
    forward:
      "if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e);",
    derivative: "return y * (1.0 - y);",
    saves: "y",
    alpha: 0,
    ref: (x) => 1 / (1 + Math.exp(-x)),
  },
  // tanh(x) = 1 - 2 / (exp(2x) + 1), clamped so exp cannot overflow.
  tanh: {
    forward: "let c = clamp(x, -15.0, 15.0); return 1.0 - 2.0 / (exp(2.0 * c) + 1.0);",
    derivative: "return 1.0 - y * y;",
    saves: "y",
    alpha: 0,
    ref: (x) => Math.tanh(x),
  },
  // WGSL has no log1p / expm1: below 1e-4 their two-term series keep the
  // relative precision that log(1 + e) and 1 − exp(−y) lose (softplus(−30)
  // would be 0 instead of 9.4e-14).
  softplus: {
    forward:
      "let e = exp(-abs(x)); return max(x, 0.0) + select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-4);",
    derivative: "return select(1.0 - exp(-y), y * (1.0 - 0.5 * y), y < 1e-4);",
    saves: "y",
    alpha: 0,
    ref: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  },
  // Keras' gelu (approximate=False): x·Φ(x); Φ' = φ.
  gelu: {
    forward: "return 0.5 * x * (1.0 + erf_as(x * 0.70710678118654752));",
    derivative:
      "return 0.5 * (1.0 + erf_as(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x);",
    saves: "x",
    alpha: 0,
    helpers: ERF,
    ref: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  },
  // Keras' gelu(approximate=True): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
  gelu_tanh: {
    forward: "return 0.5 * x * (1.0 + tanh_c(0.79788456080286536 * (x + 0.044715 * x * x * x)));",
    derivative: "let t = tanh_c(0.79788456080286536 * (x + 0.044715 * x * x * x)); " +
      "return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.79788456080286536 * (1.0 + 0.134145 * x * x);",
    saves: "x",
    alpha: 0,
    helpers: TANH,
    ref: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  },
  silu: SILU,
  swish: SILU,
};

/**
 * The value each activation's backward reads: `y` (its output) or `x` (its
 * input, for a fused layer the pre-activation).
 */
export const ACTIVATION_SAVES: Readonly<Record<Activation, "x" | "y">> = Object.freeze(
  Object.fromEntries(ACTIVATIONS.map((a) => [a, ACTIVATION_TABLE[a].saves])) as Record<
    Activation,
    "x" | "y"
  >,
);

/** True if `name` is an elementwise activation. */
export function isActivation(name: string): name is Activation {
  return Object.hasOwn(ACTIVATION_TABLE, name);
}

/**
 * WGSL helper functions `act(x: f32, alpha: f32) -> f32` and
 * `act_grad(s: f32, alpha: f32) -> f32` (the derivative from the value the
 * activation saves, named `x` or `y`) for one activation.
 */
export function activationWgsl(a: Activation): string {
  const e = ACTIVATION_TABLE[a];
  return /* wgsl */ `${e.helpers ?? ""}
fn act(x: f32, alpha: f32) -> f32 { ${e.forward} }
fn act_grad(${e.saves}: f32, alpha: f32) -> f32 { ${e.derivative} }`;
}

/** Float64 reference of the activations (tests and CPU fallbacks). */
export function activationRef(a: Activation, x: number, alpha = 0.01): number {
  return ACTIVATION_TABLE[a].ref(x, alpha);
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
