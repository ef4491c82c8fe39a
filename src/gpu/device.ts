/**
 * WebGPU device acquisition, the same code in Deno and in browsers.
 *
 * The adapter's own limits are requested explicitly: `requestDevice()` without
 * `requiredLimits` gives the spec defaults (128 MiB storage bindings, 16 KiB
 * workgroup memory), which would cap tile sizes and dataset sizes needlessly.
 *
 * @module
 */

/** What the runtime knows about the adapter, for logs and benchmarks. */
export interface AdapterInfo {
  /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  name: string;
  vendor: string;
  architecture: string;
  /**
   * True for adapters that run shaders on the CPU (lavapipe, SwiftShader):
   * expect CPU speed. latent's kernel tuning follows it (src/ops/tuning.ts).
   */
  isFallback: boolean;
  /** Optional features this device was created with. */
  features: string[];
  /**
   * Loop iterations the driver runs per shader invocation before it stops a
   * loop silently (Mesa < 25's llvmpipe: 65 535); null where none was found.
   * Measured by `Runtime.create`.
   */
  loopCap?: number | null;
  /** Lines worth telling the user about this adapter (e.g. a loop cap and what latent does about it). */
  notes?: string[];
}

/** Options for {@link requestGpu}. */
export interface DeviceOptions {
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** The WebGPU entry point; defaults to `navigator.gpu`. Injectable for tests. */
  gpu?: GPU | null;
}

/** Thrown when WebGPU is missing; its message says what to install or enable. */
export class WebGPUUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebGPUUnavailableError";
  }
}

function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/**
 * The message shown when no WebGPU adapter can be had: what to install
 * (Deno on Linux: Mesa's Vulkan drivers; Node: Mesa 25 for Dawn) or enable
 * (browsers). `deno` is true for Deno, "node" for Node, false for a browser.
 */
export function missingWebGPUMessage(
  what: "api" | "adapter",
  deno: boolean | "node" = isDeno() ||
    (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
          ?.node === "string" && "node"),
): string {
  const head = what === "api"
    ? "latent: WebGPU is not available (navigator.gpu is undefined)."
    : "latent: WebGPU found no adapter (requestAdapter() returned null).";
  if (deno === "node") {
    return head +
      " In Node, latent uses Dawn's binding (the npm package `webgpu`) over Vulkan. On Linux " +
      "without a GPU driver that is Mesa's lavapipe, version 25 or newer (Mesa 22.3 lacks " +
      "features Dawn requires): on Debian 12, `sudo apt-get install -y -t bookworm-backports " +
      "mesa-vulkan-drivers`. With an NVIDIA/AMD GPU, install its Vulkan driver and libvulkan1.";
  }
  if (deno === true) {
    return head +
      " On Linux without a GPU driver, install Mesa's Vulkan drivers: " +
      "`sudo apt-get install -y mesa-vulkan-drivers` (lavapipe runs WebGPU on the CPU). " +
      "With an NVIDIA/AMD GPU, install its Vulkan driver and the Vulkan loader (libvulkan1)." +
      (what === "api" ? " Older Deno versions also need --unstable-webgpu." : "");
  }
  return head +
    " Use a WebGPU-capable browser (Chrome/Edge 113+, Firefox 141+, Safari 26+) over HTTPS or " +
    "localhost; on Linux Chromium start it with --enable-unsafe-webgpu --enable-features=Vulkan.";
}

/**
 * Requests an adapter and a device with the adapter's full limits and the
 * optional features latent can use (timestamp queries for benchmarks).
 *
 * @example
 * ```ts
 * const { device, info } = await requestGpu();
 * console.log(info.name, info.isFallback);
 * ```
 */
export async function requestGpu(
  options: DeviceOptions = {},
): Promise<{ adapter: GPUAdapter; device: GPUDevice; info: AdapterInfo }> {
  const gpu = options.gpu === undefined
    ? (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu
    : options.gpu;
  if (!gpu) throw new WebGPUUnavailableError(missingWebGPUMessage("api"));
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new WebGPUUnavailableError(missingWebGPUMessage("adapter"));

  const requiredLimits: Record<string, number> = {};
  // Only the numeric limits we benefit from; copying every key can fail on
  // implementations that list limits they refuse to raise.
  for (
    const key of [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxComputeWorkgroupSizeZ",
      "maxComputeWorkgroupsPerDimension",
      "maxStorageBuffersPerShaderStage",
      "maxDynamicUniformBuffersPerPipelineLayout",
    ] as const
  ) {
    const v = adapter.limits[key];
    if (typeof v === "number") requiredLimits[key] = v;
  }
  const wanted: GPUFeatureName[] = ["timestamp-query"];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });

  const raw = (adapter as unknown as { info?: GPUAdapterInfo }).info;
  const a = adapter as unknown as { isFallbackAdapter?: boolean };
  const name = raw?.description || raw?.device || raw?.architecture || "unknown adapter";
  const vendor = raw?.vendor ?? "", architecture = raw?.architecture ?? "";
  const info: AdapterInfo = {
    name,
    vendor,
    architecture,
    // The adapter's own flag, or its name where an implementation leaves the
    // flag unset or false: the one place latent decides "CPU adapter".
    isFallback: Boolean(
      (raw as unknown as { isFallbackAdapter?: boolean })?.isFallbackAdapter ||
        a.isFallbackAdapter ||
        /llvmpipe|lavapipe|swiftshader|software/i.test(`${name} ${vendor} ${architecture}`),
    ),
    features: requiredFeatures,
  };
  return { adapter, device, info };
}
