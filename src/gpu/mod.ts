/**
 * The WebGPU runtime: device, pool, pipelines, batching, readback.
 * @module
 */
export {
  type AdapterInfo,
  missingWebGPUMessage,
  requestGpu,
  WebGPUUnavailableError,
} from "./device.ts";
export {
  compileStep,
  DeviceLostError,
  GpuError,
  init,
  type Kernel,
  Runtime,
  runtime,
} from "./runtime.ts";
export { type CompileReport, Recording, StepCompiler } from "./capture.ts";
export type { Budgets } from "./budget.ts";
