/// <reference lib="dom" />
/**
 * The browser demo: trains an MNIST autoencoder with latent on the page's
 * WebGPU device, then shows reconstructions, a 2-D map of the codes and a
 * k-means cluster gallery with ACC/NMI. Bundled and served by
 * `demos/serve.ts`, which also serves the MNIST files below `mnist/`.
 *
 * URL parameters preset the form: `model` (dense | conv), `n`, `epochs`,
 * `batch`, `k`, and `auto=1` to start training on load. The page's progress
 * is visible to scripts as `globalThis.latentDemo` (the demo's test reads it).
 *
 * @module
 */
import * as lt from "../../src/mod.ts";
import { scatterImage } from "../plot.ts";

/** What the page exposes on `globalThis.latentDemo`. */
export interface DemoState {
  state: "loading" | "ready" | "training" | "evaluating" | "done" | "error";
  error?: string;
  adapter?: string;
  /** Filled in when `state` is "done". */
  results?: {
    model: string;
    n: number;
    epochs: number;
    loss: number[];
    acc: number;
    nmi: number;
    ari: number;
    trainSeconds: number;
    samplesPerSecond: number;
  };
}

declare global {
  var latentDemo: DemoState;
}

const demo: DemoState = { state: "loading" };
globalThis.latentDemo = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $("adapter"),
  error: $("error"),
  model: $<HTMLSelectElement>("model"),
  n: $<HTMLInputElement>("n"),
  epochs: $<HTMLInputElement>("epochs"),
  batch: $<HTMLInputElement>("batch"),
  k: $<HTMLInputElement>("k"),
  train: $<HTMLButtonElement>("train"),
  bar: $("bar-fill"),
  status: $("status"),
  lossCurve: $<HTMLCanvasElement>("loss-curve"),
  recon: $<HTMLCanvasElement>("recon"),
  scatter: $<HTMLCanvasElement>("scatter"),
  clusters: $<HTMLCanvasElement>("clusters"),
  clusterList: $<HTMLOListElement>("cluster-list"),
  metrics: $("metrics"),
};

function setState(s: DemoState["state"]): void {
  demo.state = s;
  document.body.dataset.state = s;
}

function fail(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  demo.error = msg;
  setState("error");
  ui.error.textContent = msg;
  ui.error.hidden = false;
  ui.status.textContent = "Stopped.";
  console.error(e);
}

/** Lets the browser paint (training otherwise keeps the main thread busy). */
function nextFrame(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => r()));
}

/** Draws an 8-bit gray, RGB or RGBA image on a canvas, magnified by `scale`. */
function draw(canvas: HTMLCanvasElement, img: lt.io.PngImage, scale = 1): void {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    const c = img.channels;
    const g = img.data[i * c];
    rgba[i * 4] = c >= 3 ? img.data[i * c] : g;
    rgba[i * 4 + 1] = c >= 3 ? img.data[i * c + 1] : g;
    rgba[i * 4 + 2] = c >= 3 ? img.data[i * c + 2] : g;
    rgba[i * 4 + 3] = c === 4 ? img.data[i * 4 + 3] : c === 2 ? img.data[i * 2 + 1] : 255;
  }
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.style.width = `${img.width * scale}px`;
  canvas.getContext("2d")!.putImageData(new ImageData(rgba, img.width, img.height), 0, 0);
}

function drawLossCurve(losses: number[], epochs: number): void {
  const c = ui.lossCurve, ctx = c.getContext("2d")!;
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.fillStyle = "#666";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("loss per epoch", 8, 14);
  if (losses.length === 0) return;
  const lo = Math.min(...losses), hi = Math.max(...losses);
  const x = (i: number) => 30 + (i / Math.max(1, epochs - 1)) * (c.width - 45);
  const y = (v: number) => c.height - 14 - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (c.height - 36);
  ctx.strokeStyle = "#429ea6";
  ctx.fillStyle = "#429ea6";
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
  for (let i = 0; i < losses.length; i++) ctx.fillRect(x(i) - 2, y(losses[i]) - 2, 4, 4);
  ctx.fillStyle = "#222";
  ctx.fillText(
    losses[losses.length - 1].toFixed(4),
    Math.min(x(losses.length - 1) + 6, c.width - 40),
    y(losses[losses.length - 1]) - 6,
  );
}

interface Built {
  autoencoder: lt.nn.Model;
  encoder: lt.nn.Model;
  shape: number[];
  loss: "binary_crossentropy";
}

/** The two models of the tutorials, each with an encoder sharing its weights. */
function build(kind: string): Built {
  if (kind === "conv") {
    // Keras' classic convolutional autoencoder: 28x28x1 → 4x4x8 code → 28x28x1.
    const x = lt.nn.input([28, 28, 1]);
    const conv = (
      filters: number,
      o: { padding?: "same" | "valid"; activation?: "relu" | "sigmoid" } = {},
    ) =>
      lt.nn.conv2d(filters, 3, {
        padding: o.padding ?? "same",
        activation: o.activation ?? "relu",
      });
    let h = conv(16).apply(x);
    h = lt.nn.maxPooling2d(2, { padding: "same" }).apply(h);
    h = conv(8).apply(h);
    h = lt.nn.maxPooling2d(2, { padding: "same" }).apply(h);
    h = conv(8).apply(h);
    const code = lt.nn.maxPooling2d(2, { padding: "same" }).apply(h); // 4x4x8
    h = conv(8).apply(code);
    h = lt.nn.upSampling2d(2).apply(h); // 8x8
    h = conv(8).apply(h);
    h = lt.nn.upSampling2d(2).apply(h); // 16x16
    h = conv(16, { padding: "valid" }).apply(h); // 14x14
    h = lt.nn.upSampling2d(2).apply(h); // 28x28
    const out = conv(1, { activation: "sigmoid" }).apply(h);
    return {
      autoencoder: lt.nn.model(x, out, "conv_autoencoder"),
      encoder: lt.nn.model(x, lt.nn.flatten().apply(code), "conv_encoder"),
      shape: [28, 28, 1],
      loss: "binary_crossentropy",
    };
  }
  const x = lt.nn.input([784]);
  const h1 = lt.nn.dense(128, "relu").apply(x);
  const code = lt.nn.dense(32, "relu").apply(h1);
  const h2 = lt.nn.dense(128, "relu").apply(code);
  const out = lt.nn.dense(784, "sigmoid").apply(h2);
  return {
    autoencoder: lt.nn.model(x, out, "deep_autoencoder"),
    encoder: lt.nn.model(x, code, "encoder"),
    shape: [784],
    loss: "binary_crossentropy",
  };
}

function intParam(input: HTMLInputElement, lo: number, hi: number): number {
  const v = Math.round(Number(input.value));
  if (!Number.isFinite(v) || v < lo || v > hi) {
    throw new RangeError(`${input.id} must be an integer in [${lo}, ${hi}], got "${input.value}"`);
  }
  return v;
}

let mnist: lt.data.ImageDataset | null = null;

async function train(): Promise<void> {
  ui.train.disabled = true;
  ui.error.hidden = true;
  const kind = ui.model.value;
  const n = intParam(ui.n, 100, mnist!.train.n);
  const epochs = intParam(ui.epochs, 1, 1000);
  const batchSize = intParam(ui.batch, 1, 4096);
  const k = intParam(ui.k, 2, 20);
  setState("training");
  const disposables: { dispose(): void }[] = [];
  try {
    lt.nn.setSeed(1);
    const { autoencoder, encoder, shape, loss } = build(kind);
    disposables.push(autoencoder);
    autoencoder.compile({ optimizer: lt.optim.adam(1e-3), loss });
    const images = mnist!.train.images.subarray(0, n * 784);
    const labels = mnist!.train.labels.subarray(0, n);
    const x = lt.data.dataset(images, { shape, scale: 1 / 255 });
    disposables.push(x);

    const losses: number[] = [];
    drawLossCurve(losses, epochs);
    let epochStart = 0, lastPaint = 0, steps = 1;
    const t0 = performance.now();
    const show = (epoch: number, done: number, running: number) => {
      const el = (performance.now() - epochStart) / 1000;
      const sps = Math.min(done * batchSize, n) / Math.max(el, 1e-9);
      ui.bar.style.width = `${(100 * (epoch + done / steps)) / epochs}%`;
      ui.status.textContent = `epoch ${epoch + 1}/${epochs} · step ${done}/${steps} · loss ${
        Number.isNaN(running) ? "…" : running.toFixed(4)
      } · ${sps.toFixed(0)} samples/s`;
    };
    let epochNow = 0;
    const progress = lt.callbacks.lambda({
      setParams: (p) => void (steps = p.steps),
      onEpochBegin: (e) => {
        epochNow = e;
        epochStart = performance.now();
      },
      onBatchEnd: async (step, logs) => {
        const now = performance.now();
        if (now - lastPaint < 250) return;
        lastPaint = now;
        show(epochNow, step + 1, logs.loss);
        await nextFrame();
      },
      onEpochEnd: async (e, logs) => {
        losses.push(logs.loss);
        show(e, steps, logs.loss);
        drawLossCurve(losses, epochs);
        await nextFrame();
      },
    });
    const history = await autoencoder.fit(x, x, {
      epochs,
      batchSize,
      seed: 1,
      callbacks: [progress],
      logInterval: 250,
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    const samplesPerSecond = (n * history.epoch.length) / trainSeconds;

    setState("evaluating");
    const trained = `trained ${epochs} epochs on ${n} images in ${trainSeconds.toFixed(1)} s ` +
      `(${samplesPerSecond.toFixed(0)} samples/s)`;
    let stageStart = performance.now(), stageName = "";
    /** Shows which step runs, and logs how long the previous one took. */
    const stage = async (name: string) => {
      if (stageName) {
        console.info(
          `latent demo: ${stageName} took ${(performance.now() - stageStart).toFixed(0)} ms`,
        );
      }
      stageName = name;
      stageStart = performance.now();
      ui.status.textContent = `${trained} · ${name}…`;
      await nextFrame();
    };
    await stage("reconstructing test images");

    // Reconstructions of 12 held-out test images.
    const m = 12;
    const testImgs = mnist!.test.images.subarray(0, m * 784);
    const xTest = lt.data.dataset(testImgs, { shape, scale: 1 / 255 });
    disposables.push(xTest);
    const recon = await autoencoder.predict(xTest);
    const reconHost = (await recon.toArray()) as Float32Array;
    recon.dispose();
    draw(
      ui.recon,
      lt.io.imageRows([testImgs, reconHost], { rows: 28, cols: 28, pad: 2, background: 40 }),
      2,
    );

    // Codes of the training images: PCA to 2-D for the map, k-means for the clusters.
    await stage("encoding");
    const codes = lt.keep(await encoder.predict(x));
    disposables.push(codes);
    const pca = new lt.cluster.PCA({ nComponents: 2 });
    disposables.push(pca);
    await stage("PCA");
    await pca.fit(codes);
    const z = pca.transform(codes);
    const zHost = (await z.toArray()) as Float32Array;
    z.dispose();
    draw(
      ui.scatter,
      scatterImage(zHost, labels, {
        width: 520,
        height: 400,
        title: `${kind === "conv" ? "Conv" : "Deep"} AE codes (${codes.shape[1]}-D), PCA`,
        radius: n > 5000 ? 1.4 : 2,
      }),
    );

    const km = new lt.cluster.KMeans({ k, nInit: 4, seed: 1 });
    disposables.push(km);
    await stage(`k-means (k = ${k})`);
    const { labels: pred } = await km.fit(codes);
    const acc = lt.metrics.acc(labels, pred);
    const nmi = lt.metrics.nmi(labels, pred);
    const ari = lt.metrics.ari(labels, pred);
    ui.metrics.textContent = `ACC ${acc.toFixed(3)} · NMI ${nmi.toFixed(3)} · ARI ${
      ari.toFixed(3)
    }`;
    drawGallery(images, labels, pred, k);
    await stage("done");

    demo.results = {
      model: kind,
      n,
      epochs: history.epoch.length,
      loss: history.history.loss,
      acc,
      nmi,
      ari,
      trainSeconds,
      samplesPerSecond,
    };
    ui.bar.style.width = "100%";
    ui.status.textContent =
      `done: ${epochs} epochs on ${n} images in ${trainSeconds.toFixed(1)} s ` +
      `(${samplesPerSecond.toFixed(0)} samples/s), final loss ${
        history.history.loss.at(-1)!.toFixed(4)
      }` +
      ` · ACC ${acc.toFixed(3)} · NMI ${nmi.toFixed(3)}`;
    setState("done");
  } finally {
    for (const d of disposables) d.dispose();
    ui.train.disabled = false;
  }
}

/** One row of up to 12 images per cluster, ordered by the digit each cluster is matched to. */
function drawGallery(images: Uint8Array, labels: Uint8Array, pred: Int32Array, k: number): void {
  const { mapping } = lt.metrics.matchClusters(labels, pred);
  const members: number[][] = Array.from({ length: k }, () => []);
  pred.forEach((c, i) => members[c].push(i));
  const order = [...members.keys()].sort((a, b) =>
    (mapping.get(a) ?? 99) - (mapping.get(b) ?? 99) || a - b
  );
  const perRow = 12;
  const rows = order.map((c) => {
    const idx = members[c].slice(0, perRow);
    const out = new Uint8Array(idx.length * 784);
    idx.forEach((i, j) => out.set(images.subarray(i * 784, (i + 1) * 784), j * 784));
    return out;
  });
  const pad = 2;
  draw(
    ui.clusters,
    lt.io.imageRows(rows, { rows: 28, cols: 28, pad, background: 40, labels: order }),
  );
  ui.clusterList.replaceChildren(...order.map((c) => {
    const li = document.createElement("li");
    li.value = c;
    const size = members[c].length;
    const counts = new Map<number, number>();
    for (const i of members[c]) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
    const [top, cnt] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [NaN, 0];
    li.textContent = size === 0
      ? "empty"
      : `${size} images · mostly ${top} (${((100 * cnt) / size).toFixed(0)}%)` +
        (mapping.has(c) ? ` · matched to ${mapping.get(c)}` : "");
    li.style.height = `${28 + pad}px`;
    return li;
  }));
  ui.clusterList.style.paddingTop = `${pad}px`;
}

function presetFromUrl(): boolean {
  const q = new URLSearchParams(location.search);
  const set = (el: HTMLInputElement | HTMLSelectElement, key: string) => {
    const v = q.get(key);
    if (v !== null) el.value = v;
  };
  set(ui.model, "model");
  set(ui.n, "n");
  set(ui.epochs, "epochs");
  set(ui.batch, "batch");
  set(ui.k, "k");
  return q.get("auto") === "1";
}

async function main(): Promise<void> {
  const auto = presetFromUrl();
  let rt: lt.Runtime;
  try {
    rt = await lt.init();
  } catch (e) {
    ui.adapter.textContent = "No WebGPU.";
    fail(e); // lt's message says which browsers and flags give WebGPU
    return;
  }
  demo.adapter = rt.info.name + (rt.info.isFallback ? " (fallback, software)" : "");
  ui.adapter.textContent = `WebGPU adapter: ${demo.adapter}`;
  const t0 = performance.now();
  mnist = await lt.data.mnistFromUrl("mnist/");
  ui.n.max = String(mnist.train.n);
  ui.status.textContent = `MNIST loaded (${mnist.train.n} training + ${mnist.test.n} test images, ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s). Pick a model and press Train.`;
  setState("ready");
  ui.train.disabled = false;
  ui.train.addEventListener("click", () => void train().catch(fail));
  if (auto) await train();
}

main().catch(fail);
