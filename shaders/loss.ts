/**
 * Loss kernels.
 *
 * Elementwise losses (mse, mae, bce, bce from logits, kld, and the L1 / L2
 * penalties) are one `term(p, t, eps)` per element, summed: the first pass of
 * the axis reduction evaluates the term as it loads (one pass over the
 * prediction and target, no temporary), and the backward is one elementwise
 * kernel `dp = G[0] · scale · dterm(p, t, eps)` that reads the upstream
 * gradient from the GPU (no host round trip) — or, when the loss is where
 * back-propagation starts, nothing: the first pass wrote dp for G = 1 as it
 * summed ({@link lossMap} with `grad`).
 *
 * Cross-entropies over classes (categorical, sparse categorical) need row
 * sums, so they are row kernels: each row gets a segment of T threads with
 * tree reductions in workgroup memory (see `rowEntry`); the forward writes
 * one loss per row (then averaged by a reduction), the backward writes dp.
 *
 * Formulas follow Keras 3 (keras/src/backend/tensorflow/nn.py, losses.py):
 * probabilities are clipped to [eps, 1 − eps] (KLD: [eps, 1]) and clipping
 * stops the gradient outside that range, as tf.clip_by_value does.
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";
import { type ReduceMap, rowEntry } from "./reduce.ts";

/** Elementwise losses: [term(p, t, eps), dterm(p, t, eps)] in WGSL, p = prediction, t = target. */
export const ELEMENTWISE_LOSSES = {
  mse: ["let d = p - t; return d * d;", "return 2.0 * (p - t);"],
  mae: ["return abs(p - t);", "return sign(p - t);"],
  bce: [
    "let c = clamp(p, eps, 1.0 - eps); return -(t * log(c) + (1.0 - t) * log(1.0 - c));",
    // −t/c + (1 − t)/(1 − c) = (c − t) / (c (1 − c)) inside the clip range.
    "let c = clamp(p, eps, 1.0 - eps); return select(0.0, (c - t) / (c * (1.0 - c)), p >= eps && p <= 1.0 - eps);",
  ],
  // max(x, 0) − x t + log(1 + e^−|x|): never exponentiates a large number.
  bce_logits: [
    "return max(p, 0.0) - p * t + log(1.0 + exp(-abs(p)));",
    "let e = exp(-abs(p)); let s = select(e / (1.0 + e), 1.0 / (1.0 + e), p >= 0.0); return s - t;",
  ],
  // Keras KLD: both sides clipped to [eps, 1]; the gradient is w.r.t. the prediction.
  kld: [
    "let ct = clamp(t, eps, 1.0); let cp = clamp(p, eps, 1.0); return ct * log(ct / cp);",
    "let ct = clamp(t, eps, 1.0); let cp = clamp(p, eps, 1.0); return select(0.0, -ct / cp, p >= eps && p <= 1.0);",
  ],
  l1: ["return abs(p);", "return sign(p);"],
  l2: ["return p * p;", "return 2.0 * p;"],
} as const;

/** Name of an elementwise loss. */
export type ElementwiseLoss = keyof typeof ELEMENTWISE_LOSSES;

/** Losses of one input (penalties on a tensor). */
export function isPenalty(loss: ElementwiseLoss): boolean {
  return loss === "l1" || loss === "l2";
}

/**
 * WGSL `term(p, t, eps)` and `dterm(p, t, eps)` of an elementwise loss: its
 * value and derivative for prediction p and target t, the one statement of
 * each formula (the reduction map, the gradient kernel and DEC's fused row
 * term read it).
 */
export function termWgsl(loss: ElementwiseLoss): string {
  const [f, df] = ELEMENTWISE_LOSSES[loss];
  return /* wgsl */ `
fn term(p: f32, t: f32, eps: f32) -> f32 { ${f} }
fn dterm(p: f32, t: f32, eps: f32) -> f32 { ${df} }`;
}

/**
 * The reduction map of an elementwise loss: the summed element is
 * term(P[i], T[i], u.p0) with u.p0 = eps (penalties read P only). With
 * `grad`, the pass also writes the loss's gradient for an upstream gradient
 * of 1, D[i] = u.p1 · dterm(P[i], T[i], u.p0) with u.p1 = scale, so a loss
 * that back-propagates from itself costs no pass of its own.
 */
export function lossMap(loss: ElementwiseLoss, grad = false): ReduceMap {
  const one = isPenalty(loss);
  const t = one ? "0.0" : "T[i]";
  return {
    name: `loss_${loss}${grad ? "_grad" : ""}`,
    inputs: one ? ["P"] : ["P", "T"],
    expr: `term(P[i], ${t}, u.p0)`,
    helpers: termWgsl(loss),
    side: grad ? { name: "D", expr: `u.p1 * dterm(P[i], ${t}, u.p0)` } : undefined,
  };
}

/**
 * Backward of an elementwise loss: out[i] = G[0] · scale · dterm(P[i], T[i], eps).
 * Bindings: P, [T,] G (read), out (write). Uniform: n, scale (f32), eps (f32).
 * Dispatch: ceil(n / WG).
 */
export const lossGradKernel: (spec: { loss: ElementwiseLoss }) => DeclaredKernel = family(
  "loss_grad",
  (spec: { loss: ElementwiseLoss }) => {
    const one = isPenalty(spec.loss);
    const inputs: Record<string, Elem> = one
      ? { P: "f32", G: "f32" }
      : { P: "f32", T: "f32", G: "f32" };
    return declare({
      key: `loss_grad/${spec.loss}`,
      inputs,
      outputs: { out: "f32" },
      uniforms: { n: "u32", scale: "f32", eps: "f32" },
      entry: ENTRY_1D,
      helpers: termWgsl(spec.loss),
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  out[i] = G[0] * u.scale * dterm(P[i], ${one ? "0.0" : "T[i]"}, u.eps);`,
    });
  },
);

/** Specialisation of the cross-entropy row kernels. */
export interface CrossentropySpec {
  /** Predictions are logits (log-softmax inside) rather than probabilities. */
  fromLogits: boolean;
  /** Targets are i32 class indices [rows] rather than distributions [rows, classes]. */
  sparse: boolean;
  /** Threads per row. */
  t: number;
}

/** The cross-entropy kernels' uniform fields (nan: the bits of a quiet NaN). */
const CE_FIELDS = {
  rows: "u32",
  len: "u32",
  eps: "f32",
  ninf: "f32",
  scale: "f32",
  nan: "u32",
} as const;

/** Storage of a cross-entropy kernel: P, Tg (i32 labels when sparse) [, G] (read), out (write). */
function ceInputs(spec: CrossentropySpec, grad: boolean): Record<string, Elem> {
  const inputs: Record<string, Elem> = { P: "f32", Tg: spec.sparse ? "i32" : "f32" };
  if (grad) inputs.G = "f32";
  return inputs;
}

// The target of element j of the row: a probability, or [j == label].
function target(spec: CrossentropySpec): string {
  return spec.sparse ? "select(0.0, 1.0, i32(j) == y)" : "Tg[base + j]";
}

const LOOP = "for (var j = t; j < u.len; j += T)";

/**
 * Per-row cross-entropy (forward): out[row] = −Σ t log q, with
 * q = clip(p / Σp) from probabilities (sparse: Keras' log(clip(p)) then
 * softmax, i.e. q = clip(p) / Σ clip(p)) or q = softmax(x) from logits.
 * A sparse label outside [0, classes) gives NaN.
 * Dispatch: ceil(rows / R) workgroups.
 */
/**
 * One cross-entropy kernel (forward, or backward with the upstream gradient
 * G): a segment of T threads per row, `base` at the row's start and, for
 * sparse targets, the row's label `y`, then `body`.
 */
function ceKernel(
  name: string,
  spec: CrossentropySpec,
  grad: boolean,
  body: string,
): DeclaredKernel {
  const label = spec.sparse ? "var y = -1; if (valid) { y = Tg[row]; }" : "";
  return declare({
    key: `${name}/${spec.fromLogits ? "logits" : "probs"}${
      spec.sparse ? "/sparse" : ""
    }/t${spec.t}`,
    inputs: ceInputs(spec, grad),
    outputs: { out: "f32" },
    uniforms: CE_FIELDS,
    entry: rowEntry(spec.t),
    main: /* wgsl */ `
  let base = row * u.len;
  ${label}
  ${body}`,
  });
}

export const crossentropyKernel: (spec: CrossentropySpec) => DeclaredKernel = family(
  "crossentropy",
  (spec: CrossentropySpec) => {
    let body: string;
    if (spec.fromLogits) {
      // Σ t (lse − x) with lse − x = (m − x) + log Σ e^(x − m): no cancellation of huge logits.
      body = `
  var m = u.ninf;
  if (valid) { ${LOOP} { m = max(m, P[base + j]); } }
  m = seg_max(m, lid);
  var se = 0.0;
  if (valid) { ${LOOP} { se += exp(P[base + j] - m); } }
  se = seg_sum(se, lid);
  let lse = log(se);
  var l = 0.0;
  ${
        spec.sparse
          ? "if (valid && t == 0u && y >= 0 && u32(y) < u.len) { l = (m - P[base + u32(y)]) + lse; }"
          : `if (valid) { ${LOOP} { l += Tg[base + j] * ((m - P[base + j]) + lse); } }`
      }
  l = seg_sum(l, lid);`;
    } else if (spec.sparse) {
      body = `
  let lo = u.eps;
  let hi = 1.0 - u.eps;
  var s = 0.0;
  if (valid) { ${LOOP} { s += clamp(P[base + j], lo, hi); } }
  s = seg_sum(s, lid);
  var l = 0.0;
  if (valid && y >= 0 && u32(y) < u.len) { l = log(s) - log(clamp(P[base + u32(y)], lo, hi)); }`;
    } else {
      body = `
  var s = 0.0;
  if (valid) { ${LOOP} { s += P[base + j]; } }
  s = seg_sum(s, lid);
  var l = 0.0;
  if (valid) { ${LOOP} { l -= Tg[base + j] * log(clamp(P[base + j] / s, u.eps, 1.0 - u.eps)); } }
  l = seg_sum(l, lid);`;
    }
    const bad = spec.sparse ? "if (y < 0 || u32(y) >= u.len) { l = bitcast<f32>(u.nan); }" : "";
    return ceKernel(
      "crossentropy",
      spec,
      false,
      `${body}
  if (valid && t == 0u) {
    ${bad}
    out[row] = l;
  }`,
    );
  },
);

/**
 * Cross-entropy backward: out = G[0] · scale · ∂(row loss)/∂p.
 * Logits: softmax(x) Σt − t. Probabilities: with s = Σp, q = p/s,
 * a = −t/clip(q) inside the clip range (0 outside): (a − Σ a q) / s.
 * Sparse probabilities (q = c/Σc, c = clip(p)): 1/Σc − [j = y]/c_y inside
 * the clip range of p. Dispatch: ceil(rows / R) workgroups.
 */
export const crossentropyGradKernel: (spec: CrossentropySpec) => DeclaredKernel = family(
  "crossentropy_grad",
  (spec: CrossentropySpec) => {
    let body: string;
    const tj = target(spec);
    if (spec.fromLogits) {
      body = `
  var m = u.ninf;
  if (valid) { ${LOOP} { m = max(m, P[base + j]); } }
  m = seg_max(m, lid);
  var se = 0.0;
  if (valid) { ${LOOP} { se += exp(P[base + j] - m); } }
  se = seg_sum(se, lid);
  var st = ${spec.sparse ? "1.0" : "0.0"};
  ${spec.sparse ? "" : `if (valid) { ${LOOP} { st += Tg[base + j]; } }\n  st = seg_sum(st, lid);`}
  if (valid) {
    let inv = 1.0 / se;
    ${LOOP} { out[base + j] = k * (exp(P[base + j] - m) * inv * st - ${tj}); }
  }`;
    } else if (spec.sparse) {
      body = `
  let lo = u.eps;
  let hi = 1.0 - u.eps;
  var s = 0.0;
  if (valid) { ${LOOP} { s += clamp(P[base + j], lo, hi); } }
  s = seg_sum(s, lid);
  if (valid) {
    var cy = 1.0;
    if (y >= 0 && u32(y) < u.len) { cy = clamp(P[base + u32(y)], lo, hi); }
    ${LOOP} {
      let p = P[base + j];
      out[base + j] = select(0.0, k * (1.0 / s - ${tj} / cy), p >= lo && p <= hi);
    }
  }`;
    } else {
      body = `
  let lo = u.eps;
  let hi = 1.0 - u.eps;
  var s = 0.0;
  if (valid) { ${LOOP} { s += P[base + j]; } }
  s = seg_sum(s, lid);
  var d = 0.0;
  if (valid) {
    ${LOOP} {
      let q = P[base + j] / s;
      let a = select(0.0, -${tj} / clamp(q, lo, hi), q >= lo && q <= hi);
      d += a * q;
    }
  }
  d = seg_sum(d, lid);
  if (valid) {
    ${LOOP} {
      let q = P[base + j] / s;
      let a = select(0.0, -${tj} / clamp(q, lo, hi), q >= lo && q <= hi);
      out[base + j] = k * (a - d) / s;
    }
  }`;
    }
    return ceKernel(
      "crossentropy_grad",
      spec,
      true,
      `let k = G[0] * u.scale;
  ${body}`,
    );
  },
);
