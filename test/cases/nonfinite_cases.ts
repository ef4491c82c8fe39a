/**
 * Non-finite values never corrupt a model silently: the GPU finite check
 * against a host scan, and fit / evaluate / predict / k-means / DEC refusing
 * NaN or ±Inf inputs (naming the first offending sample), and fit stopping
 * when a weight stops being finite (naming the layer).
 * @module
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** Random [rows, len] values with NaN, +Inf or -Inf at `bad` rows (random columns). */
function poisoned(rng: Rng, rows: number, len: number, bad: number[]): Float32Array {
  const x = rng.normals(rows * len);
  const kinds = [NaN, Infinity, -Infinity];
  for (const r of bad) {
    x[r * len + Math.floor(rng.next() * len)] = kinds[Math.floor(rng.next() * 3)];
  }
  return x;
}

/** Random distinct rows of `rows`, `count` of them. */
function someRows(rng: Rng, rows: number, count: number): number[] {
  const out = new Set<number>();
  while (out.size < count) out.add(Math.floor(rng.next() * rows));
  return [...out];
}

for (const [rows, len] of [[1, 1], [10, 5], [257, 3], [3000, 31], [70, 1000]]) {
  test(`firstNonFiniteRow matches a host scan on [${rows}, ${len}]`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const profile of [internal.CPU_REDUCE, internal.GPU_REDUCE]) {
      for (const count of [0, 1, 3]) {
        const bad = someRows(rng, rows, Math.min(count, rows));
        const x = lt.tensor(poisoned(rng, rows, len, bad), [rows, len]);
        const got = await internal.withTuning(
          { reduce: profile },
          () => internal.firstNonFiniteRow(x, len),
        );
        const want = bad.length ? Math.min(...bad) : null;
        assertEquals(got, want, `seed ${rng.seed}, bad rows ${bad}`);
        const flags = internal.withTuning(
          { reduce: profile },
          () => internal.nonFiniteRowsRaw(x, len),
        );
        const f = await flags.toArray();
        assertEquals(
          Array.from(f),
          Array.from({ length: rows }, (_, r) => (bad.includes(r) ? 1 : 0)),
          `flags, seed ${rng.seed}`,
        );
        flags.dispose();
        x.dispose();
      }
    }
  });
}

/** The model: Dense(4, relu) → Dense(3) on 5 features, MSE and SGD. */
function smallModel(learningRate = 0.1): lt.nn.Model {
  lt.nn.setSeed(1);
  const m = lt.nn.sequential([lt.nn.dense(4, "relu"), lt.nn.dense(3)], { inputShape: [5] });
  m.compile({ optimizer: lt.optim.sgd({ learningRate }), loss: "mse" });
  return m;
}

async function allFinite(m: lt.nn.Model): Promise<boolean> {
  for (const w of await m.getWeights()) if (!w.every(Number.isFinite)) return false;
  return true;
}

test("fit, evaluate and predict refuse a NaN or ±Inf sample, naming the first one", async () => {
  await lt.init();
  const rng = freshRng();
  const bad = someRows(rng, 10, 2);
  const x = poisoned(rng, 10, 5, bad);
  const y = rng.normals(30);
  const first = Math.min(...bad);
  const m = smallModel();
  const before = lt.memory().tensors;
  const sample = new RegExp(`x sample ${first} holds NaN or ±Inf`);
  await assertRejects(() => m.fit(x, y, { epochs: 1, batchSize: 4 }), sample);
  await assertRejects(() => m.evaluate(x, y), sample);
  await assertRejects(() => m.predict(x), sample);
  const xt = lt.tensor(x, [10, 5]);
  await assertRejects(() => m.predict(xt), sample);
  xt.dispose();
  assertEquals(lt.memory().tensors, before, "a refused call left tensors behind");
  assert(await allFinite(m), "a refused fit changed the weights");
  // Targets are checked too, and clean data still trains.
  const clean = rng.normals(50);
  const yBad = poisoned(rng, 10, 3, [first]);
  await assertRejects(
    () => m.fit(clean, yBad, { epochs: 1 }),
    new RegExp(`y sample ${first} holds NaN`),
  );
  const h = await m.fit(clean, y, { epochs: 1, batchSize: 4 });
  assert(Number.isFinite(h.history.loss[0]));
  m.dispose();
});

test("a dataset view names its own first non-finite sample, and a clean view passes", async () => {
  await lt.init();
  const rng = freshRng();
  const x = poisoned(rng, 12, 5, [4, 9]);
  const ds = lt.data.dataset(x, { shape: [5], maxShardBytes: 5 * 5 * 4 }); // shards of 5 samples
  assertEquals(await ds.firstNonFinite(), 4);
  const tail = ds.slice(6), head = ds.slice(0, 4), mid = ds.slice(2, 8);
  assertEquals(await tail.firstNonFinite(), 3); // sample 9
  assertEquals(await head.firstNonFinite(), null);
  assertEquals(await mid.firstNonFinite(), 2);
  const sub = ds.subset([0, 1, 9, 4]);
  assertEquals(await sub.firstNonFinite(), 2);
  const m = smallModel();
  const headY = rng.normals(4 * 3);
  await m.fit(head, headY, { epochs: 1 }); // the clean view trains
  await assertRejects(
    () => m.fit(tail, rng.normals(6 * 3), { epochs: 1 }),
    /fit\(.*\): x sample 3 holds NaN/,
  );
  for (const d of [tail, head, mid, sub, ds]) d.dispose();
  m.dispose();
});

test("u8 datasets pass the finite check", async () => {
  await lt.init();
  const ds = lt.data.dataset(new Uint8Array(40).fill(255), { shape: [4], scale: 1 / 255 });
  assertEquals(await ds.firstNonFinite(), null);
  ds.dispose();
});

test("fit stops naming the layer when a weight stops being finite", async () => {
  await lt.init();
  const rng = freshRng();
  const m = smallModel(1e30);
  await assertRejects(
    () => m.fit(rng.normals(50), rng.normals(30), { epochs: 3, batchSize: 2 }),
    /fit\(.*\): the weights of layer "dense(_\d+)?" \(dense(_\d+)?\/(kernel|bias) \[\d+(, \d+)?\]\) hold NaN or ±Inf after epoch 1/,
  );
  m.dispose();
});

test("DEC's pretrain, initialize and fit refuse a non-finite sample, naming it", async () => {
  await lt.init();
  const rng = freshRng();
  const bad = someRows(rng, 12, 1)[0];
  const x = lt.data.dataset(poisoned(rng, 12, 4, [bad]), { shape: [4] });
  const dec = new lt.cluster.DEC({ clusters: 2, dims: [4, 3, 2] });
  const before = await dec.autoencoder.getWeights();
  for (
    const [name, run] of [
      ["DEC.pretrain", () => dec.pretrain(x, { epochs: 1 })],
      ["DEC.initialize", () => dec.initialize(x, { nInit: 1 })],
      ["DEC.fit", () => dec.fit(x, { maxIter: 2, nInit: 1 })],
    ] as const
  ) {
    await assertRejects(run, `${name}: x sample ${bad} holds NaN or ±Inf`);
  }
  assertEquals(await dec.autoencoder.getWeights(), before, "a refused call changed the weights");
  x.dispose();
  dec.dispose();
});

test("KMeans.fit names the first non-finite sample of a tensor or a dataset", async () => {
  await lt.init();
  const rng = freshRng();
  const bad = someRows(rng, 30, 2);
  const x = poisoned(rng, 30, 4, bad);
  const xt = lt.tensor(x, [30, 4]);
  const ds = lt.data.dataset(x, { shape: [2, 2] });
  const message = `KMeans.fit: x sample ${Math.min(...bad)} holds NaN or ±Inf`;
  await assertRejects(() => new lt.cluster.KMeans({ k: 3 }).fit(xt), message);
  await assertRejects(() => new lt.cluster.KMeans({ k: 3 }).fit(ds), message);
  xt.dispose();
  ds.dispose();
});

test("DEC.fit stops naming the layer when a weight stops being finite", async () => {
  await lt.init();
  const rng = freshRng();
  const x = lt.data.dataset(rng.normals(24 * 4), { shape: [4] });
  const dec = new lt.cluster.DEC({ clusters: 2, dims: [4, 3, 2], seed: 1 });
  await dec.initialize(x, { nInit: 1 });
  const optimizer = lt.optim.sgd({ learningRate: 1e30 });
  await assertRejects(
    () => dec.fit(x, { optimizer, updateInterval: 2, maxIter: 20, batchSize: 8 }),
    /DEC\.fit: the weights of layer "[\w/]+" \([\w/]+ \[\d+(, \d+)?\]\) hold NaN or ±Inf after step \d+/,
  );
  optimizer.dispose();
  x.dispose();
  dec.dispose();
});
