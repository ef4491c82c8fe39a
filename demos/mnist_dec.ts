/**
 * The MNIST clustering study of the tutorials, end to end on the GPU:
 *
 *   1. k-means on raw pixels,
 *   2. autoencoder (784-500-500-2000-10) + k-means on its codes,
 *   3. DEC (Xie et al. 2016),
 *   4. IDEC (Guo et al. 2017), from the same pretrained autoencoder,
 *   5. conv-DEC: DCEC (Guo et al., ICONIP 2017), a convolutional autoencoder
 *      (Conv 32 5×5/2 → 64 5×5/2 → 128 3×3/2 valid → Dense 10, mirrored with
 *      transposed convolutions; `lt.cluster.DEC.convolutional`) pretrained
 *      with Adam, then k-means ("conv AE + k-means") and fine-tuning that keeps
 *      the decoder's reconstruction loss (L = L_r + 0.1·L_c, Adam(1e-3)),
 *
 * printing ACC / NMI / ARI and wall time per stage and writing a report
 * (Markdown, cluster galleries, reconstructions, a latent scatter, the DEC
 * refresh log as CSV) to an output folder.
 *
 * On a fallback (CPU) adapter it uses the first 10 000 images and a
 * shortened recipe ({@link studyRecipe}) that finish a seed in about ten
 * minutes on 2 cores, and says so. `--full` runs all 70 000 images with
 * the published recipe (pretraining 300 epochs of SGD(1, 0.9), batch 256;
 * k-means nInit 20; fine-tuning SGD(0.01, 0.9), update interval 140, tol
 * 0.001; conv-DEC: pretraining 200 epochs of Adam(1e-3), batch 256, then
 * Adam(1e-3), update interval 140, tol 0.001). `--seeds 1,2,3,4,5` repeats
 * the study and reports every seed and the median.
 *
 * On a CPU adapter conv-DEC is opt-in (`--stages kmeans,ae,dec,idec,convdec`):
 * see {@link CPU_CONV_NOTE}.
 *
 *   npx -y deno@2.9.6 task demo [--full] [--samples N] [--seeds 1,2] [--out DIR]
 *
 * @module
 */
import { parseArgs } from "@std/parse-args";
import * as lt from "../src/mod.ts";
import { loadStudyData } from "./study_data.ts";
import { scatterPng } from "./plot.ts";
import {
  firstImages,
  medianRows,
  pretrainOptimizer,
  SHORT_CONV_EPOCHS,
  studyRecipe,
  type StudyRow,
} from "./study.ts";

/** conv-DEC's pretraining epochs in the shortened run (DCEC: 200). */
const CPU_CONV_EPOCHS = SHORT_CONV_EPOCHS;
/**
 * Why conv-DEC is not a default stage on a CPU adapter (printed, and written in
 * the report). Rates measured on 2 lavapipe cores (~120 samples/s pretraining,
 * ~2.2 s per fine-tuning step of 256).
 */
const CPU_CONV_NOTE =
  "conv-DEC is opt-in on a CPU adapter: DCEC's convolutional autoencoder trains at ~120 " +
  "samples/s on lavapipe (~80 s per pretraining epoch of 10 000 images, ~2.2 s per fine-tuning " +
  `step), so ${CPU_CONV_EPOCHS} pretraining epochs and a few hundred fine-tuning steps would ` +
  "add ~25 minutes to this ~10-minute run, and the few epochs that would fit leave codes " +
  "that cluster worse than raw pixels. Add it with --stages kmeans,ae,dec,idec,convdec; it " +
  "is a default stage on a GPU and with --full (DCEC's 200 pretraining epochs).";

const args = parseArgs(Deno.args, {
  boolean: ["full", "help"],
  string: [
    "samples",
    "seeds",
    "out",
    "pretrain-epochs",
    "conv-pretrain-epochs",
    "maxiter",
    "update-interval",
    "stages",
    "optimizer",
    "batch-size",
    "pretrain-batch-size",
    "lr",
    "noise",
    "dataset",
    "json",
    "reference",
  ],
});
if (args.help) {
  console.log(`usage: deno task demo [options]
  --full                 all 70 000 images, published recipe (default on a real GPU)
  --samples N            use the first N images of train+test
  --seeds 1,2,3          run the study once per seed (report each and the median)
  --pretrain-epochs E    autoencoder pretraining epochs (recipe: 300)
  --conv-pretrain-epochs E
                         conv-DEC's convolutional autoencoder pretraining epochs (DCEC: 200,
                         Adam(1e-3))
  --optimizer sgd|adam   pretraining optimizer: sgd = SGD(1, momentum 0.9), the recipe's
                         (default with --full); adam = Adam(1e-3) (default for short runs:
                         SGD at lr 1 needs its hundreds of epochs)
  --maxiter N            most DEC/IDEC/conv-DEC fine-tuning steps (recipe: 20000)
  --update-interval T    steps between target refreshes (recipe: 140)
  --batch-size B         batch size of the fine-tuning (recipe: 256)
  --pretrain-batch-size B
                         batch size of the dense pretraining (recipe: 256; short runs: 128)
  --lr R                 Adam's learning rate for the dense pretraining (default 1e-3)
  --noise S              Gaussian input noise of the dense pretraining (denoising; default 0)
  --dataset mnist|fashion
                         MNIST (default) or Fashion-MNIST (first images of train + test)
  --json FILE            also write the recipe, rows and per-seed wall times as JSON
  --reference FILE       the PyTorch reference to print beside the table (default
                         bench/results/study.json, written by deno task bench:study)
  --stages LIST          subset of kmeans,ae,dec,idec,convdec (default: all; on a CPU adapter
                         without --full: kmeans,ae,dec,idec, as conv-DEC takes minutes more)
  --out DIR              report folder (default out/mnist_dec)`);
  Deno.exit(0);
}

const startedAt = performance.now();
const rt = await lt.init();
const fallback = rt.info.isFallback;
const full = args.full || (!fallback && args.samples === undefined);
const dataset = args.dataset ?? "mnist";
const { data: mnist, name: dataName } = await loadStudyData(dataset);
// The recipe, and the shortened one for CPU adapters (~10 minutes a seed on 2 cores); the
// browser page (demos/web/main.ts) builds its runs from the same function.
const n = Number(args.samples ?? (full ? 70000 : 10000));
const opt = (k: string) => args[k] === undefined ? undefined : Number(args[k]);
const recipe = studyRecipe(full, {
  pretrainEpochs: opt("pretrain-epochs"),
  maxIter: opt("maxiter"),
  updateInterval: opt("update-interval"),
  optimizer: args.optimizer as "sgd" | "adam" | undefined,
  convPretrainEpochs: opt("conv-pretrain-epochs"),
  batchSize: opt("batch-size"),
  pretrainBatchSize: opt("pretrain-batch-size"),
  learningRate: opt("lr"),
  noise: opt("noise"),
});
const seeds = (args.seeds ?? "1").split(",").map(Number);
/** The dense recipe in words, for the console and the report. */
const recipeText =
  `autoencoder 784-500-500-2000-10 pretrained ${recipe.pretrainEpochs} epochs with ${
    recipe.optimizer === "adam" ? `Adam(${recipe.learningRate})` : "SGD(lr 1, momentum 0.9)"
  }, batch ${recipe.pretrainBatchSize}${
    recipe.noise > 0 ? `, input noise σ ${recipe.noise}` : ""
  }; k-means nInit ${recipe.kmeansInit}; DEC/IDEC fine-tuning SGD(0.01, 0.9), batch ${recipe.batchSize}, update interval ${recipe.updateInterval}, tol ${recipe.tol}, at most ${recipe.maxIter} steps`;
// conv-DEC is a default stage except on a CPU adapter's shortened run (see CPU_CONV_NOTE).
const convByDefault = full || !fallback;
const stages = new Set<string>(
  (args.stages ?? `kmeans,ae,dec,idec${convByDefault ? ",convdec" : ""}`).split(","),
);
for (const s of stages) {
  if (!["kmeans", "ae", "dec", "idec", "convdec"].includes(s)) {
    throw new Error(`--stages: expected a subset of kmeans,ae,dec,idec,convdec, got ${s}`);
  }
}
const outDir = args.out ?? "out/mnist_dec";
await Deno.mkdir(outDir, { recursive: true });

const { images, labels } = firstImages(mnist, n);
console.log(
  `latent ${dataName} clustering study on ${rt.info.name}${
    fallback ? " (a fallback CPU adapter)" : ""
  }`,
);
for (const note of rt.info.notes ?? []) console.log(`Note: ${note}.`);
// The ~10 minutes were measured for the default shortened run only.
const defaultRun = JSON.stringify(recipe) === JSON.stringify(studyRecipe(false)) &&
  n === 10000 && args.stages === undefined;
if (!full) {
  const takes = !defaultRun
    ? "(the overrides change how long a seed takes)"
    : `so that a seed finishes in about ${fallback ? "10 minutes on 2 CPU cores" : "minutes"}`;
  console.log(
    `Using the first ${n} images and a shortened recipe (${recipeText}) ${takes}. ` +
      `Pass --full for all 70 000 images and the published recipe (300 epochs of SGD(1, 0.9)).`,
  );
} else console.log(`All ${n} images, the published recipe: ${recipeText}.`);
if (stages.has("convdec")) {
  console.log(
    `conv-DEC: convolutional autoencoder pretrained ${recipe.convPretrainEpochs} epochs with ` +
      `Adam(1e-3)${full ? " (DCEC's recipe)" : ""}, fine-tuned with Adam(1e-3), gamma 0.1.`,
  );
} else if (!convByDefault && args.stages === undefined) console.log(CPU_CONV_NOTE);

const x = lt.data.dataset(images, { shape: [784], scale: 1 / 255 });
// The same images as 28×28×1 for the convolutional autoencoder.
const xi = lt.data.dataset(images, { shape: [28, 28, 1], scale: 1 / 255 });

const rows: StudyRow[] = [];
const score = (seed: number, stage: string, pred: ArrayLike<number>, t0: number) => {
  const row = {
    seed,
    stage,
    acc: lt.metrics.acc(labels, pred),
    nmi: lt.metrics.nmi(labels, pred),
    ari: lt.metrics.ari(labels, pred),
    seconds: (performance.now() - t0) / 1000,
  };
  rows.push(row);
  console.log(
    `  ${stage.padEnd(22)} ACC ${row.acc.toFixed(4)}  NMI ${row.nmi.toFixed(4)}  ARI ${
      row.ari.toFixed(4)
    }  ` +
      `(${row.seconds.toFixed(1)} s)`,
  );
  return row;
};

const progress = lt.callbacks.progress();
/** Wall time of each seed's run, data loading (once, counted in the first seed) to its last stage. */
const seedSeconds: { seed: number; seconds: number }[] = [];
let seedStart = startedAt;
let firstDec = null as lt.cluster.DEC | null;
let decLog: lt.cluster.RefreshLog[] = [];
// conv-DEC's soft assignments on the first seed, for its cluster gallery.
let convQ = null as Float32Array | null;

for (const seed of seeds) {
  console.log(`\nseed ${seed}`);
  if (stages.has("kmeans")) {
    const t0 = performance.now();
    const pixels = x.toTensor();
    const km = new lt.cluster.KMeans({ k: 10, nInit: 10, seed });
    const r = await km.fit(pixels);
    pixels.dispose();
    km.dispose();
    score(seed, "k-means (pixels)", r.labels, t0);
  }
  if (stages.has("ae") || stages.has("dec") || stages.has("idec")) await denseStages(seed);
  if (stages.has("convdec")) await convDec(seed);
  const seconds = (performance.now() - seedStart) / 1000;
  seedSeconds.push({ seed, seconds });
  console.log(`seed ${seed}: ${seconds.toFixed(1)} s in all`);
  seedStart = performance.now();
}

/** The dense autoencoder + k-means, DEC and IDEC from one pretrained autoencoder. */
async function denseStages(seed: number): Promise<void> {
  let t0 = performance.now();
  const dec = new lt.cluster.DEC({ clusters: 10, seed });
  // A denoising autoencoder when the recipe adds input noise (clean inputs
  // for the codes and fine-tuning: predict and DEC.fit leave the noise out).
  const xp = recipe.noise > 0 ? x.withNoise({ std: recipe.noise, seed }) : x;
  await dec.pretrain(xp, {
    epochs: recipe.pretrainEpochs,
    batchSize: recipe.pretrainBatchSize,
    optimizer: pretrainOptimizer("dense", recipe),
    callbacks: [progress],
  });
  if (xp !== x) xp.dispose();
  const pretrained = await lt.io.saveWeights(dec.autoencoder);
  const km = await dec.initialize(x, { nInit: recipe.kmeansInit });
  score(seed, "autoencoder + k-means", km.labels, t0);

  if (stages.has("dec")) {
    t0 = performance.now();
    const r = await dec.fit(x, {
      y: labels,
      maxIter: recipe.maxIter,
      updateInterval: recipe.updateInterval,
      tol: recipe.tol,
      batchSize: recipe.batchSize,
      callbacks: [progress],
    });
    score(seed, `DEC (${r.iterations} steps)`, r.labels, t0);
    if (!firstDec) {
      firstDec = dec;
      decLog = r.log;
    }
  }
  if (stages.has("idec")) {
    t0 = performance.now();
    const idec = new lt.cluster.DEC({ clusters: 10, seed, variant: "idec" });
    lt.io.loadWeights(idec.autoencoder, pretrained);
    await idec.initialize(x, { nInit: recipe.kmeansInit });
    const r = await idec.fit(x, {
      y: labels,
      maxIter: recipe.maxIter,
      updateInterval: recipe.updateInterval,
      tol: recipe.tol,
      batchSize: recipe.batchSize,
      callbacks: [progress],
    });
    score(seed, `IDEC (${r.iterations} steps)`, r.labels, t0);
    idec.dispose();
  }
  if (dec !== firstDec) dec.dispose();
}

/** conv-DEC (DCEC): conv autoencoder + k-means, then fine-tuning with the reconstruction loss. */
async function convDec(seed: number): Promise<void> {
  let t0 = performance.now();
  // DCEC keeps the decoder while clustering (loss weights [γ, 1] on [KL, MSE]): the "idec"
  // variant of lt.cluster.DEC, γ = 0.1.
  const cdec = lt.cluster.DEC.convolutional({
    clusters: 10,
    inputShape: [28, 28, 1],
    seed,
    variant: "idec",
    gamma: 0.1,
  });
  await cdec.pretrain(xi, {
    epochs: recipe.convPretrainEpochs,
    batchSize: recipe.batchSize,
    optimizer: lt.optim.adam(1e-3),
    callbacks: [progress],
  });
  const km = await cdec.initialize(xi, { nInit: recipe.kmeansInit });
  score(seed, "conv AE + k-means", km.labels, t0);
  t0 = performance.now();
  const optimizer = lt.optim.adam(1e-3);
  const r = await cdec.fit(xi, {
    y: labels,
    maxIter: recipe.maxIter,
    updateInterval: recipe.updateInterval,
    tol: recipe.tol,
    batchSize: recipe.batchSize,
    optimizer,
    callbacks: [progress],
  });
  score(seed, `conv-DEC (${r.iterations} steps)`, r.labels, t0);
  if (!convQ) {
    const q = await cdec.softAssignments(xi);
    convQ = (await q.toArray()) as Float32Array;
    q.dispose();
  }
  optimizer.dispose();
  cdec.dispose();
}

// ------------------------------------------------------------------ report

const table = [
  "| seed | stage | ACC | NMI | ARI | time (s) |",
  "|---:|---|---:|---:|---:|---:|",
  ...rows.map((r) =>
    `| ${r.seed} | ${r.stage} | ${r.acc.toFixed(4)} | ${r.nmi.toFixed(4)} | ${r.ari.toFixed(4)} | ${
      r.seconds.toFixed(1)
    } |`
  ),
];
if (seeds.length > 1) {
  table.push(
    ...medianRows(rows).map((m) =>
      `| median | ${m.stage} | ${m.acc.toFixed(4)} | ${m.nmi.toFixed(4)} | ${m.ari.toFixed(4)} | ${
        m.seconds.toFixed(1)
      } |`
    ),
  );
}
console.log("\n" + table.join("\n"));

/** What `--json` writes and `deno task bench:study` records beside PyTorch's rows. */
const record = {
  date: new Date().toISOString().slice(0, 10),
  adapter: rt.info.name,
  dataset,
  n,
  recipe,
  stages: [...stages],
  seeds,
  rows,
  seedSeconds,
};
if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(record, null, 1));

// The PyTorch reference of the same recipe on the same images, when one is recorded.
const referenceTable = await reference(
  args.reference ?? new URL("../bench/results/study.json", import.meta.url).pathname,
);
if (referenceTable.length) console.log("\n" + referenceTable.join("\n"));

/** Side-by-side medians of this run and the recorded PyTorch reference, if it ran this recipe. */
async function reference(file: string): Promise<string[]> {
  let ref;
  try {
    ref = JSON.parse(await Deno.readTextFile(file));
  } catch {
    return [];
  }
  const same = ref?.pytorch && ref.dataset === dataset && ref.n === n &&
    JSON.stringify(ref.recipe) === JSON.stringify(recipe);
  if (!same) {
    return [
      `No PyTorch reference for this recipe in ${file}; \`deno task bench:study\` with the same ` +
      "options records one.",
    ];
  }
  const theirs = medianRows(ref.pytorch.rows as StudyRow[]);
  const lines = [
    `PyTorch ${ref.pytorch.torch} (${ref.pytorch.threads} CPU thread${
      ref.pytorch.threads === 1 ? "" : "s"
    }), the same recipe on the same images, seeds ${
      ref.pytorch.seeds.join(",")
    }, recorded ${ref.date} by \`deno task bench:study\` (${file}); medians:`,
    "| stage | ACC latent | ACC PyTorch | NMI latent | NMI PyTorch | ARI latent | ARI PyTorch |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const ours of medianRows(rows)) {
    const t = theirs.find((r) => r.stage === ours.stage);
    if (!t) continue;
    const f = (v: number) => v.toFixed(4);
    lines.push(
      `| ${ours.stage} | ${f(ours.acc)} | ${f(t.acc)} | ${f(ours.nmi)} | ${f(t.nmi)} | ${
        f(ours.ari)
      } | ${f(t.ari)} |`,
    );
  }
  return lines;
}

/** Cluster gallery from soft assignments [n, 10]: per cluster, its most confident samples. */
async function writeGallery(qv: Float32Array, file: string): Promise<void> {
  const per = 16, rowsOfImages: Float32Array[] = [];
  for (let c = 0; c < 10; c++) {
    const members = [];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (qv[i * 10 + j] > qv[i * 10 + best]) best = j;
      if (best === c) members.push(i);
    }
    members.sort((a, b) => qv[b * 10 + c] - qv[a * 10 + c]);
    const row = new Float32Array(Math.min(per, members.length) * 784);
    members.slice(0, per).forEach((i, k) => {
      for (let p = 0; p < 784; p++) row[k * 784 + p] = images[i * 784 + p] / 255;
    });
    rowsOfImages.push(row.length ? row : new Float32Array(784));
  }
  const gallery = lt.io.imageRows(rowsOfImages, { rows: 28, cols: 28, pad: 2, scale: 2 });
  await Deno.writeFile(`${outDir}/${file}`, await lt.io.encodePng(gallery));
}

const pictures: string[] = [];
if (firstDec) {
  const dec = firstDec;
  const q = await dec.softAssignments(x);
  await writeGallery((await q.toArray()) as Float32Array, "clusters_dec.png");
  q.dispose();
  pictures.push(
    "![DEC clusters: one row per cluster, most confident samples first](clusters_dec.png)",
  );

  // Reconstructions: 16 originals over their reconstructions.
  const first = lt.data.dataset(images.subarray(0, 16 * 784), { shape: [784], scale: 1 / 255 });
  const rec = await dec.autoencoder.predict(first);
  const recv = Float32Array.from(await rec.toArray(), (v) => Math.min(1, Math.max(0, v)));
  rec.dispose();
  first.dispose();
  const orig = Float32Array.from(images.subarray(0, 16 * 784), (v) => v / 255);
  const recon = lt.io.imageRows([orig, recv], { rows: 28, cols: 28, pad: 2, scale: 2 });
  await Deno.writeFile(`${outDir}/reconstructions.png`, await lt.io.encodePng(recon));
  pictures.push(
    "![Originals (top) and the DEC autoencoder's reconstructions (bottom)](reconstructions.png)",
  );

  // Latent scatter: the 10-D codes projected to 2-D by PCA, coloured by true digit.
  const z = await dec.embed(x);
  const pca = new lt.cluster.PCA({ nComponents: 2 });
  const z2 = await pca.fitTransform(z);
  const png = await scatterPng((await z2.toArray()) as Float32Array, labels, {
    width: 640,
    height: 640,
    title: "DEC codes (PCA to 2-D), coloured by true digit",
  });
  await Deno.writeFile(`${outDir}/latent.png`, png);
  pictures.push("![DEC codes projected to 2-D by PCA, coloured by the true digit](latent.png)");
  for (const t of [z, z2]) t.dispose();
  pca.dispose();

  await Deno.writeTextFile(
    `${outDir}/dec_log.csv`,
    lt.io.toCsv(
      decLog.map((e) => ({
        iteration: e.iteration,
        acc: e.acc!,
        nmi: e.nmi!,
        ari: e.ari!,
        delta: e.delta,
      })),
    ),
  );
  dec.dispose();
}
if (convQ) {
  await writeGallery(convQ, "clusters_convdec.png");
  pictures.push(
    "![conv-DEC clusters: one row per cluster, most confident samples first](clusters_convdec.png)",
  );
}

const report = `# ${dataName} clustering study

Adapter: ${rt.info.name}${fallback ? " (fallback CPU adapter)" : ""}. Samples: ${n}${
  n === 70000 ? " (all of MNIST, train + test)" : " (the first of train + test)"
}.
Recipe: ${recipeText}; IDEC γ = 0.1.
${
  stages.has("convdec")
    ? `conv-DEC (DCEC): convolutional autoencoder 28×28×1 → Conv 32 5×5/2 → Conv 64 5×5/2 → Conv 128 3×3/2 (valid) → Dense 10, mirrored with transposed convolutions, pretrained ${recipe.convPretrainEpochs} epochs with Adam(1e-3), batch ${recipe.batchSize}; fine-tuning Adam(1e-3) on L_r + 0.1·L_c, same update interval, tol and step limit.\n`
    : !convByDefault && args.stages === undefined
    ? CPU_CONV_NOTE + "\n"
    : ""
}NMI is arithmetic-normalised (scikit-learn's default); ACC uses the optimal one-to-one cluster-to-label mapping.

${table.join("\n")}
${referenceTable.length ? "\n" + referenceTable.join("\n") + "\n" : ""}
Wall time per seed (data loading counted in the first): ${
  seedSeconds.map((s) => `seed ${s.seed} ${s.seconds.toFixed(0)} s`).join(", ")
}.

${pictures.join("\n\n")}

The DEC refresh log (ACC / NMI / ARI / changed labels at each target refresh) is in \`dec_log.csv\`.
`;
await Deno.writeTextFile(`${outDir}/report.md`, report);
console.log(`\nReport: ${outDir}/report.md`);
x.dispose();
xi.dispose();
