/**
 * Runs every shared case (see `harness.ts`) as a Deno test.
 * @module
 */
import { registry } from "./harness.ts";
import "./cases/mod.ts";

for (const c of registry) {
  Deno.test({ name: c.name, fn: c.fn, sanitizeResources: false, sanitizeOps: false });
}
