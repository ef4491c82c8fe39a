/**
 * The MNIST VAE demo on a tiny size: it must write a report and three valid,
 * non-blank PNGs of the expected sizes, and its training loss must fall.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { run } from "../demos/mnist_vae.ts";
import { assert, assertEquals } from "./assert.ts";

Deno.test("MNIST VAE demo on 512 images writes report.md, reconstructions, latent scatter and manifold PNGs; its loss falls", async () => {
  const out = await Deno.makeTempDir({ prefix: "latent-vae-" });
  try {
    const lines: string[] = [];
    const r = await run({
      samples: 512,
      epochs: 3,
      testSamples: 256,
      grid: 6,
      out,
      progress: false,
      log: (l) => lines.push(l),
    });
    assertEquals(r.loss.length, 3);
    assert(r.loss.every(Number.isFinite), `losses ${r.loss}`);
    assert(r.loss[2] < r.loss[0], `the loss did not fall: ${r.loss}`);
    assert(Number.isFinite(r.testBce) && r.testBce > 0, `test BCE ${r.testBce}`);
    assert(Number.isFinite(r.testKl) && r.testKl >= 0, `test KL ${r.testKl}`);
    assert(lines.some((l) => l.includes("| epoch |")), "the loss table was not printed");
    const report = await Deno.readTextFile(r.files.report);
    for (const s of ["| 3 |", "reconstructions.png", "latent.png", "manifold.png"]) {
      assert(report.includes(s), `report.md lacks ${s}:\n${report}`);
    }
    const sizes: Record<string, [number, number]> = {
      // 16 digits in two rows at scale 2 with 2-pixel padding.
      [r.files.reconstructions]: [16 * 58 + 2, 2 * 58 + 2],
      [r.files.latent]: [640, 640],
      // A 6x6 lattice of 28x28 digits, no padding.
      [r.files.manifold]: [6 * 28, 6 * 28],
    };
    for (const [file, [w, h]] of Object.entries(sizes)) {
      const img = await lt.io.decodePng(await Deno.readFile(file));
      assertEquals([img.width, img.height], [w, h], file);
      const levels = new Set<number>();
      for (let i = 0; i < img.data.length; i += img.channels) {
        levels.add(
          img.channels >= 3
            ? (img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2]
            : img.data[i],
        );
      }
      assert(levels.size > 10, `${file} looks blank (${levels.size} levels)`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
