/**
 * Prints the WebGPU adapter latent gets (name, vendor, fallback or not) as
 * one JSON line; exits 1 when there is none. bench/gpu/run.sh calls it first
 * to tell whether the Vulkan driver was found.
 *
 * ```sh
 * deno run -A bench/gpu/adapter.ts
 * ```
 *
 * @module
 */
import { init } from "../../src/gpu/runtime.ts";

try {
  const rt = await init();
  console.log(JSON.stringify({ ...rt.info, maxBufferSize: rt.limits.maxBufferSize }));
  Deno.exit(0);
} catch (e) {
  console.error(`adapter: ${(e as Error).message}`);
  Deno.exit(1);
}
