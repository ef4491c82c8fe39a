/**
 * Optimizers: each fused update kernel against a float64 implementation of
 * Keras' formulas over several steps with random gradients (momentum,
 * Nesterov, Adam's bias correction, AMSGrad, decoupled decay, clipping),
 * plus state export/import, gradient bookkeeping and refused hyperparameters.
 */
import * as internal from "../../src/internal.ts";
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, numel, type Rng } from "../ref.ts";

/** Hyperparameters of the float64 reference. */
interface RefConfig {
  rule: "sgd" | "adam";
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  amsgrad?: boolean;
  wd?: number;
  clipValue?: number;
  clipNorm?: number;
  globalClipNorm?: number;
}

/** Keras 3's update rules in float64, written out plainly. */
class RefOptimizer {
  t = 0;
  m: Float64Array[] = [];
  v: Float64Array[] = [];
  vhat: Float64Array[] = [];
  constructor(public c: RefConfig) {}

  step(params: Float64Array[], grads: Float64Array[]): void {
    const c = this.c;
    this.t++;
    let gs = grads.map((g) => Float64Array.from(g));
    const norm = (g: Float64Array) => Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    if (c.clipValue !== undefined) {
      gs = gs.map((g) => g.map((x) => Math.min(Math.max(x, -c.clipValue!), c.clipValue!)));
    }
    if (c.clipNorm !== undefined) {
      gs = gs.map((g) => g.map((x) => x * c.clipNorm! / Math.max(norm(g), c.clipNorm!)));
    }
    if (c.globalClipNorm !== undefined) {
      const total = Math.sqrt(gs.reduce((s, g) => s + norm(g) ** 2, 0));
      gs = gs.map((g) => g.map((x) => x * c.globalClipNorm! / Math.max(total, c.globalClipNorm!)));
    }
    params.forEach((p, k) => {
      const g = gs[k];
      this.m[k] ??= new Float64Array(p.length);
      this.v[k] ??= new Float64Array(p.length);
      this.vhat[k] ??= new Float64Array(p.length);
      const [m, v, vh] = [this.m[k], this.v[k], this.vhat[k]];
      for (let i = 0; i < p.length; i++) {
        p[i] -= p[i] * (c.wd ?? 0) * c.lr;
        if (c.rule === "sgd") {
          const mu = c.momentum ?? 0;
          if (mu === 0) p[i] -= c.lr * g[i];
          else {
            m[i] = mu * m[i] - c.lr * g[i];
            p[i] += c.nesterov ? mu * m[i] - c.lr * g[i] : m[i];
          }
        } else {
          const b1 = c.beta1 ?? 0.9, b2 = c.beta2 ?? 0.999, eps = c.eps ?? 1e-7;
          const lrT = c.lr * Math.sqrt(1 - b2 ** this.t) / (1 - b1 ** this.t);
          m[i] += (g[i] - m[i]) * (1 - b1);
          v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
          let denom = v[i];
          if (c.amsgrad) denom = vh[i] = Math.max(vh[i], v[i]);
          p[i] -= lrT * m[i] / (Math.sqrt(denom) + eps);
        }
      }
    });
  }
}

// Sizes that are and are not multiples of 4: the update runs four elements per
// invocation where it can (24, 8) and one otherwise.
const SHAPES = [[37, 5], [3], [1], [2, 3, 7], [6, 4], [8]];

/**
 * Steps the GPU optimizer and the reference side by side with random
 * gradients (set by hand on `p.grad`), comparing every parameter after each step.
 */
async function compare(
  label: string,
  make: () => lt.optim.Optimizer,
  ref: RefConfig,
  { steps = 5, rng = freshRng(), gradScale = 1, lrAt }: {
    steps?: number;
    rng?: Rng;
    gradScale?: number;
    lrAt?: (t: number) => number;
  } = {},
): Promise<void> {
  await lt.init();
  const opt = make();
  const reference = new RefOptimizer(ref);
  const host = SHAPES.map((s) => Float64Array.from(rng.uniform(numel(s))));
  const params = SHAPES.map((s, k) => {
    const p = lt.tensor(Float32Array.from(host[k]), s);
    p.requiresGrad = true;
    return p;
  });
  for (let t = 1; t <= steps; t++) {
    if (lrAt) opt.learningRate = reference.c.lr = lrAt(t);
    // Scale per parameter so norm clipping bites on some and not others.
    const grads = SHAPES.map((s, k) =>
      rng.uniform(numel(s), -gradScale * (k + 1), gradScale * (k + 1))
    );
    lt.tidy(() => {
      params.forEach((p, k) => (p.grad = lt.tensor(grads[k], SHAPES[k])));
      opt.step(params);
    });
    reference.step(host, grads.map((g) => Float64Array.from(g)));
    for (let k = 0; k < params.length; k++) {
      assert(params[k].grad === null, "step clears the gradient");
      assertClose(await params[k].toArray(), host[k], {
        rtol: 2e-5,
        atol: 2e-6,
        label: `${label}, step ${t}, parameter ${JSON.stringify(SHAPES[k])}, seed ${rng.seed}`,
      });
    }
  }
  assertEquals(opt.iterations, steps);
  opt.dispose();
  params.forEach((p) => p.dispose());
}

const CASES: [string, () => lt.optim.Optimizer, RefConfig][] = [
  ["sgd", () => lt.optim.sgd(0.1), { rule: "sgd", lr: 0.1 }],
  ["sgd with momentum", () => lt.optim.sgd({ learningRate: 0.05, momentum: 0.9 }), {
    rule: "sgd",
    lr: 0.05,
    momentum: 0.9,
  }],
  [
    "sgd with Nesterov momentum",
    () => lt.optim.sgd({ learningRate: 0.05, momentum: 0.8, nesterov: true }),
    {
      rule: "sgd",
      lr: 0.05,
      momentum: 0.8,
      nesterov: true,
    },
  ],
  ["adam with bias correction", () => lt.optim.adam({ learningRate: 0.01 }), {
    rule: "adam",
    lr: 0.01,
  }],
  [
    "adam with non-default betas and epsilon",
    () => lt.optim.adam({ learningRate: 0.02, beta1: 0.5, beta2: 0.9, epsilon: 1e-3 }),
    {
      rule: "adam",
      lr: 0.02,
      beta1: 0.5,
      beta2: 0.9,
      eps: 1e-3,
    },
  ],
  ["adam with amsgrad", () => lt.optim.adam({ learningRate: 0.01, amsgrad: true }), {
    rule: "adam",
    lr: 0.01,
    amsgrad: true,
  }],
  ["adamw with decoupled decay", () => lt.optim.adamw({ learningRate: 0.01, weightDecay: 0.5 }), {
    rule: "adam",
    lr: 0.01,
    wd: 0.5,
  }],
  ["adamw default decay 0.004", () => lt.optim.adamw(0.05), { rule: "adam", lr: 0.05, wd: 0.004 }],
  [
    "sgd with weight decay and clipValue",
    () => lt.optim.sgd({ learningRate: 0.1, momentum: 0.5, weightDecay: 0.3, clipValue: 0.7 }),
    {
      rule: "sgd",
      lr: 0.1,
      momentum: 0.5,
      wd: 0.3,
      clipValue: 0.7,
    },
  ],
  ["adam with clipNorm", () => lt.optim.adam({ learningRate: 0.01, clipNorm: 2 }), {
    rule: "adam",
    lr: 0.01,
    clipNorm: 2,
  }],
  ["sgd with globalClipNorm", () => lt.optim.sgd({ learningRate: 0.1, globalClipNorm: 3 }), {
    rule: "sgd",
    lr: 0.1,
    globalClipNorm: 3,
  }],
];

for (const [label, make, ref] of CASES) {
  test(`${label} matches the float64 Keras update over 5 steps`, () => compare(label, make, ref));
}

// One update dispatch by default (parameters of both kinds, four elements
// per invocation and one, side by side); a lower limit splits them into
// groups (at 3: two vec4 parameters with a scalar one, then three scalar
// ones), down to one parameter per dispatch.
for (const most of [1, 3]) {
  for (const [label, make, ref] of [CASES[1], CASES[5], CASES[9]]) {
    test(`${label}, at most ${most} parameters per dispatch, matches the float64 update`, () =>
      internal.withTuning({ optimTensors: most }, () => compare(`${label} (${most})`, make, ref)));
  }
}

test("a step updates its parameters in one dispatch, or in groups of optimTensors", async () => {
  await lt.init();
  const rt = lt.runtime();
  // SHAPES has 2 sizes that are multiples of 4 and 4 that are not.
  const params = SHAPES.map((s) => lt.keep(lt.zeros(s)));
  const opt = lt.optim.adam(0.01);
  const dispatches = (most?: number) => {
    params.forEach((p) => (p.grad = lt.keep(lt.ones(p.shape))));
    const d0 = rt.dispatchCount;
    internal.withTuning(most === undefined ? {} : { optimTensors: most }, () => opt.step(params));
    return rt.dispatchCount - d0;
  };
  // Adam binds 3 buffers per parameter (G, P and S: m and v side by side) under the device's limit.
  const fit = Math.min(16, Math.floor(rt.limits.maxStorageBuffersPerShaderStage / 3));
  const expected = (most: number) => Math.ceil(6 / most);
  try {
    dispatches(); // makes the state (fills)
    assertEquals(dispatches(), expected(fit));
    assertEquals(dispatches(3), expected(Math.min(3, fit)));
    assertEquals(dispatches(1), 6);
  } finally {
    opt.dispose();
    params.forEach((p) => p.dispose());
  }
});

test("changing the learning rate between steps takes effect (schedules)", () =>
  compare("adam, decaying lr", () => lt.optim.adam(0.1), { rule: "adam", lr: 0.1 }, {
    lrAt: (t) => 0.1 / t,
  }));

test("clipNorm leaves gradients under the norm unchanged", () =>
  compare("sgd clipNorm", () => lt.optim.sgd({ learningRate: 0.1, clipNorm: 0.5 }), {
    rule: "sgd",
    lr: 0.1,
    clipNorm: 0.5,
  }, { gradScale: 0.01, steps: 2 }));

test("step skips parameters without a gradient and keeps memory flat", async () => {
  await lt.init();
  const w = lt.tensor([1, 2, 3], [3]);
  const frozen = lt.tensor([5, 6], [2]);
  w.requiresGrad = frozen.requiresGrad = true;
  const opt = lt.optim.adam(0.1);
  let count = 0;
  for (let i = 0; i < 30; i++) {
    lt.tidy(() => {
      // Gradient of Σ w² is 2w.
      lt.backward(lt.mul(w, w), lt.ones([3]));
      opt.step([w, frozen]);
    });
    if (i === 0) count = lt.memory().tensors;
  }
  assertEquals(lt.memory().tensors, count, "no tensor leaks per step");
  assertEquals(Array.from(await frozen.toArray()), [5, 6]);
  const v = await w.toArray();
  assert(v.every((x, i) => Math.abs(x) < [1, 2, 3][i]), `w moved towards 0: ${v}`);
  opt.dispose();
  w.dispose();
  frozen.dispose();
});

test("zeroGrad clears gradients without updating", async () => {
  await lt.init();
  const w = lt.tensor([1, 2], [2]);
  w.grad = lt.tensor([3, 4], [2]);
  const g = w.grad;
  const opt = lt.optim.sgd(0.1);
  opt.zeroGrad([w]);
  assert(w.grad === null && g.disposed, "gradient freed");
  opt.step([w]);
  assertEquals(Array.from(await w.toArray()), [1, 2]);
  w.dispose();
});

test("getState and setState resume a run exactly", async () => {
  await lt.init();
  const rng = freshRng();
  const shapes = [[4, 3], [3]];
  const init = shapes.map((s) => rng.uniform(numel(s)));
  const grads = Array.from({ length: 5 }, () => shapes.map((s) => rng.uniform(numel(s))));
  const makeParams = () =>
    shapes.map((s, k) => {
      const p = lt.tensor(init[k], s);
      p.name = ["kernel", "bias"][k];
      return p;
    });
  const run = (opt: lt.optim.Optimizer, ps: lt.Tensor[], from: number, to: number) => {
    for (let t = from; t < to; t++) {
      lt.tidy(() => {
        ps.forEach((p, k) => (p.grad = lt.tensor(grads[t][k], shapes[k])));
        opt.step(ps);
      });
    }
  };
  const a = lt.optim.adam({ learningRate: 0.05, amsgrad: true }), pa = makeParams();
  run(a, pa, 0, 5);

  const b = lt.optim.adam({ learningRate: 0.05, amsgrad: true }), pb = makeParams();
  run(b, pb, 0, 3);
  const saved = b.getState(pb);
  assertEquals(saved.iterations, 3);
  assertEquals(Object.keys(saved.tensors).sort(), [
    "bias/m",
    "bias/v",
    "bias/vhat",
    "kernel/m",
    "kernel/v",
    "kernel/vhat",
  ]);
  const c = lt.optim.adam({ learningRate: 0.05, amsgrad: true }), pc = makeParams();
  pc.forEach((p, k) => lt.assign(p, pb[k]));
  c.setState(pc, saved);
  run(c, pc, 3, 5);
  for (let k = 0; k < 2; k++) assertEquals(await pc[k].toArray(), await pa[k].toArray());
  // The saved tensors are copies: b steps on as if nothing was read.
  run(b, pb, 3, 5);
  for (let k = 0; k < 2; k++) assertEquals(await pb[k].toArray(), await pa[k].toArray());

  assertThrows(
    () =>
      c.setState(pc, { iterations: 1, tensors: { "kernel/momentum": saved.tensors["kernel/m"] } }),
    "adam.setState: no parameter slot for kernel/momentum (expected <parameter name>/m|v|vhat)",
  );
  assertThrows(
    () => c.setState(pc, { iterations: 1, tensors: { "bias/m": saved.tensors["kernel/m"] } }),
    "adam.setState: bias/m must be [3] f32, got [4, 3] f32",
  );
  assertThrows(
    () => c.setState(pc, { iterations: -1, tensors: {} }),
    /iterations must be a non-negative/,
  );
  for (const o of [a, b, c]) o.dispose();
  for (const p of [...pa, ...pb, ...pc, ...Object.values(saved.tensors)]) p.dispose();
});

test("optimizers refuse bad hyperparameters and gradients by name", async () => {
  await lt.init();
  assertThrows(
    () => lt.optim.sgd({ learningRate: NaN }),
    "sgd: learningRate must be a finite number > 0, got NaN",
  );
  assertThrows(() => lt.optim.sgd(-0.1), "sgd: learningRate must be a finite number > 0, got -0.1");
  assertThrows(() => lt.optim.adam(0), "adam: learningRate must be a finite number > 0, got 0");
  assertThrows(
    () => lt.optim.sgd({ momentum: 1.5 }),
    "sgd: momentum must be a number in [0, 1], got 1.5",
  );
  assertThrows(() => lt.optim.adam({ beta1: 1 }), "adam: beta1 must be a number in [0, 1), got 1");
  assertThrows(
    () => lt.optim.adam({ beta2: -0.1 }),
    "adam: beta2 must be a number in [0, 1), got -0.1",
  );
  assertThrows(
    () => lt.optim.adam({ epsilon: -1 }),
    "adam: epsilon must be a finite number >= 0, got -1",
  );
  assertThrows(
    () => lt.optim.adamw({ weightDecay: Infinity }),
    "adamw: weightDecay must be a finite number >= 0, got Infinity",
  );
  assertThrows(
    () => lt.optim.sgd({ clipValue: 1, clipNorm: 1 }),
    "sgd: set at most one of clipValue, clipNorm (Keras allows one)",
  );
  assertThrows(
    () => lt.optim.sgd({ clipNorm: 0 }),
    "sgd: clipNorm must be a finite number > 0, got 0",
  );
  const opt = lt.optim.sgd(0.1);
  assertThrows(
    () => (opt.learningRate = NaN),
    "sgd: learningRate must be a finite number > 0, got NaN",
  );
  assertEquals(opt.learningRate, 0.1);
  opt.learningRate = 0.2;
  assertEquals(opt.config.learningRate, 0.2);
  assertThrows(
    () => lt.optim.get("rmsprop"),
    'optimizer: unknown optimizer "rmsprop"; expected one of sgd, adam, adamw',
  );
  assertEquals(lt.optim.get("Adam").name, "adam");

  const w = lt.tensor([1, 2, 3], [3]);
  w.name = "dense/kernel";
  w.grad = lt.tensor([1, 2], [2]);
  const before = lt.memory().tensors;
  assertThrows(
    () => opt.step([w]),
    "sgd.step: gradient of dense/kernel: expected [3] f32, got [2] f32",
  );
  assertThrows(() => opt.step([w, w]), "sgd.step: parameter dense/kernel is listed twice");
  assertEquals(lt.memory().tensors, before, "nothing allocated by a refused step");
  assertEquals(opt.iterations, 0);
  opt.zeroGrad([w]);
  w.dispose();
  assertThrows(
    () => opt.step([w]),
    /sgd.step: parameter dense\/kernel: tensor \[3\] f32 was already disposed/,
  );
  opt.dispose();
  assertThrows(() => opt.step([]), "sgd.step: the optimizer was disposed");
});
