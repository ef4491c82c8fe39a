/**
 * Where NaN or ±Inf sits in a tensor, found on the GPU with one reduction.
 *
 * Non-finite values spread silently on some drivers (relu(NaN) = 0 and
 * max-pool drops NaN on lavapipe), so a single NaN sample can turn weights
 * into NaN while the reported loss stays finite. Datasets and training check
 * with this op once per upload and once per epoch, reading back one number.
 *
 * The test is on the bits (exponent all ones), since `x != x` may be folded
 * away by compilers that assume finite maths. The reduction is the shared
 * axis reduction (`reduceAxisRaw`) with a map prologue, so it is laid out
 * and split into passes like every other reduction.
 *
 * @module
 */
import type { ReduceMap } from "../../shaders/reduce.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { fillInPlace } from "./creation.ts";
import { reduceAxisRaw } from "./reduce.ts";

/** What a clean tensor reduces to (finite, above every encoded row; the WGSL's 3.0e38f). */
const NONE = 3.0e38;
/** Offset that makes every encoded row a normal float (no flush to zero). */
const NORMAL = 0x00800000;

/**
 * Row r of a non-finite element is encoded as the float whose bits are
 * r + NORMAL: positive normal floats order like their bits, so the minimum
 * is the first row, exact for any row count (an f32 of r would round above
 * 2^24 rows).
 */
const FIRST_ROW: ReduceMap = {
  name: "first_nonfinite_row",
  inputs: ["X"],
  helpers: /* wgsl */ `
fn first_nonfinite_row(i: u32) -> f32 {
  if ((bitcast<u32>(X[i]) & 0x7f800000u) != 0x7f800000u) { return 3.0e38f; }
  return bitcast<f32>(i / u32(u.p0) + ${NORMAL}u);
}`,
  expr: "first_nonfinite_row(i)",
};

/**
 * Records a reduction of `x` (f32), seen as rows of `rowLength` values, to a
 * one-element f32 tensor that encodes the first row holding NaN or ±Inf;
 * decode what is read back with {@link decodeNonFiniteRow}. Records GPU
 * work only, so several results can be copied into one buffer and read
 * together (fit reads them with the epoch's loss).
 *
 * @example
 * ```ts
 * const code = lt.nonFiniteRowRaw(x, 784); // x: [n, 784]
 * const row = lt.decodeNonFiniteRow((await code.toArray())[0]); // null when all finite
 * ```
 */
export function nonFiniteRowRaw(x: Tensor, rowLength: number = Math.max(1, x.size)): Tensor {
  const op = "nonFiniteRow";
  checkRows(op, x, rowLength);
  if (x.size === 0) return fillInPlace(empty([1], "f32", op), NONE);
  return reduceAxisRaw("min", x, 1, x.size, 1, [1], {
    map: FIRST_ROW,
    p0: rowLength,
    name: op,
  }).values;
}

/**
 * The row index a value of {@link nonFiniteRowRaw} encodes, or null when
 * the tensor was finite.
 *
 * @example
 * ```ts
 * const row = lt.decodeNonFiniteRow(values[0]);
 * if (row !== null) throw new Error(`sample ${row} holds NaN or ±Inf`);
 * ```
 */
export function decodeNonFiniteRow(value: number): number | null {
  if (!(value < NONE)) return null;
  const bits = new Uint32Array(Float32Array.of(value).buffer)[0];
  return bits - NORMAL;
}

/**
 * The first row of `x` (rows of `rowLength` values; default: all of x as one
 * row) that holds NaN or ±Inf, or null. Reads back one number.
 *
 * @example
 * ```ts
 * const bad = await lt.firstNonFiniteRow(x, 5); // x: [10, 5] → e.g. 7, or null
 * ```
 */
export async function firstNonFiniteRow(
  x: Tensor,
  rowLength: number = Math.max(1, x.size),
): Promise<number | null> {
  const code = nonFiniteRowRaw(x, rowLength);
  try {
    return decodeNonFiniteRow((await code.toArray())[0]);
  } finally {
    code.dispose();
  }
}

const ROW_FLAG: ReduceMap = {
  name: "nonfinite_flag",
  inputs: ["X"],
  expr: "select(0.0, 1.0, (bitcast<u32>(X[i]) & 0x7f800000u) == 0x7f800000u)",
};

/**
 * Records, for `x` seen as rows of `rowLength` values, an f32 tensor
 * `[rows]` that is 1 where a row holds NaN or ±Inf and 0 elsewhere (for
 * locating every offending row, e.g. in a view of a dataset).
 *
 * @example
 * ```ts
 * const flags = lt.nonFiniteRowsRaw(x, 784); // x: [n, 784] → [n] of 0 / 1
 * ```
 */
export function nonFiniteRowsRaw(x: Tensor, rowLength: number): Tensor {
  const op = "nonFiniteRows";
  checkRows(op, x, rowLength);
  const rows = x.size / rowLength;
  if (x.size === 0) return empty([0], "f32", op);
  return reduceAxisRaw("max", x, rows, rowLength, 1, [rows], { map: ROW_FLAG, name: op }).values;
}

function checkRows(op: string, x: Tensor, rowLength: number): void {
  if (x.dtype !== "f32") {
    throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype} ${fmtShape(x.shape)}`);
  }
  if (!Number.isInteger(rowLength) || rowLength < 1 || x.size % rowLength !== 0) {
    throw new RangeError(
      `${op}: expected a row length that divides ${x.size} (the size of ${
        fmtShape(x.shape)
      }), got ${rowLength}`,
    );
  }
  if (rowLength > 2 ** 24) {
    throw new RangeError(
      `${op}: rows of more than 2^24 values are not supported, got ${rowLength}`,
    );
  }
}
