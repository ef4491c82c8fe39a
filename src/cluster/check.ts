/**
 * Argument checks shared by the clustering estimators.
 * @module
 */
import { fmtShape, Tensor } from "../tensor/tensor.ts";

/**
 * Throws unless `x` is a non-empty f32 matrix, naming the caller and argument.
 *
 * @example
 * ```ts
 * checkMatrix("KMeans.fit", "x", x); // "KMeans.fit: expected x to be a non-empty f32 tensor [n, d], got [6] f32"
 * ```
 */
export function checkMatrix(where: string, name: string, x: Tensor): void {
  if (!(x instanceof Tensor)) {
    throw new TypeError(
      `${where}: expected ${name} to be an f32 tensor [n, d], got ${
        x === null ? "null" : (x as object)?.constructor?.name ?? typeof x
      }`,
    );
  }
  if (x.dtype !== "f32" || x.rank !== 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new Error(
      `${where}: expected ${name} to be a non-empty f32 tensor [n, d], got ${
        fmtShape(x.shape)
      } ${x.dtype}`,
    );
  }
}
