/**
 * The `test` task: provisions the machine (tools/provision.ts), runs the Deno
 * tests (every `*_test.ts` under test/ except the browser one), then the shared
 * cases in headless Chromium (test/browser_test.ts), and ends with one summary.
 *
 * ```sh
 * deno task test                      # everything
 * deno task test --filter matmul      # cases/tests whose name contains "matmul", both runtimes
 * deno task test --filter "/^adam/"   # a regular expression, as in deno test
 * deno task test --no-browser         # Deno only (Chromium is not needed or installed)
 * deno task test --browser-only       # Chromium only
 * deno task test --parallel           # Deno and Chromium at once, and deno test --parallel
 * deno task test test/io_test.ts      # these files only (browser only if named)
 * deno task test --fail-fast          # other flags go to `deno test` (use --flag=value)
 * deno task test --seed 123           # this root seed (default: from the git commit)
 * deno task test --fresh-seed         # a random root seed (fuzzing)
 * ```
 *
 * Every random test input derives from one root seed (see test/seed.ts),
 * printed first as `root seed: N (replay: ...)`; by default it comes from the
 * checked-out commit, so a CI run repeats exactly. A failing case is listed
 * with the command that replays it alone.
 *
 * The last line is always `summary: N passed, N failed` (CI reads it). The exit
 * code is non-zero when anything failed or nothing ran.
 *
 * @module
 */
import { legacyLavapipeIcd, provision, ProvisionError } from "./provision.ts";
import { DEFAULT_ROOT_SEED, parseSeed, replayCommand, shellQuote } from "../test/seed.ts";

const root = new URL("../", import.meta.url).pathname;
const BROWSER_FILE = "test/browser_test.ts";
/**
 * The lockfile of everything the tests, benchmarks and tools resolve. It is
 * apart from `deno.lock` because with `nodeModulesDir: "auto"` Deno installs
 * every package of the lockfile it runs under: a demo, under `deno.lock`, then
 * fetches only what the library and demos use, not Playwright or TF.js.
 */
export const DEV_LOCK = "deno.dev.lock";

/** Parsed command line. */
export interface Options {
  filter?: string;
  deno: boolean;
  browser: boolean;
  provision: boolean;
  parallel: boolean;
  files: string[];
  passthrough: string[];
  /** The root seed given with `--seed`. */
  seed?: number;
  /** `--fresh-seed`: draw a random root seed. */
  freshSeed: boolean;
  /** The arguments other than the seed flags, to print in the replay command. */
  replayArgs: string[];
}

const USAGE = `usage: deno task test [--filter PATTERN] [--no-browser | --browser-only]
                      [--seed N | --fresh-seed] [--parallel] [--no-provision]
                      [FILES...] [deno test flags as --flag=value]`;

/** Reads the task's arguments; unknown flags are passed to `deno test`. Throws on a bad seed. */
export function parseArgs(args: string[]): Options {
  const o: Options = {
    deno: true,
    browser: true,
    provision: true,
    parallel: false,
    files: [],
    passthrough: [],
    freshSeed: false,
    replayArgs: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const start = i;
    if (a === "--seed") o.seed = parseSeed(args[++i] ?? "");
    else if (a.startsWith("--seed=")) o.seed = parseSeed(a.slice("--seed=".length));
    else if (a === "--fresh-seed") o.freshSeed = true;
    else {
      if (a === "--filter") o.filter = args[++i];
      else if (a.startsWith("--filter=")) o.filter = a.slice("--filter=".length);
      else if (a === "--no-browser") o.browser = false;
      else if (a === "--browser-only") o.deno = false;
      else if (a === "--no-provision") o.provision = false;
      else if (a === "--parallel") o.parallel = true;
      else if (a === "-h" || a === "--help") {
        console.log(USAGE);
        Deno.exit(0);
      } else if (a.startsWith("-")) o.passthrough.push(a);
      else if (exists(a)) o.files.push(a);
      else o.passthrough.push(a); // the value of a pass-through flag
      o.replayArgs.push(...args.slice(start, i + 1));
    }
  }
  if (o.seed !== undefined && o.freshSeed) {
    throw new Error("--seed and --fresh-seed exclude each other");
  }
  return o;
}

/**
 * The run's root seed: `--seed`, a random one for `--fresh-seed`, else the
 * low 32 bits of the commit hash `head` (so re-running a commit's CI job
 * repeats its inputs), else {@link DEFAULT_ROOT_SEED} outside a git checkout.
 */
export function chooseRootSeed(o: Pick<Options, "seed" | "freshSeed">, head?: string): number {
  if (o.seed !== undefined) return o.seed;
  if (o.freshSeed) return crypto.getRandomValues(new Uint32Array(1))[0];
  const hex = head?.trim().match(/^[0-9a-f]{8,}$/i)?.[0];
  return hex ? parseInt(hex.slice(-8), 16) : DEFAULT_ROOT_SEED;
}

/** `git rev-parse HEAD` in the repository, or undefined without git or a checkout. */
function gitHead(): string | undefined {
  try {
    const r = new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: root, stderr: "null" })
      .outputSync();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** An argument as typed on a shell: quoted only when it needs to be. */
function quoteArg(a: string): string {
  return /^[\w./:=+,@%-]+$/.test(a) ? a : shellQuote(a);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Test files under `dir`, by Deno's naming rule (`x_test.ts`, `x.test.ts`, `test.ts`). */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory && e.name !== "node_modules") out.push(...testFiles(p));
    else if (e.isFile && /(^|[._])test\.m?[jt]sx?$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Counts for one `deno test` run. */
export interface Counts {
  passed: number;
  failed: number;
  ignored: number;
  failures: string[];
  seconds: number;
  /** The process died (signal or abort) after its report showed every case passing. */
  crashedAfterPass?: boolean;
}

const ENTITIES: Record<string, string> = {
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
  "&amp;": "&",
};
const unescape = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (e) => ENTITIES[e]);

/**
 * Counts the leaves of a Deno JUnit report: steps appear as `parent > step`
 * test cases, so a test with steps counts its steps, plus itself only when it
 * failed on its own (not merely because a step did). With `stepsOnly`, a
 * top-level test without steps counts only if it failed (the browser test
 * passes with no steps when a filter leaves no case for it).
 */
export function countJunit(xml: string, stepsOnly: boolean): Omit<Counts, "seconds"> {
  const cases = [
    ...xml.matchAll(/<testcase name="([^"]*)" classname="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g),
  ]
    .map((m) => ({
      name: unescape(m[1]),
      file: unescape(m[2]),
      failure: /<failure message="([^"]*)"/.exec(m[3])?.[1],
      skipped: m[3].includes("<skipped"),
    }));
  const c = { passed: 0, failed: 0, ignored: 0, failures: [] as string[] };
  for (const t of cases) {
    const parent = cases.some((o) => o.file === t.file && o.name.startsWith(t.name + " > "));
    const ownFailure = t.failure !== undefined && !/^\d+ test steps? failed/.test(t.failure);
    const topLevel = !t.name.includes(" > ");
    if (parent || (stepsOnly && topLevel)) {
      if (ownFailure) {
        c.failed++;
        c.failures.push(`${t.file}: ${t.name}`);
      }
    } else if (t.failure !== undefined) {
      c.failed++;
      // A browser case reads better without its parent test's name.
      c.failures.push(stepsOnly ? t.name.slice(t.name.indexOf(" > ") + 3) : `${t.file}: ${t.name}`);
    } else if (t.skipped) c.ignored++;
    else c.passed++;
  }
  return c;
}

/**
 * Holds a process's output while another one streams, then lets it through:
 * two test runs at once without interleaved lines.
 */
class OutputGate {
  #held: Uint8Array[] | null = [];

  /** Writes `chunk` now, or keeps it until {@link open}. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#held) this.#held.push(chunk);
    else await writeAll(chunk);
  }

  /** Writes what was held and passes everything after straight through. */
  async open(): Promise<void> {
    const held = this.#held ?? [];
    this.#held = null;
    for (const chunk of held) await writeAll(chunk);
  }
}

async function writeAll(chunk: Uint8Array): Promise<void> {
  for (let n = 0; n < chunk.length;) n += await Deno.stdout.write(chunk.subarray(n));
}

/**
 * Runs `deno test` on `files` and counts the results. Output streams live, or
 * through `gate` (stdout and stderr merged) when another run is streaming.
 */
async function runDenoTest(
  files: string[],
  args: string[],
  env: Record<string, string>,
  stepsOnly: boolean,
  gate?: OutputGate,
): Promise<Counts> {
  const t0 = performance.now();
  const junit = await Deno.makeTempFile({ prefix: "latent-junit-", suffix: ".xml" });
  try {
    const io = gate ? "piped" : "inherit";
    const child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", `--lock=${DEV_LOCK}`, `--junit-path=${junit}`, ...args, ...files],
      cwd: root,
      env,
      stdin: "null",
      stdout: io,
      stderr: io,
    }).spawn();
    const pumps = gate
      ? [child.stdout, child.stderr].map((s) =>
        s.pipeTo(new WritableStream({ write: (c) => gate.write(c) }))
      )
      : [];
    const status = await child.status;
    await Promise.all(pumps);
    const xml = await Deno.readTextFile(junit).catch(() => "");
    const c = countJunit(xml, stepsOnly);
    let crashedAfterPass = false;
    if (!status.success && c.failed === 0) {
      // A type error, a module that fails to load, or a crash: no test failed by name.
      crashedAfterPass = c.passed > 0 && (status.signal !== null || status.code >= 128);
      c.failed++;
      c.failures.push(`deno test exited with code ${status.code} (see the output above)`);
    }
    return { ...c, seconds: (performance.now() - t0) / 1000, crashedAfterPass };
  } finally {
    await Deno.remove(junit);
  }
}

/**
 * Runs `run` again, once, when its process crashed after reporting every case
 * passed. Deno's WebGPU on lavapipe has aborted in teardown ("double free or
 * corruption") roughly once in fifty runs after the last case finished, with
 * no library code left to run; the rerun's counts are the ones reported, and
 * the crash is printed either way. A case that fails is never rerun.
 */
export async function rerunOnCrash(label: string, run: () => Promise<Counts>): Promise<Counts> {
  const first = await run();
  if (!first.crashedAfterPass) return first;
  console.log(
    `\nwarning (${label}): deno test crashed at exit (${first.failures.at(-1)}) after all ` +
      `${first.passed} cases passed; running it once more`,
  );
  const second = await run();
  return { ...second, seconds: first.seconds + second.seconds };
}

function line(label: string, c: { passed: number; failed: number }): string {
  return `${label}: ${c.passed} passed, ${c.failed} failed`;
}

/**
 * The command that replays the failure `failure` (as {@link countJunit} lists
 * it) alone, or undefined when it names no test (a crashed process).
 */
export function replayFor(label: string, failure: string, seed: number): string | undefined {
  if (failure.startsWith("deno test exited")) return undefined;
  // Deno's --filter matches a top-level test, not a step: replay the test.
  const name = label === "browser" ? failure : failure.slice(failure.indexOf(": ") + 2);
  const cmd = replayCommand(seed, name.split(" > ")[0]);
  return label === "browser" ? `${cmd} --browser-only` : `${cmd} --no-browser`;
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(Deno.args);
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const seed = chooseRootSeed(o, o.seed === undefined && !o.freshSeed ? gitHead() : undefined);
  const replay = ["deno task test", "--seed", String(seed), ...o.replayArgs.map(quoteArg)];
  console.log(`root seed: ${seed} (replay: ${replay.join(" ")})`);
  const named = o.files.length > 0;
  const files = named
    ? o.files.map((f) => Deno.realPathSync(f)) // deno test runs from the root
      .flatMap((f) => Deno.statSync(f).isDirectory ? testFiles(f) : [f])
    : testFiles(`${root}test`);
  const isBrowser = (f: string) => f.replace(/\\/g, "/").endsWith(BROWSER_FILE);
  const denoFiles = o.deno ? files.filter((f) => !isBrowser(f)) : [];
  const browser = o.browser && (!named || files.some(isBrowser));

  if (o.provision && Deno.env.get("LATENT_SKIP_PROVISION") !== "1") {
    try {
      await provision({ browser });
    } catch (e) {
      if (!(e instanceof ProvisionError)) throw e;
      console.error(`provision: ${e.message}`);
      console.log("summary: 0 passed, 1 failed");
      return 1;
    }
  }

  const env: Record<string, string> = { LATENT_TEST_SEED: String(seed) };
  // Deno runs on Debian 12's own lavapipe (Mesa 22.3) when provisioning unpacked
  // it beside the system's Mesa 25: it is the driver that cuts long shader loops
  // short, so every case checks latent's loop budget on it; and on 25.0.7 this
  // suite's larger pipelines compiled several times slower here (the matmul
  // tile case: 16 s against 3 s). Node (Dawn) and the large cases of
  // test/size_test.ts run on Mesa 25. LATENT_TEST_DRIVER=system keeps the system's.
  // Chromium brings its own driver (SwiftShader): its run does not get the variable.
  const legacy = Deno.env.get("LATENT_TEST_DRIVER") === "system" ? null : legacyLavapipeIcd();
  if (legacy && !Deno.env.get("VK_ICD_FILENAMES")) {
    env.VK_ICD_FILENAMES = legacy;
    console.log(`deno: Vulkan driver ${legacy} (LATENT_TEST_DRIVER=system for the system's)`);
  }
  // wgpu complains on stderr about an unset XDG_RUNTIME_DIR on every start; give it one.
  const xdg = Deno.env.get("XDG_RUNTIME_DIR") ? undefined : await Deno.makeTempDir();
  if (xdg) env.XDG_RUNTIME_DIR = xdg;
  const results: [string, Counts][] = [];
  try {
    // Sequential by default: both runtimes are CPU-bound on small machines, and
    // timing-sensitive cases are steadier alone. --parallel overlaps them.
    const par = o.parallel ? ["--parallel"] : [];
    const filter = o.filter === undefined ? [] : [`--filter=${o.filter}`];
    const denoRun = denoFiles.length > 0
      ? () =>
        rerunOnCrash(
          "deno",
          () => runDenoTest(denoFiles, [...par, ...filter, ...o.passthrough], env, false),
        )
      : undefined;
    const { VK_ICD_FILENAMES: _, ...browserBase } = env;
    const browserEnv = {
      ...browserBase,
      ...(o.filter === undefined ? {} : { LATENT_TEST_FILTER: o.filter }),
    };
    const browserFiles = [`${root}${BROWSER_FILE}`];
    if (o.parallel && denoRun && browser) {
      const gate = new OutputGate();
      const browserRun = rerunOnCrash(
        "browser",
        () => runDenoTest(browserFiles, o.passthrough, browserEnv, true, gate),
      );
      const denoCounts = await denoRun().finally(() => gate.open());
      results.push(["deno", denoCounts], ["browser", await browserRun]);
    } else {
      if (denoRun) results.push(["deno", await denoRun()]);
      if (browser) {
        results.push([
          "browser",
          await rerunOnCrash(
            "browser",
            () => runDenoTest(browserFiles, o.passthrough, browserEnv, true),
          ),
        ]);
      }
    }
  } finally {
    if (xdg) await Deno.remove(xdg, { recursive: true });
  }

  const total = { passed: 0, failed: 0 };
  console.log("");
  for (const [label, c] of results) {
    for (const f of c.failures) {
      console.log(`FAILED (${label}) ${f}`);
      const cmd = replayFor(label, f, seed);
      if (cmd) console.log(`  replay: ${cmd}`);
    }
  }
  for (const [label, c] of results) {
    total.passed += c.passed;
    total.failed += c.failed;
    // With --filter, Deno reports the filtered-out tests as skipped too: say nothing then.
    const extra = c.ignored > 0 && o.filter === undefined ? `, ${c.ignored} ignored` : "";
    console.log(`${line(label, c)} (${c.seconds.toFixed(1)} s${extra})`);
  }
  if (total.passed + total.failed === 0) {
    console.log(`no tests ran${o.filter !== undefined ? ` (filter "${o.filter}")` : ""}`);
  }
  console.log(line("summary", total));
  return total.failed > 0 || total.passed === 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
