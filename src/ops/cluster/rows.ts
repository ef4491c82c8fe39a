/**
 * Row-block copies between row-major matrices, recorded on the GPU in
 * stream order: a block of rows into another tensor, or out as a new one.
 * No autograd.
 * @module
 */
import { runtime } from "../../gpu/runtime.ts";
import { empty, fmtShape, type Tensor } from "../../tensor/tensor.ts";

/** Where {@link copyRows} reads and writes, in rows of the shared width. */
export interface CopyRowsOptions {
  /** Elements per row (the same in both tensors). */
  width: number;
  /** First row read from `src`. */
  from: number;
  /** First row written in `dst`. */
  to: number;
  /** Rows copied. */
  rows: number;
}

/**
 * Copies `rows` rows of `width` elements from `src` (starting at row `from`)
 * into `dst` (starting at row `to`). Both tensors must hold the rows and
 * share a 4-byte dtype.
 *
 * @example
 * ```ts
 * copyRows("KMeans.fit", init, centres, { width: d, from: 0, to: 0, rows: k });
 * ```
 */
export function copyRows(op: string, src: Tensor, dst: Tensor, options: CopyRowsOptions): void {
  const { width, from, to, rows } = options;
  if (
    src.dtype !== dst.dtype || src.byteLength !== 4 * src.size ||
    (from + rows) * width > src.size || (to + rows) * width > dst.size
  ) {
    throw new Error(
      `${op}: cannot copy rows ${from}..${from + rows} of width ${width} from ${
        fmtShape(src.shape)
      } ${src.dtype} to rows ${to}.. of ${fmtShape(dst.shape)} ${dst.dtype}`,
    );
  }
  const bytes = 4;
  runtime().copy(
    op,
    src.storage(op).buffer,
    from * width * bytes,
    dst.storage(op).buffer,
    to * width * bytes,
    rows * width * bytes,
  );
}

/**
 * Rows `from`..`from + rows` of the [n, w] matrix `src` as a new [rows, w]
 * tensor.
 *
 * @example
 * ```ts
 * const pb = sliceRows("DEC.fit", p, offset, count); // [count, k]
 * ```
 */
export function sliceRows(op: string, src: Tensor, from: number, rows: number): Tensor {
  const width = src.shape[1];
  const out = empty([rows, width], src.dtype, op);
  copyRows(op, src, out, { width, from, to: 0, rows });
  return out;
}
