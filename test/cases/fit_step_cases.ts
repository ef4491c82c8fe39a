/**
 * fit with a custom train step (Keras' `train_step`): the same losses as the
 * compiled step it imitates, callbacks and history around it, mid-epoch
 * stops.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** Inputs [n, d] in [0, 1) and targets [n, 3] that depend on them nonlinearly. */
function regression(rng: Rng, n: number, d: number): { x: Float32Array; y: Float32Array } {
  const x = rng.uniform(n * d, 0, 1), y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < 3; o++) {
      let s = 0;
      for (let j = o; j < d; j += 3) s += x[i * d + j];
      y[i * 3 + o] = Math.sin(s);
    }
  }
  return { x, y };
}

function regressor(d: number): lt.nn.Model {
  lt.nn.setSeed(21);
  return lt.nn.sequential([lt.nn.dense(8, "tanh"), lt.nn.dense(3)], { inputShape: [d] });
}

/** A hand-written mean-squared-error step for `model`. */
function mseStep(model: lt.nn.Model): lt.nn.TrainStep {
  return ({ x, y }, optimizer) => {
    const loss = lt.meanSquaredError(model.apply(x, { training: true }), y!);
    lt.backward(loss);
    optimizer.step(model.trainableWeights());
    return loss;
  };
}

test("fit with a hand-written MSE trainStep gives the losses and weights of compile({ loss: 'mse' })", async () => {
  await lt.init();
  const rng = freshRng();
  const d = 9;
  const { x, y } = regression(rng, 44, d);
  const run = async (custom: boolean) => {
    const m = regressor(d);
    m.compile(
      custom ? { optimizer: lt.optim.adam(0.03) } : { optimizer: lt.optim.adam(0.03), loss: "mse" },
    );
    const csv = lt.callbacks.csvLogger();
    let batches = 0;
    const h = await m.fit(x, y, {
      epochs: 4,
      batchSize: 8,
      seed: 3,
      trainStep: custom ? mseStep(m) : undefined,
      callbacks: [
        csv,
        // The step must update with the optimizer the schedule adjusts.
        lt.callbacks.learningRateScheduler((e, lr) => (e === 2 ? lr / 10 : lr)),
        lt.callbacks.lambda({ onBatchEnd: () => void batches++ }),
      ],
    });
    const weights = await m.getWeights();
    return { h, weights, csv: csv.text(), batches, m };
  };
  const compiled = await run(false), custom = await run(true);
  assertEquals(custom.h.epoch, [0, 1, 2, 3]);
  assertEquals(Object.keys(custom.h.history).sort(), ["loss", "lr"]);
  assertEquals(custom.h.history.loss, compiled.h.history.loss, "loss history");
  assertEquals(custom.h.history.lr, compiled.h.history.lr, "learning rates");
  assert(custom.h.history.loss[3] < custom.h.history.loss[0], `${custom.h.history.loss}`);
  assertEquals(custom.weights, compiled.weights, "weights after fit");
  assertEquals(custom.csv, compiled.csv);
  assertEquals(custom.batches, 4 * Math.ceil(44 / 8));
  // With the optimizer's state created, more epochs of the custom step leave memory as it was.
  const before = lt.memory();
  await custom.m.fit(x, y, { epochs: 2, batchSize: 4, trainStep: mseStep(custom.m) });
  const after = lt.memory();
  assertEquals([after.tensors, after.bytes], [before.tensors, before.bytes], "live tensors, bytes");
  compiled.m.dispose();
  custom.m.dispose();
});

test("a trainStep sees each batch's rows in order, needs no y, and a batch callback's stop ends fit there", async () => {
  await lt.init();
  const rng = freshRng();
  const d = 9, n = 22;
  const { x } = regression(rng, n, d);
  const m = regressor(d);
  m.compile({ optimizer: lt.optim.sgd(0.1) });
  const seen: [number, number, number, number][] = [];
  const step: lt.nn.TrainStep = ({ x: xb, y, epoch, step, offset, size, indices }, optimizer) => {
    assertEquals(y, null);
    assertEquals([xb.shape, indices.shape], [[size, d], [n]]);
    seen.push([epoch, step, offset, size]);
    // A loss of the model's own: the mean squared output.
    const out = m.apply(xb, { training: true });
    const loss = lt.mean(lt.mul(out, out));
    lt.backward(loss);
    optimizer.step(m.trainableWeights());
    return loss;
  };
  let steps = 0;
  const h = await m.fit(x, null, {
    epochs: 5,
    batchSize: 8,
    shuffle: false,
    trainStep: step,
    callbacks: [lt.callbacks.lambda({
      onBatchEnd: () => {
        if (++steps === 4) m.stopTraining = true;
      },
    })],
  });
  assertEquals(seen, [[0, 0, 0, 8], [0, 1, 8, 8], [0, 2, 16, 6], [1, 0, 0, 8]]);
  // The stopped epoch is still logged, over the one batch it ran.
  assertEquals(h.epoch, [0, 1]);
  assert(h.history.loss.every(Number.isFinite), `${h.history.loss}`);
  m.dispose();
});

test("fit refuses a custom trainStep it cannot serve, naming what is missing", async () => {
  await lt.init();
  const rng = freshRng();
  const d = 9;
  const { x, y } = regression(rng, 16, d);
  const m = regressor(d);
  m.compile({ optimizer: lt.optim.sgd(0.1) });
  const name = m.name;
  await assertRejects(
    () => m.fit(x, y),
    `fit(${name}): compiled without a loss; pass one to compile() or a trainStep`,
  );
  await assertRejects(
    () => m.evaluate(x, y),
    `evaluate(${name}): compiled without a loss (for a custom trainStep); nothing to evaluate`,
  );
  await assertRejects(
    () => m.fit(x, y, { trainStep: (b) => lt.mul(b.x, 1) }),
    `fit(${name}): trainStep's result must be a scalar tensor, got [16, 9]`,
  );
  await assertRejects(
    () => m.fit(x, null, { trainStep: mseStep(m), validationSplit: 0.25 }),
    `fit(${name}): validation evaluates the compiled loss on targets; expected a compiled loss and y, got no loss`,
  );
  m.compile({ optimizer: lt.optim.sgd(0.1), loss: "mse" });
  await assertRejects(() => m.fit(x, null), `fit(${name}): expected targets y, got null`);
  m.compile({ optimizer: lt.optim.sgd(0.1), loss: "mse", metrics: ["accuracy"] });
  await assertRejects(
    () => m.fit(x, y, { trainStep: mseStep(m) }),
    /fit\(.*\): a custom trainStep cannot report the compiled accuracy metric/,
  );
  m.dispose();
});
