/**
 * Ops: every differentiable operation, defined once (shape rule, forward
 * dispatch, gradient rule).
 * @module
 */
export {
  assign,
  clone,
  fillInPlace,
  full,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from "./creation.ts";
export { add, binaryRaw, div, mul, sub, type TensorLike } from "./binary.ts";
export { broadcastShapes, reduceTo } from "./broadcast.ts";
export {
  columnSums,
  linear,
  matmul,
  type MatmulOptions,
  matmulRaw,
  type MatmulRawOptions,
} from "./matmul.ts";
export { adapterKind, matmulTile } from "./tuning.ts";
export {
  bernoulli,
  fillRandom,
  randomBits,
  type RandomDistribution,
  randomNormal,
  type RandomOptions,
  RandomStream,
  randomUniform,
  resolveSeed,
  type Seed,
  truncatedNormal,
} from "./random.ts";
export {
  conv2d,
  type Conv2DOptions,
  conv2dTranspose,
  convAxis,
  type ConvKernelOverrides,
  type Padding,
  type Size2,
  withConvKernels,
} from "./conv.ts";
export { avgPool2d, maxPool2d, type Pool2DOptions } from "./pool.ts";
export { upSampling2d, type UpSampling2DOptions } from "./upsample.ts";
export { flatten, reshape } from "./shape.ts";
