/**
 * Binary elementwise ops with NumPy broadcasting.
 *
 * Modes avoid index arithmetic where the shapes allow: `same` (equal shapes),
 * `scalar_a` / `scalar_b` (one side has one element), `suffix_b` (b's shape is
 * a suffix of a's, as in a bias add: `j = i % nb`), and `general` (strided
 * index decoding, rank <= 8, broadcast dims have stride 0).
 *
 * Dispatch: ceil(n / WG) workgroups. Declared buffers: A, B (read), out (write);
 * in place: B (read), A (read_write). Uniforms: see `FIELDS`.
 * @module
 */
import { ENTRY_1D, family, stridedOffset } from "./common.ts";
import { type Declaration, declare, type DeclaredKernel } from "./declare.ts";

/** WGSL expressions of the binary ops, over `a` and `b`. */
export const BINARY_OPS = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  maximum: "max(a, b)",
  minimum: "min(a, b)",
  pow: "pow(a, b)",
  // Comparisons give 1 or 0 in the operands' type (masks for gradient rules).
  greater: "a > b",
  greater_equal: "a >= b",
  less: "a < b",
  less_equal: "a <= b",
  equal: "a == b",
  not_equal: "a != b",
} as const;

/** Name of a binary op. */
export type BinaryOp = keyof typeof BINARY_OPS;

/** How the two operands line up. */
export type BroadcastMode = "same" | "scalar_a" | "scalar_b" | "suffix_b" | "general";

/** Specialisation of the binary family. */
export interface BinarySpec {
  op: BinaryOp;
  dtype: "f32" | "i32" | "u32";
  mode: BroadcastMode;
  /** Write the result into `a` (bindings: B read, A read_write). */
  inplace?: boolean;
}

/**
 * The binary family's uniform fields: n, rank, nb, pad, then shape, a strides
 * (`sa`) and b strides (`sb`), 8 slots each (`general` mode only; 0 otherwise).
 */
const FIELDS = {
  n: "u32",
  rank: "u32",
  nb: "u32",
  pad: "u32",
  shape: "dims",
  sa: "dims",
  sb: "dims",
} as const;

/** The binary kernel for a spec; uniforms: `FIELDS`. */
export const binaryKernel: (spec: BinarySpec) => DeclaredKernel = family(
  "binary",
  (spec: BinarySpec) => {
    const t = spec.dtype;
    const index = {
      same: "let ia = i; let ib = i;",
      scalar_a: "let ia = 0u; let ib = i;",
      scalar_b: "let ia = i; let ib = 0u;",
      suffix_b: "let ia = i; let ib = i % u.nb;",
      general: stridedOffset("ia", "i", "u.shape", "u.sa") +
        stridedOffset("ib", "i", "u.shape", "u.sb"),
    }[spec.mode];
    const io: Pick<Declaration, "inputs" | "outputs"> = spec.inplace
      ? { inputs: { B: t }, outputs: { A: t } }
      : { inputs: { A: t, B: t }, outputs: { out: t } };
    return declare({
      key: `binary/${spec.op}/${t}/${spec.mode}${spec.inplace ? "/inplace" : ""}`,
      ...io,
      uniforms: FIELDS,
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  ${index}
  let a = A[ia];
  let b = B[ib];
  ${spec.inplace ? "A" : "out"}[i] = ${t}(${BINARY_OPS[spec.op]});`,
    });
  },
);
