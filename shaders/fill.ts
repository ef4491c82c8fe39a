/**
 * Fill: writes one 32-bit pattern to every word of a buffer (any 32-bit
 * dtype; u8 tensors get the byte repeated four times).
 *
 * Dispatch: ceil(words / WG) workgroups of WG threads. Declared buffer: `out`
 * (write), viewed as the tensor's element type (u8 tensors as u32 words).
 * Uniforms: `n` words, `bits` (the pattern, as a u32).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/** Specialisation of the fill kernel: the element type `out` is declared with. */
export interface FillSpec {
  /** `u32` for u32 and u8 tensors. */
  elem: "f32" | "i32" | "u32";
}

/**
 * The fill kernel. The pattern is stored through a bitcast, so every element
 * type receives exactly `bits`.
 */
export const fillKernel: (spec: FillSpec) => DeclaredKernel = family(
  "fill",
  (spec: FillSpec) =>
    declare({
      key: `fill/${spec.elem}`,
      inputs: {},
      outputs: { out: spec.elem },
      uniforms: { n: "u32", bits: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i < u.n) { out[i] = ${spec.elem === "u32" ? "u.bits" : `bitcast<${spec.elem}>(u.bits)`}; }`,
    }),
);
