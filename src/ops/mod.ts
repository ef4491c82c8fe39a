/**
 * Ops: every differentiable operation, defined once (shape rule, forward
 * dispatch, gradient rule).
 * @module
 */
export {
  assign,
  clone,
  copyInto,
  type CopyIntoOptions,
  fillInPlace,
  full,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from "./creation.ts";
export {
  add,
  div,
  equal,
  greater,
  greaterEqual,
  less,
  lessEqual,
  maximum,
  minimum,
  mul,
  notEqual,
  pow,
  sub,
  type TensorLike,
} from "./binary.ts";
export { broadcastShapes, reduceTo } from "./broadcast.ts";
export { linear, matmul, type MatmulOptions } from "./matmul.ts";
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
  abs,
  affine,
  clamp,
  exp,
  log,
  neg,
  powScalar,
  rsqrt,
  sign,
  sqrt,
  square,
} from "./unary.ts";
export {
  activation,
  activationGrad,
  type ActivationName,
  DEFAULT_ALPHA,
  elu,
  gelu,
  leakyRelu,
  relu,
  sigmoid,
  silu,
  softplus,
  tanh,
} from "./activations.ts";
export {
  argmax,
  argmin,
  type Axis,
  max,
  mean,
  min,
  type ReduceAccumulator,
  sum,
} from "./reduce.ts";
export { logSoftmax, softmax } from "./softmax.ts";
export {
  binaryCrossentropy,
  categoricalCrossentropy,
  type CrossentropyOptions,
  klDivergence,
  l1Penalty,
  l2Penalty,
  type LossOptions,
  meanAbsoluteError,
  meanSquaredError,
  sparseCategoricalCrossentropy,
} from "./losses.ts";
export {
  conv2d,
  type Conv2DOptions,
  conv2dTranspose,
  convAxis,
  type Padding,
  type Size2,
} from "./conv.ts";
export { avgPool2d, maxPool2d, type Pool2DOptions } from "./pool.ts";
export { upSampling2d, type UpSampling2DOptions } from "./upsample.ts";
export { flatten, reshape } from "./shape.ts";
export { gaussianKl, type GaussianKlOptions, gaussianMean, gaussianSample } from "./vae.ts";
