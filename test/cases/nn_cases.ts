/**
 * Layers, models and training at the model level, on synthetic data (these
 * run in Deno and Chromium; MNIST cases live in test/nn_mnist_test.ts).
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { assertFitMemoryFlat } from "../fit_memory.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** Images of `k` class prototypes (random binary patterns) with pixel noise, values in [0, 1]. */
function patterns(rng: Rng, n: number, d: number, k: number): { x: Float32Array; y: Int32Array } {
  const protos = Array.from(
    { length: k },
    () => Float32Array.from({ length: d }, () => (rng.next() < 0.3 ? 1 : 0)),
  );
  const x = new Float32Array(n * d), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = Math.min(1, Math.max(0, protos[y[i]][j] + 0.15 * rng.normal()));
    }
  }
  return { x, y };
}

test("summary prints layers, output shapes and parameter counts", async () => {
  await lt.init();
  lt.nn.setSeed(1);
  const ae = lt.nn.sequential([lt.nn.dense(32, "relu"), lt.nn.dense(784, "sigmoid")], {
    inputShape: [784],
    name: "shallow",
  });
  const lines: string[] = [];
  const text = ae.summary((l) => lines.push(l));
  assert(text.includes('Model: "shallow"'), text);
  assert(/\(Dense\)\s+\(None, 32\)\s+25,120/.test(text), text);
  assert(/\(Dense\)\s+\(None, 784\)\s+25,872/.test(text), text);
  assert(text.includes("Total params: 50,992"), text);
  assertEquals(ae.countParams(), 784 * 32 + 32 + 32 * 784 + 784);
  ae.dispose();
});

test("dense rejects a mismatched input naming the layer and shapes", async () => {
  await lt.init();
  const d = lt.nn.dense(10);
  const m = lt.nn.sequential([d], { inputShape: [784] });
  const x = lt.zeros([32, 783]);
  assertThrows(() => d.apply(x), "dense(units=10): expected input [*, 784], got [*, 783]");
  assertThrows(() => lt.nn.dense(0), "dense: units must be a positive integer, got 0");
  assertThrows(() => lt.nn.dense(3, "mish" as lt.ActivationName), /unknown activation "mish"/);
  await assertRejects(() => m.fit(x, x), /fit\(sequential.*\): call compile/);
  assertThrows(
    () => m.compile({ optimizer: "adam", loss: "hinge" as lt.nn.LossName }),
    /unknown loss "hinge"/,
  );
  x.dispose();
  m.dispose();
});

test("deep autoencoder's loss falls (784-128-32-128-784 shape family, BCE, Adam)", async () => {
  await lt.init();
  lt.nn.setSeed(2);
  const rng = freshRng();
  const d = 64;
  const { x } = patterns(rng, 256, d, 4);
  const ae = lt.nn.sequential([
    lt.nn.dense(32, "relu"),
    lt.nn.dense(8, "relu"),
    lt.nn.dense(32, "relu"),
    lt.nn.dense(d, "sigmoid"),
  ], { inputShape: [d] });
  ae.compile({ optimizer: lt.optim.adam(0.01), loss: "binary_crossentropy" });
  const data = lt.data.dataset(x, { shape: [d] });
  const h = await ae.fit(data, data, { epochs: 6, batchSize: 32, seed: 1 });
  const loss = h.history.loss;
  assertEquals(loss.length, 6);
  assert(
    loss[5] < 0.7 * loss[0],
    `loss ${loss.map((v) => v.toFixed(3)).join(" → ")} (seed ${rng.seed})`,
  );
  data.dispose();
  ae.dispose();
});

test("training the autoencoder changes the encoder sub-model's output (shared weights)", async () => {
  await lt.init();
  lt.nn.setSeed(3);
  const rng = freshRng();
  const d = 32;
  const { x } = patterns(rng, 64, d, 4);
  const input = lt.nn.input([d]);
  const code = lt.nn.dense(4, "relu").apply(input);
  const out = lt.nn.dense(d, "sigmoid").apply(code);
  const ae = lt.nn.model(input, out, "ae");
  const encoder = lt.nn.model(input, code, "encoder");
  assertEquals(encoder.countParams(), d * 4 + 4);
  const before = await (await encoder.predict(x)).toArray();
  ae.compile({ optimizer: lt.optim.adam(0.01), loss: "mse" });
  await ae.fit(x, x, { epochs: 2, batchSize: 16 });
  const afterT = await encoder.predict(x);
  const after = await afterT.toArray();
  afterT.dispose();
  let diff = 0;
  for (let i = 0; i < before.length; i++) diff += Math.abs(before[i] - after[i]);
  assert(diff > 1e-3, `encoder output unchanged (Σ|Δ| = ${diff})`);
  // The decoder's own layer is reachable by name and shares its kernel with the model.
  assert(ae.getLayer(ae.layers[1].name) === ae.layers[1]);
  ae.dispose();
});

test("a Dense(600, relu) → Dense(10, softmax) classifier learns with SGD and categorical cross-entropy", async () => {
  await lt.init();
  lt.nn.setSeed(4);
  const rng = freshRng();
  const d = 49;
  const { x, y } = patterns(rng, 300, d, 10);
  const clf = lt.nn.sequential([lt.nn.dense(600, "relu"), lt.nn.dense(10, "softmax")], {
    inputShape: [d],
  });
  clf.compile({
    optimizer: lt.optim.sgd(0.1),
    loss: "categorical_crossentropy",
    metrics: ["accuracy"],
  });
  const h = await clf.fit(x, y, { epochs: 8, batchSize: 20, seed: 2 });
  const acc = h.history.accuracy;
  assert(
    acc[acc.length - 1] >= 0.95,
    `accuracy ${acc.map((v) => v.toFixed(2)).join(" → ")} (seed ${rng.seed})`,
  );
  const ev = await clf.evaluate(x, y);
  assert(ev.accuracy >= 0.95 && ev.loss < h.history.loss[0], JSON.stringify(ev));
  clf.dispose();
});

test("evaluate's loss is the loss over all samples, with a built-in loss (added in its pass) or a function", async () => {
  // evaluate adds each batch's mean loss times its size into a total: in the
  // built-in loss's own reduction, or by a mul and an add for a function.
  await lt.init();
  lt.nn.setSeed(6);
  const rng = freshRng();
  const n = 50, d = 7; // batches of 16, 16, 16 and 2
  const x = rng.uniform(n * d), y = rng.uniform(n * 3);
  for (const loss of ["mse", (p: lt.Tensor, t: lt.Tensor) => lt.meanSquaredError(p, t)] as const) {
    const m = lt.nn.sequential([lt.nn.dense(5, "tanh"), lt.nn.dense(3)], { inputShape: [d] });
    m.compile({ optimizer: lt.optim.sgd(0.1), loss });
    const ev = await m.evaluate(x, y, { batchSize: 16 });
    const pred = await m.predict(x);
    const target = lt.tensor(y, [n, 3]);
    const all = lt.meanSquaredError(pred, target);
    assertClose([ev.loss], [await all.item()], {
      rtol: 1e-5,
      label: `${typeof loss === "string" ? loss : "function"} seed ${rng.seed}`,
    });
    for (const t of [pred, target, all]) t.dispose();
    m.dispose();
  }
});

test("a denoising autoencoder trains on noisy inputs against clean targets", async () => {
  await lt.init();
  lt.nn.setSeed(5);
  const rng = freshRng();
  const d = 36;
  const { x } = patterns(rng, 128, d, 3);
  const clean = lt.data.dataset(x, { shape: [d] });
  const noisy = clean.withNoise({ std: 0.5, clip: [0, 1], seed: 3 });
  const ae = lt.nn.sequential([lt.nn.dense(16, "relu"), lt.nn.dense(d, "sigmoid")], {
    inputShape: [d],
  });
  ae.compile({ optimizer: lt.optim.adam(0.02), loss: "binary_crossentropy" });
  const h = await ae.fit(noisy, clean, { epochs: 8, batchSize: 16 });
  assert(
    h.history.loss[7] < 0.8 * h.history.loss[0],
    `loss ${h.history.loss.map((v) => v.toFixed(3))}`,
  );
  // Denoising: reconstructions of noisy inputs are closer to the clean images than the noisy inputs are.
  const idx = lt.tensor(Int32Array.from({ length: 128 }, (_, i) => i));
  const nb = noisy.gather(idx, 0, 128, { training: true });
  const rec = lt.noGrad(() => ae.apply(nb));
  const [n, r] = [await nb.toArray(), await rec.toArray()];
  let errNoisy = 0, errRec = 0;
  for (let i = 0; i < x.length; i++) {
    errNoisy += (n[i] - x[i]) ** 2;
    errRec += (r[i] - x[i]) ** 2;
  }
  assert(
    errRec < errNoisy,
    `reconstruction error ${errRec.toFixed(1)} vs noisy input ${errNoisy.toFixed(1)}`,
  );
  for (const t of [idx, nb, rec]) t.dispose();
  noisy.dispose();
  clean.dispose();
  ae.dispose();
});

test("fit(x, x) gathers each batch once and trains exactly as with a copy of x as targets", async () => {
  const rt = await lt.init();
  const rng = freshRng();
  const d = 20, n = 40, batchSize = 8;
  const { x } = patterns(rng, n, d, 3);
  const run = async (
    xs: lt.data.Dataset | Float32Array,
    ys: lt.data.Dataset | Float32Array,
  ): Promise<[number[], number]> => {
    lt.nn.setSeed(11);
    const ae = lt.nn.sequential([lt.nn.dense(6, "relu"), lt.nn.dense(d, "sigmoid")], {
      inputShape: [d],
    });
    ae.compile({ optimizer: lt.optim.adam(0.02), loss: "mse" });
    const before = rt.dispatchCount;
    const h = await ae.fit(xs, ys, { epochs: 2, batchSize });
    const dispatches = rt.dispatchCount - before;
    ae.dispose();
    return [h.history.loss, dispatches];
  };
  const steps = 2 * Math.ceil(n / batchSize);
  const [same, dSame] = await run(x, x);
  const [copy, dCopy] = await run(x, Float32Array.from(x));
  assertEquals(same, copy, "loss history");
  // At least the gather a step (tests also poison each output with a fill).
  assert(dCopy - dSame >= steps, `dispatches ${dSame} vs ${dCopy} over ${steps} steps`);
  // A denoising dataset as its own target still trains against the clean rows.
  const clean = lt.data.dataset(x, { shape: [d] });
  const noisy = clean.withNoise({ std: 0.3, clip: [0, 1], seed: 5 });
  const [own] = await run(noisy, noisy);
  noisy.noiseStep = 0;
  const [vsClean] = await run(noisy, clean);
  assertEquals(own, vsClean, "denoising loss history");
  noisy.dispose();
  clean.dispose();
});

test("dropout zeroes a fraction while training, scales survivors, and is the identity at inference", async () => {
  await lt.init();
  const drop = lt.nn.dropout(0.25, { seed: 7 });
  const x = lt.ones([64, 100]);
  const yt = drop.apply(x, { training: true });
  const v = Array.from(await yt.toArray());
  const zeros = v.filter((e) => e === 0).length / v.length;
  assert(Math.abs(zeros - 0.25) < 0.03, `dropped fraction ${zeros}`);
  assert(
    v.every((e) => e === 0 || Math.abs(e - 1 / 0.75) < 1e-6),
    "survivors scaled by 1/(1-rate)",
  );
  const yi = drop.apply(x, { training: false });
  assertEquals(Array.from(await yi.toArray()).every((e) => e === 1), true);
  for (const t of [x, yt, yi]) t.dispose();
});

test("GaussianNoise adds noise only while training", async () => {
  await lt.init();
  const g = lt.nn.gaussianNoise(0.5, { seed: 1 });
  const x = lt.zeros([50, 200]);
  const yt = g.apply(x, { training: true });
  const v = Array.from(await yt.toArray());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  assert(Math.abs(mean) < 0.03 && Math.abs(std - 0.5) < 0.03, `mean ${mean}, std ${std}`);
  const yi = g.apply(x, { training: false });
  assert(Array.from(await yi.toArray()).every((e) => e === 0));
  for (const t of [x, yt, yi]) t.dispose();
});

test("kernel and activity regularizer terms equal their formulas", async () => {
  await lt.init();
  lt.nn.setSeed(6);
  const rng = freshRng();
  const layer = lt.nn.dense(5, {
    activation: "relu",
    kernelRegularizer: lt.nn.regularizers.l2(0.01),
    activityRegularizer: lt.nn.regularizers.l1(0.001),
  });
  const m = lt.nn.sequential([layer], { inputShape: [7] });
  const xv = rng.uniform(4 * 7);
  const x = lt.tensor(xv, [4, 7]);
  const [kernel] = await m.getWeights();
  const kernelTerm = lt.tidy(() => m.regularizationLosses()[0]);
  const expectK = 0.01 * kernel.reduce((a, w) => a + w * w, 0);
  assertClose([await kernelTerm.item()], [expectK], { rtol: 1e-5 });
  const losses: lt.Tensor[] = [];
  const y = layer.apply(x, { training: true, losses });
  assertEquals(losses.length, 1);
  const yv = Array.from(await y.toArray());
  const expectA = 0.001 * yv.reduce((a, e) => a + Math.abs(e), 0) / 4;
  assertClose([await losses[0].item()], [expectA], { rtol: 1e-5 });
  for (const t of [x, kernelTerm, y, ...losses]) t.dispose();
  m.dispose();
});

test("save → load reproduces predictions exactly; a hand-built file loads; corrupt files are refused", async () => {
  await lt.init();
  lt.nn.setSeed(8);
  const rng = freshRng();
  const make = () =>
    lt.nn.sequential([lt.nn.dense(6, "tanh"), lt.nn.dense(3)], { inputShape: [4], name: "net" });
  const a = make();
  const x = rng.uniform(10 * 4);
  const bytes = await lt.io.saveWeights(a);
  const b = make();
  lt.io.loadWeights(b, bytes);
  const pa = await (await a.predict(x)).toArray();
  const pb = await (await b.predict(x)).toArray();
  assertEquals(pb, pa);

  // A file written by hand per the format: 8-byte little-endian header length, JSON header, data.
  const keys = lt.io.parameterKeys(b);
  const names = b.weights().map((p) => keys.get(p.tensor)!);
  assertEquals(names, ["layers.0.kernel", "layers.0.bias", "layers.1.kernel", "layers.1.bias"]);
  const shapes = b.weights().map((p) => [...p.tensor.shape]);
  const sizes = shapes.map((s) => s.reduce((u, v) => u * v, 1) * 4);
  const header: Record<string, unknown> = {};
  let off = 0;
  names.forEach((n, i) => {
    header[n] = { dtype: "F32", shape: shapes[i], data_offsets: [off, off + sizes[i]] };
    off += sizes[i];
  });
  const json = new TextEncoder().encode(JSON.stringify(header));
  const file = new Uint8Array(8 + json.length + off);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  const data = new Float32Array(off / 4).map((_, i) => i * 0.5);
  file.set(new Uint8Array(data.buffer), 8 + json.length);
  lt.io.loadWeights(b, file);
  const w = await b.getWeights();
  assertEquals(Array.from(w[0].slice(0, 3)), [0, 0.5, 1]);

  // Corrupt or mismatched files.
  assertThrows(
    () => lt.io.loadWeights(b, file.slice(0, file.length - 4)),
    /not a valid safetensors file/,
  );
  const huge = file.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  assertThrows(() => lt.io.loadWeights(b, huge), /not a valid safetensors file/);
  const other = lt.nn.sequential([lt.nn.dense(7), lt.nn.dense(3)], {
    inputShape: [4],
    name: "net",
  });
  assertThrows(
    () => lt.io.loadWeights(other, bytes),
    /layers\.0\.(kernel|bias) has shape \[(4, )?6\], the model expects \[(4, )?7\]/,
  );
  // Optimizer state travels too, keyed by the same positional names.
  a.compile({ optimizer: lt.optim.adam(0.01), loss: "mse" });
  await a.fit(x, x.slice(0, 30), { epochs: 1, batchSize: 5 });
  const opt = a.compiled("save").optimizer;
  const withState = await lt.io.saveWeights(a, { optimizer: opt });
  const c = make();
  const opt2 = lt.optim.adam(0.01);
  lt.io.loadWeights(c, withState, { optimizer: opt2 });
  assertEquals(opt2.iterations, opt.iterations);
  // Every slot's values, in weights() order (m, v per parameter).
  const saved = opt.getState(a.weights().map((p) => p.tensor));
  const loaded = opt2.getState(c.weights().map((p) => p.tensor));
  const [sv, lv] = [Object.values(saved.tensors), Object.values(loaded.tensors)];
  assertEquals(lv.length, sv.length);
  assert(sv.length > 0, "adam keeps state after a fit");
  for (let i = 0; i < sv.length; i++) assertEquals(await lv[i].toArray(), await sv[i].toArray());
  for (const t of [...sv, ...lv]) t.dispose();
  for (const m of [a, b, c, other]) m.dispose();
  opt2.dispose();
});

test("callbacks: CSV log per epoch, early stopping, learning-rate schedule, progress lines", async () => {
  await lt.init();
  lt.nn.setSeed(9);
  const rng = freshRng();
  const d = 16;
  const { x } = patterns(rng, 32, d, 2);
  const m = lt.nn.sequential([lt.nn.dense(4, "relu"), lt.nn.dense(d, "sigmoid")], {
    inputShape: [d],
  });
  const opt = lt.optim.sgd(0.1);
  m.compile({ optimizer: opt, loss: "mse" });
  const csv = lt.callbacks.csvLogger();
  const lrs: number[] = [];
  const lines: string[] = [];
  const h = await m.fit(x, x, {
    epochs: 4,
    batchSize: 8,
    callbacks: [
      csv,
      lt.callbacks.learningRateScheduler((e, lr) => (e === 2 ? lr / 10 : lr)),
      lt.callbacks.lambda({ onEpochEnd: (_e, logs) => void lrs.push(logs.lr) }),
      lt.callbacks.progress({ write: (t) => lines.push(t), live: false }),
    ],
  });
  const rows = csv.text().trim().split("\n");
  assertEquals(rows[0], "epoch,loss,lr");
  assertEquals(rows.length, 5);
  assertClose(lrs, [0.1, 0.1, 0.01, 0.01], { rtol: 1e-9 });
  assertEquals(lines.length, 4);
  assert(/Epoch 4\/4 .* samples\/s - loss: /.test(lines[3]), lines[3]);
  assertEquals(h.epoch, [0, 1, 2, 3]);
  // Early stopping with an impossible improvement threshold stops after patience + 1 epochs.
  const es = lt.callbacks.earlyStopping({ monitor: "loss", minDelta: 1e9, patience: 1 });
  const h2 = await m.fit(x, x, { epochs: 10, batchSize: 8, callbacks: [es] });
  assertEquals(h2.epoch.length, 3);
  m.dispose();
});

test("fit keeps the live tensor count flat over 2000 steps", async () => {
  await lt.init();
  lt.nn.setSeed(10);
  const rng = freshRng();
  const m = lt.nn.sequential([lt.nn.dense(3, "tanh"), lt.nn.dense(4)], { inputShape: [4] });
  m.compile({ optimizer: lt.optim.adam(1e-3), loss: "mse" });
  const x = lt.data.dataset(rng.uniform(4000 * 4), { shape: [4] });
  await assertFitMemoryFlat(m, x, { batchSize: 4 }); // 2000 steps
  x.dispose();
  m.dispose();
}, { browser: false });
