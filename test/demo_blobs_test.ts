/**
 * The PCA-vs-autoencoder blobs demo in `--quick` mode, and its scatter-plot
 * rasteriser: the demo must write its report and two plots with finite
 * silhouettes. Which method wins is a measured result, not asserted here.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { run } from "../demos/blobs_pca.ts";
import { PALETTE, scatterImage, scatterPng } from "../demos/plot.ts";
import { assert, assertEquals } from "./assert.ts";

Deno.test("blobs demo --quick writes report.md, pca.png and autoencoder.png with finite silhouettes", async () => {
  const out = await Deno.makeTempDir({ prefix: "latent-blobs-" });
  try {
    const lines: string[] = [];
    const r = await run({ quick: true, out, log: (l) => lines.push(l) });
    assertEquals(r.rows.map((row) => [row.method, row.dims]), [
      ["raw data", 50],
      ["PCA", 2],
      ["autoencoder", 2],
    ]);
    for (const row of r.rows) {
      assert(
        Number.isFinite(row.silhouette) && Math.abs(row.silhouette) <= 1,
        `${row.method}: silhouette ${row.silhouette}`,
      );
    }
    assert(r.epochsRun >= 1 && r.epochsRun <= 30, `epochs run: ${r.epochsRun}`);
    assert(Number.isFinite(r.finalLoss), `final loss ${r.finalLoss}`);
    assert(
      r.cpuCheck !== null && Math.abs(r.cpuCheck.gpu - r.cpuCheck.cpu) < 1e-4,
      `GPU vs CPU silhouette: ${JSON.stringify(r.cpuCheck)}`,
    );
    const report = await Deno.readTextFile(`${out}/report.md`);
    for (const m of ["raw data", "PCA", "autoencoder"]) {
      assert(report.includes(`| ${m} |`), `report.md lacks the ${m} row:\n${report}`);
    }
    assert(lines.some((l) => l.startsWith("| method |")), "the table was not printed");
    for (const name of ["pca.png", "autoencoder.png"]) {
      const img = await lt.io.decodePng(await Deno.readFile(`${out}/${name}`));
      assert(img.width >= 320 && img.height >= 240, `${name}: ${img.width}x${img.height}`);
      const colours = new Set<number>();
      for (let i = 0; i < img.data.length; i += img.channels) {
        colours.add((img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2]);
      }
      assert(colours.size > 20, `${name} looks blank (${colours.size} colours)`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("scatterPng draws each label in its palette colour and rejects mismatched inputs", async () => {
  const points = new Float32Array([0, 0, 1, 1, 0.5, 0.2]);
  const img = scatterImage(points, [0, 1, 19], {
    width: 200,
    height: 150,
    legend: false,
    alpha: 1,
  });
  assertEquals([img.width, img.height, img.channels], [200, 150, 3]);
  const seen = new Set<string>();
  for (let i = 0; i < img.data.length; i += 3) {
    seen.add(
      "#" + [0, 1, 2].map((k) => img.data[i + k].toString(16).padStart(2, "0")).join("")
        .toUpperCase(),
    );
  }
  for (const k of [0, 1, 19]) assert(seen.has(PALETTE[k]), `no pixel of ${PALETTE[k]}`);
  const png = await scatterPng(points, [0, 1, 2], { width: 200, height: 150, title: "t" });
  assertEquals((await lt.io.decodePng(png)).width, 200);
  let err = "";
  try {
    scatterImage(points, [0, 1], { width: 200, height: 150 });
  } catch (e) {
    err = (e as Error).message;
  }
  assertEquals(err, "scatterPng: expected 3 labels (one per point), got 2");
});
