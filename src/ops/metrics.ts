/**
 * Training metrics computed on the GPU, so fit and evaluate accumulate them
 * beside the loss and read them back once per epoch (DESIGN.md principle 1).
 * The host-side metrics of finished labels (ACC, NMI, ARI) are src/metrics.
 *
 * @module
 */
import { WG } from "../../shaders/common.ts";
import { accuracyKernel } from "../../shaders/metrics.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";
import { sum } from "./reduce.ts";

/**
 * The number of correct predictions in a batch, as a one-element f32 tensor
 * (no readback): `categorical` counts rows whose argmax matches the one-hot
 * target's, `binary` counts elements on the same side of 0.5 as the target
 * (Keras' accuracy metrics). Dividing by rows (or elements) is the caller's,
 * once per epoch.
 *
 * @example
 * ```ts
 * const correct = accuracyCount(pred, yOneHot, "categorical"); // f32 [1]
 * ```
 */
export function accuracyCount(
  pred: Tensor,
  target: Tensor,
  mode: "categorical" | "binary",
): Tensor {
  if (target.dtype === "i32") {
    throw new Error(
      "accuracy: sparse integer targets are not supported with the accuracy metric; use one-hot targets",
    );
  }
  if (target.size !== pred.size) {
    throw new Error(
      `accuracy: prediction ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} differ`,
    );
  }
  const classes = pred.shape[pred.rank - 1];
  const rows = mode === "binary" ? pred.size : pred.size / classes;
  const hits = empty([rows], "f32", "accuracy");
  launchKernel(
    "accuracy",
    accuracyKernel({ mode }),
    { P: pred, T: target, hits },
    { n: rows, classes },
    Math.ceil(rows / WG),
  );
  return sum(hits);
}
