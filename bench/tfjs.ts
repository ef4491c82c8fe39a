/**
 * TensorFlow.js 4.22 as a baseline, under Deno, on the same adapter.
 *
 * The WebGPU backend needs no shims in Deno 2.9: `navigator.gpu` exists and
 * the backend asks it for a "high-performance" adapter, which is the adapter
 * latent uses (lavapipe on a machine without a GPU). TF.js detects Node-like
 * runtimes (`IS_NODE`), which changes nothing for these two backends.
 * `WEBGPU_CPU_FORWARD` is turned off so small ops are not quietly computed on
 * the CPU backend instead.
 *
 * The WASM backend loads its `.wasm` files from the npm package's `dist/`
 * folder through a `file://` URL (`setWasmPaths`; Deno's fetch reads
 * `file://`). It runs the single-threaded SIMD build (XNNPACK, one core):
 * TF.js turns threads off under Node-like runtimes, and forced on, the
 * threaded build fails to start its workers in Deno (see train_bench.ts).
 *
 * Timing follows TF.js's own rule: work is queued asynchronously and
 * `await tensor.data()` waits for it (and reads the result back).
 *
 * @module
 */
import type * as TfType from "@tensorflow/tfjs";

/** The TF.js namespace. */
export type Tf = typeof TfType;

/** A TF.js backend we compare against. */
export type TfBackend = "webgpu" | "wasm";

let loading: Promise<Tf> | null = null;

async function wasmDir(): Promise<string> {
  const local = new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
  try {
    await Deno.stat(new URL("tfjs-backend-wasm-simd.wasm", local));
    return local.href;
  } catch {
    // Not vendored next to the project: resolve through Node's algorithm.
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const pkg = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
    return new URL("dist/", `file://${pkg}`).href;
  }
}

/** Imports TF.js with its WebGPU and WASM backends (once). */
export function loadTf(): Promise<Tf> {
  loading ??= (async () => {
    const tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-webgpu");
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(await wasmDir());
    return tf;
  })();
  return loading;
}

/**
 * Switches TF.js to `backend`. Resolves to the TF.js namespace when it is
 * ready, or to the reason it is not (for the results table's note).
 */
export async function useBackend(backend: TfBackend): Promise<Tf | string> {
  let tf: Tf;
  try {
    tf = await loadTf();
  } catch (e) {
    return `TF.js failed to load: ${(e as Error).message}`;
  }
  try {
    if (!(await tf.setBackend(backend))) return `TF.js backend ${backend} did not initialise`;
  } catch (e) {
    return `TF.js backend ${backend} failed: ${(e as Error).message}`;
  }
  if (backend === "webgpu") tf.env().set("WEBGPU_CPU_FORWARD", false);
  return tf;
}
