/**
 * Host-side data: PRNG, IDX, MNIST-format sets from bytes, blobs, scaler, splits.
 * @module
 */
import { test } from "../harness.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import {
  encodeIdx,
  type IdxArray,
  makeBlobs,
  MinMaxScaler,
  mnistFromBuffers,
  mnistFromUrl,
  parseIdx,
  philox4x32,
  readIdx,
  Rng,
  take,
  trainTestSplit,
} from "../../src/data/mod.ts";

// ---------------------------------------------------------------- PRNG

test("philox4x32 matches the Random123 known-answer vectors", () => {
  assertEquals(philox4x32([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  const f = 0xffffffff;
  assertEquals(philox4x32([f, f, f, f], [f, f]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
  assertEquals(
    philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  );
});

test("Rng is reproducible per (seed, stream) and differs across them", () => {
  const draw = (r: Rng) => Array.from({ length: 10 }, () => r.nextU32());
  assertEquals(draw(new Rng(42)), draw(new Rng(42)));
  assert(draw(new Rng(42)).join() !== draw(new Rng(43)).join(), "seeds 42 and 43 agree");
  assert(draw(new Rng(42, 0)).join() !== draw(new Rng(42, 1)).join(), "streams 0 and 1 agree");
  // Block i of stream s is philox([i, 0, s, 0], [seed, 0]): a GPU can reproduce it.
  const r = new Rng(7, 3);
  const words = Array.from({ length: 8 }, () => r.nextU32());
  assertEquals(words, [...philox4x32([0, 0, 3, 0], [7, 0]), ...philox4x32([1, 0, 3, 0], [7, 0])]);
  // Seeds above 2^32 use the second key word.
  assertEquals(new Rng(2 ** 32 + 5).nextU32(), philox4x32([0, 0, 0, 0], [5, 1])[0]);
});

test("Rng uniform, normal and int have the right moments and ranges", () => {
  const r = new Rng(1);
  const n = 200_000;
  let su = 0, sz = 0, sz2 = 0, lo = 1, hi = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
    su += u;
    const z = r.normal();
    sz += z;
    sz2 += z * z;
  }
  assert(lo >= 0 && hi < 1, `uniform out of [0,1): ${lo}..${hi}`);
  assertClose([su / n], [0.5], { atol: 0.005 });
  assertClose([sz / n, sz2 / n], [0, 1], { atol: 0.01 });
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
  for (const c of counts) assert(Math.abs(c - 10_000) < 400, `int(6) counts ${counts}`);
  const p = r.permutation(1000);
  assertEquals(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assertThrows(() => new Rng(-1), "non-negative");
  assertThrows(() => r.int(0), "Rng.int");
});

// ---------------------------------------------------------------- IDX

const IDX_SAMPLES: IdxArray[] = [
  { dtype: "u8", shape: [2, 3], data: new Uint8Array([0, 1, 2, 127, 128, 255]) },
  { dtype: "i8", shape: [4], data: new Int8Array([-128, -1, 0, 127]) },
  { dtype: "i16", shape: [2, 1, 2], data: new Int16Array([-32768, -2, 258, 32767]) },
  { dtype: "i32", shape: [3], data: new Int32Array([-2147483648, 16909060, 2147483647]) },
  { dtype: "f32", shape: [2, 2], data: new Float32Array([1.5, -0.25, 3.4e38, 1e-40]) },
  { dtype: "f64", shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) },
];

test("IDX round trips every dtype through encodeIdx and parseIdx", () => {
  for (const a of IDX_SAMPLES) {
    const back = parseIdx(encodeIdx(a), a.dtype);
    assertEquals(back.dtype, a.dtype);
    assertEquals(back.shape, a.shape);
    assertEquals(back.data, a.data, a.dtype);
    assertEquals(back.data.constructor, a.data.constructor, a.dtype);
  }
});

test("parseIdx reads big-endian headers and values written by hand", () => {
  // i16, 1 dimension of 2: [1, -2]
  const a = parseIdx(new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x00, 0x01, 0xff, 0xfe]));
  assertEquals(a, { dtype: "i16", shape: [2], data: new Int16Array([1, -2]) });
  // u8, [2, 1]: the MNIST label-file layout
  const b = parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9]));
  assertEquals(b, { dtype: "u8", shape: [2, 1], data: new Uint8Array([7, 9]) });
  // f32 1.0 is 3f 80 00 00 big-endian
  const c = parseIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0]));
  assertEquals(c.data, new Float32Array([1]));
  // The data is a copy: changing the input does not change it.
  const bytes = encodeIdx({ dtype: "u8", shape: [2], data: new Uint8Array([1, 2]) });
  const d = parseIdx(bytes);
  bytes[8] = 99;
  assertEquals(d.data, new Uint8Array([1, 2]));
});

function mnistHeader(total: number): Uint8Array {
  // u8 [60000, 28, 28] header, then zeros up to `total` bytes.
  const b = new Uint8Array(total);
  b.set([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]);
  return b;
}

test("parseIdx rejects truncated, padded and corrupt files naming the file and sizes", () => {
  assertThrows(
    () => parseIdx(mnistHeader(1000), "train-images"),
    "parseIdx(train-images): expected 47040016 bytes for u8 shape [60000,28,28], got 1000",
  );
  const good = encodeIdx(IDX_SAMPLES[2]);
  assertThrows(
    () => parseIdx(good.subarray(0, good.length - 1), "x"),
    /expected 24 bytes.*got 23 \(truncated\)/,
  );
  const long = new Uint8Array(good.length + 3);
  long.set(good);
  assertThrows(() => parseIdx(long, "x"), /expected 24 bytes.*got 27 \(trailing bytes\)/);
  assertThrows(() => parseIdx(new Uint8Array([0, 0, 8])), "expected at least 4 header bytes");
  assertThrows(
    () => parseIdx(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 1, 5])),
    "expected magic bytes 0x00 0x00, got 0x01 0x00",
  );
  assertThrows(() => parseIdx(new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 1, 5])), "got 0x0a");
  assertThrows(() => parseIdx(new Uint8Array([0, 0, 8, 0])), "expected at least 1 dimension");
  assertThrows(
    () => parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 0])),
    "dimension 1 to be positive",
  );
  assertThrows(
    () => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1])),
    "expected a 16-byte header for 3 dimensions",
  );
  assertThrows(
    () => parseIdx(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0])),
    "gzip-compressed; use readIdx",
  );
});

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

test("readIdx accepts raw and gzip-compressed IDX and rejects truncated gzip", async () => {
  const raw = encodeIdx(IDX_SAMPLES[4]);
  assertEquals((await readIdx(raw)).data, IDX_SAMPLES[4].data);
  assertEquals((await readIdx(raw.slice().buffer)).shape, [2, 2]);
  const gz = await gzip(raw);
  assertEquals(gz[0], 0x1f);
  assertEquals(await readIdx(gz, "t"), parseIdx(raw, "t"));
  await assertRejects(
    () => readIdx(gz.subarray(0, gz.length - 10), "t10k"),
    "readIdx(t10k): corrupt or truncated gzip",
  );
  // Trailing garbage after a valid gzip member decompresses to a bad IDX or fails: either way an error.
  await assertRejects(() => readIdx(gz.subarray(0, 12), "short"), "readIdx(short)");
});

// ---------------------------------------------------------------- MNIST-format sets

function tinySet(n: number, rows: number, cols: number, labelCount = n) {
  const images = new Uint8Array(n * rows * cols).map((_, i) => (i * 7) % 256);
  const labels = new Uint8Array(labelCount).map((_, i) => i % 10);
  return {
    images: encodeIdx({ dtype: "u8", shape: [n, rows, cols], data: images }),
    labels: encodeIdx({ dtype: "u8", shape: [labelCount], data: labels }),
    raw: { images, labels },
  };
}

test("mnistFromBuffers builds train and test splits and checks them", async () => {
  const tr = tinySet(5, 4, 3), te = tinySet(2, 4, 3);
  const m = await mnistFromBuffers(tr.images, tr.labels, await gzip(te.images), te.labels);
  assertEquals([m.train.n, m.train.rows, m.train.cols, m.test.n], [5, 4, 3, 2]);
  assertEquals(m.train.images, tr.raw.images);
  assertEquals(m.test.labels, te.raw.labels);
  const only = await mnistFromBuffers(tr.images, tr.labels);
  assertEquals(Object.keys(only), ["train"]);

  const bad = tinySet(5, 4, 3, 4);
  await assertRejects(
    () => mnistFromBuffers(bad.images, bad.labels),
    "imageSetFromIdx(train): expected 5 labels (one per image), got 4",
  );
  await assertRejects(
    () => mnistFromBuffers(tr.labels, tr.labels),
    "expected u8 images of shape [n, rows, cols], got u8 [5]",
  );
  const other = tinySet(2, 5, 3);
  await assertRejects(
    () => mnistFromBuffers(tr.images, tr.labels, other.images, other.labels),
    "expected test images of 4x3",
  );
  await assertRejects(
    () => mnistFromBuffers(tr.images, tr.labels.subarray(0, 10)),
    "parseIdx(train-labels-idx1-ubyte): expected 13 bytes",
  );
});

test("mnistFromUrl fetches the four files below the base URL", async () => {
  const tr = tinySet(3, 2, 2), te = tinySet(1, 2, 2);
  const served = new Map<string, Uint8Array>([
    ["https://x.test/mnist/train-images-idx3-ubyte.gz", await gzip(tr.images)],
    ["https://x.test/mnist/train-labels-idx1-ubyte", tr.labels],
    ["https://x.test/mnist/t10k-images-idx3-ubyte", te.images],
    ["https://x.test/mnist/t10k-labels-idx1-ubyte", te.labels],
  ]);
  const requested: string[] = [];
  const fakeFetch = (url: URL) => {
    requested.push(url.href);
    const body = served.get(url.href);
    return Promise.resolve(
      body
        ? new Response(body as Uint8Array<ArrayBuffer>)
        : new Response("no", { status: 404, statusText: "Not Found" }),
    );
  };
  const m = await mnistFromUrl("https://x.test/mnist", {
    files: { trainImages: "train-images-idx3-ubyte.gz" },
    fetch: fakeFetch,
  });
  assertEquals([m.train.n, m.test.n], [3, 1]);
  assertEquals(m.train.images, tr.raw.images);
  assertEquals(requested.length, 4);
  await assertRejects(
    () => mnistFromUrl("https://x.test/other/", { fetch: fakeFetch }),
    "mnistFromUrl: GET https://x.test/other/train-images-idx3-ubyte failed: 404 Not Found",
  );
});

// ---------------------------------------------------------------- blobs

test("makeBlobs is reproducible with a seed and splits samples like scikit-learn", () => {
  const a = makeBlobs({ nSamples: 10, nFeatures: 3, centers: 3, seed: 5, shuffle: false });
  const b = makeBlobs({ nSamples: 10, nFeatures: 3, centers: 3, seed: 5, shuffle: false });
  assertEquals(a.x, b.x);
  assertEquals(a.centers, b.centers);
  const c = makeBlobs({ nSamples: 10, nFeatures: 3, centers: 3, seed: 6, shuffle: false });
  assert(a.x.join() !== c.x.join(), "seeds 5 and 6 gave the same points");
  // 10 over 3 centres: the remainder goes to the first centre, in order when unshuffled.
  assertEquals(a.y, new Int32Array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2]));
  assertEquals([a.x.length, a.centers.length, a.nCenters, a.nFeatures], [30, 9, 3, 3]);
  // Shuffling permutes the same points.
  const s = makeBlobs({ nSamples: 10, nFeatures: 3, centers: 3, seed: 5 });
  assertEquals(Array.from(s.y).sort(), Array.from(a.y));
  assert(s.y.join() !== a.y.join(), "shuffle left labels grouped");
  assertEquals(s.centers, a.centers);
  // scikit-learn defaults: 100 samples, 2 features, 3 centres in [-10, 10].
  const d = makeBlobs();
  assertEquals([d.nSamples, d.nFeatures, d.nCenters], [100, 2, 3]);
});

test("makeBlobs clusters centre on their centres with the requested std", () => {
  const std = [0.5, 2];
  const { x, y, centers } = makeBlobs({
    nSamples: 20_000,
    nFeatures: 2,
    centers: 2,
    clusterStd: std,
    centerBox: [-5, 5],
    seed: 3,
  });
  for (const v of centers) assert(v >= -5 && v < 5, `centre ${v} outside the box`);
  for (let k = 0; k < 2; k++) {
    let n = 0;
    const sum = [0, 0], sq = [0, 0];
    for (let i = 0; i < y.length; i++) {
      if (y[i] !== k) continue;
      n++;
      for (let j = 0; j < 2; j++) {
        const d = x[2 * i + j] - centers[2 * k + j];
        sum[j] += d;
        sq[j] += d * d;
      }
    }
    assertEquals(n, 10_000);
    for (let j = 0; j < 2; j++) {
      assertClose([sum[j] / n], [0], {
        atol: 4 * std[k] / Math.sqrt(n),
        label: `mean k=${k} j=${j}`,
      });
      assertClose([Math.sqrt(sq[j] / n)], [std[k]], { rtol: 0.03, label: `std k=${k} j=${j}` });
    }
  }
});

test("makeBlobs takes explicit centres and validates its options", () => {
  const { x, y, nFeatures } = makeBlobs({
    nSamples: 4,
    centers: [[0, 0, 0], [100, 100, 100]],
    clusterStd: 0,
    shuffle: false,
  });
  assertEquals(nFeatures, 3);
  assertEquals(y, new Int32Array([0, 0, 1, 1]));
  assertEquals(x, new Float32Array([0, 0, 0, 0, 0, 0, 100, 100, 100, 100, 100, 100]));
  assertThrows(() => makeBlobs({ centers: [[0, 0], [1]] }), "centre 1 has 1");
  assertThrows(() => makeBlobs({ nSamples: 0 }), "nSamples to be a positive integer, got 0");
  assertThrows(
    () => makeBlobs({ centers: 2, clusterStd: [1] }),
    "expected 2 clusterStd values, got 1",
  );
  assertThrows(() => makeBlobs({ centerBox: [1, -1] }), "lo <= hi");
});

// ---------------------------------------------------------------- scaler

test("MinMaxScaler maps columns to the feature range and inverts exactly", () => {
  const x = new Float32Array([1, 10, -3, 2, 20, -3, 3, 40, -3]); // 3 rows, 3 columns
  const s = new MinMaxScaler().fit(x, 3);
  assertEquals(s.dataMin, new Float64Array([1, 10, -3]));
  assertEquals(s.dataMax, new Float64Array([3, 40, -3]));
  const t = s.transform(x);
  // Constant column: range taken as 1, so it maps to the low end (scikit-learn).
  assertClose(t, [0, 0, 0, 0.5, 1 / 3, 0, 1, 1, 0]);
  assertClose(s.inverseTransform(t), x, { rtol: 1e-6 });
  const r = new MinMaxScaler({ featureRange: [-1, 1] }).fitTransform(x, 3);
  assertClose(r, [-1, -1, -1, 0, -1 / 3, -1, 1, 1, -1], { atol: 1e-6 });
  const clipped = new MinMaxScaler({ clip: true }).fit(x, 3).transform(
    new Float32Array([5, 0, -3]),
  );
  assertClose(clipped, [1, 0, 0]);
  const unclipped = s.transform(new Float32Array([5, 0, -3]));
  assertClose(unclipped, [2, -1 / 3, 0]);
});

test("MinMaxScaler rejects bad shapes, ranges and use before fit", () => {
  assertThrows(
    () => new MinMaxScaler().transform([1, 2]),
    "MinMaxScaler.transform: call fit first",
  );
  assertThrows(() => new MinMaxScaler().fit([1, 2, 3], 2), "length divisible by 2 columns, got 3");
  assertThrows(() => new MinMaxScaler({ featureRange: [1, 1] }), "lo < hi");
  const s = new MinMaxScaler().fit([0, 1, 2, 3], 2);
  assertThrows(() => s.transform([1, 2, 3]), "divisible by 2");
});

// ---------------------------------------------------------------- split

test("trainTestSplit returns disjoint shuffled parts covering every row", () => {
  const { train, test } = trainTestSplit(10, { seed: 1 });
  assertEquals([train.length, test.length], [7, 3]); // ceil(0.25 * 10) = 3
  const all = [...train, ...test].sort((a, b) => a - b);
  assertEquals(all, Array.from({ length: 10 }, (_, i) => i));
  assertEquals(trainTestSplit(10, { seed: 1 }), { train, test });
  assert(
    trainTestSplit(100, { seed: 2 }).test.join() !== trainTestSplit(100, { seed: 3 }).test.join(),
    "seeds agree",
  );
  assertEquals(trainTestSplit(10, { testSize: 4 }).test.length, 4);
  assertThrows(
    () => trainTestSplit(10, { testSize: 10 }),
    "testSize in (0, 1) or an integer in [1, 9], got 10",
  );
  assertThrows(() => trainTestSplit(10, { testSize: 1.5 }), "got 1.5");
});

test("trainTestSplit with stratify keeps each class's share in both parts", () => {
  const labels = new Int32Array(1000).map((_, i) => (i < 700 ? 0 : i < 900 ? 1 : 2));
  const { train, test } = trainTestSplit(1000, { testSize: 0.2, seed: 4, stratify: labels });
  assertEquals([train.length, test.length], [800, 200]);
  const count = (idx: Int32Array, c: number) => idx.filter((i) => labels[i] === c).length;
  assertEquals([0, 1, 2].map((c) => count(test, c)), [140, 40, 20]);
  assertEquals(new Set([...train, ...test]).size, 1000);
  // Uneven shares still add up to the requested size.
  const odd = trainTestSplit(10, { testSize: 3, stratify: [0, 0, 0, 0, 0, 1, 1, 1, 2, 2] });
  assertEquals(odd.test.length, 3);
  assertEquals(new Set(Array.from(odd.test, (i) => [0, 0, 0, 0, 0, 1, 1, 1, 2, 2][i])).size, 3);
  assertThrows(
    () => trainTestSplit(4, { testSize: 2, stratify: [0, 0, 0, 1] }),
    "at least 2 rows of class 1",
  );
  assertThrows(() => trainTestSplit(4, { stratify: [0, 1] }), "expected 4 stratify labels, got 2");
});

test("take gathers rows by index and keeps the array type", () => {
  const x = new Uint8Array([0, 1, 10, 11, 20, 21, 30, 31]);
  const t = take(x, 2, [3, 0, 3]);
  assert(t instanceof Uint8Array, "type changed");
  assertEquals(t, new Uint8Array([30, 31, 0, 1, 30, 31]));
  assertEquals(
    take(new Float32Array([0.5, 1.5, 2.5]), 1, new Int32Array([2, 1])),
    new Float32Array([2.5, 1.5]),
  );
  assertThrows(() => take(x, 2, [4]), "expected indices in [0, 4), got 4 at position 0");
  assertThrows(() => take(x, 3, [0]), "positive rowLength dividing the length 8, got 3");
});
