/**
 * Fill: writes one 32-bit pattern to every word of a buffer (any 32-bit
 * dtype; u8 tensors get the byte repeated four times).
 *
 * Dispatch: ceil(words / WG) workgroups of WG threads. Uniform: `n` words, `bits`.
 * @module
 */
import { family, kernel, LINEAR_ID, MAIN_1D, WG } from "./common.ts";

/** The fill kernel (no specialisation). */
export const fillKernel = family("fill", (_spec: Record<string, never>) =>
  kernel(
    "fill",
    /* wgsl */ `
const WG = ${WG}u;
struct U { n: u32, bits: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> u: U;
${LINEAR_ID}
${MAIN_1D}
  if (i < u.n) { out[i] = u.bits; }
}`,
    ["write"],
  ));
