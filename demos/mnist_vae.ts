/**
 * A variational autoencoder on MNIST, the Keras tutorial's recipe
 * (keras-team/keras examples/variational_autoencoder.py, after Kingma &
 * Welling 2014): 784 → 512 relu → (mean, log-variance) of a 2-D latent →
 * sample → 512 relu → 784 sigmoid, binary cross-entropy + KL, Adam(1e-3),
 * batch 128, 50 epochs.
 *
 * Keras sums the reconstruction loss over the 784 pixels; latent's
 * `"binary_crossentropy"` is the mean over pixels, so the layer's KL weight
 * is 1 / 784 and every loss printed here is Keras' loss divided by 784 (the
 * report shows both scales).
 *
 * Writes to `out/mnist_vae/` (or `--out DIR`): `reconstructions.png` (test
 * digits over their reconstructions), `latent.png` (the 2-D latent means of
 * test digits coloured by digit), `manifold.png` (digits decoded from a
 * regular lattice of Gaussian quantiles over the latent plane) and
 * `report.md`.
 *
 * On a fallback (CPU) adapter it trains on 10 000 images for 10 epochs (about
 * 85 s on two lavapipe cores) and says so; `--full` runs all 60 000 training
 * images for 50 epochs (the default on a real GPU). `--kl-weight` changes the
 * KL weight (1 / 784 by default; larger values give a β-VAE).
 *
 * ```sh
 * npx -y deno@2.9.6 task demo:vae [--full] [--samples N] [--epochs E] [--seed S] [--out DIR]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/parse-args";
import * as lt from "../src/mod.ts";
import { loadMnist } from "../src/data/mnist_deno.ts";
import { scatterPng } from "./plot.ts";

/** Options of {@link run}; the command-line flags carry the same names. */
export interface VaeDemoOptions {
  /** All 60 000 training images, 50 epochs (default on a real GPU). */
  full?: boolean;
  /** Training images (the first N of the training set). */
  samples?: number;
  /** Test images encoded for the scatter and the test losses (default 10 000, 2000 on CPU). */
  testSamples?: number;
  epochs?: number;
  /** Seeds the weights and the sampling noise (default 1). */
  seed?: number;
  /** Output folder (default `out/mnist_vae`). */
  out?: string;
  /** Weight of the KL term (default 1 / 784: Keras' weighting with per-pixel mean BCE). */
  klWeight?: number;
  /** Lattice points per side of the manifold picture (default 15). */
  grid?: number;
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
  /** Show fit's progress bar / per-epoch lines (default true). */
  progress?: boolean;
}

/** What {@link run} measured and wrote. */
export interface VaeDemoReport {
  adapter: string;
  isFallback: boolean;
  samples: number;
  testSamples: number;
  epochs: number;
  /** Training loss per epoch: mean BCE per pixel + klWeight · KL. */
  loss: number[];
  /** Seconds per epoch (wall time, GPU work finished). */
  epochSeconds: number[];
  /** Test reconstruction BCE per pixel, decoding the latent means. */
  testBce: number;
  /** Test KL per image (nats), of the encoder's posteriors from N(0, I). */
  testKl: number;
  totalSeconds: number;
  files: { report: string; reconstructions: string; latent: string; manifold: string };
}

const RECIPE = { hidden: 512, latent: 2, batchSize: 128, learningRate: 1e-3, epochs: 50 };
const PIXELS = 784;

/**
 * The standard normal quantile function (Acklam's rational approximation,
 * relative error < 1.2e-9): the Keras tutorial spaces its lattice by
 * `norm.ppf(linspace(0.05, 0.95, n))` so that points are equally likely
 * under the prior.
 */
function probit(p: number): number {
  const a = [
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** Seconds since `t0` (ms), after the GPU work queued so far has finished. */
async function seconds(t0: number): Promise<number> {
  await lt.runtime().sync();
  return (performance.now() - t0) / 1000;
}

/**
 * Trains the VAE and writes the pictures and report.
 *
 * @example
 * ```ts
 * const r = await run({ samples: 2000, epochs: 3, out: "/tmp/vae" });
 * console.log(r.loss);
 * ```
 */
export async function run(o: VaeDemoOptions = {}): Promise<VaeDemoReport> {
  const log = o.log ?? console.log;
  const t0 = performance.now();
  const rt = await lt.init();
  const fallback = rt.info.isFallback;
  const full = o.full || (!fallback && o.samples === undefined && o.epochs === undefined);
  const samples = o.samples ?? (full ? 60000 : 10000);
  const epochs = o.epochs ?? (full ? RECIPE.epochs : 10);
  const testSamples = o.testSamples ?? (full ? 10000 : 2000);
  const seed = o.seed ?? 1;
  const grid = o.grid ?? 15;
  const klWeight = o.klWeight ?? 1 / PIXELS;
  const out = o.out ?? "out/mnist_vae";
  const check = (what: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`mnist_vae: ${what} must be an integer in ${lo}..${hi}, got ${v}`);
    }
  };
  check("samples", samples, 1, 60000);
  check("testSamples", testSamples, 16, 10000);
  check("epochs", epochs, 1, 10000);
  check("grid", grid, 2, 40);
  check("seed", seed, 0, 2 ** 31);
  await Deno.mkdir(out, { recursive: true });

  log(`latent MNIST VAE on ${rt.info.name}${fallback ? " (a fallback CPU adapter)" : ""}`);
  for (const note of rt.info.notes ?? []) log(`Note: ${note}.`);
  if (full) log(`All ${samples} training images, ${epochs} epochs (the Keras recipe).`);
  else {
    log(
      `Using ${samples} training images and ${epochs} epochs so the run finishes in a minute ` +
        `or two${fallback ? " on the CPU" : ""}; pass --full for all 60 000 images and 50 epochs.`,
    );
  }

  const mnist = await loadMnist();
  const x = lt.data.dataset(mnist.train.images.subarray(0, samples * PIXELS), {
    shape: [PIXELS],
    scale: 1 / 255,
  });
  const testImages = mnist.test.images.subarray(0, testSamples * PIXELS);
  const testLabels = mnist.test.labels.subarray(0, testSamples);
  const xTest = lt.data.dataset(testImages, { shape: [PIXELS], scale: 1 / 255 });

  // The model, built functionally so that the encoder and decoder are
  // sub-models sharing its layers (and weights).
  lt.nn.setSeed(seed);
  const encHidden = lt.nn.dense(RECIPE.hidden, "relu");
  const encOut = lt.nn.dense(2 * RECIPE.latent, { name: "z_mean_log_var" });
  const sampling = lt.nn.gaussianSampling({ klWeight, seed, name: "z" });
  const decHidden = lt.nn.dense(RECIPE.hidden, "relu");
  const decOut = lt.nn.dense(PIXELS, "sigmoid");
  const input = lt.nn.input([PIXELS], "image");
  const h = encOut.apply(encHidden.apply(input));
  const z = sampling.apply(h);
  const vae = lt.nn.model(input, decOut.apply(decHidden.apply(z)), "vae");
  const encoder = lt.nn.model(input, z, "encoder"); // the latent means (inference)
  const posterior = lt.nn.model(input, h, "posterior"); // [mean, logvar]
  const zIn = lt.nn.input([RECIPE.latent], "z_in");
  const decoder = lt.nn.model(zIn, decOut.apply(decHidden.apply(zIn)), "decoder");
  vae.summary(log);

  vae.compile({
    optimizer: lt.optim.adam(RECIPE.learningRate),
    loss: "binary_crossentropy",
  });
  const epochSeconds: number[] = [];
  let tEpoch = 0;
  const timer = lt.callbacks.lambda({
    onEpochBegin: () => void (tEpoch = performance.now()),
    onEpochEnd: (e, logs) => {
      epochSeconds.push((performance.now() - tEpoch) / 1000);
      if (o.progress === false) {
        log(
          `epoch ${e + 1}/${epochs}: loss ${logs.loss.toFixed(5)} (×784: ${
            (logs.loss * PIXELS).toFixed(2)
          })`,
        );
      }
    },
  });
  const callbacks = o.progress === false ? [timer] : [timer, lt.callbacks.progress()];
  const history = await vae.fit(x, x, {
    epochs,
    batchSize: RECIPE.batchSize,
    seed,
    callbacks,
  });
  const loss = history.history.loss;

  // Test losses: reconstruction of the means (evaluate runs in inference
  // mode) and the KL of the encoder's posteriors.
  const testBce = (await vae.evaluate(xTest, xTest, { batchSize: 500 })).loss;
  const hTest = await posterior.predict(xTest);
  const klT = lt.gaussianKl(hTest);
  const testKl = await klT.item();
  klT.dispose();
  hTest.dispose();
  log(
    `test: reconstruction BCE ${testBce.toFixed(5)} per pixel (${(testBce * PIXELS).toFixed(2)} ` +
      `per image), KL ${testKl.toFixed(3)} nats per image`,
  );

  // Reconstructions: 16 test digits over their reconstructions.
  const first = lt.data.dataset(testImages.subarray(0, 16 * PIXELS), {
    shape: [PIXELS],
    scale: 1 / 255,
  });
  const rec = await vae.predict(first);
  const recon = lt.io.imageRows(
    [
      Float32Array.from(testImages.subarray(0, 16 * PIXELS), (v) => v / 255),
      (await rec.toArray()) as Float32Array,
    ],
    { rows: 28, cols: 28, pad: 2, scale: 2 },
  );
  rec.dispose();
  first.dispose();
  const files = {
    report: `${out}/report.md`,
    reconstructions: `${out}/reconstructions.png`,
    latent: `${out}/latent.png`,
    manifold: `${out}/manifold.png`,
  };
  await Deno.writeFile(files.reconstructions, await lt.io.encodePng(recon));

  // The latent plane: the means of the test digits, coloured by digit.
  const codes = await encoder.predict(xTest);
  const png = await scatterPng((await codes.toArray()) as Float32Array, testLabels, {
    width: 640,
    height: 640,
    title: `VAE latent means of ${testSamples} test digits`,
    xLabel: "z[0]",
    yLabel: "z[1]",
  });
  codes.dispose();
  await Deno.writeFile(files.latent, png);

  // The manifold: decode a lattice of prior quantiles; top row = largest z[1].
  const q = Array.from({ length: grid }, (_, i) => probit(0.05 + (0.9 * i) / (grid - 1)));
  const lattice = new Float32Array(grid * grid * 2);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      lattice[(r * grid + c) * 2] = q[c];
      lattice[(r * grid + c) * 2 + 1] = q[grid - 1 - r];
    }
  }
  const digits = await decoder.predict(lattice);
  const manifold = lt.io.imageGrid((await digits.toArray()) as Float32Array, {
    rows: 28,
    cols: 28,
    gridCols: grid,
    pad: 0,
  });
  digits.dispose();
  await Deno.writeFile(files.manifold, await lt.io.encodePng(manifold));

  const totalSeconds = await seconds(t0);
  const trainSeconds = epochSeconds.reduce((a, b) => a + b, 0);
  const table = [
    "| epoch | loss | × 784 (Keras' scale) | time (s) |",
    "|---:|---:|---:|---:|",
    ...loss.map((l, e) =>
      `| ${e + 1} | ${l.toFixed(5)} | ${(l * PIXELS).toFixed(2)} | ${epochSeconds[e].toFixed(1)} |`
    ),
  ];
  const klNote = klWeight === 1 / PIXELS
    ? "KL / 784 (`klWeight: 1 / 784`), which is Keras' loss (BCE summed over the 784 pixels + KL) " +
      "divided by 784"
    : `${klWeight} · KL (\`klWeight\`; Keras' weighting is 1 / 784)`;
  const report = `# MNIST variational autoencoder

Adapter: ${rt.info.name}${fallback ? " (fallback CPU adapter)" : ""}.
Training images: ${samples}${
    samples === 60000 ? " (all)" : " (the first of the training set)"
  }; ${epochs} epochs${
    full ? " (the Keras recipe)" : " (shortened; `--full` runs 60 000 images for 50 epochs)"
  }; seed ${seed}.

Recipe (Keras' variational_autoencoder.py): 784 → 512 relu → Dense(2·2) = (mean, log-variance)
→ \`gaussianSampling\` → 512 relu → 784 sigmoid; Adam(1e-3), batch ${RECIPE.batchSize}.
Loss: binary cross-entropy (mean per pixel) + ${klNote}.

${table.join("\n")}

Training: ${trainSeconds.toFixed(1)} s (${
    ((samples * epochs) / trainSeconds).toFixed(0)
  } images/s); whole run ${totalSeconds.toFixed(1)} s.

Test (${testSamples} images): reconstruction BCE ${testBce.toFixed(5)} per pixel (${
    (testBce * PIXELS).toFixed(2)
  } per image, decoding the latent means), KL ${testKl.toFixed(3)} nats per image.

![Test digits (top) and their reconstructions from the latent means (bottom)](reconstructions.png)

![Latent means of test digits, coloured by digit](latent.png)

![Digits decoded from a ${grid}×${grid} lattice of N(0, 1) quantiles (5% to 95%) over the latent plane](manifold.png)
`;
  await Deno.writeTextFile(files.report, report);
  log(`\n${table.join("\n")}\n\nReport: ${files.report} (${totalSeconds.toFixed(1)} s in all)`);

  vae.dispose();
  x.dispose();
  xTest.dispose();
  return {
    adapter: rt.info.name,
    isFallback: fallback,
    samples,
    testSamples,
    epochs,
    loss,
    epochSeconds,
    testBce,
    testKl,
    totalSeconds,
    files,
  };
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    boolean: ["full", "help"],
    string: ["samples", "test-samples", "epochs", "seed", "out", "grid", "kl-weight"],
  });
  if (args.help) {
    console.log(`usage: deno task demo:vae [options]
  --full              all 60 000 training images, 50 epochs (default on a real GPU)
  --samples N         train on the first N images (CPU default 10000)
  --epochs E          epochs (CPU default 10, recipe 50)
  --test-samples N    test images for the scatter and test losses (CPU default 2000)
  --grid G            lattice points per side of manifold.png (default 15)
  --kl-weight W       weight of the KL term (default 1/784, Keras' weighting)
  --seed S            weights and sampling noise (default 1)
  --out DIR           output folder (default out/mnist_vae)`);
    Deno.exit(0);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    await run({
      full: args.full,
      samples: num(args.samples),
      testSamples: num(args["test-samples"]),
      epochs: num(args.epochs),
      seed: num(args.seed),
      grid: num(args.grid),
      klWeight: num(args["kl-weight"]),
      out: args.out,
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(1);
  }
}
