/**
 * fit with a custom train step (Keras' `train_step`): the same losses as the
 * compiled step it imitates, callbacks and history around it, mid-epoch
 * stops, and DEC's fine-tuning (which runs on it) replaying the hand-written
 * loop it replaced.
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

test("a loss that adds itself into fit's total saves a dispatch per step, built in or in a trainStep", async () => {
  // The compiled loss reduces into fit's running total in its own last pass,
  // and so does a trainStep's loss made with { accumulate: { into:
  // batch.lossTotal } }; a plain trainStep's loss (and a total with a
  // regularization term) takes an add.
  await lt.init();
  const rt = lt.runtime();
  const rng = freshRng();
  const d = 9, n = 40; // 5 batches of 8
  const { x, y } = regression(rng, n, d);
  type How = "compiled" | "trainStep" | "trainStep adding itself" | "regularized";
  const count = async (how: How) => {
    lt.nn.setSeed(21);
    const m = lt.nn.sequential([
      lt.nn.dense(8, {
        activation: "tanh",
        kernelRegularizer: how === "regularized" ? lt.nn.regularizers.l2(1e-3) : undefined,
      }),
      lt.nn.dense(3),
    ], { inputShape: [d] });
    const custom = how.startsWith("trainStep");
    m.compile(
      custom ? { optimizer: lt.optim.sgd(0.1) } : { optimizer: lt.optim.sgd(0.1), loss: "mse" },
    );
    const selfAdding: lt.nn.TrainStep = ({ x, y, lossTotal }, optimizer) => {
      const pred = m.apply(x, { training: true });
      const loss = lt.meanSquaredError(pred, y!, { accumulate: { into: lossTotal } });
      lt.backward(loss);
      optimizer.step(m.trainableWeights());
      return loss;
    };
    const fit = (epochs: number) =>
      m.fit(x, y, {
        epochs,
        batchSize: 8,
        compileStep: false,
        trainStep: how === "trainStep" ? mseStep(m) : custom ? selfAdding : undefined,
      });
    await fit(1); // pipelines and optimizer state made
    const before = rt.dispatchCount;
    const h = await fit(2);
    const perStep = (rt.dispatchCount - before) / 10;
    m.dispose();
    return { perStep, loss: h.history.loss };
  };
  const compiled = await count("compiled"), plain = await count("trainStep");
  const selfAdding = await count("trainStep adding itself");
  const regularized = await count("regularized");
  const all = JSON.stringify({ compiled, plain, selfAdding, regularized });
  assertEquals(plain.loss, compiled.loss, "the same epoch losses");
  assertEquals(selfAdding.loss, compiled.loss, "the same epoch losses, added once");
  assertEquals(plain.perStep - compiled.perStep, 1, `dispatches per step ${all}`);
  assertEquals(selfAdding.perStep, compiled.perStep, `dispatches per step ${all}`);
  assert(regularized.perStep > compiled.perStep + 1, `a regularized total adds: ${all}`);
  assert(regularized.loss.every(Number.isFinite) && regularized.loss[1] < regularized.loss[0], all);
});

test("fit records no copy per step: the input gather hands the batch's rows on", async () => {
  // A copy ends the compute pass (~20 µs of host time a step in Deno);
  // fit copies the epoch's order once and each step's gather starts at its
  // row and writes the batch's indices for the targets and a custom step.
  await lt.init();
  const rt = lt.runtime();
  const rng = freshRng();
  const d = 9;
  for (const compileStep of [false, true]) {
    const copies: number[] = [];
    for (const n of [40, 80]) { // 5 and 10 batches of 8
      const { x, y } = regression(rng, n, d);
      const m = regressor(d);
      m.compile({ optimizer: lt.optim.sgd(0.1), loss: "mse" });
      await m.fit(x, y, { epochs: 1, batchSize: 8, compileStep });
      const before = rt.copyCount;
      await m.fit(x, y, { epochs: 2, batchSize: 8, compileStep });
      copies.push(rt.copyCount - before);
      m.dispose();
    }
    assertEquals(
      copies[1],
      copies[0],
      `copies of a fit of 5 and of 10 steps an epoch (compileStep ${compileStep})`,
    );
  }
});

test("a trainStep sees each batch's rows in order, needs no y, and a batch callback's stop ends fit there", async () => {
  await lt.init();
  const rng = freshRng();
  const d = 9, n = 22; // batches of 8, 8 and 6
  const { x } = regression(rng, n, d);
  const m = regressor(d);
  m.compile({ optimizer: lt.optim.sgd(0.1) });
  const seen: [number, number, number, number][] = [];
  const rows: lt.Tensor[] = [];
  const step: lt.nn.TrainStep = ({ x: xb, y, epoch, step, offset, size, indices }, optimizer) => {
    assertEquals(y, null);
    // The batch's own indices (offset 0), so a compiled step records the same commands.
    assertEquals([xb.shape, indices.shape], [[size, d], [size]]);
    seen.push([epoch, step, offset, size]);
    rows.push(lt.keep(lt.clone(indices)));
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
  assertEquals(seen, [[0, 0, 0, 8], [0, 1, 0, 8], [0, 2, 0, 6], [1, 0, 0, 8]]);
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  assertEquals(
    await Promise.all(rows.map(async (r) => Array.from(await r.toArray()))),
    [range(0, 8), range(8, 16), range(16, 22), range(0, 8)],
  );
  rows.forEach((r) => r.dispose());
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

/**
 * DEC's fine-tuning as DEC.fit ran it by hand before fit took a train step:
 * refresh P every `interval` steps, batches in order wrapping at the end,
 * `maxIter` steps. Returns the refresh steps.
 */
async function handWrittenDec(
  dec: lt.cluster.DEC,
  x: lt.data.Dataset,
  o: { maxIter: number; interval: number; batchSize: number; optimizer: lt.optim.Optimizer },
): Promise<number[]> {
  const rt = await lt.init();
  const n = x.n, k = dec.clusters, layer = dec.clustering!;
  const params = [...dec.encoder.trainableWeights(), layer.centers];
  const order = lt.keep(lt.tensor(Int32Array.from({ length: n }, (_, i) => i), [n], "i32"));
  const refreshes: number[] = [];
  let p: lt.Tensor | null = null;
  for (let ite = 0, index = 0; ite < o.maxIter; ite++) {
    if (ite % o.interval === 0) {
      const q = await dec.softAssignments(x);
      p?.dispose();
      p = lt.keep(lt.noGrad(() => lt.cluster.targetDistribution(q)));
      q.dispose();
      refreshes.push(ite);
    }
    const offset = index * o.batchSize, count = Math.min(o.batchSize, n - offset);
    const target = p!;
    lt.tidy(() => {
      const xb = x.gather(order, offset, count, { training: false });
      const pb = lt.empty([count, k]);
      rt.copy(
        "ref",
        target.storage().buffer,
        offset * k * 4,
        pb.storage().buffer,
        0,
        count * k * 4,
      );
      const z = dec.encoder.apply(xb, { training: true });
      lt.backward(lt.cluster.decLossFused(z, layer.centers, pb, dec.alpha));
      o.optimizer.step(params);
    });
    index = (index + 1) * o.batchSize < n ? index + 1 : 0;
    await rt.throttle();
  }
  p?.dispose();
  order.dispose();
  return refreshes;
}

test("DEC.fit on fit's trainStep replays the hand-written loop: same batches, refreshes, centres", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 40, d = 6;
  const x = lt.data.dataset(rng.normals(n * d), { shape: [d] });
  // 3 steps an epoch (16, 16, 8): refreshes every 4 and a maxIter of 10 cross epochs.
  const o = { maxIter: 10, interval: 4, batchSize: 16 };
  const tuned = async (viaFit: boolean) => {
    const dec = new lt.cluster.DEC({ clusters: 3, dims: [d, 5, 2], seed: 4 });
    await dec.initialize(x, { nInit: 1 });
    const optimizer = lt.optim.sgd({ learningRate: 0.05, momentum: 0.9 });
    let refreshes: number[];
    if (viaFit) {
      const r = await dec.fit(x, { ...o, updateInterval: o.interval, tol: 0, optimizer });
      assertEquals([r.iterations, r.stopped], [10, "maxIter"]);
      refreshes = r.log.map((e) => e.iteration);
    } else refreshes = await handWrittenDec(dec, x, { ...o, optimizer });
    const centers = await dec.clustering!.centers.toArray();
    const weights = await dec.encoder.getWeights();
    optimizer.dispose();
    dec.dispose();
    return { refreshes, centers, weights };
  };
  const byHand = await tuned(false), viaFit = await tuned(true);
  assertEquals(viaFit.refreshes, [0, 4, 8]);
  assertEquals(viaFit.refreshes, byHand.refreshes);
  assertEquals(viaFit.centers, byHand.centers, "centres");
  assertEquals(viaFit.weights, byHand.weights, "encoder weights");
  x.dispose();
});
