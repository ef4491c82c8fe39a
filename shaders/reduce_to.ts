/**
 * Sum over broadcast dimensions: reduces an input to a shape it was
 * broadcast from (the gradient rule of every broadcasting op).
 *
 * One thread per output element loops over the `count` reduced positions.
 * `oshape` is the output shape padded to the input's rank with 1 in reduced
 * dims; `rshape` holds the reduced dims' sizes (1 in kept dims); both walk the
 * input through `istr`. Dispatch: ceil(nOut / WG) workgroups.
 * @module
 */
import { family, kernel, LINEAR_ID, MAIN_1D, WG } from "./common.ts";

/** The reduce-to kernel. Uniform: nOut, rank, count, oshape[8], rshape[8], istr[8]. */
export const reduceToKernel = family("reduce_to", (_spec: Record<string, never>) =>
  kernel(
    "reduce_to/f32",
    /* wgsl */ `
const WG = ${WG}u;
struct U { n: u32, rank: u32, count: u32, pad: u32,
           oshape: array<vec4u, 2>, rshape: array<vec4u, 2>, istr: array<vec4u, 2> }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
${LINEAR_ID}
fn walk(idx: u32, reduced: bool) -> u32 {
  var rem = idx;
  var off = 0u;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let ud = u32(d);
    var size = u.oshape[ud / 4u][ud % 4u];
    if (reduced) { size = u.rshape[ud / 4u][ud % 4u]; }
    off += (rem % size) * u.istr[ud / 4u][ud % 4u];
    rem /= size;
  }
  return off;
}
${MAIN_1D}
  if (i >= u.n) { return; }
  let base = walk(i, false);
  var acc = 0.0;
  for (var r = 0u; r < u.count; r++) { acc += X[base + walk(r, true)]; }
  out[i] = acc;
}`,
    ["read", "write"],
  ));
