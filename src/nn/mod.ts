/**
 * Layers, models, training (Keras' vocabulary).
 *
 * @example
 * ```ts
 * const ae = lt.nn.sequential([
 *   lt.nn.dense(128, "relu"), lt.nn.dense(32, "relu"),
 *   lt.nn.dense(128, "relu"), lt.nn.dense(784, "sigmoid"),
 * ], { inputShape: [784] });
 * ae.compile({ optimizer: "adam", loss: "binary_crossentropy" });
 * ```
 * @module
 */
export { type CallContext, input, Layer, type Param, type Shape, SymbolicTensor } from "./layer.ts";
export { Model, model, Sequential, sequential } from "./model.ts";
export {
  Activation,
  activation,
  Dense,
  dense,
  type DenseOptions,
  Dropout,
  dropout,
  Flatten,
  flatten,
  GaussianNoise,
  gaussianNoise,
  Reshape,
  reshape,
  setSeed,
} from "./layers.ts";
export {
  averagePooling2d,
  Conv2D,
  conv2dLayer as conv2d,
  Conv2DTranspose,
  conv2dTransposeLayer as conv2dTranspose,
  type ConvLayerOptions,
  maxPooling2d,
  type PoolLayerOptions,
  UpSampling2D,
  upSampling2dLayer as upSampling2d,
} from "./conv_layers.ts";
export * as regularizers from "./regularizers.ts";
export type {
  CompileOptions,
  DataLike,
  FitOptions,
  History,
  LossFn,
  LossName,
  TargetLike,
  TrainBatch,
  TrainStep,
} from "./training.ts";
export { GaussianSampling, gaussianSampling, type GaussianSamplingOptions } from "./vae.ts";
