/**
 * Unary elementwise ops: one family specialised by op name, and one backward
 * family that maps (upstream gradient g, saved tensor s) to g · f'(…).
 *
 * The forward computes `out = f(x)` with scalar parameters `u.a`, `u.b` from
 * the uniform block (pow's exponent, clamp's bounds, an activation's alpha,
 * affine's scale and shift). Activations reuse `act` from activations.ts, so
 * a fused epilogue and the standalone op are the same maths.
 *
 * The backward reads either the input x or the output y (whichever the
 * derivative is cheaper from; see {@link UNARY_GRADS}): activations use y, so
 * a layer keeps only its output for the backward pass.
 *
 * `vec4` specialisations move four elements per thread with 16-byte loads
 * when the element count is a multiple of 4.
 *
 * Dispatch: ceil(n / WG) workgroups (n = elements, or n / 4 for vec4).
 * Forward bindings: X (read), out (write). Backward: G (read), S (read), out (write).
 * Uniform: n, a, b (f32), inf (the bits of +Infinity, 0x7f800000).
 * @module
 */
import { type Activation, activationWgsl, isActivation } from "./activations.ts";
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/** WGSL expressions of the non-activation unary ops, over `x` and the uniforms. */
export const UNARY_OPS = {
  neg: "-x",
  abs: "abs(x)",
  exp: "exp(x)",
  log: "log(x)",
  sqrt: "sqrt(x)",
  rsqrt: "inverseSqrt(x)",
  square: "x * x",
  pow: "spow(x, u.a)",
  clamp: "min(max(x, u.a), u.b)",
  sign: "sign(x)",
  affine: "x * u.a + u.b",
} as const;

/** Name of a non-activation unary op. */
export type UnaryOp = keyof typeof UNARY_OPS;

/** Any op of the unary family: a plain unary op or an activation. */
export type UnaryKind = UnaryOp | Activation;

/**
 * Derivatives for the backward family, as `[saved, expression]`: which tensor
 * the op keeps (`x` = input, `y` = output) and g · f' written over `g`, `s`
 * (the saved value) and the uniforms. Ops whose gradient needs no saved value
 * (neg, affine, sign) are handled by the op layer with the forward family.
 */
export const UNARY_GRADS: Partial<Record<UnaryKind, ["x" | "y", string]>> = {
  abs: ["x", "g * sign(s)"],
  exp: ["y", "g * s"],
  log: ["x", "g / s"],
  sqrt: ["y", "g * 0.5 / s"],
  rsqrt: ["y", "g * -0.5 * s * s * s"],
  square: ["x", "g * 2.0 * s"],
  pow: ["x", "g * u.a * spow(s, u.a - 1.0)"],
  // Keras / TF clip: the gradient passes where lo <= x <= hi (bounds included).
  clamp: ["x", "select(0.0, g, s >= u.a && s <= u.b)"],
};

/** Specialisation of the unary families. */
export interface UnarySpec {
  op: UnaryKind;
  /** Four elements per thread (n must be a multiple of 4). */
  vec4: boolean;
}

// Real powers of negative bases exist only for integer exponents; odd ones
// keep the sign. pow(0, p) and p = 0 are spelled out because WGSL leaves
// pow(x, y) undefined for x <= 0.
const SPOW = /* wgsl */ `
fn spow(x: f32, p: f32) -> f32 {
  if (p == 0.0) { return 1.0; }
  let ax = abs(x);
  // Infinity and NaN come from the uniform block: as constants they would be
  // compile errors in WGSL.
  let inf = bitcast<f32>(u.inf);
  var r = exp2(p * log2(ax));
  if (ax == 0.0) { r = select(0.0, inf, p < 0.0); }
  if (x < 0.0) {
    if (fract(p) != 0.0) { return bitcast<f32>(u.inf | 0x400000u); }
    if (fract(p * 0.5) != 0.0) { return -r; }
  }
  return r;
}`;

function helpers(op: UnaryKind): string {
  if (isActivation(op)) return activationWgsl(op);
  return op === "pow" ? SPOW : "";
}

/** The unary families' uniform fields (see the module comment). */
const FIELDS = { n: "u32", a: "f32", b: "f32", inf: "u32" } as const;

/** Applies a scalar function `name` to each lane of `v` (vec4) or to `v` itself. */
function apply(vec4: boolean, call: (args: string[]) => string, args: string[]): string {
  if (!vec4) return call(args);
  const lanes = ["x", "y", "z", "w"].map((c) => call(args.map((a) => `${a}.${c}`)));
  return `vec4f(${lanes.join(", ")})`;
}

/** The forward unary kernel: out = f(x). */
export const unaryKernel: (spec: UnarySpec) => DeclaredKernel = family(
  "unary",
  (spec: UnarySpec) => {
    const t = spec.vec4 ? "vec4f" : "f32";
    const expr = isActivation(spec.op) ? "act(x, u.a)" : UNARY_OPS[spec.op];
    return declare({
      key: `unary/${spec.op}${spec.vec4 ? "/vec4" : ""}`,
      inputs: { X: t },
      outputs: { out: t },
      uniforms: FIELDS,
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
${helpers(spec.op)}
fn f(x: f32) -> f32 { return ${expr}; }`,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  let v = X[i];
  out[i] = ${apply(spec.vec4, ([v]) => `f(${v})`, ["v"])};`,
    });
  },
);

/** The backward unary kernel: out = g · f'(s), s = saved x or y (see {@link UNARY_GRADS}). */
export const unaryGradKernel: (spec: UnarySpec) => DeclaredKernel = family(
  "unary_grad",
  (spec: UnarySpec) => {
    const t = spec.vec4 ? "vec4f" : "f32";
    const expr = isActivation(spec.op) ? "g * act_grad(s, u.a)" : UNARY_GRADS[spec.op]?.[1];
    if (!expr) throw new Error(`unary_grad: ${spec.op} has no saved-value derivative`);
    return declare({
      key: `unary_grad/${spec.op}${spec.vec4 ? "/vec4" : ""}`,
      inputs: { G: t, S: t },
      outputs: { out: t },
      uniforms: FIELDS,
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
${helpers(spec.op)}
fn df(g: f32, s: f32) -> f32 { return ${expr}; }`,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  let gv = G[i];
  let sv = S[i];
  out[i] = ${apply(spec.vec4, ([g, s]) => `df(${g}, ${s})`, ["gv", "sv"])};`,
    });
  },
);
