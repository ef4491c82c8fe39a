/**
 * Weight and activity regularizers (Keras' `regularizers.l1`, `l2`, `l1_l2`).
 *
 * Keras semantics: `l1(a)` adds a·Σ|w|, `l2(a)` adds a·Σw² (no ½). Used as an
 * activity regularizer, the penalty on a layer's output is divided by the
 * batch size, as tf.keras does, so its weight does not depend on the batch.
 *
 * @module
 */
import { add, mul } from "../ops/binary.ts";
import { l1Penalty, l2Penalty } from "../ops/losses.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A penalty on a tensor. */
export interface Regularizer {
  readonly l1: number;
  readonly l2: number;
  /** The scalar penalty for `x`. */
  penalty(x: Tensor): Tensor;
}

function check(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`${name}: the factor must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/**
 * L1 and/or L2 penalty.
 *
 * @example
 * ```ts
 * lt.nn.dense(32, { activation: "relu", activityRegularizer: lt.nn.regularizers.l1l2({ l1: 1e-5 }) })
 * ```
 */
export function l1l2({ l1 = 0, l2 = 0 }: { l1?: number; l2?: number } = {}): Regularizer {
  check("l1l2(l1)", l1);
  check("l1l2(l2)", l2);
  return {
    l1,
    l2,
    penalty(x: Tensor): Tensor {
      if (l1 && l2) return add(l1Penalty(x, l1), l2Penalty(x, l2));
      if (l1) return l1Penalty(x, l1);
      if (l2) return l2Penalty(x, l2);
      return mul(l1Penalty(x, 1), 0);
    },
  };
}

/** L1 penalty a·Σ|x| (the sparse autoencoder's activity regularizer). @example `lt.nn.regularizers.l1(1e-5)` */
export function l1(a = 0.01): Regularizer {
  return l1l2({ l1: check("l1", a) });
}

/** L2 penalty a·Σx² (weight decay as a loss term). @example `lt.nn.regularizers.l2(1e-4)` */
export function l2(a = 0.01): Regularizer {
  return l1l2({ l2: check("l2", a) });
}
