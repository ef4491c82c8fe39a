/**
 * Node entry of the shared cases (`test/cases/`, see `../harness.ts`):
 * bundled by `test/npm_package_test.ts` with `deno bundle --platform node`
 * and run with Node where the `webgpu` package is installed. It runs the
 * browser-enabled cases matching `LATENT_TEST_FILTER` (Deno's `--filter`
 * rule), seeded from `LATENT_TEST_SEED`, and prints one JSON line per case:
 * `{"name", "ok", "error"?}`.
 * @module
 */
import "./globals.ts";
import { registry } from "../harness.ts";
import "../cases/mod.ts";
import { parseSeed, setRootSeed } from "../seed.ts";

const env = process.env;
if (env.LATENT_TEST_SEED) setRootSeed(parseSeed(env.LATENT_TEST_SEED));
const filter = env.LATENT_TEST_FILTER;
const re = filter ? /^\/(.*)\/$/s.exec(filter) : null;
const matches = (name: string) =>
  !filter || (re ? new RegExp(re[1]).test(name) : name.includes(filter));

for (const c of registry.filter((c) => c.browser && matches(c.name))) {
  let result: { name: string; ok: boolean; error?: string };
  try {
    await c.fn();
    result = { name: c.name, ok: true };
  } catch (e) {
    result = {
      name: c.name,
      ok: false,
      error: e instanceof Error ? (e.stack ?? e.message) : String(e),
    };
  }
  console.log(JSON.stringify(result));
}
