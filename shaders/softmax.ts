/**
 * Softmax and log-softmax over the last axis, and their backward.
 *
 * Each row gets a segment of T threads (several short rows share a
 * workgroup, a long row gets all WG threads); the row's maximum and sum of
 * exponentials are tree reductions in workgroup memory (`seg_max`,
 * `seg_sum`). Subtracting the maximum keeps exp() in range for any logits,
 * and log-softmax is written as (x − m) − log Σ exp(x − m) so that a huge
 * m cancels exactly.
 *
 * Backward (from the output y and the upstream gradient g, one pass each):
 * softmax dx = y ⊙ (g − Σ g⊙y); log-softmax dx = g − exp(y) ⊙ Σ g.
 *
 * Dispatch: ceil(rows / R) workgroups of WG threads, R = WG / T.
 * Forward bindings: X (read), Y (write). Backward: G (read), Y (read), DX (write).
 * Uniform: rows, len, ninf (f32, −Infinity).
 * @module
 */
import { family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";
import { rowEntry } from "./reduce.ts";

/** Specialisation of the softmax families. */
export interface SoftmaxSpec {
  op: "softmax" | "log_softmax";
  /** Threads per row (a power of two ≤ WG; see `rowThreads`). */
  t: number;
}

/** The softmax families' uniform fields. */
const FIELDS = { rows: "u32", len: "u32", ninf: "f32" } as const;

/** The forward kernel. */
export const softmaxKernel: (spec: SoftmaxSpec) => DeclaredKernel = family(
  "softmax",
  (spec: SoftmaxSpec) => {
    const write = spec.op === "softmax"
      ? "let inv = 1.0 / s;\n    for (var j = t; j < u.len; j += T) { Y[base + j] = exp(X[base + j] - m) * inv; }"
      : "let ls = log(s);\n    for (var j = t; j < u.len; j += T) { Y[base + j] = (X[base + j] - m) - ls; }";
    return declare({
      key: `${spec.op}/t${spec.t}`,
      inputs: { X: "f32" },
      outputs: { Y: "f32" },
      uniforms: FIELDS,
      entry: rowEntry(spec.t),
      main: /* wgsl */ `
  let base = row * u.len;
  var m = u.ninf;
  if (valid) { for (var j = t; j < u.len; j += T) { m = max(m, X[base + j]); } }
  m = seg_max(m, lid);
  var s = 0.0;
  if (valid) { for (var j = t; j < u.len; j += T) { s += exp(X[base + j] - m); } }
  s = seg_sum(s, lid);
  if (valid) {
    ${write}
  }`,
    });
  },
);

/** The backward kernel. */
export const softmaxGradKernel: (spec: SoftmaxSpec) => DeclaredKernel = family(
  "softmax_grad",
  (spec: SoftmaxSpec) => {
    const body = spec.op === "softmax"
      ? /* wgsl */ `
  var d = 0.0;
  if (valid) { for (var j = t; j < u.len; j += T) { d += G[base + j] * Y[base + j]; } }
  d = seg_sum(d, lid);
  if (valid) {
    for (var j = t; j < u.len; j += T) { DX[base + j] = Y[base + j] * (G[base + j] - d); }
  }`
      : /* wgsl */ `
  var sg = 0.0;
  if (valid) { for (var j = t; j < u.len; j += T) { sg += G[base + j]; } }
  sg = seg_sum(sg, lid);
  if (valid) {
    for (var j = t; j < u.len; j += T) { DX[base + j] = G[base + j] - exp(Y[base + j]) * sg; }
  }`;
    return declare({
      key: `${spec.op}_grad/t${spec.t}`,
      inputs: { G: "f32", Y: "f32" },
      outputs: { DX: "f32" },
      uniforms: FIELDS,
      entry: rowEntry(spec.t),
      main: /* wgsl */ `
  let base = row * u.len;
${body}`,
    });
  },
);
