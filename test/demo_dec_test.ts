/**
 * The MNIST clustering study (`demos/mnist_dec.ts`, the `demo` task) end to
 * end on a tiny size, as a user runs it: every stage, conv-DEC included,
 * must print and write its row with finite metrics in [0, 1], and the report
 * must carry the DEC and conv-DEC cluster galleries.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { assert, assertEquals } from "./assert.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("MNIST clustering demo on 200 images runs every stage (conv-DEC included) and writes its rows and galleries", async () => {
  const out = await Deno.makeTempDir({ prefix: "latent-dec-" });
  try {
    // 8 conv pretraining steps (~1 s each on lavapipe) and 4 fine-tuning steps. With fewer,
    // the codes are so small (std ~0.04 after 2 steps) that Adam's first fine-tuning steps
    // merge every sample into one cluster.
    const args = [
      "run",
      "-A",
      "demos/mnist_dec.ts",
      "--samples=200",
      "--stages=kmeans,ae,dec,idec,convdec",
      "--pretrain-epochs=2",
      "--conv-pretrain-epochs=8",
      "--maxiter=4",
      "--update-interval=2",
      `--out=${out}`,
    ];
    const r = await new Deno.Command(Deno.execPath(), { args, cwd: root, stdin: "null" }).output();
    const stdout = new TextDecoder().decode(r.stdout);
    const stderr = new TextDecoder().decode(r.stderr);
    assertEquals(r.code, 0, `the demo failed:\n${stdout}\n${stderr}`);
    const report = await Deno.readTextFile(`${out}/report.md`);
    const want = [
      /^k-means \(pixels\)$/,
      /^autoencoder \+ k-means$/,
      /^DEC \(\d+ steps\)$/,
      /^IDEC \(\d+ steps\)$/,
      /^conv AE \+ k-means$/,
      /^conv-DEC \(\d+ steps\)$/,
    ];
    const rows = report.split("\n").filter((l) => l.startsWith("| 1 |")).map((l) =>
      l.split("|").slice(2, -1).map((c) => c.trim())
    );
    assertEquals(rows.length, want.length, report);
    rows.forEach(([stage, ...nums], i) => {
      assert(want[i].test(stage), `row ${i}: expected ${want[i]}, got ${stage}`);
      const [acc, nmi, ari, seconds] = nums.map(Number);
      for (const [name, v] of [["ACC", acc], ["NMI", nmi], ["ARI", ari]] as const) {
        // ARI can dip below 0 for a worse-than-chance clustering; ACC and NMI cannot.
        const lo = name === "ARI" ? -1 : 0;
        assert(Number.isFinite(v) && v >= lo && v <= 1, `${stage} ${name} ${v}`);
      }
      assert(Number.isFinite(seconds) && seconds >= 0, `${stage} time ${seconds}`);
      assert(stdout.includes(`  ${stage}`), `the ${stage} row was not printed:\n${stdout}`);
    });
    for (const file of ["clusters_dec.png", "clusters_convdec.png"]) {
      assert(report.includes(`(${file})`), `report.md lacks ${file}`);
      const img = await lt.io.decodePng(await Deno.readFile(`${out}/${file}`));
      // Ten rows (one per cluster) of 28×28 digits at scale 2 with 2-pixel padding.
      assertEquals(img.height, 10 * 58 + 2, file);
      assert(img.width >= 58 + 2 && img.width <= 16 * 58 + 2, `${file} width ${img.width}`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
