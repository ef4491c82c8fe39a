/**
 * Fused optimizer updates: one kernel reads a parameter's gradient and state
 * and writes the new parameter and state in place, one pass over memory.
 * Hyperparameters (learning rate, bias-corrected step size, decay) are
 * uniforms, so a learning-rate schedule never recompiles anything.
 *
 * Formulas are Keras 3's (keras/src/optimizers/sgd.py, adam.py,
 * base_optimizer.py), applied in this order per element:
 * 1. clipping: `clipvalue` clamps g; `clipnorm` / `global_clipnorm` scale g
 *    by c / max(‖g‖, c), the norms coming from {@link sqnormKernel};
 * 2. decoupled weight decay: p ← p − (lr · wd) · p;
 * 3. the rule:
 *    - sgd: p ← p − lr·g; with momentum m: v ← m·v − lr·g, then p ← p + v,
 *      or Nesterov p ← p + m·v − lr·g;
 *    - adam: m ← m + (g − m)(1 − β1), v ← v + (g² − v)(1 − β2), AMSGrad
 *      v̂ ← max(v̂, v) in place of v, p ← p − lr_t · m / (√v + ε) with
 *      lr_t = lr·√(1 − β2^t)/(1 − β1^t) computed on the host (Keras puts ε
 *      outside the bias correction).
 *
 * Bindings: G (read), [NORMS (read) when clipping by norm], P (write), and
 * S (write) when the rule keeps state: the parameter's state slots side by
 * side in one buffer (sgd+momentum: the velocity; adam: m, then v[, then
 * v̂], each as long as the parameter), so a parameter binds 3 buffers and
 * lavapipe's 48 take 16 Adam parameters per dispatch; several parameters per
 * dispatch suffix them by parameter (G0, P0, S0, …).
 * Dispatch: ceil(n / WG) workgroups (n: all the parameters' elements).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";

/** How gradients are clipped before the update. */
export type ClipMode = "none" | "value" | "norm" | "global_norm";

/** Specialisation of the optimizer family. */
export interface OptimSpec {
  rule: "sgd" | "adam";
  /** sgd: keep a velocity. */
  momentum?: boolean;
  /** sgd with momentum: Nesterov's look-ahead. */
  nesterov?: boolean;
  /** adam: keep the running maximum of v. */
  amsgrad?: boolean;
  clip: ClipMode;
  /** Decoupled weight decay is applied (skips a multiply when off). */
  decay?: boolean;
  /**
   * Four elements per invocation (parameters whose size is a multiple of 4):
   * on CPU adapters every per-lane load is a scalar gather, so a vec4 load
   * carries four elements for the price of one (the DEC autoencoder's
   * update of 16 tensors: see src/ops/optim.ts).
   */
  vec4?: boolean;
  /**
   * With `vec4` and several `tensors`: how many of them, the last ones, have
   * a size that is not a multiple of 4 and take one element per invocation
   * (a 10-unit layer's bias beside its weights), so one dispatch still
   * updates them all. Default 0.
   */
  scalars?: number;
  /**
   * Parameters updated by one dispatch (default 1): their buffers are bound
   * side by side (`G0`, `P0`, `S0`, …, `G1`, …) and the invocations split
   * between them by the cumulative ends `end0`, `end1`, … of their element
   * ranges, so a step's whole update is a dispatch or two instead of one per
   * tensor (src/ops/optim.ts picks how many the adapter's bindings allow).
   */
  tensors?: number;
}

/** The uniform fields of the update kernel, in struct order (48 bytes). */
const FIELDS = {
  n: "u32",
  slot: "u32",
  count: "u32",
  lr: "f32",
  decay: "f32",
  clip: "f32",
  momentum: "f32",
  beta1: "f32",
  beta2: "f32",
  eps: "f32",
  lr_t: "f32",
} as const;

/** The names of the state buffers a spec keeps per parameter, in binding order. */
export function optimSlots(spec: OptimSpec): string[] {
  if (spec.rule === "sgd") return spec.momentum ? ["momentum"] : [];
  return spec.amsgrad ? ["m", "v", "vhat"] : ["m", "v"];
}

/**
 * The kernel's buffer names for parameter `j` of an update of `tensors`
 * parameters: its gradient, the parameter and its state (all
 * {@link optimSlots} in one buffer; null for plain sgd). One parameter keeps
 * the plain names (G, P, S); several are suffixed by parameter (G0, P0, S0, …).
 *
 * @example
 * ```ts
 * optimBuffers({ rule: "adam", clip: "none" }, 1, 3); // { g: "G1", p: "P1", s: "S1" }
 * ```
 */
export function optimBuffers(
  spec: OptimSpec,
  j: number,
  tensors: number,
): { g: string; p: string; s: string | null } {
  const x = tensors === 1 ? "" : String(j);
  return { g: `G${x}`, p: `P${x}`, s: optimSlots(spec).length ? `S${x}` : null };
}

/** Storage buffers one parameter's update binds (gradient, parameter, state). */
export function optimBuffersPerTensor(spec: OptimSpec): number {
  return optimSlots(spec).length ? 3 : 2;
}

/**
 * The fused update kernel (n counts vec4s when `spec.vec4`). Uniform: n, slot
 * (this parameter's entry in NORMS),
 * count (entries for the global norm), lr, decay = lr·wd, clip (value or
 * norm), momentum, beta1, beta2, eps, lr_t.
 */
export const optimKernel: (spec: OptimSpec) => DeclaredKernel = family(
  "optim",
  (spec: OptimSpec) => {
    const byNorm = spec.clip === "norm" || spec.clip === "global_norm";
    const k = spec.tensors ?? 1;
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(`optim: tensors must be >= 1, got ${k}`);
    }
    const scalars = spec.scalars ?? 0;
    if (!Number.isInteger(scalars) || scalars < 0 || scalars >= k || (scalars > 0 && !spec.vec4)) {
      throw new RangeError(
        `optim: scalars must be an integer in 0..${k - 1} with vec4 set, got ${scalars}`,
      );
    }
    // Parameter j's element type: the last `scalars` take one element each.
    const typeOf = (j: number): Elem => (spec.vec4 && j < k - scalars ? "vec4f" : "f32");
    // One tensor keeps the plain names (G, P, S; uniforms n, slot).
    const sfx = (j: number) => (k === 1 ? "" : String(j));
    const inputs: Record<string, Elem> = {};
    const outputs: Record<string, Elem> = {};
    const uniforms: Record<string, "u32" | "f32"> = {};
    for (let j = 0; j < k; j++) {
      const names = optimBuffers(spec, j, k);
      inputs[names.g] = typeOf(j);
      outputs[names.p] = typeOf(j);
      if (names.s) outputs[names.s] = typeOf(j);
    }
    if (byNorm) inputs.NORMS = "f32";
    if (k === 1) Object.assign(uniforms, FIELDS);
    else {
      for (const [f, ty] of Object.entries(FIELDS)) if (f !== "n" && f !== "slot") uniforms[f] = ty;
      for (let j = 0; j < k; j++) uniforms[`end${j}`] = "u32";
      for (let j = 0; j < k; j++) uniforms[`slot${j}`] = "u32";
    }

    // The update of element `e` of parameter `j` (buffers suffixed by sfx(j)).
    // Slot `i` of parameter j's state: S at e + i · len (len: its length in
    // elements of its type, `len` in the body).
    const body = (j: number, e: string, slot: string) => {
      const x = sfx(j);
      const t = typeOf(j);
      const st = (i: number) => `S${x}[${e}${i ? ` + ${i === 1 ? "" : `${i}u * `}len` : ""}]`;
      const clip = {
        none: "",
        value: `g = clamp(g, ${t}(-u.clip), ${t}(u.clip));`,
        // Keras: g * c / max(|g|, c); a zero gradient stays zero.
        norm: `g = g * (u.clip / max(sqrt(NORMS[${slot}]), u.clip));`,
        global_norm: `var sq = 0.0;
    for (var k = 0u; k < u.count; k++) { sq += NORMS[k]; }
    g = g * (u.clip / max(sqrt(sq), u.clip));`,
      }[spec.clip];
      let rule: string;
      if (spec.rule === "sgd") {
        rule = !spec.momentum ? "p = p - u.lr * g;" : `
    let v = u.momentum * ${st(0)} - u.lr * g;
    ${st(0)} = v;
    p = p + ${spec.nesterov ? "u.momentum * v - u.lr * g" : "v"};`;
      } else {
        rule = `
    let m = ${st(0)} + (g - ${st(0)}) * (1.0 - u.beta1);
    var v = ${st(1)} + (g * g - ${st(1)}) * (1.0 - u.beta2);
    ${st(0)} = m;
    ${st(1)} = v;
    ${spec.amsgrad ? `v = max(${st(2)}, v); ${st(2)} = v;` : ""}
    p = p - u.lr_t * m / (sqrt(v) + u.eps);`;
      }
      return `
    var g = G${x}[${e}];
    ${clip}
    var p = P${x}[${e}];
    ${spec.decay ? "p = p - u.decay * p;" : ""}
    ${rule}
    P${x}[${e}] = p;`;
    };
    const main = k === 1
      ? `
  if (i >= u.n) { return; }
  {
    let len = u.n;${body(0, "i", "u.slot")}
  }`
      : Array.from({ length: k }, (_, j) => {
        const start = j === 0 ? "0u" : `u.end${j - 1}`;
        return `
  if (i < u.end${j}) {
    let e = i - ${start};
    let len = u.end${j} - ${start};${body(j, "e", `u.slot${j}`)}
    return;
  }`;
      }).join("");

    const key = [
      "optim",
      spec.rule,
      spec.momentum ? (spec.nesterov ? "nesterov" : "momentum") : "",
      spec.amsgrad ? "amsgrad" : "",
      `clip-${spec.clip}`,
      spec.decay ? "decay" : "",
      spec.vec4 ? "vec4" : "",
      k > 1 ? `x${k}` : "",
      scalars ? `s${scalars}` : "",
    ].filter(Boolean).join("/");
    return declare({ key, inputs, outputs, uniforms, entry: ENTRY_1D, main });
  },
);

/** Threads of the one-workgroup squared-norm reduction. */
export const SQNORM_WG = 256;

/**
 * Sum of squares of a gradient into `NORMS[slot]`: one workgroup strides over
 * the gradient and tree-reduces in workgroup memory. One workgroup keeps the
 * result in a single pass with no float atomics; clipping by norm is optional
 * and the cost is one read of the gradient.
 * Bindings: G (read), NORMS (write). Uniform: n, slot. Dispatch: 1 workgroup.
 */
export const sqnormKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "optim_sqnorm",
  (_spec: Record<string, never>) =>
    declare({
      key: "optim/sqnorm",
      inputs: { G: "f32" },
      outputs: { NORMS: "f32" },
      uniforms: { n: "u32", slot: "u32" },
      entry: { workgroupSize: "WG", builtins: ["local_invocation_index"] },
      helpers: /* wgsl */ `
const WG = ${SQNORM_WG}u;
var<workgroup> part: array<f32, WG>;`,
      main: /* wgsl */ `
  var s = 0.0;
  for (var i = lid; i < u.n; i += WG) { let g = G[i]; s += g * g; }
  part[lid] = s;
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    workgroupBarrier();
    if (lid < w) { part[lid] += part[lid + w]; }
  }
  if (lid == 0u) { NORMS[u.slot] = part[0]; }`,
    }),
);
