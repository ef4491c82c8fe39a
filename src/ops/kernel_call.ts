/**
 * The one way ops run kernels: bind tensors, pack uniforms, record a dispatch.
 * @module
 */
import { runtime } from "../gpu/runtime.ts";
import type { Kernel } from "../gpu/runtime.ts";
import type { Tensor } from "../tensor/tensor.ts";

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
