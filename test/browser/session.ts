/**
 * One headless-Chromium test session: bundles `entry.ts`, serves it on
 * 127.0.0.1 (WebGPU needs a secure context; about:blank has none), launches
 * Chromium through playwright-core and runs cases in the page by name.
 * Used by `test/browser_test.ts`.
 *
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";
import type { AdapterReport, BrowserHarness, CaseResult } from "./entry.ts";
import { mapStack, SourceMap } from "./sourcemap.ts";
import { bundleForBrowser } from "../../tools/bundle.ts";

/**
 * Chromium flags. `--enable-unsafe-webgpu` is the one WebGPU needs here (without it
 * Chromium 156 on Linux reports "No available adapters"); the adapter is then
 * SwiftShader's Vulkan. The rest keep a headless run quiet and offline.
 * `--no-sandbox` because CI runs as root. Add more with `LATENT_CHROMIUM_ARGS`.
 */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless=new",
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const here = new URL("./", import.meta.url);

declare global {
  var latentTest: BrowserHarness | undefined;
}

/** Thrown for a case that failed in the page; its stack is the in-page one, mapped to sources. */
export class BrowserCaseError extends Error {
  constructor(message: string, stack: string | undefined) {
    super(message);
    this.name = "BrowserCaseError";
    // Deno prints `stack`: show the page's frames, not this harness's.
    const frames = stack?.split("\n").filter((l) => /^\s+at /.test(l)).join("\n");
    this.stack = `${message}${frames ? "\n" + frames : ""}`;
  }
}

function bundle(outDir: string): Promise<void> {
  return bundleForBrowser(new URL("entry.ts", here), `${outDir}/entry.js`);
}

/** A running server + browser + page; dispose it to close all three. */
export class BrowserSession implements AsyncDisposable {
  #page!: Page;
  #pageErrors: string[] = [];

  private constructor(
    readonly url: string,
    readonly pageUrl: string,
    readonly browser: Browser,
    readonly server: Deno.HttpServer<Deno.NetAddr>,
    readonly dir: string,
    readonly map: SourceMap,
  ) {}

  /**
   * Bundles, serves and launches `executablePath`; fails if the page cannot
   * load. The page derives its cases' inputs from `seed` (see `test/seed.ts`).
   */
  static async start(executablePath: string, seed: number): Promise<BrowserSession> {
    const dir = await Deno.makeTempDir({ prefix: "latent-browser-" });
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    let browser: Browser | undefined;
    try {
      await bundle(dir);
      const files: Record<string, [string, string]> = {
        "/": ["index.html", "text/html"],
        "/entry.js": ["entry.js", "text/javascript"],
        "/entry.js.map": ["entry.js.map", "application/json"],
      };
      const html = await Deno.readFile(new URL("index.html", here));
      server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
        const f = files[new URL(req.url).pathname];
        if (!f) return new Response("not found", { status: 404 });
        const body = f[0] === "index.html" ? html : await Deno.readFile(`${dir}/${f[0]}`);
        return new Response(body, {
          headers: { "content-type": f[1], "cache-control": "no-store" },
        });
      });
      const url = `http://127.0.0.1:${server.addr.port}/`;
      const pageUrl = `${url}?seed=${seed}`;
      const extra = (Deno.env.get("LATENT_CHROMIUM_ARGS") ?? "").split(" ").filter((a) => a);
      browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS, ...extra] });
      const map = new SourceMap(
        await Deno.readTextFile(`${dir}/entry.js.map`),
        new URL(`file://${dir}/entry.js.map`),
        Deno.cwd(),
      );
      const s = new BrowserSession(url, pageUrl, browser, server, dir, map);
      await s.#openPage();
      return s;
    } catch (e) {
      await browser?.close();
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
      throw e;
    }
  }

  /** Opens a fresh page and waits until the bundle has registered its cases. */
  async #openPage(): Promise<void> {
    this.#pageErrors = [];
    const page = this.#page = await this.browser.newPage();
    page.on("console", (m) => {
      const type = m.type();
      if (type === "error" || type === "warning") console.error(`[chromium ${type}] ${m.text()}`);
    });
    page.on("pageerror", (e) => {
      const msg = mapStack(e.stack ?? String(e), `${this.url}entry.js`, this.map);
      this.#pageErrors.push(msg);
      console.error(`[chromium pageerror] ${msg}`);
    });
    page.on("crash", () => console.error("[chromium] page crashed"));
    await page.goto(this.pageUrl);
    // A case module that throws at import time leaves no harness: report its error.
    const deadline = Date.now() + 60_000;
    while (!(await page.evaluate(() => globalThis.latentTest !== undefined))) {
      if (this.#pageErrors.length > 0) {
        throw new Error(`the test bundle failed to load in Chromium:\n${this.#pageErrors[0]}`);
      }
      if (Date.now() > deadline) throw new Error("the test bundle did not load within 60 s");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The page's WebGPU adapter, or why it has none. */
  adapter(): Promise<AdapterReport> {
    return this.#page.evaluate(() => globalThis.latentTest!.adapter());
  }

  /** The browser-enabled case names the bundle registered. */
  list(): Promise<string[]> {
    return this.#page.evaluate(() => globalThis.latentTest!.list());
  }

  /**
   * Runs one case in the page. On a timeout or a crash the page is replaced,
   * so a stuck case cannot hold up or disturb the ones after it.
   */
  async run(name: string, timeoutMs: number): Promise<CaseResult> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const evaluation = this.#page.evaluate((n) => globalThis.latentTest!.run(n), name);
    evaluation.catch(() => {}); // it rejects when a timed-out page is closed
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), timeoutMs)
    );
    let result: CaseResult, broken = true;
    try {
      const r = await Promise.race([evaluation, timeout]);
      broken = r === "timeout";
      result = r === "timeout" ? { ok: false, error: `timed out after ${timeoutMs} ms` } : r;
    } catch (e) {
      result = { ok: false, error: `page failure: ${e instanceof Error ? e.message : e}` };
    } finally {
      clearTimeout(timer);
    }
    if (broken) {
      await this.#page.close().catch(() => {});
      await this.#openPage();
    }
    if (result.stack) result.stack = mapStack(result.stack, `${this.url}entry.js`, this.map);
    return result;
  }

  /** Closes the browser, the server and the bundle directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.browser.close();
    await this.server.shutdown();
    await Deno.remove(this.dir, { recursive: true });
  }
}
