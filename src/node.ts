/**
 * latent for Node: the whole library (`./mod.ts`), with WebGPU from Dawn's
 * Node binding (the npm package `webgpu`). {@link init} uses it unless given
 * another `gpu`. On Linux it asks Dawn for its Vulkan backend; without a GPU
 * that is Mesa's lavapipe, which must be Mesa 25 or newer (Mesa 22.3 lacks a
 * Vulkan feature Dawn requires, and Dawn then finds no adapter).
 *
 * @example
 * ```ts
 * import * as lt from "@latent/latent";
 * await lt.init();
 * console.log(await lt.add(lt.tensor([1, 2, 3]), 1).toArray());
 * ```
 *
 * @module
 */
import { create, globals } from "webgpu";
import type { DeviceOptions } from "./gpu/device.ts";
import { init as initWith, type Runtime } from "./gpu/runtime.ts";

export * from "./mod.ts";

// latent reads WebGPU's flag namespaces (GPUBufferUsage, GPUShaderStage, GPUMapMode) as
// globals, which browsers and Deno provide and Node does not.
for (const [name, value] of Object.entries(globals)) {
  if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, writable: true });
}

let dawn: GPU | undefined;

/**
 * Starts latent on Dawn's WebGPU (or on `options.gpu`). Resolves to the
 * runtime; rejects with a message naming what to install when no adapter is
 * found.
 *
 * @example
 * ```ts
 * import { init } from "@latent/latent";
 * const rt = await init();
 * console.log(rt.info.name);
 * ```
 */
export function init(options: DeviceOptions = {}): Promise<Runtime> {
  if (options.gpu !== undefined) return initWith(options);
  dawn ??= create(process.platform === "linux" ? ["backend=vulkan"] : []);
  return initWith({ ...options, gpu: dawn });
}
