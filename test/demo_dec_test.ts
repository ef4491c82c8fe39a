/**
 * The MNIST clustering study (`demos/mnist_dec.ts`, the `demo` task) end to
 * end on a tiny size, as a user runs it: every stage, conv-DEC included,
 * must print and write its row with finite metrics in [0, 1], and the report
 * must carry the DEC and conv-DEC cluster galleries. `--json` must record
 * the recipe and rows, and a recorded PyTorch reference of the same recipe
 * must be printed beside the run's medians.
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { assert, assertEquals } from "./assert.ts";
import { studyRecipe } from "../demos/study.ts";

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
      `--json=${out}/run.json`,
      `--reference=${out}/reference.json`,
    ];
    // A reference recorded for exactly this recipe (bench/study.ts writes these).
    const recipe = studyRecipe(false, {
      pretrainEpochs: 2,
      convPretrainEpochs: 8,
      maxIter: 4,
      updateInterval: 2,
    });
    const refRows = ["k-means (pixels)", "autoencoder + k-means", "DEC (3 steps)"].map((stage) => ({
      seed: 1,
      stage,
      acc: 0.125,
      nmi: 0.25,
      ari: 0.0625,
      seconds: 1,
    }));
    await Deno.writeTextFile(
      `${out}/reference.json`,
      JSON.stringify({
        date: "2026-01-02",
        dataset: "mnist",
        n: 200,
        recipe,
        pytorch: { torch: "9.9", threads: 1, seeds: [1], rows: refRows },
      }),
    );
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
    const record = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
    assertEquals(record.n, 200);
    assertEquals(record.recipe, recipe);
    assertEquals(record.rows.length, want.length);
    assertEquals(record.seedSeconds.length, 1);
    assert(stdout.includes("seed 1: "), "the per-seed wall time is printed");
    // The reference's medians beside this run's, for the stages both ran.
    assert(stdout.includes("PyTorch 9.9 (1 CPU thread)"), stdout);
    for (const stage of ["k-means (pixels)", "autoencoder + k-means", "DEC"]) {
      const ours = record.rows.find((r: { stage: string }) => r.stage.startsWith(stage));
      const line = `| ${stage} | ${ours.acc.toFixed(4)} | 0.1250 | ${
        ours.nmi.toFixed(4)
      } | 0.2500 |`;
      assert(stdout.includes(line), `missing "${line}" in:\n${stdout}`);
    }
    assert(!/\| IDEC \| [\d.]+ \| /.test(stdout), "no reference row for a stage it did not run");
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
