/**
 * The one way ops run kernels: every kernel is declared (shaders/declare.ts),
 * and {@link launchKernel} binds its buffers and packs its uniforms by name,
 * checked against the declaration, then records the dispatch. There is no
 * positional packing left to drift from a shader's struct.
 * @module
 */
import {
  type DeclaredKernel,
  type Elem,
  packUniforms,
  type UniformValue,
} from "../../shaders/declare.ts";
import { runtime } from "../gpu/runtime.ts";
import { type DType, fmtShape, type Tensor } from "../tensor/tensor.ts";

/** Tensor dtypes a storage element type may view (u8 tensors are read as packed u32 words). */
const VIEWS: Readonly<Record<Elem, readonly DType[]>> = {
  f32: ["f32"],
  vec2f: ["f32"],
  vec4f: ["f32"],
  i32: ["i32"],
  vec4i: ["i32"],
  u32: ["u32", "u8"],
  vec4u: ["u32", "u8"],
  "atomic<u32>": ["u32"],
};

/**
 * Records one declared kernel, binding tensors and packing uniforms by the
 * names its declaration gives. Throws before any GPU work, naming the op and
 * the kernel, when a buffer is missing or unknown, a tensor's dtype does not
 * match its buffer's element type, or a uniform field is missing, unknown or
 * of the wrong type.
 *
 * `refresh`, for values that change from step to step (an optimizer's step
 * count), gives the uniforms again each time a captured step is replayed
 * (src/gpu/capture.ts); without it they are frozen as packed now.
 *
 * @example
 * ```ts
 * launchKernel("relu", unaryKernel({ op: "relu", vec4: true }), { X: x, out: y },
 *   { n: x.size / 4, a: 0, b: 0, inf: 0x7f800000 }, Math.ceil(x.size / 4 / WG));
 * ```
 */
export function launchKernel(
  op: string,
  kernel: DeclaredKernel,
  buffers: Readonly<Record<string, Tensor>>,
  uniforms: Readonly<Record<string, UniformValue>>,
  workgroups: number | [number, number?, number?],
  refresh?: () => Readonly<Record<string, UniformValue>>,
): void {
  const slots = kernel.slots;
  // Every slot must be bound; with as many names as slots, none is unknown.
  const names = Object.keys(buffers);
  if (names.length !== slots.length) {
    for (const name of names) {
      if (!slots.some(([n]) => n === name)) {
        throw new Error(
          `${op}: kernel ${kernel.key} has no buffer "${name}" (it binds ${
            slots.map(([n]) => n).join(", ")
          })`,
        );
      }
    }
  }
  const bound = slots.map(([name, elem]) => {
    const t = buffers[name];
    if (!t) throw new Error(`${op}: kernel ${kernel.key} needs buffer "${name}"`);
    if (!VIEWS[elem].includes(t.dtype)) {
      throw new TypeError(
        `${op}: kernel ${kernel.key} reads "${name}" as ${elem}, got a ${t.dtype} tensor ${
          fmtShape(t.shape)
        }`,
      );
    }
    return t.binding(op);
  });
  if (!kernel.uniforms && Object.keys(uniforms).length) {
    throw new Error(`${op}: kernel ${kernel.key} takes no uniforms`);
  }
  let bytes: Uint8Array | undefined;
  try {
    bytes = kernel.uniforms ? packUniforms(kernel, uniforms) : undefined;
  } catch (e) {
    const E = e instanceof RangeError ? RangeError : e instanceof TypeError ? TypeError : Error;
    throw new E(`${op}: ${(e as Error).message}`);
  }
  runtime().dispatch({
    op,
    kernel,
    buffers: bound,
    uniforms: bytes,
    workgroups,
    ...(refresh ? { refresh: () => packUniforms(kernel, refresh()) } : {}),
  });
}
