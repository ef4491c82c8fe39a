/**
 * One test definition for both runtimes.
 *
 * A case file under `test/cases/` calls {@link test} at import time. Deno runs
 * every registered case through `test/cases_test.ts`; the browser harness
 * (`test/browser_test.ts`) bundles `test/cases/mod.ts`, loads it in headless
 * Chromium and runs the same cases in the page, reporting each one back as a
 * Deno test step. Cases must not touch the file system or `Deno.*`; put those
 * in a plain `*_test.ts` file instead.
 *
 * A registered body first tells `seed.ts` which case is running, so the
 * case's random inputs derive from its own name, and names the command that
 * replays it when it fails.
 *
 * @module
 */
import { enterCase, replayCommand, rootSeed } from "./seed.ts";

/** A registered test case. */
export interface Case {
  /** Reads as a specification: `matmul matches float64 reference on 7x13x5`. */
  name: string;
  /** The body; throws (or rejects) on failure. */
  fn: () => void | Promise<void>;
  /** Run in the browser too (default true). Set false for slow, Deno-only cases. */
  browser: boolean;
}

/** Every case registered so far, in registration order. */
export const registry: Case[] = [];

/**
 * Registers a case that runs in Deno and (unless `browser: false`) in Chromium.
 *
 * @example
 * ```ts
 * test("add broadcasts a row over a matrix", async () => { ... });
 * ```
 */
export function test(
  name: string,
  fn: () => void | Promise<void>,
  options: { browser?: boolean } = {},
): void {
  if (registry.some((c) => c.name === name)) throw new Error(`duplicate test case name: ${name}`);
  const run = async () => {
    enterCase(name);
    try {
      await fn();
    } catch (e) {
      console.error(`case failed; replay: ${replayCommand(rootSeed(), name)}`);
      throw e;
    }
  };
  registry.push({ name, fn: run, browser: options.browser ?? true });
}
