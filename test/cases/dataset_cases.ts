/**
 * GPU-resident datasets: the on-GPU batch gather against a CPU gather,
 * epochs, sharded storage, in-kernel noise, labels, views and bad input.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { type Dataset, dataset, type EpochOptions } from "../../src/data/dataset.ts";
import { philox4x32, Rng as DataRng } from "../../src/data/prng.ts";
import { NOISE_STREAM } from "../../shaders/gather.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** Float64 gather: row r = values[idx[r]] * scale + offset (NaN for bad indices). */
function cpuGather(
  values: ArrayLike<number>,
  features: number,
  idx: ArrayLike<number>,
  scale = 1,
  offset = 0,
): Float64Array {
  const n = values.length / features;
  const out = new Float64Array(idx.length * features);
  for (let r = 0; r < idx.length; r++) {
    const s = idx[r];
    for (let f = 0; f < features; f++) {
      out[r * features + f] = s >= 0 && s < n ? values[s * features + f] * scale + offset : NaN;
    }
  }
  return out;
}

function u8Data(rng: Rng, length: number): Uint8Array {
  const a = new Uint8Array(length);
  for (let i = 0; i < length; i++) a[i] = Math.floor(rng.next() * 256);
  return a;
}

function i32(values: ArrayLike<number>): lt.Tensor {
  return lt.tensor(Int32Array.from(values), [values.length], "i32");
}

/**
 * The noise the gather adds to a batch of `count` rows of `features` values
 * (shaders/gather.ts): thread t = row · ceil(features / 4) + c draws one
 * Philox block for features 4c .. 4c+3 of its row; Box–Muller as in
 * shaders/random.ts.
 */
function refNoise(count: number, features: number, seed: number, step: number): Float64Array {
  const z = new Float64Array(count * features);
  const quads = Math.ceil(features / 4);
  const open = (r: number) => ((r >>> 9) + 0.5) * 2 ** -23;
  const unit = (r: number) => (r >>> 8) * 2 ** -24;
  for (let t = 0; t < count * quads; t++) {
    const r = philox4x32([t, step, NOISE_STREAM, 0], [seed % 2 ** 32, Math.floor(seed / 2 ** 32)]);
    const lanes: number[] = [];
    for (const [a, b] of [[r[0], r[1]], [r[2], r[3]]]) {
      const radius = Math.sqrt(-2 * Math.log(open(a)));
      const angle = 2 * Math.PI * unit(b) - Math.PI;
      lanes.push(radius * Math.cos(angle), radius * Math.sin(angle));
    }
    const row = Math.floor(t / quads), f0 = (t % quads) * 4;
    for (let j = 0; j < 4 && f0 + j < features; j++) z[row * features + f0 + j] = lanes[j];
  }
  return z;
}

async function read(t: lt.Tensor): Promise<number[]> {
  return Array.from(await t.toArray());
}

for (
  const [shape, n] of [[[7], 13], [[5, 157], 11], [[1], 3]] as [number[], number][]
) {
  const features = shape.reduce((a, b) => a * b, 1);
  test(`dataset gather of u8 samples ${JSON.stringify(shape)} matches the CPU gather scaled by 1/255`, async () => {
    await lt.init();
    const rng = freshRng();
    const values = u8Data(rng, n * features);
    const ds = dataset(values, { shape, scale: 1 / 255 });
    assertEquals([ds.n, ds.features, ds.storage, ds.shards], [n, features, "u8", 1]);
    for (const b of [1, 5, n - 1, 2 * n + 1]) {
      // Indices with repeats, read from the middle of a longer buffer.
      const all = rng.ints(b + 6, n);
      const idx = i32(all);
      const got = ds.gather(idx, 3, b);
      assertEquals(got.shape, [b, ...shape]);
      assertClose(
        await got.toArray(),
        cpuGather(values, features, all.subarray(3, 3 + b), 1 / 255),
        {
          rtol: 1e-6,
          atol: 1e-7,
          label: `seed ${rng.seed}, batch ${b}`,
        },
      );
      idx.dispose();
      got.dispose();
    }
    ds.dispose();
  });
}

test("dataset gather of f32 samples matches the CPU gather with scale and offset", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [features, n] of [[785, 6], [7, 29], [3, 1]]) {
    const values = rng.uniform(n * features, -3, 3);
    const ds = dataset(values, { shape: [features], scale: -0.5, offset: 2 });
    assertEquals(ds.storage, "f32");
    for (const b of [1, 5, 12]) {
      const all = rng.ints(b, n);
      const idx = i32(all);
      const got = ds.batch(idx);
      assertClose(await got.toArray(), cpuGather(values, features, all, -0.5, 2), {
        rtol: 1e-6,
        atol: 1e-6,
        label: `seed ${rng.seed}, ${n}x${features}, batch ${b}`,
      });
      idx.dispose();
      got.dispose();
    }
    ds.dispose();
  }
});

test("dataset gather into out reuses one buffer and never reads back", async () => {
  const rt = await lt.init();
  const rng = freshRng();
  const values = u8Data(rng, 31 * 9);
  const ds = dataset(values, { shape: [9], scale: 1 / 255 });
  const ep = ds.epoch({ batchSize: 4, seed: rng.seed, dropRemainder: true });
  const out = lt.empty(ds.batchShape(4));
  ds.gather(ep.indices, 0, 4, { out }); // first use compiles and caches
  const before = lt.memory();
  const inUse = rt.pool.inUseBytes;
  const realRead = rt.read;
  let reads = 0;
  rt.read = (...args) => (reads++, realRead.apply(rt, args));
  try {
    for (const s of ep) assert(ds.gather(ep.indices, s.offset, s.size, { out }) === out);
    assertEquals(reads, 0, "readbacks during the epoch");
  } finally {
    rt.read = realRead;
  }
  assertEquals(lt.memory().tensors, before.tensors);
  assertEquals(rt.pool.inUseBytes, inUse);
  const order = Array.from(await ep.indices.toArray());
  const last = ep.steps[ep.length - 1];
  assertClose(
    await out.toArray(),
    cpuGather(values, 9, order.slice(last.offset, last.offset + 4), 1 / 255),
    { rtol: 1e-6, atol: 1e-7, label: `seed ${rng.seed}` },
  );
  ep.dispose();
  out.dispose();
  ds.dispose();
});

test("dataset epoch visits every sample exactly once", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 23;
  // Sample i holds (i, -i): the gathered rows name the samples they came from.
  const values = Float32Array.from({ length: 2 * n }, (_, k) => (k % 2 ? -1 : 1) * (k >> 1) || 0);
  const ds = dataset(values, { shape: [2] });
  for (
    const [batchSize, dropRemainder, sizes] of [
      [5, false, [5, 5, 5, 5, 3]],
      [5, true, [5, 5, 5, 5]],
      [23, false, [23]],
      [40, false, [23]],
      [1, true, Array(23).fill(1)],
    ] as [number, boolean, number[]][]
  ) {
    const ep = ds.epoch({ batchSize, seed: rng.seed, dropRemainder });
    assertEquals(ep.steps.map((s) => s.size), sizes);
    assertEquals(ep.steps.map((s) => s.offset), sizes.map((_, k) => k * batchSize));
    const batches = [...ep].map((s) => ds.gather(ep.indices, s.offset, s.size));
    const rows = (await Promise.all(batches.map(read))).flat();
    const seen = rows.filter((_, k) => k % 2 === 0);
    assertEquals(rows.filter((_, k) => k % 2 === 1), seen.map((v) => -v || 0));
    assertEquals(new Set(seen).size, seen.length, "no sample twice");
    assertEquals(seen.length, sizes.reduce((a, b) => a + b, 0));
    if (!dropRemainder) assertEquals([...seen].sort((a, b) => a - b), [...Array(n).keys()]);
    batches.forEach((t) => t.dispose());
    ep.dispose();
  }
  ds.dispose();
});

test("dataset epoch order depends only on seed and epoch", async () => {
  await lt.init();
  const n = 50;
  const a = dataset(new Float32Array(n), { shape: [1] });
  const b = dataset(new Uint8Array(n * 3), { shape: [3] });
  const order = async (ds: Dataset, o: Partial<EpochOptions> = {}) => {
    const ep = ds.epoch({ batchSize: 8, ...o });
    const v = Array.from(await ep.indices.toArray());
    ep.dispose();
    return v;
  };
  const a0 = await order(a, { seed: 7 }), b0 = await order(b, { seed: 7 });
  assertEquals(a0, b0, "same seed, same first epoch");
  assertEquals(a0, Array.from(new DataRng(7, 0).permutation(n)));
  const a1 = await order(a, { seed: 7 });
  assert(a1.join() !== a0.join(), "the next epoch gets a new order");
  assertEquals(a1, await order(b, { seed: 7, epoch: 1 }));
  assert((await order(a, { seed: 8, epoch: 0 })).join() !== a0.join(), "another seed differs");
  assertEquals(await order(a, { shuffle: false }), [...Array(n).keys()]);
  a.dispose();
  b.dispose();
});

test("sharded dataset storage gathers the same batches as one shard", async () => {
  await lt.init();
  const rng = freshRng();
  for (
    const [storage, features, n, maxShardBytes, shards] of [
      ["u8", 7, 37, 21, 13], // 3 samples a shard: 4 dispatches (4 + 4 + 4 + 1 shards)
      ["u8", 9, 10, 40, 3], // 4 samples (36 bytes) a shard, last one partial
      ["f32", 5, 19, 43, 10], // 2 samples a shard
      ["f32", 3, 8, 1000, 1],
    ] as ["u8" | "f32", number, number, number, number][]
  ) {
    const values = storage === "u8" ? u8Data(rng, n * features) : rng.uniform(n * features);
    const opts = {
      shape: [features],
      scale: 0.75,
      offset: -0.1,
      noise: { std: 0.3, clip: [-0.5, 0.9] as [number, number], seed: rng.seed },
      labels: rng.ints(n, 4),
    };
    const one = dataset(values, opts);
    const many = dataset(values, { ...opts, maxShardBytes });
    assertEquals([one.shards, many.shards], [1, shards]);
    const idx = i32(rng.ints(2 * n + 3, n));
    const label = `seed ${rng.seed}, ${storage} ${n}x${features} in ${shards} shards`;
    for (const training of [false, true]) {
      const x1 = await read(one.batch(idx, { training }));
      const x2 = await read(many.batch(idx, { training }));
      assertEquals(x2, x1, label);
      if (!training) {
        assertClose(x2, cpuGather(values, features, await idx.toArray(), 0.75, -0.1), {
          rtol: 1e-6,
          atol: 1e-6,
          label,
        });
      }
    }
    // Views over sharded storage: a subset and a slice of it.
    const pick = [n - 1, 0, Math.floor(n / 2), n - 1];
    const sub = many.subset(pick).slice(1);
    const got = await read(sub.toTensor());
    assertClose(got, cpuGather(values, features, pick.slice(1), 0.75, -0.1), {
      rtol: 1e-6,
      atol: 1e-6,
      label: label + " (subset view)",
    });
    assertEquals(Array.from(sub.labels!), pick.slice(1).map((i) => opts.labels[i]));
    for (const d of [one, many, sub]) d.dispose();
    idx.dispose();
  }
});

test("a compiled loop gathers batch after batch of one index buffer through offsetAt, with rowsOut", async () => {
  // One index buffer, a step per batch, the step captured once and replayed:
  // the offset comes from offsetAt at each replay and rowsOut receives the
  // batch's indices from the (first group's) gather dispatch, on one and on
  // many shards, u8 and f32, and through a subset view's map.
  await lt.init();
  const rng = freshRng();
  for (
    const [storage, features, n, maxShardBytes] of [
      ["u8", 7, 37, 21],
      ["f32", 5, 19, 43],
      ["f32", 9, 30, undefined],
    ] as ["u8" | "f32", number, number, number | undefined][]
  ) {
    const values = storage === "u8" ? u8Data(rng, n * features) : rng.uniform(n * features);
    const base = dataset(values, { shape: [features], scale: 0.5, offset: 0.25, maxShardBytes });
    const pick = Array.from(rng.ints(n - 2, n));
    for (
      const [ds, sampleOf] of [[base, (i: number) => i], [
        base.subset(pick),
        (i: number) => pick[i],
      ]] as const
    ) {
      const b = 4, steps = 5;
      const idxh = Int32Array.from(rng.ints(b * steps, ds.n));
      const idx = i32(idxh);
      const out = lt.empty([b, features]), rows = lt.empty([b], "i32");
      const compiled = lt.compileStep();
      let cursor = 0;
      for (let s = 0; s < steps; s++) {
        cursor = s * b;
        const at = cursor;
        compiled.run(
          "batch",
          () =>
            void ds.gather(idx, at, b, {
              training: false,
              out,
              offsetAt: () => cursor,
              rowsOut: rows,
            }),
        );
        const label =
          `seed ${rng.seed} ${storage} ${n}x${features} shards ${base.shards} step ${s}` +
          (ds === base ? "" : " (subset)");
        const want = idxh.slice(at, at + b);
        assertEquals(Array.from(await rows.toArray()), Array.from(want), `${label}: rows`);
        assertClose(
          await out.toArray(),
          cpuGather(values, features, Array.from(want, sampleOf), 0.5, 0.25),
          {
            rtol: 1e-6,
            atol: 1e-6,
            label,
          },
        );
      }
      assert(compiled.report.replayed >= 2, `replayed ${JSON.stringify(compiled.report)}`);
      compiled.dispose();
      for (const t of [idx, out, rows]) t.dispose();
      if (ds !== base) ds.dispose();
    }
    base.dispose();
  }
});

test("gather refuses a bad rowsOut or offsetAt by name, and an offset outside the indices at replay", async () => {
  await lt.init();
  const ds = dataset(new Float32Array(12), { shape: [3] });
  const idx = i32([0, 1, 2, 3]), f32Rows = lt.empty([2]), longRows = lt.empty([3], "i32");
  const rt = lt.runtime();
  for (
    const [options, message] of [
      [{ rowsOut: f32Rows }, "dataset.gather: rowsOut must be a live i32 tensor [2]"],
      [{ rowsOut: longRows }, "dataset.gather: expected rowsOut i32 [2], got [3]"],
      [
        { rowsOut: lt.reshape(idx, [2, 2]) },
        "dataset.gather: expected rowsOut i32 [2], got [2, 2]",
      ],
      [{ offsetAt: 3 }, "dataset.gather: offsetAt must be a function returning the index row"],
    ] as [lt.data.GatherOptions, string][]
  ) {
    const before = rt.dispatchCount;
    assertThrows(() => ds.gather(idx, 0, 2, options as lt.data.GatherOptions), message);
    assertEquals(rt.dispatchCount, before, `no GPU work: ${message}`);
  }
  const alias = lt.reshape(idx, [4]);
  assertThrows(
    () => ds.gather(idx, 0, 4, { rowsOut: alias }),
    "dataset.gather: rowsOut must not share storage with the indices it copies",
  );
  // At a replay, the offset is checked against the index buffer.
  const compiled = lt.compileStep();
  let cursor = 0;
  const step = () => lt.tidy(() => void ds.gather(idx, cursor, 2, { offsetAt: () => cursor }));
  for (cursor of [0, 1, 2]) compiled.run("k", step);
  cursor = 3;
  assertThrows(
    () => compiled.run("k", step),
    "dataset.gather: rows 3..4 (offset 3, count 2) are outside the 4 indices",
  );
  compiled.dispose();
  for (const t of [ds, idx, f32Rows, longRows, alias]) t.dispose();
});

test("dataset noise matches the Philox reference and has the configured statistics", async () => {
  await lt.init();
  const seed = freshRng().seed;
  const [n, features, std] = [64, 255, 0.25]; // rows end mid-quad
  const count = n * features;
  const opts = { shape: [features], offset: 0.5, noise: { std, seed } };
  const ds = dataset(new Uint8Array(count), opts);
  const idx = i32([...Array(n).keys()]);
  const first = await read(ds.batch(idx));
  // WGSL only promises sin/cos to 2^-11 absolute on [-π, π]: the radius (< 6) scales that.
  const atol = std * 6 * 2 ** -11;
  const z = refNoise(n, features, seed, 0);
  assertClose(first, z.map((v) => 0.5 + std * v), { rtol: 0, atol, label: `seed ${seed}` });

  const noise = first.map((v) => v - 0.5);
  const mean = noise.reduce((a, b) => a + b, 0) / count;
  const sd = Math.sqrt(noise.reduce((a, b) => a + (b - mean) ** 2, 0) / count);
  // 6 standard errors: 4 failed one seed in 16000 (two-sided normal tail 6e-5).
  assert(Math.abs(mean) < 6 * std / Math.sqrt(count), `noise mean ${mean} (seed ${seed})`);
  assert(Math.abs(sd / std - 1) < 0.04, `noise std ${sd}, expected ${std} (seed ${seed})`);

  const second = await read(ds.batch(idx));
  assertEquals(ds.noiseStep, 2);
  assertClose(second, refNoise(n, features, seed, 1).map((v) => 0.5 + std * v), {
    rtol: 0,
    atol,
    label: `seed ${seed}, batch 2`,
  });
  assert(second.join() !== first.join(), "each batch gets new noise");
  assertEquals(await read(ds.batch(idx, { training: false })), Array(count).fill(0.5));
  assertEquals(ds.noiseStep, 2, "no noise step without training");
  const clean = ds.withNoise(null);
  assertEquals(await read(clean.batch(idx)), Array(count).fill(0.5));

  const again = dataset(new Uint8Array(count), opts);
  assertEquals(await read(again.batch(idx)), first, "same seed, same noise");
  const clipped = ds.withNoise({ std, seed, clip: [0.4, 0.6] });
  const c = await read(clipped.batch(idx));
  const [lo, hi] = [Math.fround(0.4), Math.fround(0.6)];
  assert(c.every((v) => v >= lo && v <= hi), "clipped to [0.4, 0.6]");
  const atBounds = c.filter((v) => v === lo || v === hi).length / count;
  // P(|z| > 0.4) for z ~ N(0, 1) is 0.689.
  assert(Math.abs(atBounds - 0.689) < 0.03, `fraction clipped ${atBounds}`);
  for (const d of [ds, clean, again, clipped]) d.dispose();
  idx.dispose();
});

test("dataset labels gather as i32 ids and as one-hot rows", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 17, classes = 12;
  const labels = Uint8Array.from(rng.ints(n, 10));
  const ds = dataset(new Float32Array(n * 2), { shape: [2], labels, classes });
  assertEquals(ds.classes, classes);
  assertEquals(
    dataset(new Float32Array(n), { shape: [1], labels }).classes,
    Math.max(...labels) + 1,
  );
  const all = Array.from(rng.ints(9, n));
  const idx = i32(all);
  assertEquals(await read(ds.gatherLabels(idx, 2, 6)), all.slice(2, 8).map((i) => labels[i]));
  const oh = ds.gatherLabels(idx, 2, 6, { oneHot: true });
  assertEquals(oh.shape, [6, classes]);
  const want = all.slice(2, 8).flatMap((i) =>
    Array.from({ length: classes }, (_, c) => (labels[i] === c ? 1 : 0))
  );
  assertEquals(await read(oh), want);
  assertEquals(await read(ds.labelsTensor()), Array.from(labels));
  // Bad GPU indices give -1 labels, NaN one-hot rows and NaN samples.
  const bad = i32([n, -1, 0]);
  assertEquals(await read(ds.batchLabels(bad)), [-1, -1, labels[0]]);
  const badRows = await read(ds.batchLabels(bad, { oneHot: true }));
  assert(badRows.slice(0, 2 * classes).every(Number.isNaN), "NaN one-hot rows");
  const x = await read(ds.batch(bad));
  assert(x.slice(0, 4).every(Number.isNaN) && x[4] === 0, `NaN rows, got ${x}`);
  ds.dispose();
  idx.dispose();
  bad.dispose();
});

test("dataset slice and subset views gather their samples from shared storage", async () => {
  await lt.init();
  const rng = freshRng();
  const [n, features] = [20, 6];
  const values = u8Data(rng, n * features);
  const labels = rng.ints(n, 3);
  const ds = dataset(values, { shape: [2, 3], scale: 2, labels });
  const cases: [Dataset, number[]][] = [];
  const s = ds.slice(4, 15);
  cases.push([s, [...Array(11).keys()].map((i) => i + 4)]);
  const sub = ds.subset([7, 3, 3, 19]);
  cases.push([sub, [7, 3, 3, 19]]);
  cases.push([s.subset([10, 0, 2]), [14, 4, 6]]);
  cases.push([s.slice(2, 5), [6, 7, 8]]);
  cases.push([sub.slice(1, 3), [3, 3]]);
  for (const [view, ids] of cases) {
    assertEquals([view.n, view.sampleShape], [ids.length, [2, 3]]);
    assertEquals(Array.from(view.labels!), ids.map((i) => labels[i]));
    const x = view.toTensor();
    assertEquals(x.shape, [ids.length, 2, 3]);
    assertClose(await x.toArray(), cpuGather(values, features, ids, 2), { label: `${ids}` });
    const local = rng.ints(5, ids.length);
    const idx = i32(local);
    assertEquals(
      await read(view.batchLabels(idx)),
      Array.from(local, (k) => labels[ids[k]]),
    );
    idx.dispose();
    x.dispose();
  }
  // Views keep the storage alive after the parent is disposed.
  ds.dispose();
  assertThrows(() => ds.toTensor(), "dataset.toTensor: the dataset was disposed");
  assertClose(await read(sub.toTensor()), cpuGather(values, features, [7, 3, 3, 19], 2));
  for (const [view] of cases) view.dispose();
});

test("dataset accepts a tensor or an image set as its source", async () => {
  await lt.init();
  const rng = freshRng();
  const values = rng.uniform(4 * 6);
  const t = lt.tensor(values, [4, 6]);
  const ds = dataset(t, { scale: 10 });
  t.dispose(); // the dataset holds its own reference
  assertEquals(ds.sampleShape, [6]);
  assertClose(await read(ds.toTensor()), cpuGather(values, 6, [0, 1, 2, 3], 10));
  const images = u8Data(rng, 3 * 2 * 2);
  const set = { images, labels: new Uint8Array([2, 0, 1]), n: 3, rows: 2, cols: 2 };
  const img = dataset(set, { scale: 1 / 255 });
  assertEquals([img.sampleShape, img.classes, Array.from(img.labels!)], [[4], 3, [2, 0, 1]]);
  assertClose(await read(img.toTensor()), cpuGather(images, 4, [0, 1, 2], 1 / 255));
  ds.dispose();
  img.dispose();
});

test("dataset memory returns to its start after dispose", async () => {
  await lt.init();
  const start = lt.memory();
  const ds = dataset(new Uint8Array(30 * 5), { shape: [5], labels: new Int32Array(30) });
  assertEquals(lt.memory().tensors, start.tensors + 2);
  assertEquals(lt.memory().bytes, start.bytes + 30 * 5 + 30 * 4);
  const sharded = dataset(new Float32Array(30 * 5), { shape: [5], maxShardBytes: 100 });
  assertEquals(lt.memory().tensors, start.tensors + 2 + 6);
  lt.tidy(() => {
    const sub = sharded.subset([1, 2]);
    const v = sub.withNoise({ std: 1 });
    const ep = v.epoch({ batchSize: 1 });
    v.gather(ep.indices, 1, 1);
    ep.dispose();
    v.dispose();
    sub.dispose();
  });
  ds.dispose();
  sharded.dispose();
  assertEquals(lt.memory().tensors, start.tensors);
  assertEquals(lt.memory().bytes, start.bytes);
});

test("dataset rejects bad input before any GPU work", async () => {
  const rt = await lt.init();
  const ds = dataset(new Uint8Array(12), { shape: [3], labels: [0, 1, 2, 1] });
  const idx = i32([0, 1, 2]);
  const f = lt.zeros([3]);
  const dispatches = rt.dispatchCount;
  assertThrows(
    () => dataset(new Uint8Array(1000), { shape: [28, 28] }),
    "dataset: 1000 values is not a whole number of samples of shape [28, 28] (784 values each)",
  );
  assertThrows(() => dataset(new Float32Array(8)), "dataset: expected options.shape");
  assertThrows(() => dataset(new Float32Array(8), { shape: [0, 2] }), /positive integers/);
  assertThrows(
    () => dataset(new Int32Array(8) as unknown as Float32Array, { shape: [2] }),
    "dataset: expected a Uint8Array, Float32Array, tensor or image set, got Int32Array",
  );
  assertThrows(
    () => dataset(new Uint8Array(6), { shape: [2], labels: [0, 1] }),
    "dataset: expected 3 labels (one per sample), got 2",
  );
  assertThrows(
    () => dataset(new Uint8Array(6), { shape: [2], labels: [0, 1, 5], classes: 4 }),
    "dataset: expected labels to be integers in [0, 4), got 5 at position 2",
  );
  assertThrows(
    () => dataset(new Uint8Array(6), { shape: [2], noise: { std: -1 } }),
    "dataset: expected noise.std to be a finite number >= 0, got -1",
  );
  assertThrows(
    () => dataset(new Uint8Array(6), { shape: [2], noise: { std: 1, clip: [1, 0] } }),
    /noise.clip to be \[lo, hi\] with lo <= hi/,
  );
  assertThrows(
    () => dataset(new Float32Array(6), { shape: [3], maxShardBytes: 8 }),
    "dataset: one sample of shape [3] f32 takes 12 bytes, more than a shard may hold (8 bytes",
  );
  assertThrows(() => ds.gather(idx, 0, 0), "dataset.gather: expected a batch size >= 1, got 0");
  assertThrows(
    () => ds.gather(idx, 2, 2),
    "dataset.gather: rows 2..3 (offset 2, count 2) are outside the 3 indices",
  );
  assertThrows(() => ds.batch(f), /dataset.batch: expected indices as a live i32 tensor/);
  assertThrows(
    () => ds.batch(idx, { out: f }),
    "dataset.batch: expected out f32 [3, 3], got f32 [3]",
  );
  assertThrows(() => ds.epoch({ batchSize: 0 }), "dataset.epoch: expected batchSize >= 1, got 0");
  assertThrows(
    () => ds.epoch({ batchSize: 5, dropRemainder: true }),
    "dataset.epoch: batchSize 5 with dropRemainder leaves no step for 4 samples",
  );
  assertThrows(() => ds.slice(3, 3), "dataset.slice: expected 0 <= start < end <= 4");
  assertThrows(() => ds.subset([4]), "dataset.subset: expected indices in [0, 4), got 4");
  const unlabelled = dataset(new Uint8Array(3), { shape: [1] });
  assertThrows(() => unlabelled.batchLabels(idx), "dataset.batchLabels: the dataset has no labels");
  unlabelled.dispose();
  assertEquals(rt.dispatchCount, dispatches, "no GPU work for bad input");
  ds.dispose();
  assertThrows(() => ds.batch(idx), "dataset.batch: the dataset was disposed");
  idx.dispose();
  f.dispose();
});

test("dataset larger than one storage binding is sharded (all of MNIST as f32)", async () => {
  const rt = await lt.init();
  const binding = rt.limits.maxStorageBufferBindingSize;
  const features = 784;
  const n = 70000;
  // 220 MB: more than one binding on adapters with 128 MiB bindings.
  const values = new Float32Array(n * features);
  for (let s = 0; s < n; s++) values[s * features + (s % features)] = s;
  const ds = dataset(values, { shape: [28, 28] });
  assertEquals(ds.shards, Math.ceil((n * features * 4) / (Math.floor(binding / 3136) * 3136)));
  const pick = [0, n - 1, 42000, 41000, 40000, 1, 69999];
  const idx = i32(pick);
  const x = (await ds.batch(idx).toArray()) as Float32Array;
  for (let r = 0; r < pick.length; r++) {
    const row = x.subarray(r * features, (r + 1) * features);
    const s = pick[r];
    assertEquals(row[s % features], s, `sample ${s}`);
    assertEquals(row.reduce((a, b) => a + b, 0), s, `sample ${s} has one nonzero value`);
  }
  idx.dispose();
  ds.dispose();
  rt.trim();
}, { browser: false });

test("gatherRows picks rows of a matrix by index like a host gather; a bad index makes a NaN row", async () => {
  await lt.init();
  const rng = freshRng();
  // Row lengths that are and are not multiples of 4 (the kernel reads 4 at a time).
  for (const k of [10, 3, 1, 8]) {
    const n = 37;
    const table = rng.uniform(n * k);
    const idx = Int32Array.from({ length: 20 }, () => Math.floor(rng.next() * n));
    idx[7] = -1;
    idx[11] = n; // past the last row
    const offset = 3, count = 14;
    const got = lt.tidy(() =>
      internal.gatherRows("test", lt.tensor(table, [n, k]), {
        indices: lt.tensor(idx, [20], "i32"),
        offset,
        count,
      })
    );
    assertEquals(got.shape, [count, k]);
    const want = new Float32Array(count * k);
    for (let r = 0; r < count; r++) {
      const i = idx[offset + r];
      for (let c = 0; c < k; c++) want[r * k + c] = i >= 0 && i < n ? table[i * k + c] : NaN;
    }
    const v = await got.toArray();
    got.dispose();
    for (let j = 0; j < want.length; j++) {
      const ok = Number.isNaN(want[j]) ? Number.isNaN(v[j]) : v[j] === want[j];
      assert(ok, `k ${k}, element ${j}: expected ${want[j]}, got ${v[j]} (seed ${rng.seed})`);
    }
  }
});

test("gatherRows refuses a non-f32 table and an index range outside its indices", async () => {
  await lt.init();
  lt.tidy(() => {
    const idx = lt.tensor(new Int32Array([0, 1, 2]), [3], "i32");
    assertThrows(
      () =>
        internal.gatherRows("g", lt.zeros([4, 2], "i32"), { indices: idx, offset: 0, count: 2 }),
      "g: expected an f32 table [n, ...]",
    );
    assertThrows(
      () => internal.gatherRows("g", lt.zeros([4, 2]), { indices: idx, offset: 2, count: 2 }),
      "g: rows 2..3 (offset 2, count 2) are outside the 3 indices",
    );
    assertThrows(
      () =>
        internal.gatherRows("g", lt.zeros([4, 2]), { indices: lt.zeros([3]), offset: 0, count: 1 }),
      "g: expected indices as a live i32 tensor",
    );
  });
});
