/**
 * `deno task bench:study`: the MNIST clustering study (demos/mnist_dec.ts)
 * beside its PyTorch reference (bench/pytorch_study.py), same recipe, same
 * images, same seeds, one after the other on an otherwise idle machine.
 *
 * 1. runs the demo with the given options and `--json`, streaming its output,
 * 2. writes the demo's images and labels to a temporary file and runs the
 *    PyTorch script on them with the recipe the demo reports (1 thread by
 *    default: `--threads N`),
 * 3. prints the per-seed and median table of both, with wall times, and
 *    records both in `bench/results/study.json`, which the demo prints
 *    beside its own table when it runs the same recipe again.
 *
 * ```sh
 * deno task bench:study --seeds 1,2,3            # the default CPU-adapter study
 * deno task bench:study --seeds 1,2,3 --dataset fashion
 * ```
 *
 * PyTorch comes from Debian (`apt-get install python3-torch libopenblas0-pthread`:
 * without an optimised BLAS, torch's CPU matmul runs at a few GFLOP/s) and is
 * run with `/usr/bin/python3`; without it the table has latent's rows only.
 *
 * @module
 */
import { loadStudyData, type StudyDataset } from "../demos/study_data.ts";
import {
  firstImages,
  medianRows,
  stageName,
  type StudyRecipe,
  type StudyRow,
} from "../demos/study.ts";

const root = new URL("../", import.meta.url).pathname;
const args = [...Deno.args];
const flag = (name: string, fallback: string): string => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const a = args[i];
  const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[i + 1];
  args.splice(i, a.includes("=") ? 1 : 2);
  return v;
};
const threads = Number(flag("threads", "1"));
const python = flag("python", "/usr/bin/python3");
const out = `${root}bench/results/study.json`;

interface DemoRecord {
  date: string;
  adapter: string;
  dataset: StudyDataset;
  n: number;
  recipe: StudyRecipe;
  stages: string[];
  seeds: number[];
  rows: StudyRow[];
  seedSeconds: { seed: number; seconds: number }[];
}

const tmp = await Deno.makeTempDir({ prefix: "latent-study-" });
try {
  // 1. latent: the demo as a user runs it.
  const json = `${tmp}/latent.json`;
  const t0 = performance.now();
  const demo = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "demos/mnist_dec.ts", ...args, `--json=${json}`, `--reference=${tmp}/none`],
    cwd: root,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (demo.code !== 0) throw new Error(`the demo failed (exit ${demo.code})`);
  const latent = JSON.parse(await Deno.readTextFile(json)) as DemoRecord;
  console.error(`latent: ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);

  // 2. PyTorch on the same images with the same recipe.
  const { data } = await loadStudyData(latent.dataset);
  const { images, labels } = firstImages(data, latent.n);
  const bin = new Uint8Array(latent.n * 788);
  bin.set(images);
  bin.set(new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength), latent.n * 784);
  await Deno.writeFile(`${tmp}/images.bin`, bin);
  const r = latent.recipe;
  const pyJson = `${tmp}/pytorch.json`;
  const pyStages = latent.stages.filter((s) => s !== "convdec").join(",");
  let pytorch = null;
  try {
    const py = await new Deno.Command(python, {
      args: [
        "bench/pytorch_study.py",
        `--data=${tmp}/images.bin`,
        `--seeds=${latent.seeds.join(",")}`,
        `--threads=${threads}`,
        `--epochs=${r.pretrainEpochs}`,
        `--batch=${r.batchSize}`,
        `--pretrain-batch=${r.pretrainBatchSize}`,
        `--optimizer=${r.optimizer}`,
        `--lr=${r.optimizer === "adam" ? r.learningRate : 1}`,
        `--noise=${r.noise}`,
        `--maxiter=${r.maxIter}`,
        `--update-interval=${r.updateInterval}`,
        `--tol=${r.tol}`,
        `--n-init=${r.kmeansInit}`,
        `--stages=${pyStages}`,
        `--json=${pyJson}`,
      ],
      cwd: root,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (py.code !== 0) throw new Error(`bench/pytorch_study.py failed (exit ${py.code})`);
    const p = JSON.parse(await Deno.readTextFile(pyJson));
    pytorch = {
      torch: p.torch,
      threads: p.threads,
      seeds: latent.seeds,
      rows: p.rows as StudyRow[],
    };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.error(`no ${python} here: latent's rows only`);
  }

  // 3. The table and the record.
  const f = (v: number) => v.toFixed(4);
  const lines = [
    `MNIST clustering study${
      latent.dataset === "fashion" ? " (Fashion-MNIST)" : ""
    }, ${latent.n} ` +
    `images, ${latent.date}; latent on ${latent.adapter}${
      pytorch ? `, PyTorch ${pytorch.torch} on ${pytorch.threads} CPU thread(s)` : ""
    }`,
    "",
    "| seed | stage | latent ACC | PyTorch ACC | latent NMI | PyTorch NMI | latent ARI | PyTorch ARI | latent s | PyTorch s |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const groups = [...latent.seeds.map(String), ...(latent.seeds.length > 1 ? ["median"] : [])];
  /** One seed's row of a stage, or the median over the seeds. */
  const pick = (rs: StudyRow[], g: string, st: string) =>
    medianRows(rs.filter((x) => g === "median" || String(x.seed) === g))
      .find((m) => m.stage === st) ?? null;
  for (const g of groups) {
    for (const st of [...new Set(latent.rows.map((x) => stageName(x.stage)))]) {
      const a = pick(latent.rows, g, st)!, b = pytorch ? pick(pytorch.rows, g, st) : null;
      const o = (v: number | undefined, d: (v: number) => string) => v === undefined ? "–" : d(v);
      lines.push(
        `| ${g} | ${st} | ${f(a.acc)} | ${o(b?.acc, f)} | ${f(a.nmi)} | ${o(b?.nmi, f)} | ${
          f(a.ari)
        } | ${o(b?.ari, f)} | ${a.seconds.toFixed(0)} | ${o(b?.seconds, (v) => v.toFixed(0))} |`,
      );
    }
  }
  lines.push(
    "",
    `latent's wall time per seed (the whole demo; data loading counted in the first): ${
      latent.seedSeconds.map((s) => `seed ${s.seed} ${s.seconds.toFixed(0)} s`).join(", ")
    }.`,
  );
  console.log("\n" + lines.join("\n"));
  await Deno.mkdir(`${root}bench/results`, { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify({ ...latent, pytorch }, null, 2) + "\n");
  console.error(`recorded in ${out}`);
} finally {
  await Deno.remove(tmp, { recursive: true });
}
