/**
 * Shape ops that never copy: `reshape` and `flatten` return views over the
 * same storage (`Tensor.view`), and their gradient is a view back to the
 * input's shape.
 *
 * @module
 */
import { record } from "../autograd/tape.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";

/**
 * The same elements under a new shape (row-major order kept; no copy). One
 * dimension may be -1 and is inferred.
 *
 * @example
 * ```ts
 * const img = lt.reshape(batch, [-1, 28, 28, 1]); // [n, 784] → [n, 28, 28, 1]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const op = "reshape";
  const free = shape.filter((d) => d === -1).length;
  if (free > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new Error(
      `${op}: shape must be non-negative integers with at most one -1, got ${fmtShape(shape)}`,
    );
  }
  let target = [...shape];
  if (free === 1) {
    const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new Error(
        `${op}: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
      );
    }
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  const y = x.view(target, op);
  return record(y, op, [x], (g) => [g.view(x.shape, `${op} (gradient)`)]);
}

/**
 * Flattens every dimension after the first (Keras Flatten): `[n, ...]` →
 * `[n, product of the rest]`, as a view.
 *
 * @example
 * ```ts
 * const v = lt.flatten(lt.zeros([8, 7, 7, 32])); // [8, 1568]
 * ```
 */
export function flatten(x: Tensor): Tensor {
  if (x.rank < 1) throw new Error(`flatten: expected a tensor with a batch dimension, got []`);
  const rest = x.shape.slice(1).reduce((a, d) => a * d, 1);
  const y = x.view([x.shape[0], rest], "flatten");
  return record(y, "flatten", [x], (g) => [g.view(x.shape, "flatten (gradient)")]);
}
