/**
 * Train/test splits as index arrays, and row gathering by index.
 *
 * @module
 */

import { Rng } from "./prng.ts";

/** Options of {@link trainTestSplit}. */
export interface SplitOptions {
  /**
   * Fraction of the rows in (0, 1) (rounded up, as scikit-learn does) or a
   * row count for the test split (default 0.25).
   */
  testSize?: number;
  /** Seed of the shuffle (default 0). */
  seed?: number;
  /**
   * Class labels, one per row: each class then keeps its share in both
   * splits (largest-remainder rounding of the per-class test counts).
   */
  stratify?: ArrayLike<number>;
}

/** Row indices of the two splits, each in random order. */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

function testCount(n: number, testSize: number): number {
  if (testSize > 0 && testSize < 1) return Math.ceil(testSize * n);
  if (Number.isInteger(testSize) && testSize >= 1 && testSize < n) return testSize;
  throw new RangeError(
    `trainTestSplit: expected testSize in (0, 1) or an integer in [1, ${n - 1}], got ${testSize}`,
  );
}

/**
 * Shuffles the row indices `0 .. n-1` and splits them into a training and a
 * test part, like scikit-learn's `train_test_split` on indices. The two parts
 * are disjoint and together hold every index once.
 *
 * @example
 * ```ts
 * const { train, test } = trainTestSplit(1000, { testSize: 0.2, seed: 1 });
 * train.length; // 800
 * const xTest = take(x, 784, test);
 * ```
 */
export function trainTestSplit(n: number, options: SplitOptions = {}): Split {
  const { testSize = 0.25, seed = 0, stratify } = options;
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`trainTestSplit: expected n to be an integer >= 2, got ${n}`);
  }
  const nTest = testCount(n, testSize);
  const nTrain = n - nTest;
  const rng = new Rng(seed);
  if (stratify === undefined) {
    const p = rng.permutation(n);
    return { train: p.slice(0, nTrain), test: p.slice(nTrain) };
  }

  if (stratify.length !== n) {
    throw new RangeError(`trainTestSplit: expected ${n} stratify labels, got ${stratify.length}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = stratify[i];
    let rows = byClass.get(c);
    if (rows === undefined) byClass.set(c, rows = []);
    rows.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  if (nTest < classes.length || nTrain < classes.length) {
    throw new RangeError(
      `trainTestSplit: expected both splits to hold at least one row per class ` +
        `(${classes.length} classes), got ${nTrain} train and ${nTest} test rows`,
    );
  }
  for (const c of classes) {
    if (byClass.get(c)!.length < 2) {
      throw new RangeError(
        `trainTestSplit: expected at least 2 rows of class ${c} to stratify, got 1`,
      );
    }
  }
  // Largest remainder: floor each class's exact share, then hand the missing
  // rows to the classes with the largest fractional parts (ties: lower class).
  const exact = classes.map((c) => (byClass.get(c)!.length * nTest) / n);
  const counts = exact.map(Math.floor);
  let missing = nTest - counts.reduce((a, b) => a + b, 0);
  const order = classes.map((_, k) => k).sort((a, b) =>
    exact[b] - counts[b] - (exact[a] - counts[a]) || a - b
  );
  for (const k of order) {
    if (missing === 0) break;
    counts[k]++;
    missing--;
  }
  const train: number[] = [], test: number[] = [];
  classes.forEach((c, k) => {
    const rows = rng.shuffle(byClass.get(c)!);
    test.push(...rows.slice(0, counts[k]));
    train.push(...rows.slice(counts[k]));
  });
  return { train: rng.shuffle(Int32Array.from(train)), test: rng.shuffle(Int32Array.from(test)) };
}

/** Typed arrays {@link take} can gather rows of. */
export type RowArray =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array;

/**
 * Gathers rows: row `k` of the result is row `indices[k]` of `x`, each row
 * being `rowLength` consecutive elements. The result has the type of `x`.
 *
 * @example
 * ```ts
 * const { test } = trainTestSplit(mnist.train.n, { testSize: 0.1 });
 * const images = take(mnist.train.images, 784, test); // Uint8Array
 * const labels = take(mnist.train.labels, 1, test);
 * ```
 */
export function take<T extends RowArray>(x: T, rowLength: number, indices: ArrayLike<number>): T {
  if (!Number.isInteger(rowLength) || rowLength < 1 || x.length % rowLength !== 0) {
    throw new RangeError(
      `take: expected a positive rowLength dividing the length ${x.length}, got ${rowLength}`,
    );
  }
  const rows = x.length / rowLength;
  const out = new (x.constructor as new (length: number) => T)(indices.length * rowLength);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= rows) {
      throw new RangeError(`take: expected indices in [0, ${rows}), got ${i} at position ${k}`);
    }
    out.set(x.subarray(i * rowLength, (i + 1) * rowLength), k * rowLength);
  }
  return out;
}
