/**
 * DEC / IDEC / conv-DEC end to end on small synthetic problems.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { Rng } from "../ref.ts";

/** Four 2-D Gaussian blobs pushed through a fixed random nonlinear map into `d` dimensions. */
function warpedBlobs(
  seed: number,
  n: number,
  d = 24,
): { x: Float32Array; y: Int32Array; d: number } {
  const rng = new Rng(seed);
  const centers = [[-1, -1], [1, -1], [-1, 1], [1, 1]];
  const w1 = rng.normals(2 * 16), w2 = rng.normals(16 * d, 0.5);
  const x = new Float32Array(n * d), y = new Int32Array(n);
  const h = new Float64Array(16);
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    y[i] = c;
    const v0 = centers[c][0] + 0.55 * rng.normal(), v1 = centers[c][1] + 0.55 * rng.normal();
    for (let j = 0; j < 16; j++) h[j] = Math.tanh(w1[2 * j] * v0 + w1[2 * j + 1] * v1);
    for (let o = 0; o < d; o++) {
      let s = 0;
      for (let j = 0; j < 16; j++) s += w2[o * 16 + j] * h[j];
      x[i * d + o] = Math.tanh(s);
    }
  }
  return { x, y, d };
}

for (const seed of [2, 4]) {
  test(
    `DEC ends with higher ACC than its k-means initialisation on warped blobs (problem ${seed})`,
    async () => {
      await lt.init();
      const { x, y, d } = warpedBlobs(seed, 800);
      const ds = lt.data.dataset(x, { shape: [d] });
      const dec = new lt.cluster.DEC({ clusters: 4, dims: [d, 32, 2], seed });
      const h = await dec.pretrain(ds, {
        epochs: 10,
        batchSize: 32,
        optimizer: lt.optim.adam(0.01),
      });
      assert(h.history.loss[9] < h.history.loss[0], "pretraining loss falls");
      const km = await dec.initialize(ds, { nInit: 5 });
      const before = lt.metrics.acc(y, km.labels);
      const refreshes: lt.cluster.RefreshLog[] = [];
      const r = await dec.fit(ds, {
        y,
        updateInterval: 25,
        batchSize: 64,
        maxIter: 1000,
        onRefresh: (e) => refreshes.push(e),
      });
      const after = lt.metrics.acc(y, r.labels);
      assert(after > before, `ACC k-means ${before.toFixed(3)} → DEC ${after.toFixed(3)}`);
      assertEquals(r.log, refreshes);
      assert(
        refreshes.every((e) => e.acc !== undefined && e.nmi !== undefined && e.ari !== undefined),
      );
      assertEquals(refreshes[0].iteration, 0);
      assert(
        r.stopped === "maxIter" || refreshes[refreshes.length - 1].delta < 1e-3,
        "stops on tol",
      );
      dec.dispose();
      ds.dispose();
    },
    { browser: false },
  );
}

test("IDEC fine-tunes encoder, decoder and centres together", async () => {
  await lt.init();
  const { x, y, d } = warpedBlobs(7, 256, 12);
  const ds = lt.data.dataset(x, { shape: [d] });
  const dec = new lt.cluster.DEC({
    clusters: 4,
    dims: [d, 16, 2],
    seed: 7,
    variant: "idec",
    gamma: 0.1,
  });
  await dec.pretrain(ds, { epochs: 3, batchSize: 32, optimizer: lt.optim.adam(0.01) });
  await dec.initialize(ds, { nInit: 2 });
  const decoderBefore = await dec.decoder.getWeights();
  const centersBefore = await dec.clustering!.centers.toArray();
  const seen: [number, lt.callbacks.Logs][] = [], lines: string[] = [];
  const r = await dec.fit(ds, {
    y,
    updateInterval: 10,
    batchSize: 32,
    maxIter: 30,
    tol: 0,
    callbacks: [
      lt.callbacks.lambda({ onRefresh: (step, logs) => void seen.push([step, { ...logs }]) }),
      lt.callbacks.progress({ write: (t) => lines.push(t), live: false }),
    ],
  });
  // Every refresh reaches fit's callbacks, as the log records it; progress prints it.
  assertEquals(
    seen,
    r.log.map((e) => [e.iteration, { changed: e.delta, acc: e.acc!, nmi: e.nmi!, ari: e.ari! }]),
  );
  assertEquals(seen.map(([s]) => s), [0, 10, 20]);
  const refreshLines = lines.filter((l) => l.includes("refresh at step"));
  assertEquals(refreshLines.length, 3);
  assert(
    /refresh at step 20: ACC \d\.\d{4} - NMI \d\.\d{4} - ARI -?\d\.\d{4} - labels changed \d+\.\d\d%/
      .test(refreshLines[2]),
    refreshLines[2],
  );
  assert(lines.some((l) => /^Epoch \d+\/\d+ /.test(l)), "fine-tuning epochs are reported too");
  assertEquals(r.iterations, 30);
  assertEquals(r.stopped, "maxIter");
  const decoderAfter = await dec.decoder.getWeights();
  assert(decoderAfter[0].some((v, i) => v !== decoderBefore[0][i]), "IDEC updates the decoder");
  const centersAfter = await dec.clustering!.centers.toArray();
  assert(centersAfter.some((v, i) => v !== centersBefore[i]), "the centres move");
  assertEquals(r.labels.length, 256);
  dec.dispose();
  ds.dispose();
});

test("conv-DEC builds the DCEC autoencoder and fine-tunes on small images", async () => {
  await lt.init();
  const rng = new Rng(11);
  const n = 48;
  const x = new Float32Array(n * 28 * 28);
  for (let i = 0; i < n; i++) {
    // Bars at one of three positions: three visually distinct clusters.
    const col = 6 + 8 * (i % 3);
    for (let r = 4; r < 24; r++) {
      for (let c = col; c < col + 4; c++) x[i * 784 + r * 28 + c] = 0.8 + 0.2 * rng.next();
    }
  }
  const ds = lt.data.dataset(x, { shape: [28, 28, 1] });
  const dec = lt.cluster.DEC.convolutional({ clusters: 3, inputShape: [28, 28, 1], seed: 3 });
  const lines: string[] = [];
  dec.autoencoder.summary((l) => lines.push(l));
  assert(lines[0].includes("(None, 28, 28, 1)"), lines[0]);
  assertEquals(dec.encoder.outputs[0].shape, [3]);
  await dec.pretrain(ds, { epochs: 2, batchSize: 16, optimizer: lt.optim.adam(1e-3) });
  const r = await dec.fit(ds, { updateInterval: 5, batchSize: 16, maxIter: 10, nInit: 2 });
  assertEquals(r.labels.length, n);
  assert(r.labels.every((l) => l >= 0 && l < 3));
  dec.dispose();
  ds.dispose();
}, { browser: false });

test("DEC refuses bad input before training", async () => {
  await lt.init();
  assertThrows(
    () => new lt.cluster.DEC({ clusters: 0 }),
    "DEC: clusters must be a positive integer, got 0",
  );
  const enc = lt.nn.sequential([lt.nn.dense(3)], { inputShape: [5] });
  const decd = lt.nn.sequential([lt.nn.dense(5)], { inputShape: [4] });
  assertThrows(
    () => new lt.cluster.DEC({ clusters: 2, encoder: enc, decoder: decd }),
    "DEC: the encoder's code [3] does not match the decoder's input [4]",
  );
  const few = lt.data.dataset(new Float32Array(3 * 4), { shape: [4] });
  const dec = new lt.cluster.DEC({ clusters: 5, dims: [4, 2] });
  await assertRejects(
    () => dec.initialize(few),
    "DEC.initialize: expected at least 5 samples (one per cluster), got 3",
  );
  const some = lt.data.dataset(new Float32Array(10 * 4), { shape: [4] });
  await assertRejects(
    () => dec.fit(some, { y: [1, 2, 3] }),
    "DEC.fit: expected 10 labels (one per sample), got 3",
  );
  const bad = new Float32Array(10 * 4);
  bad[5] = NaN;
  const nan = lt.data.dataset(bad, { shape: [4] });
  await assertRejects(() => dec.initialize(nan), /DEC.initialize: x sample 1 holds NaN or ±Inf/);
  for (const t of [few, some, nan]) t.dispose();
  dec.dispose();
  enc.dispose();
  decd.dispose();
});
