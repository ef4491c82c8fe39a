/**
 * Pieces shared by shader families: the family cache, the linear invocation
 * id over a folded dispatch grid and the 1-D entry point built on it, and
 * index arithmetic for broadcasting.
 * Kernels themselves are declared with `declare` (shaders/declare.ts).
 *
 * Shader modules are pure functions from a small spec to WGSL text; they make
 * no GPU calls. The runtime compiles each distinct `key` once.
 *
 * @module
 */
import type { Access, Kernel } from "../src/gpu/runtime.ts";
import type { Entry } from "./declare.ts";

export type { Access, Kernel };

/** Threads per workgroup for 1-D elementwise families. */
export const WG = 256;

/** Most dimensions a broadcasting kernel handles. */
export const MAX_RANK = 8;

const built = new Map<string, Kernel>();

/**
 * Wraps a family's builder so each spec's WGSL text is generated once; ops
 * call the family on every dispatch, so this keeps string work off the hot path.
 */
export function family<S, K extends Kernel = Kernel>(
  name: string,
  build: (spec: S) => K,
): (spec: S) => K {
  return (spec: S) => {
    const id = name + JSON.stringify(spec);
    let k = built.get(id) as K | undefined;
    if (!k) built.set(id, k = build(spec));
    return k;
  };
}

/** WGSL for the linear workgroup id of a 1-D launch the runtime folded into x·y·z (`foldGrid`). */
export const LINEAR_WG = /* wgsl */ `
fn linear_wg(wid: vec3u, nwg: vec3u) -> u32 {
  return (wid.z * nwg.y + wid.y) * nwg.x + wid.x;
}`;

/** WGSL for the global linear invocation index of a folded 1-D launch (with {@link LINEAR_WG}). */
export const LINEAR_ID = /* wgsl */ `${LINEAR_WG}
fn linear_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_wg(wid, nwg) * WG + lid;
}`;

/**
 * The entry point of a 1-D family: one invocation per element over a launch
 * the runtime folded into x·y·z, workgroups of {@link WG} (declared as the
 * WGSL constant `WG`, with {@link LINEAR_ID}); `main` starts with
 * `let i = linear_id(wid, nwg, lid);`, the element's index.
 */
export const ENTRY_1D: Entry = {
  workgroupSize: "WG",
  builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
  helpers: `const WG = ${WG}u;${LINEAR_ID}`,
  prelude: "  let i = linear_id(wid, nwg, lid);",
};

/**
 * WGSL statements that turn linear index `idx` (over `shape`) into an element
 * offset through `strides`; both are `array<vec4u, 2>` uniform fields.
 */
export function stridedOffset(out: string, idx: string, shape: string, strides: string): string {
  return /* wgsl */ `
  var ${out} = 0u;
  {
    var rem = ${idx};
    for (var d = i32(u.rank) - 1; d >= 0; d--) {
      let ud = u32(d);
      let size = ${shape}[ud / 4u][ud % 4u];
      ${out} += (rem % size) * ${strides}[ud / 4u][ud % 4u];
      rem /= size;
    }
  }`;
}

/** Packs up to {@link MAX_RANK} numbers into the 8 u32 slots of an `array<vec4u, 2>` field. */
export function packDims(values: readonly number[], fill = 1): number[] {
  const out = new Array(MAX_RANK).fill(fill);
  values.forEach((v, i) => (out[i] = v));
  return out;
}
