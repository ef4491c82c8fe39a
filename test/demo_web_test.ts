/**
 * The browser demo end to end, as a user meets it: `demos/serve.ts` bundles
 * and serves the page with MNIST, headless Chromium (WebGPU on SwiftShader)
 * opens it with `?n=512&epochs=1&auto=1`, trains, and the page must end with
 * drawn canvases and ACC/NMI figures. A screenshot goes to
 * `$TMPDIR/latent_demo_web.png` (or `LATENT_DEMO_SCREENSHOT`).
 *
 * @module
 */
import { chromium } from "playwright-core";
import { serveDemo } from "../demos/serve.ts";
import { findChromium } from "../tools/provision.ts";
import { CHROMIUM_ARGS } from "./browser/session.ts";
import { assert } from "./assert.ts";
import type { DemoState } from "../demos/web/main.ts";

Deno.test("web demo: trains a deep autoencoder on 512 MNIST images in headless Chromium and draws reconstructions, codes and clusters with ACC/NMI", async () => {
  const exe = findChromium();
  if (!exe) {
    throw new Error("no Chromium: run `apt-get install -y chromium` or set LATENT_CHROMIUM");
  }
  await using server = await serveDemo({ port: 0 });
  const browser = await chromium.launch({ executablePath: exe, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e.stack ?? e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`${server.url}?model=dense&n=512&epochs=1&batch=64&auto=1`);
    // A stall guard, not a speed check: give up when neither the state nor the
    // status line (it counts training steps) has changed for 60 s, so a slow,
    // busy machine still passes and a page stuck on the GPU still fails.
    let s: DemoState = { state: "loading" };
    let seen = "", deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      s = await page.evaluate(() => globalThis.latentDemo ?? { state: "loading" });
      if (s.state === "done" || s.state === "error") break;
      const now = s.state + ": " +
        await page.evaluate(() => document.getElementById("status")?.textContent ?? "");
      if (now !== seen) [seen, deadline] = [now, Date.now() + 60_000];
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = await page.evaluate(() => document.getElementById("status")?.textContent);
    const shot = Deno.env.get("LATENT_DEMO_SCREENSHOT") ??
      `${Deno.env.get("TMPDIR") ?? "/tmp"}/latent_demo_web.png`;
    // A page stuck on the GPU cannot paint: the screenshot is best-effort.
    await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 }).catch((e) =>
      console.error(`no screenshot: ${e.message}`)
    );
    assert(
      s.state === "done",
      `the page ended in state "${s.state}"${
        s.error ? `: ${s.error}` : ""
      }; its status line: "${status}"; page errors: ${
        errors.join("\n") || "none"
      } (screenshot: ${shot})`,
    );
    const r = s.results!;
    assert(r.n === 512 && r.epochs === 1, `trained n=${r.n}, epochs=${r.epochs}`);
    assert(r.loss.length === 1 && Number.isFinite(r.loss[0]), `loss ${r.loss}`);
    for (const [k, v] of [["acc", r.acc], ["nmi", r.nmi]] as const) {
      assert(v > 0 && v <= 1, `${k} = ${v}, expected in (0, 1]`);
    }
    // Every result canvas holds a picture: many pixels, several distinct colours.
    const canvases = await page.evaluate(() =>
      ["recon", "scatter", "clusters", "loss-curve"].map((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let ink = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] > 0 && (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2])) ink++;
          if (colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
        return { id, width: c.width, height: c.height, ink, colours: colours.size };
      })
    );
    for (const c of canvases) {
      assert(
        c.width > 50 && c.height > 50 && c.ink > 200 && c.colours > 3,
        `canvas #${c.id} looks blank: ${JSON.stringify(c)}`,
      );
    }
    const text = await page.evaluate(() => document.body.innerText);
    assert(/ACC\s+0?\.\d{3}/.test(text) && /NMI\s+0?\.\d{3}/.test(text), `no ACC/NMI on the page`);
    assert(/samples\/s/.test(text), "no samples/s on the page");
    assert(errors.length === 0, `page errors: ${errors.join("\n")}`);
  } finally {
    await browser.close();
  }
});
