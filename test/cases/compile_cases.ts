/**
 * Compiled training steps (src/gpu/capture.ts): fit replays captured steps
 * and gets the losses and weights of eager steps on each kind of benchmark
 * model (dense, DEC-shaped dense, convolutional, DEC's fine-tuning), falls
 * back to eager steps with a reason when a step cannot be replayed,
 * re-captures when a buffer it uses is freed, and allocates nothing per
 * replayed step.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng } from "../ref.ts";

interface Run {
  loss: number[];
  weights: Float32Array[];
  report: lt.CompileReport | undefined;
  iterations: number;
}

/** fit of a freshly seeded model, compiled or not. */
async function fitOnce(
  build: () => lt.nn.Model,
  loss: "mse" | "binary_crossentropy",
  x: Float32Array,
  compileStep: boolean,
  extra: Partial<lt.nn.FitOptions> = {},
): Promise<Run> {
  lt.nn.setSeed(7);
  const m = build();
  const optimizer = lt.optim.adam(0.01);
  m.compile({ optimizer, loss });
  try {
    // 43 samples: 5 batches of 8 and one of 3 each epoch.
    const h = await m.fit(x, x, { epochs: 4, batchSize: 8, seed: 5, compileStep, ...extra });
    return {
      loss: h.history.loss,
      weights: await m.getWeights(),
      report: h.compileStep,
      iterations: optimizer.iterations,
    };
  } finally {
    m.dispose();
    optimizer.dispose();
  }
}

function assertSameRun(eager: Run, compiled: Run, label: string): void {
  assertClose(compiled.loss, eager.loss, { rtol: 1e-5, atol: 1e-7, label: `${label}: losses` });
  compiled.weights.forEach((w, i) =>
    assertClose(w, eager.weights[i], { rtol: 1e-5, atol: 1e-6, label: `${label}: weight ${i}` })
  );
  assertEquals(compiled.iterations, eager.iterations, `${label}: optimizer steps`);
}

const MODELS: [string, number[], () => lt.nn.Model, "mse" | "binary_crossentropy"][] = [
  ["deep AE", [12], () =>
    lt.nn.sequential(
      [
        lt.nn.dense(8, "relu"),
        lt.nn.dense(3, "relu"),
        lt.nn.dense(8, "relu"),
        lt.nn.dense(12, "sigmoid"),
      ],
      { inputShape: [12] },
    ), "binary_crossentropy"],
  ["DEC-shaped AE", [12], () =>
    lt.nn.sequential(
      [10, 10, 20, 2, 20, 10, 10, 12].map((u, i) =>
        lt.nn.dense(u, i === 3 || i === 7 ? "linear" : "relu")
      ),
      { inputShape: [12] },
    ), "mse"],
  ["conv AE", [6, 6, 1], () =>
    lt.nn.sequential(
      [
        lt.nn.conv2d(3, 3, { padding: "same", activation: "relu" }),
        lt.nn.maxPooling2d(2),
        lt.nn.conv2d(3, 3, { padding: "same", activation: "relu" }),
        lt.nn.upSampling2d(2),
        lt.nn.conv2d(1, 3, { padding: "same", activation: "sigmoid" }),
      ],
      { inputShape: [6, 6, 1] },
    ), "binary_crossentropy"],
];

for (const [name, shape, build, loss] of MODELS) {
  test(`fit of a ${name} replays compiled steps with the losses and weights of eager steps`, async () => {
    await lt.init();
    const rng = freshRng();
    const x = rng.uniform(43 * shape.reduce((a, b) => a * b), 0, 1);
    const eager = await fitOnce(build, loss, x, false);
    const compiled = await fitOnce(build, loss, x, true);
    assertSameRun(eager, compiled, `${name}, seed ${rng.seed}`);
    assertEquals(eager.report, undefined);
    const r = compiled.report!;
    assertEquals(r.fallback, null);
    // 5 full batches an epoch: one eager, two captured, then replayed; the
    // batch of 3 has its own plan (eager in epochs 1-3, replayed in 4).
    assertEquals(r.replayed + r.eager, 24);
    assertEquals(r.replayed, 4 * 5 - 3 + 1);
    assert(r.dispatches! > 0, "dispatches per replayed step");
  });
}

test("a denoising autoencoder's replayed steps draw fresh noise, as eager steps do", async () => {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(43 * 12, 0, 1);
  const [, , build] = MODELS[0];
  const run = async (compileStep: boolean) => {
    const ds = lt.data.dataset(x, { shape: [12], noise: { std: 0.3, clip: [0, 1], seed: 9 } });
    try {
      lt.nn.setSeed(7);
      const m = build();
      m.compile({ optimizer: lt.optim.adam(0.01), loss: "binary_crossentropy" });
      const h = await m.fit(ds, ds, { epochs: 3, batchSize: 8, seed: 5, compileStep });
      const weights = await m.getWeights();
      m.dispose();
      return { loss: h.history.loss, weights, report: h.compileStep, noiseStep: ds.noiseStep };
    } finally {
      ds.dispose();
    }
  };
  const eager = await run(false), compiled = await run(true);
  assertClose(compiled.loss, eager.loss, { rtol: 1e-5, atol: 1e-7, label: `seed ${rng.seed}` });
  compiled.weights.forEach((w, i) =>
    assertClose(w, eager.weights[i], { rtol: 1e-5, atol: 1e-6, label: `weight ${i}` })
  );
  assertEquals(compiled.noiseStep, eager.noiseStep);
  assertEquals(compiled.report!.fallback, null);
  assert(compiled.report!.replayed > 0, "steps were replayed");
});

/** Eager and compiled fits of a 12-feature model agree, and the compiled one replayed steps. */
async function assertReplaysLikeEager(
  label: string,
  build: () => lt.nn.Model,
  loss: "mse" | "binary_crossentropy",
  options: () => Partial<lt.nn.FitOptions> = () => ({}),
): Promise<void> {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(43 * 12, 0, 1);
  const eager = await fitOnce(build, loss, x, false, options());
  const compiled = await fitOnce(build, loss, x, true, options());
  assertSameRun(eager, compiled, `${label}, seed ${rng.seed}`);
  assertEquals(compiled.report!.fallback, null);
  assert(compiled.report!.replayed > 0, "steps were replayed");
}

test("a learning-rate schedule reaches replayed steps", () =>
  assertReplaysLikeEager("schedule", MODELS[0][2], MODELS[0][3], () => ({
    callbacks: [lt.callbacks.learningRateScheduler((e, lr) => (e >= 2 ? lr / 10 : lr))],
  })));

test("a step with dropout replays with a fresh mask each step, as eager steps draw", () =>
  assertReplaysLikeEager(
    "dropout",
    () =>
      lt.nn.sequential([lt.nn.dense(8, "relu"), lt.nn.dropout(0.3), lt.nn.dense(12)], {
        inputShape: [12],
      }),
    "mse",
  ));

test("validation between epochs and a mid-epoch stop leave replayed steps like eager ones", () =>
  assertReplaysLikeEager("validation and stop", MODELS[1][2], MODELS[1][3], () => {
    // 32 training samples: 4 batches an epoch; stop in the last epoch's third.
    let batches = 0, target: lt.callbacks.TrainingTarget | null = null;
    const stopper: lt.callbacks.Callback = {
      setParams: (_p, t) => void (target = t),
      onBatchEnd: () => void (++batches === 3 * 4 + 3 && (target!.stopTraining = true)),
    };
    return { validationSplit: 0.25, callbacks: [stopper] };
  }));

test("replays split across command batches (a small maxBatch) match eager steps", async () => {
  await lt.init();
  const rt = lt.runtime();
  const before = rt.maxBatch;
  rt.maxBatch = 5; // every replayed step flushes several times mid-step
  try {
    await assertReplaysLikeEager("maxBatch 5", MODELS[0][2], MODELS[0][3]);
  } finally {
    rt.maxBatch = before;
  }
});

/**
 * fit of a one-layer model with a custom step that scales its output by
 * `scale()`, made inside the step (6 steps).
 */
async function fitScaled(scale: () => lt.Tensor): Promise<lt.CompileReport> {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(24 * 4, 0, 1);
  lt.nn.setSeed(3);
  const m = lt.nn.sequential([lt.nn.dense(4)], { inputShape: [4] });
  m.compile({ optimizer: lt.optim.sgd(0.1) });
  try {
    const h = await m.fit(x, x, {
      epochs: 2,
      batchSize: 8,
      trainStep: ({ x: xb }, opt) => {
        const l = lt.meanSquaredError(lt.mul(m.apply(xb, { training: true }), scale()), xb);
        lt.backward(l);
        opt.step(m.trainableWeights());
        return l;
      },
    });
    return h.compileStep!;
  } finally {
    m.dispose();
  }
}

test("a step whose uniforms change without a refresh runs eagerly and says which op", async () => {
  let calls = 0;
  // A host counter baked into a fill: a replay could not repeat it.
  const r = await fitScaled(() => lt.full([4], 1 + 0.01 * calls++));
  assertEquals([r.replayed, r.eager, calls], [0, 6, 6]);
  assert(/fill.*changes its uniforms/.test(r.fallback ?? ""), r.fallback!);
});

test("a custom step that uploads host data runs eagerly and says why", async () => {
  const r = await fitScaled(() => lt.tensor(new Float32Array(4).fill(0.5), [4]));
  assertEquals([r.replayed, r.eager], [0, 6]);
  assert(/uploads host data/.test(r.fallback ?? ""), r.fallback!);
});

test("DEC.fit's compiled fine-tuning gives the refreshes and labels of eager steps", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 60, d = 6;
  const x = rng.uniform(n * d, 0, 1);
  const run = async (compileStep: boolean) => {
    lt.nn.setSeed(11);
    const ds = lt.data.dataset(x, { shape: [d] });
    const dec = new lt.cluster.DEC({ clusters: 3, dims: [d, 8, 2], seed: 4 });
    try {
      await dec.pretrain(ds, { epochs: 2, batchSize: 16, optimizer: lt.optim.adam(0.01) });
      await dec.initialize(ds, { nInit: 2 });
      // P refreshes every 7 steps: written in place, it never invalidates a recording.
      return await dec.fit(ds, {
        batchSize: 16,
        maxIter: 40,
        updateInterval: 7,
        tol: 0,
        compileStep,
      });
    } finally {
      dec.dispose();
      ds.dispose();
    }
  };
  const eager = await run(false), compiled = await run(true);
  assertEquals(compiled.iterations, eager.iterations);
  assertEquals(Array.from(compiled.labels), Array.from(eager.labels), `seed ${rng.seed}`);
  assertEquals(compiled.log.map((l) => l.delta), eager.log.map((l) => l.delta));
});

test("compileStep: a recording whose buffer is freed is captured again, and replays allocate nothing", async () => {
  await lt.init();
  const rt = lt.runtime();
  let w = lt.keep(lt.full([64], 1));
  const acc = lt.keep(lt.zeros([64]));
  const compiled = lt.compileStep();
  // acc += 2·w, all on the GPU.
  const step = () => lt.tidy(() => lt.copyInto(acc, lt.add(acc, lt.mul(w, 2))));
  try {
    for (let i = 0; i < 3; i++) compiled.run("k", step); // eager, two captures
    assertEquals(compiled.report.replayed, 0);
    const inUse = rt.pool.inUseBytes, d0 = rt.dispatchCount;
    for (let i = 0; i < 5; i++) compiled.run("k", step);
    assertEquals(compiled.report.replayed, 5);
    assertEquals(rt.pool.inUseBytes, inUse, "replays allocate nothing");
    assertEquals(rt.dispatchCount - d0, 5 * compiled.report.dispatches!);
    assertClose(await acc.toArray(), new Float32Array(64).fill(16), { label: "8 steps of +2" });
    // A new w: the kept recording read the old one's buffer.
    w.dispose();
    w = lt.keep(lt.full([64], 10));
    compiled.run("k", step); // dropped; the plan starts over: two captures
    compiled.run("k", step);
    compiled.run("k", step);
    assertEquals(compiled.report.replayed, 6);
    assertEquals(compiled.report.fallback, null);
    assertClose(await acc.toArray(), new Float32Array(64).fill(16 + 3 * 20), {
      label: "the new w is read",
    });
    // 100 replays without a sync: the uniform ring fills, is flushed and
    // grows (a new ring buffer), and the replays rebind their groups to it.
    for (let i = 0; i < 100; i++) compiled.run("k", step);
    assertClose(await acc.toArray(), new Float32Array(64).fill(16 + 3 * 20 + 100 * 20), {
      label: "after the ring grew",
    });
  } finally {
    compiled.dispose();
    w.dispose();
    acc.dispose();
  }
});

test("captures do not nest, and a recording that cannot replay is not kept", async () => {
  await lt.init();
  const rt = lt.runtime();
  assertThrows(
    () => rt.capture(() => void rt.capture(() => {})),
    "capture: a capture is already in progress",
  );
  const recording = rt.capture(() => lt.tidy(() => void lt.tensor([1, 2, 3])));
  assert(recording.unreplayable !== null, "an upload makes it unreplayable");
  assertThrows(() => rt.keep(recording), "keep: the recording cannot be replayed");
});
