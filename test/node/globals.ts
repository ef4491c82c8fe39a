/**
 * First import of `entry.ts`: WebGPU for Node from Dawn's binding (npm
 * `webgpu`), installed as the browser-style globals the library and cases
 * use (`navigator.gpu`, `GPUBufferUsage`, ...), before any case module loads.
 * @module
 */
import { create, globals } from "webgpu";

for (const [name, value] of Object.entries(globals)) {
  if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, writable: true });
}
const gpu = create(process.platform === "linux" ? ["backend=vulkan"] : []);
// Node 20 has no navigator; Node 21+ has one without gpu.
const nav = (globalThis as { navigator?: object }).navigator;
if (nav) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true });
