/**
 * latent: autoencoders and Deep Embedded Clustering on WebGPU, for Deno and
 * the browser.
 *
 * @example
 * ```ts
 * import * as lt from "./src/mod.ts";
 * await lt.init();
 * const y = lt.add(lt.tensor([1, 2, 3]), 1);
 * console.log(await y.toArray()); // Float32Array [2, 3, 4]
 * ```
 * @module
 */
export * from "./gpu/mod.ts";
export type { DeviceOptions } from "./gpu/device.ts";
export * from "./tensor/mod.ts";
export * from "./autograd/mod.ts";
export * from "./ops/mod.ts";
export * as initializers from "./nn/initializers.ts";
export * as optim from "./nn/optimizers.ts";
export * as data from "./data/mod.ts";
export * as nn from "./nn/mod.ts";
export * as callbacks from "./nn/callbacks.ts";
export * as io from "./io/mod.ts";
export * as metrics from "./metrics/mod.ts";
export * as cluster from "./cluster/mod.ts";
