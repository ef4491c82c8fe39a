/**
 * latent's internal face, for its own tests and benchmarks: the raw kernel
 * variants the differentiable ops are built from (no shape broadcasting, no
 * tape, caller-chosen outputs), the per-adapter tuning choices and the
 * scopes that override them or lower the work budgets. Nothing here is
 * stable API: it changes with the kernels. Applications use `src/mod.ts`.
 *
 * It shares the one runtime with `src/mod.ts`: initialise through either
 * (`lt.init()`), then call these.
 *
 * @example
 * ```ts
 * import * as lt from "./src/mod.ts";
 * import * as internal from "./src/internal.ts";
 * await lt.init();
 * const a = lt.tensor([[1, 2], [3, 4]]);
 * // The GPU configuration of every kernel, on any adapter:
 * const c = internal.withTuning({ adapter: "gpu" }, () => internal.matmulRaw(a, a));
 * ```
 * @module
 */
export { binaryRaw } from "./ops/binary.ts";
export type { BinaryOp } from "../shaders/binary.ts";
export { unaryGradRaw, unaryRaw } from "./ops/unary.ts";
export type { UnaryKind } from "../shaders/unary.ts";
export {
  matmulPairRaw,
  matmulRaw,
  type MatmulRawOptions,
  type PairedProduct,
} from "./ops/matmul.ts";
export type { MatmulTile } from "../shaders/matmul.ts";
export { reduceAxisRaw, type ReduceRawOptions, sumAxesRaw } from "./ops/reduce.ts";
export { CPU_REDUCE, GPU_REDUCE, type ReduceOp, type ReduceProfile } from "../shaders/reduce.ts";
export {
  decodeNonFiniteRow,
  firstNonFiniteRow,
  nonFiniteRowRaw,
  nonFiniteRowsRaw,
} from "./ops/finite.ts";
export type { ConvTile } from "../shaders/conv2d.ts";
export {
  type AdapterKind,
  adapterKind,
  convTile,
  type ConvTuning,
  type KMeansTuning,
  matmulTile,
  pairProducts,
  reduceProfile,
  type Tuning,
  withTuning,
} from "./ops/tuning.ts";
export { withBudgets } from "./gpu/runtime.ts";
export { checkIndexRange, gatherRows } from "./ops/gather.ts";
