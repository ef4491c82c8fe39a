/**
 * Runs the shared cases (`test/cases/`, see `harness.ts`) in headless Chromium
 * with WebGPU (SwiftShader), one Deno test step per case. `tools/test.ts` runs
 * this file on its own; to run it directly:
 * `deno test -A test/browser_test.ts`.
 *
 * Environment:
 * - `LATENT_TEST_FILTER`: only cases whose name contains it (or matches `/regex/`)
 * - `LATENT_TEST_SEED`: the root seed the cases' inputs derive from (`test/seed.ts`)
 * - `LATENT_CASE_TIMEOUT_MS`: per-case limit (default 120000)
 * - `LATENT_CHROMIUM`, `LATENT_CHROMIUM_ARGS`: which Chromium, extra flags
 *
 * @module
 */
import { registry } from "./harness.ts";
import "./cases/mod.ts";
import { findChromium } from "../tools/provision.ts";
import { BrowserCaseError, BrowserSession } from "./browser/session.ts";
import { rootSeed } from "./seed.ts";

/** Deno's `--filter` rule: `/re/` is a regular expression, anything else a substring. */
export function matchesFilter(name: string, filter: string | undefined): boolean {
  if (!filter) return true;
  const re = /^\/(.*)\/$/s.exec(filter);
  return re ? new RegExp(re[1]).test(name) : name.includes(filter);
}

const filter = Deno.env.get("LATENT_TEST_FILTER");
const names = registry.filter((c) => c.browser && matchesFilter(c.name, filter)).map((c) => c.name);
const timeoutMs = Number(Deno.env.get("LATENT_CASE_TIMEOUT_MS") ?? 120_000);

Deno.test("browser: shared cases in headless Chromium", async (t) => {
  if (names.length === 0) {
    console.log(`no browser cases${filter ? ` match "${filter}"` : ""}; Chromium not started`);
    return;
  }
  const exe = findChromium();
  if (!exe) {
    throw new Error("no Chromium: run `apt-get install -y chromium` or set LATENT_CHROMIUM");
  }
  await using session = await BrowserSession.start(exe, rootSeed());
  const a = await session.adapter();
  if (!a.ok) throw new Error(`headless Chromium (${exe}) has no WebGPU adapter: ${a.reason}`);
  const desc = [a.vendor, a.architecture, a.device, a.description].filter((s) => s).join(" ");
  console.log(
    `Chromium ${session.browser.version()}, WebGPU adapter: ${desc}` +
      (a.isFallbackAdapter ? " (fallback)" : ""),
  );
  for (const name of names) {
    await t.step(name, async () => {
      const r = await session.run(name, timeoutMs);
      if (!r.ok) throw new BrowserCaseError(r.error ?? "failed without a message", r.stack);
    });
  }
});
