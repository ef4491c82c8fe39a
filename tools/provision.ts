/**
 * Makes this machine able to run the test suite: a WebGPU adapter for Deno
 * (on Linux without a GPU that is Mesa lavapipe, Debian's `mesa-vulkan-drivers`)
 * and a Chromium for the browser tests (Debian's `chromium`, which ships
 * SwiftShader for WebGPU). Missing Debian packages are installed when running
 * as root; otherwise it fails with the exact command to run.
 *
 * Debian 12 (bookworm) ships Mesa 22.3, whose lavapipe is too old for Dawn
 * (the Node face's tests find no adapter) and whose llvmpipe stops any shader
 * loop after ~65 535 iterations. On bookworm, as root, the Vulkan driver is
 * therefore upgraded from bookworm-backports (Mesa 25), and Debian's own 22.3
 * driver is unpacked beside it into a cache folder, so the tests can run the
 * size-sensitive cases on both ({@link legacyLavapipeIcd}).
 *
 * Run alone: `deno run -A tools/provision.ts [--no-browser]`.
 * Skip it (e.g. on a machine you set up by hand): `LATENT_SKIP_PROVISION=1`.
 *
 * @module
 */

/** What a subprocess found when it asked for a WebGPU adapter. */
export interface AdapterProbe {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

/** Thrown when the machine cannot be made ready; the message says what to do. */
export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProvisionError";
  }
}

const MESA = "mesa-vulkan-drivers";
const CHROMIUM = "chromium";
/** The oldest Mesa whose lavapipe Dawn (Node's `webgpu`) accepts. */
const MESA_FOR_DAWN = 25;

function say(line: string): void {
  console.log(`provision: ${line}`);
}

async function output(cmd: string, args: string[], env?: Record<string, string>) {
  try {
    const r = await new Deno.Command(cmd, { args, env, stdin: "null" }).output();
    const dec = new TextDecoder();
    return { ok: r.success, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { ok: false, stdout: "", stderr: `${cmd}: not found` };
    }
    throw e;
  }
}

const PROBE = `
const a = await navigator.gpu?.requestAdapter();
const i = a?.info;
console.log(JSON.stringify(i ? { description: i.description, vendor: i.vendor,
  architecture: i.architecture, isFallbackAdapter: !!i.isFallbackAdapter } : null));
`;

/**
 * Asks a fresh Deno process for a WebGPU adapter. A subprocess, because a
 * process that already initialised WebGPU does not see a driver installed
 * after that. `backend` ("vulkan", "gl", ...) restricts wgpu to one backend.
 */
export async function probeAdapter(backend?: string): Promise<AdapterProbe | null> {
  const env: Record<string, string> = backend ? { DENO_WEBGPU_BACKEND: backend } : {};
  const r = await output(Deno.execPath(), ["eval", "--no-config", PROBE], env);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as AdapterProbe | null;
  } catch {
    say(`adapter probe failed: ${(r.stderr || r.stdout).trim().slice(-400)}`);
    return null;
  }
}

/**
 * The Chromium to use for browser tests: `$LATENT_CHROMIUM`, else
 * /usr/bin/chromium, else `chromium` or `chromium-browser` on PATH; null if none.
 */
export function findChromium(): string | null {
  const fromEnv = Deno.env.get("LATENT_CHROMIUM");
  if (fromEnv) return exists(fromEnv) ? fromEnv : null;
  const dirs = ["/usr/bin", ...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d)];
  for (const dir of dirs) {
    for (const name of ["chromium", "chromium-browser"]) {
      if (exists(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  }
  return null;
}

function exists(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

async function dpkgInstalled(pkg: string): Promise<boolean> {
  const r = await output("dpkg-query", ["-W", "-f=${Status}", pkg]);
  return r.ok && r.stdout.includes("install ok installed");
}

async function hasApt(): Promise<boolean> {
  return (await output("apt-get", ["--version"])).ok;
}

/** True when apt knows an installable version of every package (no `apt-get update` needed). */
async function aptKnows(pkgs: string[]): Promise<boolean> {
  const r = await output("apt-cache", ["policy", ...pkgs]);
  if (!r.ok) return false;
  const candidates = [...r.stdout.matchAll(/Candidate:\s*(\S+)/g)].map((m) => m[1]);
  return candidates.length === pkgs.length && candidates.every((c) => c !== "(none)");
}

async function apt(args: string[]): Promise<void> {
  const t0 = performance.now();
  say(`apt-get ${args.join(" ")}`);
  const r = await output("apt-get", ["-q", "-o", "DPkg::Lock::Timeout=300", ...args], {
    DEBIAN_FRONTEND: "noninteractive",
  });
  if (!r.ok) {
    console.error((r.stdout + r.stderr).trim().split("\n").slice(-30).join("\n"));
    throw new ProvisionError(`apt-get ${args.join(" ")} failed`);
  }
  say(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function install(pkgs: string[]): Promise<void> {
  if (!(await aptKnows(pkgs))) await apt(["update"]);
  await apt(["install", "-y", "--no-install-recommends", ...pkgs]);
}

async function dpkgVersion(pkg: string): Promise<string | null> {
  const r = await output("dpkg-query", ["-W", "-f=${Version}", pkg]);
  return r.ok && r.stdout.trim() ? r.stdout.trim() : null;
}

function osCodename(): string | null {
  try {
    const text = Deno.readTextFileSync("/etc/os-release");
    return /^VERSION_CODENAME=(\S+)$/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

const BACKPORTS_FILE = "/etc/apt/sources.list.d/latent-bookworm-backports.sources";

/**
 * Adds bookworm-backports as an apt source, copying the machine's own Debian
 * source (its mirror and keyring) with the suite changed. Returns false when
 * no Debian bookworm source is found to copy.
 */
function addBackports(): boolean {
  if (exists(BACKPORTS_FILE)) return true;
  const dir = "/etc/apt/sources.list.d";
  const stanzas: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".sources")) {
        stanzas.push(...Deno.readTextFileSync(`${dir}/${e.name}`).split(/\n\s*\n/));
      }
    }
  } catch { /* no such folder: try sources.list below */ }
  for (const st of stanzas) {
    const uri = /^URIs:\s*(\S+)/m.exec(st)?.[1];
    const suites = /^Suites:\s*(.+)$/m.exec(st)?.[1].split(/\s+/) ?? [];
    if (!uri || !suites.includes("bookworm")) continue;
    const key = /^Signed-By:\s*(\S+)/m.exec(st)?.[1];
    const text = `Types: deb\nURIs: ${uri}\nSuites: bookworm-backports\nComponents: main\n` +
      (key ? `Signed-By: ${key}\n` : "");
    Deno.writeTextFileSync(BACKPORTS_FILE, text);
    return true;
  }
  try {
    const list = Deno.readTextFileSync("/etc/apt/sources.list");
    const m = /^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(list);
    if (m) {
      const file = BACKPORTS_FILE.replace(/\.sources$/, ".list");
      Deno.writeTextFileSync(file, `deb ${m[1] ?? ""}${m[2]} bookworm-backports main\n`);
      return true;
    }
  } catch { /* none */ }
  return false;
}

function cacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/latent`;
}

/**
 * Path of a Vulkan ICD file for Debian 12's own lavapipe (Mesa 22.3), unpacked
 * beside the system's newer Mesa by {@link provision}; null when there is none.
 * Select it per process with `VK_ICD_FILENAMES`.
 */
export function legacyLavapipeIcd(): string | null {
  const fromEnv = Deno.env.get("LATENT_LEGACY_ICD");
  if (fromEnv) return exists(fromEnv) ? fromEnv : null;
  try {
    for (const e of Deno.readDirSync(cacheDir())) {
      const icd = `${cacheDir()}/${e.name}/lvp_icd.json`;
      if (e.isDirectory && e.name.startsWith("mesa-22") && exists(icd)) return icd;
    }
  } catch { /* no cache yet */ }
  return null;
}

/**
 * On bookworm as root: upgrades lavapipe to Mesa 25 from bookworm-backports
 * (Dawn needs it) and unpacks the 22.3 driver it replaces into the cache.
 */
async function upgradeMesa(): Promise<void> {
  const version = await dpkgVersion(MESA);
  const major = version ? parseInt(version, 10) : NaN;
  if (!(major < MESA_FOR_DAWN) || osCodename() !== "bookworm") return;
  if (Deno.uid() !== 0) {
    say(
      `note: Mesa ${version} is older than ${MESA_FOR_DAWN}: Node's Dawn finds no adapter on it;`,
    );
    say(`  as root this script installs ${MESA} from bookworm-backports`);
    return;
  }
  await unpackMesa(version!);
  if (!addBackports()) {
    say(
      "note: no Debian bookworm apt source to copy for bookworm-backports; keeping Mesa " +
        version,
    );
    return;
  }
  say(`Mesa ${version} -> bookworm-backports (Dawn needs Mesa ${MESA_FOR_DAWN}+)`);
  try {
    await apt(["update"]);
    await apt(["install", "-y", "--no-install-recommends", "-t", "bookworm-backports", MESA]);
  } catch (e) {
    if (!(e instanceof ProvisionError)) throw e;
    // Not fatal: Deno and Chromium work on 22.3; only Node's Dawn needs 25.
    // Drop the source again so later apt runs do not trip over it.
    for (const f of [BACKPORTS_FILE, BACKPORTS_FILE.replace(/\.sources$/, ".list")]) {
      if (exists(f)) Deno.removeSync(f);
    }
    say(`note: ${e.message}; keeping Mesa ${version} (Node's tests need Mesa ${MESA_FOR_DAWN})`);
  }
}

/** Unpacks the `mesa-vulkan-drivers` .deb of `version` into the cache, with an absolute-path ICD. */
async function unpackMesa(version: string): Promise<void> {
  const dir = `${cacheDir()}/mesa-${version.replace(/[^\w.+-]/g, "_")}`;
  if (exists(`${dir}/lvp_icd.json`)) return;
  await Deno.mkdir(dir, { recursive: true });
  const r = await output("sh", ["-c", `cd "${dir}" && apt-get download ${MESA}=${version}`]);
  const deb = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".deb"));
  if (!r.ok || !deb) {
    say(`note: could not download ${MESA}=${version} (${r.stderr.trim().slice(-200)})`);
    return;
  }
  const x = await output("dpkg", ["-x", `${dir}/${deb.name}`, `${dir}/root`]);
  const icdDir = `${dir}/root/usr/share/vulkan/icd.d`;
  const icdName = x.ok ? [...Deno.readDirSync(icdDir)].find((e) => e.name.startsWith("lvp")) : null;
  if (!icdName) {
    say(`note: ${deb.name} did not unpack a lavapipe ICD`);
    return;
  }
  const icd = JSON.parse(Deno.readTextFileSync(`${icdDir}/${icdName.name}`));
  const lib = String(icd.ICD.library_path);
  icd.ICD.library_path = lib.startsWith("/") ? `${dir}/root${lib}` : `${icdDir}/${lib}`;
  Deno.writeTextFileSync(`${dir}/lvp_icd.json`, JSON.stringify(icd, null, 2));
  await Deno.remove(`${dir}/${deb.name}`);
  say(`Mesa ${version} lavapipe unpacked for the size tests: ${dir}/lvp_icd.json`);
}

function describe(a: AdapterProbe): string {
  return a.description || `${a.vendor} ${a.architecture}`.trim() || "(no description)";
}

/**
 * Checks (and on Debian as root, installs) what the tests need.
 * Returns the Chromium path when `browser` is set. Throws {@link ProvisionError}.
 */
export async function provision({ browser }: { browser: boolean }): Promise<string | null> {
  const t0 = performance.now();
  const linux = Deno.build.os === "linux";
  // On Linux insist on Vulkan: without mesa-vulkan-drivers wgpu may fall back to
  // llvmpipe through OpenGL, which has fewer features and limits than lavapipe.
  const [vulkan, chromium] = await Promise.all([
    probeAdapter(linux ? "vulkan" : undefined),
    Promise.resolve(browser ? findChromium() : null),
  ]);
  const anyAdapter = vulkan ?? (linux ? await probeAdapter() : null);
  const fromEnv = Deno.env.get("LATENT_CHROMIUM");
  if (browser && fromEnv && !chromium) {
    throw new ProvisionError(`LATENT_CHROMIUM is ${fromEnv}, which does not exist`);
  }
  const missing: string[] = [];
  if (!vulkan && linux && (await hasApt()) && !(await dpkgInstalled(MESA))) missing.push(MESA);
  if (browser && !chromium) {
    if (!linux || !(await hasApt())) {
      throw new ProvisionError(
        "no Chromium found: set LATENT_CHROMIUM to a Chromium/Chrome executable, " +
          "or run the tests with --no-browser",
      );
    }
    missing.push(CHROMIUM);
  }
  if (missing.length > 0) {
    const cmd = `apt-get install -y ${missing.join(" ")}`;
    if (Deno.uid() !== 0) {
      if (missing.includes(CHROMIUM) || !anyAdapter) {
        throw new ProvisionError(`missing ${missing.join(", ")}; run: sudo ${cmd}`);
      }
      say(`warning: no Vulkan WebGPU adapter, using ${describe(anyAdapter)} through OpenGL;`);
      say(`  for lavapipe (Vulkan) run: sudo ${cmd}`);
    } else {
      say(`missing ${missing.join(", ")}: installing`);
      await install(missing);
    }
  }
  const before = linux ? await dpkgVersion(MESA) : null;
  if (linux && (await hasApt())) await upgradeMesa();
  const upgraded = linux && (await dpkgVersion(MESA)) !== before;
  // Re-probe after an install, in a new process, so the new driver is seen.
  const vulkanNow = linux && (missing.includes(MESA) || upgraded) && Deno.uid() === 0
    ? await probeAdapter("vulkan")
    : vulkan;
  const adapter = vulkanNow ?? (missing.includes(MESA) ? await probeAdapter() : anyAdapter);
  if (!adapter) {
    throw new ProvisionError(
      linux
        ? `Deno finds no WebGPU adapter (${MESA} installed: ${await dpkgInstalled(MESA)}); ` +
          `check the Vulkan driver, e.g. DENO_WEBGPU_BACKEND=vulkan deno eval ` +
          `"console.log(await navigator.gpu.requestAdapter())"`
        : "Deno finds no WebGPU adapter on this machine",
    );
  }
  const backend = !linux ? "" : vulkanNow ? " (Vulkan)" : " (not Vulkan: OpenGL fallback)";
  const mesa = linux ? await dpkgVersion(MESA) : null;
  say(`Deno WebGPU adapter: ${describe(adapter)}${backend}${mesa ? `, Mesa ${mesa}` : ""}`);
  const legacy = legacyLavapipeIcd();
  if (legacy) say(`Mesa 22.3 lavapipe for the size tests: ${legacy}`);
  let chromePath: string | null = null;
  if (browser) {
    chromePath = findChromium();
    if (!chromePath) throw new ProvisionError(`${CHROMIUM} was installed but is not on PATH`);
    say(`Chromium: ${chromePath}`);
  }
  say(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return chromePath;
}

if (import.meta.main) {
  try {
    await provision({ browser: !Deno.args.includes("--no-browser") });
  } catch (e) {
    if (!(e instanceof ProvisionError)) throw e;
    console.error(`provision: ${e.message}`);
    Deno.exit(1);
  }
}
