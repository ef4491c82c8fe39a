/**
 * Browser entry of the test suite: bundled by `test/browser_test.ts` with
 * `deno bundle --platform browser` and loaded by `index.html` in headless
 * Chromium. It registers every shared case (`test/cases/mod.ts`) and exposes
 * {@link BrowserHarness} on `globalThis.latentTest` for the Deno side to drive
 * through Playwright. The run's root seed arrives as the page's `?seed=N`.
 *
 * @module
 */
import { registry } from "../harness.ts";
import "../cases/mod.ts";
import { parseSeed, setRootSeed } from "../seed.ts";

const seedParam = new URL(location.href).searchParams.get("seed");
if (seedParam !== null) setRootSeed(parseSeed(seedParam));

/** Outcome of one case, as it crosses back to Deno (plain JSON). */
export interface CaseResult {
  ok: boolean;
  /** `Name: message` of what the case threw. */
  error?: string;
  /** The in-page stack (bundle positions; see `browser_test.ts` for mapping). */
  stack?: string;
}

/** What the page found when it asked for a WebGPU adapter. */
export interface AdapterReport {
  ok: boolean;
  /** Why there is no adapter, when `ok` is false. */
  reason?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** The functions the page exposes as `globalThis.latentTest`. */
export interface BrowserHarness {
  /** Names of the browser-enabled cases, in registration order. */
  list(): string[];
  /** Runs one case by name; never throws. */
  run(name: string): Promise<CaseResult>;
  /** Requests an adapter and reports it (or why there is none). */
  adapter(): Promise<AdapterReport>;
}

async function run(name: string): Promise<CaseResult> {
  const c = registry.find((c) => c.name === name && c.browser);
  if (!c) return { ok: false, error: `no browser-enabled case named "${name}" in the bundle` };
  try {
    await c.fn();
    return { ok: true };
  } catch (e) {
    if (e instanceof Error) return { ok: false, error: `${e.name}: ${e.message}`, stack: e.stack };
    return { ok: false, error: `non-Error thrown: ${String(e)}` };
  }
}

async function adapter(): Promise<AdapterReport> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return {
      ok: false,
      reason:
        `navigator.gpu is undefined (secure context: ${
          (globalThis as { isSecureContext?: boolean }).isSecureContext
        }); ` +
        "Chromium needs --enable-unsafe-webgpu and an http://127.0.0.1 page",
    };
  }
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { ok: false, reason: "navigator.gpu.requestAdapter() returned null" };
    const i = a.info;
    return {
      ok: true,
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      isFallbackAdapter: (i as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter,
    };
  } catch (e) {
    return { ok: false, reason: `requestAdapter() threw: ${e}` };
  }
}

const harness: BrowserHarness = {
  list: () => registry.filter((c) => c.browser).map((c) => c.name),
  run,
  adapter,
};
(globalThis as { latentTest?: BrowserHarness }).latentTest = harness;
