/**
 * Model weights as safetensors files (readable by PyTorch's `safetensors`
 * and Hugging Face tools): one F32 tensor per parameter, named by its layer
 * (`dense_1/kernel`), Keras layouts (Dense kernels [in, out], Conv2D HWIO).
 *
 * Loading checks everything against the model before touching the GPU: every
 * parameter present, dtype F32, shapes equal; unknown names are refused too,
 * so a file for another architecture cannot load silently.
 *
 * @module
 */
import type { Model } from "../nn/model.ts";
import type { Layer } from "../nn/layer.ts";
import type { Optimizer } from "../nn/optimizers.ts";
import { copyInto, tensor } from "../ops/creation.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "./safetensors.ts";

const OPT_PREFIX = "optimizer/";

/**
 * File names of a model's parameters: positional, like PyTorch's state_dict
 * (`layers.0.kernel`, `layers.2.layers.1.bias` for nested models), because
 * layer names are unique per process (`dense_7`) and two builds of the same
 * architecture must exchange weights. Shared layers appear once.
 */
export function parameterKeys(model: Model): Map<Tensor, string> {
  const keys = new Map<Tensor, string>();
  const walk = (layers: readonly Layer[], prefix: string) => {
    layers.forEach((l, i) => {
      const inner = (l as Partial<Model>).layers;
      if (inner && l !== model) walk(inner, `${prefix}layers.${i}.`);
      else {
        for (const p of l.weights()) {
          if (!keys.has(p.tensor)) {
            keys.set(p.tensor, `${prefix}layers.${i}.${p.name.split("/").pop()}`);
          }
        }
      }
    });
  };
  walk(model.layers, "");
  return keys;
}

/**
 * Serialises a model's weights (and optionally its optimizer's state) to
 * safetensors bytes. Reads the weights back from the GPU once.
 *
 * @example
 * ```ts
 * const bytes = await lt.io.saveWeights(ae);
 * await Deno.writeFile("ae.safetensors", bytes);
 * ```
 */
export async function saveWeights(
  model: Model,
  options: { optimizer?: Optimizer; metadata?: Record<string, string> } = {},
): Promise<Uint8Array> {
  const entries: Record<string, SafeTensor> = {};
  const weights = model.weights();
  const keys = parameterKeys(model);
  const values = await Promise.all(weights.map((p) => p.tensor.toArray()));
  weights.forEach((p, i) => {
    entries[keys.get(p.tensor)!] = {
      dtype: "F32",
      shape: [...p.tensor.shape],
      data: values[i] as Float32Array,
    };
  });
  const metadata: Record<string, string> = {
    format: "latent",
    model: model.name,
    ...options.metadata,
  };
  if (options.optimizer) {
    const state = options.optimizer.getState(weights.map((p) => p.tensor));
    metadata["optimizer.iterations"] = String(state.iterations);
    metadata["optimizer.name"] = options.optimizer.name;
    const names = Object.keys(state.tensors);
    // Copies (getState): read, then freed.
    const arrays = await Promise.all(names.map((n) => state.tensors[n].toArray())).finally(() => {
      for (const n of names) state.tensors[n].dispose();
    });
    const byName = new Map(weights.map((p) => [p.name, keys.get(p.tensor)!]));
    names.forEach((n, i) => {
      const cut = n.lastIndexOf("/");
      entries[OPT_PREFIX + byName.get(n.slice(0, cut)) + n.slice(cut)] = {
        dtype: "F32",
        shape: [...state.tensors[n].shape],
        data: arrays[i] as Float32Array,
      };
    });
  }
  return encodeSafetensors(entries, metadata);
}

/**
 * Loads weights saved by {@link saveWeights} (or any safetensors file with
 * the same names and shapes) into a model, validating the whole file first.
 *
 * @example
 * ```ts
 * lt.io.loadWeights(ae, await Deno.readFile("ae.safetensors"));
 * ```
 */
export function loadWeights(
  model: Model,
  bytes: Uint8Array | ArrayBuffer,
  options: { optimizer?: Optimizer } = {},
): void {
  const op = `loadWeights(${model.name})`;
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`${op}: not a valid safetensors file: ${(e as Error).message}`);
  }
  const weights = model.weights();
  const keys = parameterKeys(model);
  const wanted = new Map(weights.map((p) => [keys.get(p.tensor)!, p.tensor]));
  for (const [name, t] of Object.entries(file.tensors)) {
    if (name.startsWith(OPT_PREFIX)) continue;
    const p = wanted.get(name);
    if (!p) {
      throw new Error(
        `${op}: the file has a tensor "${name}" that the model does not (model parameters: ${
          [...wanted.keys()].join(", ")
        })`,
      );
    }
    if (t.dtype !== "F32") throw new Error(`${op}: ${name} has dtype ${t.dtype}, expected F32`);
    if (t.shape.join() !== p.shape.join()) {
      throw new Error(
        `${op}: ${name} has shape ${fmtShape(t.shape)}, the model expects ${fmtShape(p.shape)}`,
      );
    }
  }
  const missing = [...wanted.keys()].filter((n) => !(n in file.tensors));
  if (missing.length) throw new Error(`${op}: the file lacks ${missing.join(", ")}`);

  for (const p of weights) {
    const src = tensor(file.tensors[keys.get(p.tensor)!].data as Float32Array, p.tensor.shape);
    copyInto(p.tensor, src, { op });
    src.dispose();
  }
  if (options.optimizer) {
    const tensors: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(file.tensors)) {
      if (!name.startsWith(OPT_PREFIX)) continue;
      if (t.dtype !== "F32") throw new Error(`${op}: ${name} has dtype ${t.dtype}, expected F32`);
      const key = name.slice(OPT_PREFIX.length), cut = key.lastIndexOf("/");
      const param = wanted.get(key.slice(0, cut));
      if (!param) throw new Error(`${op}: optimizer state ${name} names no parameter of the model`);
      tensors[param.name + key.slice(cut)] = tensor(t.data as Float32Array, t.shape);
    }
    const iterations = Number(file.metadata["optimizer.iterations"] ?? "0");
    try {
      options.optimizer.setState(weights.map((p) => p.tensor), { iterations, tensors });
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
  }
}
