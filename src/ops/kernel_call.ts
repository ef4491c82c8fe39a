/**
 * The one way ops run kernels: bind tensors, pack uniforms, record a dispatch.
 *
 * Declared kernels (shaders/declare.ts) run through {@link launchKernel},
 * which binds buffers and packs uniforms by name and checks both against the
 * declaration; {@link launch} and the positional {@link Uniforms} builder
 * remain for kernels not yet declared.
 * @module
 */
import {
  type DeclaredKernel,
  type Elem,
  packUniforms,
  type UniformValue,
} from "../../shaders/declare.ts";
import { runtime } from "../gpu/runtime.ts";
import type { Kernel } from "../gpu/runtime.ts";
import { type DType, fmtShape, type Tensor } from "../tensor/tensor.ts";

/**
 * Builds a uniform block field by field with WGSL's layout for the plain
 * `u32`/`i32`/`f32` scalars and `array<vec4u, 2>` dimension lists we use.
 */
export class Uniforms {
  #view = new DataView(new ArrayBuffer(256));
  #at = 0;
  /** Appends a u32. */
  u32(v: number): this {
    this.#view.setUint32(this.#at, v >>> 0, true);
    this.#at += 4;
    return this;
  }
  /** Appends an i32. */
  i32(v: number): this {
    this.#view.setInt32(this.#at, v | 0, true);
    this.#at += 4;
    return this;
  }
  /** Appends an f32. */
  f32(v: number): this {
    this.#view.setFloat32(this.#at, v, true);
    this.#at += 4;
    return this;
  }
  /** Pads to a 16-byte boundary (before a vec4 array). */
  align16(): this {
    this.#at = Math.ceil(this.#at / 16) * 16;
    return this;
  }
  /** Appends 8 u32 slots (an `array<vec4u, 2>`), padded with `fill`. */
  dims(values: readonly number[], fill = 1): this {
    this.align16();
    for (let i = 0; i < 8; i++) this.u32(i < values.length ? values[i] : fill);
    return this;
  }
  /** The packed bytes (a multiple of 16). */
  bytes(): Uint8Array {
    return new Uint8Array(this.#view.buffer, 0, Math.max(16, Math.ceil(this.#at / 16) * 16));
  }
}

/**
 * Records one kernel over tensors. Inputs and outputs are bound in the order
 * the kernel declares: `inputs` first, then `outputs`.
 */
export function launch(
  op: string,
  kernel: Kernel,
  inputs: Tensor[],
  outputs: Tensor[],
  uniforms: Uniforms | null,
  workgroups: number | [number, number?, number?],
): void {
  const buffers = [...inputs, ...outputs].map((t) => t.binding(op));
  runtime().dispatch({ op, kernel, buffers, uniforms: uniforms?.bytes(), workgroups });
}

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
): void {
  const slots = [...kernel.inputs, ...kernel.outputs];
  for (const name of Object.keys(buffers)) {
    if (!slots.some(([n]) => n === name)) {
      throw new Error(
        `${op}: kernel ${kernel.key} has no buffer "${name}" (it binds ${
          slots.map(([n]) => n).join(", ")
        })`,
      );
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
  runtime().dispatch({ op, kernel, buffers: bound, uniforms: bytes, workgroups });
}
