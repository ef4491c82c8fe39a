/**
 * Tensors, scopes and memory accounting.
 * @module
 */
export {
  bytesPer,
  debug,
  type DType,
  empty,
  fmtShape,
  type HostArray,
  memory,
  type MemoryInfo,
  sizeOf,
  Tensor,
} from "./tensor.ts";
export { keep, tidy } from "./scope.ts";
