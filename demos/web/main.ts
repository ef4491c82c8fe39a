/// <reference lib="dom" />
/**
 * The browser demo: the MNIST clustering study of `deno task demo` on the
 * page's WebGPU device, drawn while it trains. An autoencoder (DEC's dense
 * one or DCEC's convolutional one) is pretrained with its reconstructions of
 * held-out digits and the loss redrawn every epoch; k-means on its codes
 * initialises the centres; DEC (or IDEC) then fine-tunes, and at every target
 * refresh the page shows ACC/NMI/ARI, the share of changed labels, the
 * cluster gallery and a PCA view of the codes coloured by cluster.
 *
 * The recipe, the samples and the models come from `demos/study.ts`, as in
 * `demos/mnist_dec.ts`, so the final table matches the Deno script's for the
 * same subset and seed. Weights saved by `lt.io.saveWeights` load from a file
 * (picker or drop) and the pretrained autoencoder saves to one.
 *
 * URL parameters preset the form: `model`, `method`, `n`, `epochs`, `batch`,
 * `maxiter`, `interval`, `k`, `seed`, and `auto=1` to start on load. The
 * page's progress is visible to scripts as `globalThis.latentDemo` (its
 * test reads it).
 *
 * @module
 */
import * as lt from "../../src/mod.ts";
import { PALETTE, scatterImage } from "../plot.ts";
import {
  firstImages,
  pretrainOptimizer,
  studyDEC,
  type StudyModel,
  type StudyRecipe,
  studyRecipe,
} from "../study.ts";

/** One row of the results table. */
export interface StageRow {
  stage: string;
  acc: number;
  nmi: number;
  ari: number;
  seconds: number;
}

/** What the page exposes on `globalThis.latentDemo`. */
export interface DemoState {
  state:
    | "loading"
    | "ready"
    | "pretraining"
    | "clustering"
    | "done"
    | "stopped"
    | "error";
  error?: string;
  adapter?: string;
  /** Live tensors right after start-up (a finished or stopped run returns to it). */
  baselineTensors?: number;
  /** `lt.memory()` as last shown on the page. */
  memory?: lt.MemoryInfo;
  /** Pretraining epochs whose reconstructions were drawn, this run. */
  reconFrames: number;
  /** Target refreshes drawn (metrics, gallery and scatter), this run. */
  refreshes: lt.cluster.RefreshLog[];
  /** The run's settings and results, filled in as stages finish. */
  run?: {
    model: StudyModel;
    method: "dec" | "idec";
    n: number;
    epochs: number;
    loadedWeights: boolean;
    loss: number[];
    rows: StageRow[];
    /** Pretraining throughput over whole epochs after the first (samples/s). */
    samplesPerSecond: number;
    /** Wall time of pretraining, drawing included. */
    pretrainSeconds: number;
  };
}

declare global {
  var latentDemo: DemoState;
}

const demo: DemoState = { state: "loading", reconFrames: 0, refreshes: [] };
globalThis.latentDemo = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $("adapter"),
  error: $("error"),
  model: $<HTMLSelectElement>("model"),
  method: $<HTMLSelectElement>("method"),
  n: $<HTMLInputElement>("n"),
  epochs: $<HTMLInputElement>("epochs"),
  batch: $<HTMLInputElement>("batch"),
  maxiter: $<HTMLInputElement>("maxiter"),
  interval: $<HTMLInputElement>("interval"),
  k: $<HTMLInputElement>("k"),
  seed: $<HTMLInputElement>("seed"),
  train: $<HTMLButtonElement>("train"),
  stop: $<HTMLButtonElement>("stop"),
  reset: $<HTMLButtonElement>("reset"),
  save: $<HTMLButtonElement>("save"),
  weights: $<HTMLInputElement>("weights"),
  dropzone: $("dropzone"),
  bar: $("bar-fill"),
  status: $("status"),
  memory: $("memory"),
  lossCurve: $<HTMLCanvasElement>("loss-curve"),
  recon: $<HTMLCanvasElement>("recon"),
  table: $<HTMLTableElement>("table"),
  refreshTable: $<HTMLTableElement>("refreshes"),
  scatter: $<HTMLCanvasElement>("scatter"),
  scatterCaption: $("scatter-caption"),
  gallery: $("gallery"),
};

/**
 * Pretraining epochs that give digit-shaped reconstructions in a short
 * browser run: the dense autoencoder's shortened recipe, and more for DCEC's
 * convolutional one, whose reconstructions are blobs for the first ~100 Adam
 * steps and clear digits by ~400 (100 epochs of 2048 images is 800 steps).
 */
const DEFAULT_EPOCHS: Record<StudyModel, number> = { dense: 40, conv: 100 };

function setState(s: DemoState["state"]): void {
  demo.state = s;
  document.body.dataset.state = s;
  const busy = s === "pretraining" || s === "clustering";
  ui.train.disabled = busy || s === "loading";
  ui.weights.disabled = busy || s === "loading";
  ui.stop.disabled = !busy;
  ui.reset.disabled = busy || s === "loading";
  ui.save.disabled = busy || pretrained === null;
}

function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  demo.error = msg;
  ui.error.textContent = msg;
  ui.error.hidden = false;
}

/** Lets the browser paint (training otherwise keeps the main thread busy). */
function nextFrame(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => r()));
}

function showMemory(): void {
  const m = lt.memory();
  demo.memory = m;
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  ui.memory.textContent = `GPU memory (lt.memory()): ${m.tensors} live tensors, ${
    mb(m.bytes)
  } MB in them; buffer pool ${mb(m.poolBytes)} MB, peak ${mb(m.peakBytes)} MB`;
}

/** Draws an 8-bit gray, RGB or RGBA image on a canvas, magnified by `scale`. */
function draw(canvas: HTMLCanvasElement, img: lt.io.PngImage, scale = 1): void {
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  const c = img.channels;
  for (let i = 0; i < img.width * img.height; i++) {
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

/** Per-epoch losses as dots and the running loss as a line, against epochs. */
function drawLossCurve(perEpoch: number[], running: [number, number][], epochs: number): void {
  const c = ui.lossCurve, ctx = c.getContext("2d")!;
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.fillStyle = "#666";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("loss (MSE) vs epoch", 8, 14);
  const all = [...perEpoch, ...running.map((p) => p[1])].filter(Number.isFinite);
  if (all.length === 0) return;
  const lo = Math.min(...all), hi = Math.max(...all);
  const x = (e: number) => 40 + (e / Math.max(1, epochs)) * (c.width - 60);
  const y = (v: number) => c.height - 18 - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (c.height - 42);
  ctx.fillText(hi.toPrecision(3), 2, y(hi) + 4);
  ctx.fillText(lo.toPrecision(3), 2, y(lo) + 4);
  ctx.fillText(`epoch ${epochs}`, c.width - 60, c.height - 4);
  ctx.strokeStyle = "#9ccfd4";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  running.forEach(([e, v], i) => (i ? ctx.lineTo(x(e), y(v)) : ctx.moveTo(x(e), y(v))));
  ctx.stroke();
  ctx.fillStyle = "#2b6f75";
  perEpoch.forEach((v, i) => ctx.fillRect(x(i + 1) - 2.5, y(v) - 2.5, 5, 5));
  if (perEpoch.length) {
    const v = perEpoch[perEpoch.length - 1];
    ctx.fillStyle = "#222";
    ctx.fillText(v.toFixed(4), Math.min(x(perEpoch.length) + 6, c.width - 44), y(v) - 6);
  }
}

function intParam(input: HTMLInputElement, name: string): number {
  const lo = Number(input.min), hi = Number(input.max);
  const v = Number(input.value);
  if (input.value.trim() === "" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(
      `${name} must be a whole number from ${lo} to ${hi}, got "${input.value}"`,
    );
  }
  return v;
}

function choice<T extends string>(select: HTMLSelectElement, name: string, allowed: T[]): T {
  if (!allowed.includes(select.value as T)) {
    throw new RangeError(`${name} must be one of ${allowed.join(", ")}, got "${select.value}"`);
  }
  return select.value as T;
}

/** Every input, validated before any GPU work. */
function readForm() {
  return {
    model: choice<StudyModel>(ui.model, "Autoencoder", ["dense", "conv"]),
    method: choice(ui.method, "Clustering", ["dec", "idec"] as ("dec" | "idec")[]),
    n: intParam(ui.n, "Images"),
    epochs: intParam(ui.epochs, "Pretrain epochs"),
    batchSize: intParam(ui.batch, "Batch"),
    maxIter: intParam(ui.maxiter, "DEC steps"),
    updateInterval: intParam(ui.interval, "Refresh every"),
    k: intParam(ui.k, "Clusters"),
    seed: intParam(ui.seed, "Seed"),
  };
}

/** Thrown from a training hook when the user presses Stop. */
class Stopped extends Error {
  constructor() {
    super("stopped by the user");
  }
}

let mnist: lt.data.ImageDataset | null = null;
/** The last pretrained (or loaded) autoencoder, as safetensors bytes, for Save. */
let pretrained: { bytes: Uint8Array; model: StudyModel } | null = null;
let stopRequested = false;
let running: Promise<void> | null = null;

/** Cluster names are letters, so that no label can be read as a digit. */
const clusterName = (c: number) => String.fromCharCode(65 + c);

/** The last 12 test digits, as held-out images for the reconstructions. */
function reconImages(): Uint8Array {
  const t = mnist!.test, m = 12;
  return t.images.subarray((t.n - m) * 784, t.n * 784);
}

async function drawReconstructions(dec: lt.cluster.DEC, shape: number[]): Promise<void> {
  const imgs = reconImages();
  const xs = lt.data.dataset(imgs, { shape, scale: 1 / 255 });
  try {
    const r = await dec.autoencoder.predict(xs);
    const host = Float32Array.from(
      (await r.toArray()) as Float32Array,
      (v) => Math.min(1, Math.max(0, v)) * 255,
    );
    r.dispose();
    draw(
      ui.recon,
      lt.io.imageRows([imgs, Uint8Array.from(host)], {
        rows: 28,
        cols: 28,
        pad: 2,
        background: 40,
      }),
      2,
    );
    demo.reconFrames++;
  } finally {
    xs.dispose();
  }
}

function addRow(table: HTMLTableElement, cells: string[]): void {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.textContent = c;
    tr.append(td);
  }
  table.tBodies[0].append(tr);
}

/**
 * The clusters of one moment: codes, soft assignments and labels with the
 * current weights and centres, the gallery and the PCA view of the codes.
 */
async function drawClusters(
  dec: lt.cluster.DEC,
  x: lt.data.Dataset,
  images: Uint8Array,
  labels: Int32Array,
  title: string,
): Promise<void> {
  const z = await dec.embed(x);
  const pca = new lt.cluster.PCA({ nComponents: 2 });
  try {
    const q = lt.noGrad(() => lt.cluster.softAssign(z, dec.clustering!.centers, dec.alpha));
    const qv = (await q.toArray()) as Float32Array;
    q.dispose();
    const k = dec.clusters, n = labels.length;
    const pred = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (qv[i * k + j] > qv[i * k + best]) best = j;
      pred[i] = best;
    }
    const z2 = await pca.fitTransform(z);
    const points = (await z2.toArray()) as Float32Array;
    z2.dispose();
    draw(
      ui.scatter,
      scatterImage(points, pred, {
        width: 420,
        height: 360,
        radius: n > 5000 ? 1.3 : 2,
        legend: false,
      }),
    );
    ui.scatterCaption.textContent =
      `${title}: the ${
        z.shape[1]
      }-D codes of the ${n} images projected to 2-D by PCA (refitted each time), coloured by ` +
      `cluster (the colours of the gallery's rows)`;
    drawGallery(images, labels, pred, qv, k);
  } finally {
    z.dispose();
    pca.dispose();
  }
}

/** One row per cluster, in cluster order, its most confident images first. */
function drawGallery(
  images: Uint8Array,
  labels: Int32Array,
  pred: Int32Array,
  q: Float32Array,
  k: number,
): void {
  const { mapping } = lt.metrics.matchClusters(labels, pred);
  const members: number[][] = Array.from({ length: k }, () => []);
  pred.forEach((c, i) => members[c].push(i));
  const perRow = 14;
  const rows = members.map((idx, c) => {
    const row = document.createElement("div");
    row.className = "cluster";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = PALETTE[c % PALETTE.length];
    const text = document.createElement("p");
    const size = idx.length;
    const count = (d: number) => idx.reduce((s, i) => s + (labels[i] === d ? 1 : 0), 0);
    const pct = (v: number) => `${Math.round((100 * v) / size)}%`;
    let words: string;
    const counts = Array.from({ length: 10 }, (_, d) => count(d));
    const top = counts.indexOf(Math.max(...counts));
    if (size === 0) words = "empty";
    else if (mapping.has(c)) {
      // The one-to-one matching that ACC uses can give a cluster a digit it mostly lacks.
      const d = mapping.get(c)!;
      words = `matched to digit ${d}: ${pct(count(d))} of its ${size} images are ${d}s` +
        (top !== d ? `; most are ${top}s (${pct(counts[top])})` : "");
    } else {
      words = `no digit left to match (more clusters than digits): ${size} images, ` +
        `${pct(counts[top])} are ${top}s`;
    }
    text.textContent = `Cluster ${clusterName(c)} — ${words}`;
    row.append(swatch, text);
    if (size) {
      const best = [...idx].sort((a, b) => q[b * k + c] - q[a * k + c]).slice(0, perRow);
      const out = new Uint8Array(best.length * 784);
      best.forEach((i, j) => out.set(images.subarray(i * 784, (i + 1) * 784), j * 784));
      const canvas = document.createElement("canvas");
      draw(canvas, lt.io.imageRows([out], { rows: 28, cols: 28, pad: 2, background: 40 }));
      row.append(canvas);
    }
    return row;
  });
  ui.gallery.replaceChildren(...rows);
}

/**
 * Steps the runtime lets run ahead of the GPU (`Runtime.throttle`'s depth):
 * after a sync point the first this-many steps return as soon as they are
 * recorded, which is what made a per-epoch figure at step 1 read 50 000
 * samples/s. From then on a step returns when the one this far behind it
 * has finished, so differences between later steps time the GPU.
 */
const IN_FLIGHT = 3;

/**
 * Pretraining throughput: live, from a sliding window of steps that starts
 * {@link IN_FLIGHT} steps after each sync point (the epoch's loss readback);
 * per epoch, from one readback to the next. Time the page spends drawing
 * (between `pause` and `resume`) is left out.
 */
class Throughput {
  #points: [number, number][] = [];
  #afterSync = 0;
  #seen = 0;
  #lastSync = NaN;
  #paused = 0;
  #pauseStart = 0;
  #epochs: [number, number][] = [];
  constructor(readonly windowMs = 3000) {}
  #clock(): number {
    return performance.now() - this.#paused;
  }
  pause(): void {
    this.#pauseStart = performance.now();
  }
  resume(): void {
    this.#paused += performance.now() - this.#pauseStart;
  }
  /** Training starts (a sync point: nothing is queued). */
  begin(): void {
    this.#lastSync = this.#clock();
  }
  /** After each step (from `onBatchEnd`). */
  step(samples: number): void {
    this.#seen += samples;
    if (++this.#afterSync <= IN_FLIGHT) return;
    const t = this.#clock();
    this.#points.push([t, this.#seen]);
    while (this.#points.length > 2 && t - this.#points[1][0] > this.windowMs) this.#points.shift();
  }
  /** At an epoch's end, once its loss was read back: the GPU has finished every step. */
  sync(samples: number): void {
    const t = this.#clock();
    this.#epochs.push([samples, t - this.#lastSync]);
    this.#lastSync = t;
    this.#afterSync = 0;
    this.#points = [];
  }
  /** The live rate, or the last epoch's before the window has two points; NaN at first. */
  get rate(): number {
    const p = this.#points;
    if (p.length >= 2 && p[p.length - 1][0] > p[0][0]) {
      return ((p[p.length - 1][1] - p[0][1]) * 1000) / (p[p.length - 1][0] - p[0][0]);
    }
    const last = this.#epochs.at(-1);
    return last ? (last[0] * 1000) / last[1] : NaN;
  }
  /** Over whole epochs, leaving out the first (pipeline compiles) when there are more. */
  get overall(): number {
    const e = this.#epochs.length > 1 ? this.#epochs.slice(1) : this.#epochs;
    const samples = e.reduce((a, b) => a + b[0], 0), ms = e.reduce((a, b) => a + b[1], 0);
    return ms > 0 ? (samples * 1000) / ms : NaN;
  }
}

async function run(weights: Uint8Array | null): Promise<void> {
  ui.error.hidden = true;
  demo.error = undefined;
  const f = readForm();
  const { images, labels } = firstImages(mnist!, f.n);
  if (f.n < f.k) throw new RangeError(`Images (${f.n}) must be at least Clusters (${f.k})`);
  const recipe = studyRecipe(false, {
    pretrainEpochs: f.model === "conv" ? undefined : f.epochs,
    convPretrainEpochs: f.model === "conv" ? f.epochs : undefined,
    maxIter: f.maxIter,
    updateInterval: f.updateInterval,
    batchSize: f.batchSize,
  });
  stopRequested = false;
  demo.reconFrames = 0;
  demo.refreshes = [];
  clearResults();
  const shape = f.model === "conv" ? [28, 28, 1] : [784];
  const r: NonNullable<DemoState["run"]> = {
    model: f.model,
    method: f.method,
    n: f.n,
    epochs: weights ? 0 : f.epochs,
    loadedWeights: weights !== null,
    loss: [],
    rows: [],
    samplesPerSecond: NaN,
    pretrainSeconds: NaN,
  };
  demo.run = r;
  const score = (stage: string, pred: ArrayLike<number>, t0: number) => {
    const row: StageRow = {
      stage,
      acc: lt.metrics.acc(labels, pred),
      nmi: lt.metrics.nmi(labels, pred),
      ari: lt.metrics.ari(labels, pred),
      seconds: (performance.now() - t0) / 1000,
    };
    r.rows.push(row);
    addRow(ui.table, [
      stage,
      row.acc.toFixed(4),
      row.nmi.toFixed(4),
      row.ari.toFixed(4),
      `${row.seconds.toFixed(1)} s`,
    ]);
  };
  const x = lt.data.dataset(images, { shape, scale: 1 / 255 });
  let dec: lt.cluster.DEC | null = null;
  let optimizer: lt.optim.Optimizer | null = null;
  try {
    dec = studyDEC(f.model, { clusters: f.k, seed: f.seed, variant: f.method });
    let t0 = performance.now();
    if (weights) {
      setState("clustering");
      lt.io.loadWeights(dec.autoencoder, weights); // the library's error names what differs
      const ctx = ui.lossCurve.getContext("2d")!;
      ctx.fillStyle = "#666";
      ctx.font = "13px system-ui, sans-serif";
      ctx.fillText("No pretraining: the weights came from a file.", 12, 70);
      ui.status.textContent = `Loaded ${weights.byteLength} bytes of weights into the ${
        f.model === "conv" ? "convolutional" : "dense"
      } autoencoder; pretraining skipped.`;
      await drawReconstructions(dec, shape);
    } else {
      setState("pretraining");
      await pretrain(dec, x, f, recipe, r, shape);
    }
    pretrained = { bytes: await lt.io.saveWeights(dec.autoencoder), model: f.model };
    showMemory();

    ui.status.textContent = `k-means on the codes (${recipe.kmeansInit} restarts)…`;
    setState("clustering");
    await nextFrame();
    const km = await dec.initialize(x, { nInit: recipe.kmeansInit });
    score(`${f.model === "conv" ? "conv AE" : "autoencoder"} + k-means`, km.labels, t0);
    if (stopRequested) throw new Stopped();

    t0 = performance.now();
    // DCEC fine-tunes with Adam(1e-3); DEC and IDEC with the library's SGD(0.01, 0.9).
    optimizer = f.model === "conv" ? lt.optim.adam(1e-3) : null;
    const method = f.method === "idec" ? "IDEC" : "DEC";
    // The names deno task demo prints: its conv-DEC is DCEC, which keeps the decoder.
    const stage = f.model === "dense"
      ? method
      : f.method === "idec"
      ? "conv-DEC"
      : "conv-DEC (encoder only)";
    const fit = await dec.fit(x, {
      y: labels,
      maxIter: recipe.maxIter,
      updateInterval: recipe.updateInterval,
      tol: recipe.tol,
      batchSize: recipe.batchSize,
      optimizer: optimizer ?? undefined,
      onRefresh: async (e) => {
        if (stopRequested) throw new Stopped();
        demo.refreshes.push(e);
        addRow(ui.refreshTable, [
          String(e.iteration),
          e.acc!.toFixed(4),
          e.nmi!.toFixed(4),
          e.ari!.toFixed(4),
          `${(100 * e.delta).toFixed(2)}%`,
        ]);
        ui.refreshTable.parentElement!.scrollTop = ui.refreshTable.scrollHeight;
        ui.bar.style.width = `${(100 * e.iteration) / recipe.maxIter}%`;
        ui.status.textContent = `${stage} step ${e.iteration}/${recipe.maxIter}: ` +
          `ACC ${e.acc!.toFixed(4)} · NMI ${e.nmi!.toFixed(4)} · ${
            (100 * e.delta).toFixed(2)
          }% of the images changed cluster since the last refresh`;
        await drawClusters(dec!, x, images, labels, `${stage} step ${e.iteration}`);
        showMemory();
        await nextFrame();
        if (stopRequested) throw new Stopped();
      },
    });
    score(`${stage} (${fit.iterations} steps)`, fit.labels, t0);
    await drawClusters(dec, x, images, labels, `${stage} after ${fit.iterations} steps`);
    if (f.method === "idec" || f.model === "conv") await drawReconstructions(dec, shape);
    ui.bar.style.width = "100%";
    const last = r.rows.at(-1)!;
    ui.status.textContent = `Done: ${last.stage}, ACC ${last.acc.toFixed(4)} · NMI ${
      last.nmi.toFixed(4)
    } · ARI ${last.ari.toFixed(4)} (${
      fit.stopped === "tol" ? "converged: few labels changed" : "step limit reached"
    }).`;
    setState("done");
  } catch (e) {
    if (e instanceof Stopped) {
      ui.status.textContent =
        `Stopped (${demo.state === "pretraining" ? "pretraining" : "clustering"}); ` +
        "GPU memory freed.";
      setState("stopped");
    } else throw e;
  } finally {
    optimizer?.dispose();
    dec?.dispose();
    x.dispose();
    showMemory();
  }
}

async function pretrain(
  dec: lt.cluster.DEC,
  x: lt.data.Dataset,
  f: ReturnType<typeof readForm>,
  recipe: StudyRecipe,
  r: NonNullable<DemoState["run"]>,
  shape: number[],
): Promise<void> {
  const epochs = f.model === "conv" ? recipe.convPretrainEpochs : recipe.pretrainEpochs;
  const speed = new Throughput();
  const t0 = performance.now();
  const runningLoss: [number, number][] = [];
  let steps = 1, epochNow = 0, lastPaint = 0;
  drawLossCurve([], [], epochs);
  const show = (epoch: number, done: number, loss: number) => {
    const sps = speed.rate;
    ui.bar.style.width = `${(100 * (epoch + done / steps)) / epochs}%`;
    ui.status.textContent = `pretraining: epoch ${epoch + 1}/${epochs} · step ${done}/${steps} · ` +
      `loss ${Number.isFinite(loss) ? loss.toFixed(4) : "…"} · ${
        Number.isFinite(sps) ? `${sps.toFixed(0)} samples/s` : "measuring samples/s…"
      }`;
  };
  const live = lt.callbacks.lambda({
    setParams: (p) => void (steps = p.steps),
    onEpochBegin: (e) => void (epochNow = e),
    onBatchEnd: async (step, logs) => {
      if (stopRequested) throw new Stopped();
      speed.step(Math.min(f.batchSize, f.n - step * f.batchSize));
      const now = performance.now();
      if (Number.isFinite(logs.loss)) {
        const at = epochNow + (step + 1) / steps;
        if (runningLoss.at(-1)?.[0] !== at) runningLoss.push([at, logs.loss]);
      }
      if (now - lastPaint < 250) return;
      lastPaint = now;
      // Not left out of the timing: the GPU keeps working on queued steps meanwhile.
      show(epochNow, step + 1, logs.loss);
      drawLossCurve(r.loss, runningLoss, epochs);
      await nextFrame();
    },
    onEpochEnd: async (e, logs) => {
      speed.sync(f.n);
      speed.pause();
      r.loss.push(logs.loss);
      show(e, steps, logs.loss);
      drawLossCurve(r.loss, runningLoss, epochs);
      await drawReconstructions(dec, shape);
      showMemory();
      await nextFrame();
      speed.resume();
      if (stopRequested) throw new Stopped();
    },
  });
  speed.begin();
  await dec.pretrain(x, {
    epochs,
    batchSize: recipe.batchSize,
    optimizer: pretrainOptimizer(f.model, recipe),
    callbacks: [live],
  });
  r.samplesPerSecond = speed.overall;
  r.pretrainSeconds = (performance.now() - t0) / 1000;
}

function clearResults(): void {
  for (const t of [ui.table, ui.refreshTable]) t.tBodies[0].replaceChildren();
  ui.gallery.replaceChildren();
  for (const c of [ui.recon, ui.scatter]) {
    c.getContext("2d")!.clearRect(0, 0, c.width, c.height);
  }
  ui.lossCurve.getContext("2d")!.clearRect(0, 0, ui.lossCurve.width, ui.lossCurve.height);
  ui.bar.style.width = "0%";
}

/** Starts a run unless one is going; errors land in the page, not only the console. */
function start(weights: Uint8Array | null): void {
  if (running) return;
  running = run(weights)
    .catch((e) => {
      showError(e);
      ui.status.textContent = "Stopped by an error (see above).";
      setState("error");
    })
    .finally(() => {
      running = null;
      ui.save.disabled = pretrained === null || demo.state === "pretraining";
    });
}

async function loadFile(file: File): Promise<void> {
  if (running) return;
  ui.error.hidden = true;
  demo.error = undefined;
  ui.status.textContent = `Reading ${file.name}…`;
  setState("clustering");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    showError(e);
    setState("error");
    return;
  }
  start(bytes);
}

function save(): void {
  if (!pretrained) return;
  const blob = new Blob([pretrained.bytes as Uint8Array<ArrayBuffer>], {
    type: "application/octet-stream",
  });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `latent_${pretrained.model}_autoencoder.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function reset(): Promise<void> {
  stopRequested = true;
  await running;
  pretrained = null;
  clearResults();
  demo.reconFrames = 0;
  demo.refreshes = [];
  demo.run = undefined;
  ui.error.hidden = true;
  lt.runtime().trim();
  showMemory();
  ui.status.textContent = "Reset. Pick a model and press Train.";
  setState("ready");
}

function presetFromUrl(): boolean {
  const q = new URLSearchParams(location.search);
  const set = (el: HTMLInputElement | HTMLSelectElement, key: string) => {
    const v = q.get(key);
    if (v !== null) el.value = v;
  };
  set(ui.model, "model");
  if (ui.model.value === "conv") ui.method.value = "idec";
  if (ui.model.value in DEFAULT_EPOCHS) {
    ui.epochs.value = String(DEFAULT_EPOCHS[ui.model.value as StudyModel]);
  }
  for (const k of ["method", "n", "epochs", "batch", "maxiter", "interval", "k", "seed"]) {
    set((ui as unknown as Record<string, HTMLInputElement>)[k], k);
  }
  return q.get("auto") === "1";
}

async function main(): Promise<void> {
  const auto = presetFromUrl();
  let rt: lt.Runtime;
  try {
    rt = await lt.init();
  } catch (e) {
    ui.adapter.textContent = "No WebGPU.";
    showError(e); // lt's message says which browsers and flags give WebGPU
    setState("error");
    ui.train.disabled = true;
    return;
  }
  demo.adapter = rt.info.name + (rt.info.isFallback ? " (fallback, software)" : "");
  ui.adapter.textContent = `WebGPU adapter: ${demo.adapter}`;
  const t0 = performance.now();
  mnist = await lt.data.mnistFromUrl("mnist/");
  ui.n.max = String(mnist.train.n + mnist.test.n);
  demo.baselineTensors = lt.memory().tensors;
  // Twice a second, so readbacks still in flight when a run stops are seen to finish.
  setInterval(showMemory, 500);
  ui.status.textContent = `MNIST loaded (${mnist.train.n} training + ${mnist.test.n} test images, ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s; the study uses the first N of train then test). Pick a model and press Train.`;
  setState("ready");
  ui.model.addEventListener("change", () => {
    const m = ui.model.value as StudyModel;
    if (m in DEFAULT_EPOCHS) ui.epochs.value = String(DEFAULT_EPOCHS[m]);
    // DCEC keeps the decoder while clustering (deno task demo's conv-DEC).
    ui.method.value = m === "conv" ? "idec" : "dec";
  });
  ui.train.addEventListener("click", () => start(null));
  ui.stop.addEventListener("click", () => {
    stopRequested = true;
    ui.status.textContent = demo.state === "clustering"
      ? "Stopping at the next target refresh…"
      : "Stopping after the current step…";
  });
  ui.reset.addEventListener("click", () => void reset());
  ui.save.addEventListener("click", save);
  ui.weights.addEventListener("change", () => {
    const file = ui.weights.files?.[0];
    ui.weights.value = "";
    if (file) void loadFile(file);
  });
  ui.dropzone.addEventListener("dragover", (e) => {
    e.preventDefault();
    ui.dropzone.classList.add("over");
  });
  ui.dropzone.addEventListener("dragleave", () => ui.dropzone.classList.remove("over"));
  ui.dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    ui.dropzone.classList.remove("over");
    const file = e.dataTransfer?.files[0];
    if (file) void loadFile(file);
  });
  if (auto) start(null);
}

main().catch((e) => {
  showError(e);
  setState("error");
});
