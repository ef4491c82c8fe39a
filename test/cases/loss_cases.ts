/**
 * Losses and penalties against float64 references (Keras' formulas),
 * gradients against finite differences, clipping at exact 0 / 1, huge
 * logits, multi-pass sizes and bad input.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, type Rng } from "../ref.ts";

const EPS = 1e-7;
// The kernels clip in f32: the bounds are what f32 makes of eps and 1 − eps.
const LO = Math.fround(EPS);
const HI = Math.fround(1 - LO);
const clip = (v: number, lo = LO, hi = HI) => Math.min(Math.max(v, lo), hi);

/** Rows of the last axis. */
function rows(x: ArrayLike<number>, len: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < x.length / len; r++) {
    out.push(Array.from({ length: len }, (_, j) => x[r * len + j]));
  }
  return out;
}

const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

const REF = {
  mse: (p: ArrayLike<number>, t: ArrayLike<number>) =>
    meanOf(Array.from(p, (v, i) => (v - t[i]) ** 2)),
  mae: (p: ArrayLike<number>, t: ArrayLike<number>) =>
    meanOf(Array.from(p, (v, i) => Math.abs(v - t[i]))),
  bce: (p: ArrayLike<number>, t: ArrayLike<number>) =>
    meanOf(Array.from(p, (v, i) => {
      const c = clip(v);
      return -(t[i] * Math.log(c) + (1 - t[i]) * Math.log(1 - c));
    })),
  bceLogits: (x: ArrayLike<number>, t: ArrayLike<number>) =>
    meanOf(Array.from(x, (v, i) => Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v))))),
  cce: (p: ArrayLike<number>, t: ArrayLike<number>, len: number) => {
    const tr = rows(t, len);
    return meanOf(
      rows(p, len).map((row, r) => {
        const s = row.reduce((a, b) => a + b, 0);
        return -row.reduce((acc, v, j) => acc + tr[r][j] * Math.log(clip(v / s)), 0);
      }),
    );
  },
  cceLogits: (x: ArrayLike<number>, t: ArrayLike<number>, len: number) => {
    const tr = rows(t, len);
    return meanOf(
      rows(x, len).map((row, r) => {
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
        return row.reduce((acc, v, j) => acc + tr[r][j] * (lse - v), 0);
      }),
    );
  },
  sparse: (p: ArrayLike<number>, y: ArrayLike<number>, len: number) =>
    meanOf(
      rows(p, len).map((row, r) => {
        const c = row.map((v) => clip(v));
        return Math.log(c.reduce((a, b) => a + b, 0)) - Math.log(c[y[r]]);
      }),
    ),
  sparseLogits: (x: ArrayLike<number>, y: ArrayLike<number>, len: number) =>
    meanOf(
      rows(x, len).map((row, r) => {
        const m = Math.max(...row);
        return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[y[r]];
      }),
    ),
  // KL(p ‖ q): p the target, q the prediction; both clipped to [eps, 1].
  kld: (q: ArrayLike<number>, p: ArrayLike<number>, len: number) =>
    meanOf(
      rows(q, len).map((row, r) =>
        row.reduce((acc, v, j) => {
          const cp = clip(p[r * len + j], LO, 1), cq = clip(v, LO, 1);
          return acc + cp * Math.log(cp / cq);
        }, 0)
      ),
    ),
};

/** Positive rows (probabilities, not normalised). */
const probs = (rng: Rng, n: number) => rng.uniform(n, 0.05, 1);
/** Rows normalised to sum 1. */
function distributions(rng: Rng, n: number, len: number): Float32Array {
  const x = rng.uniform(n, 0.05, 1);
  for (let r = 0; r < n / len; r++) {
    let s = 0;
    for (let j = 0; j < len; j++) s += x[r * len + j];
    for (let j = 0; j < len; j++) x[r * len + j] /= s;
  }
  return x;
}

const SHAPES = [[1], [7], [13, 5], [4, 3, 7], [64, 100]];

interface LossCase {
  name: string;
  op: (p: lt.Tensor, t: lt.Tensor, o?: lt.LossOptions) => lt.Tensor;
  ref: (p: ArrayLike<number>, t: ArrayLike<number>, len: number) => number;
  pred: (rng: Rng, n: number, len: number) => Float32Array;
  target: (rng: Rng, n: number, len: number) => Float32Array;
  /** Moves targets off the loss's kinks in the prediction (gradient checks only). */
  awayFromKinks?: (p: Float32Array, t: Float32Array) => void;
}

const CASES: LossCase[] = [
  {
    name: "meanSquaredError",
    op: (p, t, o) => lt.meanSquaredError(p, t, o),
    ref: REF.mse,
    pred: (r, n) => r.normals(n),
    target: (r, n) => r.normals(n),
  },
  {
    name: "meanAbsoluteError",
    op: (p, t, o) => lt.meanAbsoluteError(p, t, o),
    ref: REF.mae,
    pred: (r, n) => r.normals(n),
    target: (r, n) => r.normals(n).map((v, i) => (i % 3 ? v : v + 0.1)),
    // |p − t| has a kink at p = t: a central difference of step 1e-4 across it
    // is wrong (odds ~6e-5 an element with fresh normals), so keep |p − t| ≥ 0.02.
    awayFromKinks: (p, t) =>
      t.forEach((v, i) => {
        if (Math.abs(v - p[i]) < 0.02) t[i] = p[i] + (v < p[i] ? -0.02 : 0.02);
      }),
  },
  {
    name: "binaryCrossentropy",
    op: (p, t, o) => lt.binaryCrossentropy(p, t, o),
    ref: REF.bce,
    pred: (r, n) => r.uniform(n, 0.02, 0.98),
    target: (r, n) => r.uniform(n, 0, 1),
  },
  {
    name: "binaryCrossentropy fromLogits",
    op: (p, t, o) => lt.binaryCrossentropy(p, t, { ...o, fromLogits: true }),
    ref: REF.bceLogits,
    pred: (r, n) => r.normals(n, 4),
    target: (r, n) => r.uniform(n, 0, 1),
  },
  {
    name: "categoricalCrossentropy",
    op: (p, t, o) => lt.categoricalCrossentropy(p, t, o),
    ref: REF.cce,
    pred: probs,
    target: distributions,
  },
  {
    name: "categoricalCrossentropy fromLogits",
    op: (p, t, o) => lt.categoricalCrossentropy(p, t, { ...o, fromLogits: true }),
    ref: REF.cceLogits,
    pred: (r, n) => r.normals(n, 3),
    target: distributions,
  },
  {
    name: "klDivergence",
    op: (q, p, o) => lt.klDivergence(p, q, o),
    ref: REF.kld,
    pred: distributions,
    target: distributions,
  },
];

for (const c of CASES) {
  test(`${c.name} matches the float64 Keras formula on awkward shapes`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of SHAPES) {
      const n = numel(shape), len = shape[shape.length - 1];
      const p = c.pred(rng, n, len), t = c.target(rng, n, len);
      const got = lt.tidy(() => c.op(lt.tensor(p, shape), lt.tensor(t, shape)));
      assertEquals(got.shape, []);
      assertClose([await got.item()], [c.ref(p, t, len)], {
        rtol: 2e-5,
        atol: 1e-6,
        label: `${c.name} ${JSON.stringify(shape)} seed ${rng.seed}`,
      });
      got.dispose();
    }
  });

  test(`${c.name} gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of [[6], [5, 7], [2, 3, 4]]) {
      const n = numel(shape), len = shape[shape.length - 1];
      const p = c.pred(rng, n, len), t = c.target(rng, n, len);
      c.awayFromKinks?.(p, t);
      // A random upstream gradient, and none (the loss's own gradient,
      // which elementwise losses write while summing themselves).
      for (const unit of [false, true]) {
        await gradCheck({
          label: `${c.name} ${JSON.stringify(shape)}${unit ? " unseeded" : ""}`,
          rng,
          inputs: [{ data: p, shape }, { data: t, shape, check: false }],
          forward: ([p, t]) => c.op(p, t),
          reference: ([p, t]) => [c.ref(p, t, len)],
          unit,
        });
      }
    }
  });
}

/**
 * Adds `c`'s loss of fresh inputs of each shape into a running total that
 * starts at a random value, times 1 and times a batch size, and checks the
 * total, that the loss itself is unchanged, and that the total cost no
 * dispatch (it rides in the reduction's last pass, past several passes too).
 */
async function checkAccumulates(
  name: string,
  rng: Rng,
  shapes: number[][],
  inputs: (n: number, len: number) => [lt.Tensor, lt.Tensor],
  op: (p: lt.Tensor, t: lt.Tensor, o?: lt.LossOptions) => lt.Tensor,
): Promise<void> {
  const rt = lt.runtime();
  for (const shape of shapes) {
    const n = numel(shape), len = shape[shape.length - 1];
    for (const scale of [undefined, 37]) {
      const [p, t] = inputs(n, len);
      const start = rng.normals(1)[0];
      const total = lt.tensor(Float32Array.of(start), [1]);
      let before = rt.dispatchCount;
      const plain = op(p, t);
      const plainDispatches = rt.dispatchCount - before;
      before = rt.dispatchCount;
      const added = op(p, t, { accumulate: { into: total, scale } });
      const label = `${name} ${JSON.stringify(shape)} scale ${scale} seed ${rng.seed}`;
      assertEquals(rt.dispatchCount - before, plainDispatches, `dispatches, ${label}`);
      const v = await plain.item();
      assertEquals(await added.item(), v, `the loss itself, ${label}`);
      assertClose([await total.item()], [start + v * (scale ?? 1)], { rtol: 1e-6, label });
      for (const x of [p, t, total, plain, added]) x.dispose();
    }
  }
}

for (const c of CASES) {
  test(`${c.name} adds itself into a running total without a dispatch of its own`, async () => {
    await lt.init();
    const rng = freshRng();
    await checkAccumulates(c.name, rng, [[1], [13, 5], [97, 1031]], (n, len) => [
      lt.tensor(c.pred(rng, n, len), [n / len, len]),
      lt.tensor(c.target(rng, n, len), [n / len, len]),
    ], c.op);
  });
}

test("sparseCategoricalCrossentropy adds itself into a running total", async () => {
  await lt.init();
  const rng = freshRng();
  await checkAccumulates("sparse", rng, [[1, 1], [7, 3], [3001, 10]], (n, len) => [
    lt.tensor(probs(rng, n), [n / len, len]),
    lt.tensor(rng.ints(n / len, len), [n / len]),
  ], (p, y, o) => lt.sparseCategoricalCrossentropy(p, y, o));
});

for (const fromLogits of [false, true]) {
  const name = `sparseCategoricalCrossentropy${fromLogits ? " fromLogits" : ""}`;
  const ref = fromLogits ? REF.sparseLogits : REF.sparse;
  test(`${name} matches float64 and its gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of [[1, 1], [7, 3], [13, 10], [2, 3, 5], [64, 300]]) {
      const n = numel(shape), len = shape[shape.length - 1];
      const x = fromLogits ? rng.normals(n, 3) : probs(rng, n);
      const y = rng.ints(n / len, len);
      const labels = lt.tensor(y, shape.slice(0, -1));
      const got = lt.tidy(() =>
        lt.sparseCategoricalCrossentropy(lt.tensor(x, shape), labels, { fromLogits })
      );
      assertClose([await got.item()], [ref(x, y, len)], {
        rtol: 2e-5,
        atol: 1e-6,
        label: `${name} ${JSON.stringify(shape)} seed ${rng.seed}`,
      });
      got.dispose();
      if (n <= 40) {
        await gradCheck({
          label: `${name} ${JSON.stringify(shape)}`,
          rng,
          inputs: [{ data: x, shape }],
          forward: ([p]) => lt.sparseCategoricalCrossentropy(p, labels, { fromLogits }),
          reference: ([p]) => [ref(p, y, len)],
        });
      }
      labels.dispose();
    }
  });
}

test("one-hot categorical and sparse cross-entropy agree", async () => {
  await lt.init();
  const rng = freshRng();
  const [n, k] = [9, 4];
  const y = rng.ints(n, k);
  const oneHot = new Float32Array(n * k);
  y.forEach((c, r) => (oneHot[r * k + c] = 1));
  const x = lt.tensor(rng.normals(n * k, 2), [n, k]);
  const labels = lt.tensor(y, [n]), t = lt.tensor(oneHot, [n, k]);
  const [a, b] = lt.tidy(() => [
    lt.categoricalCrossentropy(x, t, { fromLogits: true }),
    lt.sparseCategoricalCrossentropy(x, labels, { fromLogits: true }),
  ]);
  assertClose([await a.item()], [await b.item()], { rtol: 1e-6, atol: 1e-6 });
  for (const v of [x, labels, t, a, b]) v.dispose();
});

test("binaryCrossentropy at predictions of exactly 0 and 1 is finite and clipped", async () => {
  await lt.init();
  const p = [0, 1, 0, 1, 0.5, 1e-9];
  const t = [0, 1, 1, 0, 1, 1];
  const pred = lt.tensor(p, [2, 3]);
  pred.requiresGrad = true;
  const loss = lt.binaryCrossentropy(pred, lt.tensor(t, [2, 3]));
  const v = await loss.item();
  assert(Number.isFinite(v), `finite loss, got ${v}`);
  assertClose([v], [REF.bce(p, t)], { rtol: 1e-5 });
  lt.tidy(() => lt.backward(loss));
  const g = await pred.grad!.toArray();
  assert(Array.from(g).every(Number.isFinite), `finite gradient ${g}`);
  // Clipping stops the gradient outside [eps, 1 − eps], as tf.clip_by_value does.
  assertEquals([g[0], g[1], g[2], g[3], g[5]], [0, 0, 0, 0, 0]);
  assertClose([g[4]], [(-1 / 0.5) / 6], { rtol: 1e-5 });
  for (const x of [pred.grad!, pred, loss]) x.dispose();
});

test("cross-entropies from logits of ±1e4 stay finite", async () => {
  await lt.init();
  const x = [1e4, -1e4, 0, -1e4, 1e4, 3];
  const t = [1, 0, 0, 0, 0, 1];
  const logits = lt.tensor(x, [2, 3]);
  logits.requiresGrad = true;
  const target = lt.tensor(t, [2, 3]);
  const cce = lt.categoricalCrossentropy(logits, target, { fromLogits: true });
  const bce = lt.binaryCrossentropy(logits, target, { fromLogits: true });
  assertClose([await cce.item()], [REF.cceLogits(x, t, 3)], { rtol: 1e-5 });
  assertClose([await bce.item()], [REF.bceLogits(x, t)], { rtol: 1e-5 });
  lt.tidy(() => lt.backward(lt.add(cce, bce)));
  const g = await logits.grad!.toArray();
  assert(Array.from(g).every(Number.isFinite), `finite gradient ${g}`);
  for (const v of [logits.grad!, logits, target, cce, bce]) v.dispose();
});

test("meanSquaredError over 100003 elements takes several passes", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 100003;
  const p = rng.uniform(n), t = rng.uniform(n);
  const got = lt.tidy(() => lt.meanSquaredError(lt.tensor(p, [n]), lt.tensor(t, [n])));
  assertClose([await got.item()], [REF.mse(p, t)], { rtol: 1e-5, label: `seed ${rng.seed}` });
  got.dispose();
});

test("a loss back-propagated from itself writes its gradient as it sums, in every pass's size", async () => {
  // Unseeded backward takes the gradient the first reduction pass wrote
  // (no seed fill, no gradient dispatch); a seed of ones takes the gradient
  // kernel. Both must agree everywhere, past several reduction passes too
  // (outputs are poisoned in tests, so an element the pass skipped is NaN).
  await lt.init();
  const rt = lt.runtime();
  const rng = freshRng();
  for (const n of [1, 5, 1031, 100003]) {
    const p = rng.uniform(n), t = rng.uniform(n);
    const grads: Float32Array[] = [];
    const dispatches: number[] = [];
    for (const seeded of [false, true]) {
      const w = lt.tensor(p, [n]);
      w.requiresGrad = true;
      const target = lt.tensor(t, [n]);
      lt.tidy(() => {
        const loss = lt.meanSquaredError(w, target);
        const before = rt.dispatchCount;
        lt.backward(loss, seeded ? lt.ones([]) : undefined);
        dispatches.push(rt.dispatchCount - before);
      });
      grads.push(await w.grad!.toArray() as Float32Array);
      for (const v of [w.grad!, w, target]) v.dispose();
    }
    const want = Array.from(p, (v, i) => (2 * (v - t[i])) / n);
    assertClose(grads[0], want, {
      rtol: 1e-5,
      atol: 1e-9,
      label: `unseeded n=${n} seed ${rng.seed}`,
    });
    assertClose(grads[1], grads[0], { rtol: 1e-6, atol: 0, label: `seeded n=${n}` });
    assertEquals(
      dispatches[0],
      0,
      `unseeded backward of a leaf's loss dispatches nothing (n=${n})`,
    );
    assert(dispatches[1] >= 1, `the seeded backward runs the gradient kernel (n=${n})`);
  }
});

test("l1Penalty and l2Penalty are scale times the sum, with gradients", async () => {
  await lt.init();
  const rng = freshRng();
  for (const shape of [[1], [13, 5], [1031]]) {
    const x = rng.normals(numel(shape));
    const t = lt.tensor(x, shape);
    const [l1, l2] = lt.tidy(() => [lt.l1Penalty(t, 0.01), lt.l2Penalty(t, 0.3)]);
    let a = 0, s = 0;
    for (const v of x) {
      a += Math.abs(v);
      s += v * v;
    }
    assertClose([await l1.item(), await l2.item()], [0.01 * a, 0.3 * s], { rtol: 1e-5 });
    for (const v of [t, l1, l2]) v.dispose();
  }
  const x = rng.normals(35).map((v) => (Math.abs(v) < 0.02 ? v + 0.05 : v));
  for (
    const [name, op, ref] of [
      ["l1Penalty", lt.l1Penalty, (v: number) => 0.5 * Math.abs(v)],
      ["l2Penalty", lt.l2Penalty, (v: number) => 0.5 * v * v],
    ] as const
  ) {
    await gradCheck({
      label: name,
      rng,
      inputs: [{ data: x, shape: [5, 7] }],
      forward: ([t]) => op(t, 0.5),
      reference: ([t]) => [t.reduce((acc, v) => acc + ref(v), 0)],
    });
  }
});

test("a loss trains a parameter: the gradient of mse is 2 (w − t) / n", async () => {
  await lt.init();
  const w = lt.tensor([1, 2, 3, 4], [2, 2]);
  w.requiresGrad = true;
  const t = lt.tensor([0, 2, 5, 4], [2, 2]);
  lt.tidy(() => lt.backward(lt.meanSquaredError(w, t)));
  assertClose(await w.grad!.toArray(), [0.5, 0, -1, 0]);
  for (const v of [w.grad!, w, t]) v.dispose();
});

test("losses refuse mismatched shapes, targets that need grad, and bad options", async () => {
  await lt.init();
  const a = lt.zeros([256, 784]), b = lt.zeros([256, 783]);
  assertThrows(
    () => lt.meanSquaredError(a, b),
    "meanSquaredError: prediction [256, 784] and target [256, 783] differ",
  );
  assertThrows(
    () => lt.klDivergence(b, a),
    "klDivergence: prediction [256, 784] and target [256, 783] differ",
  );
  a.dispose();
  b.dispose();
  const p = lt.zeros([4, 3]), t = lt.zeros([4, 3]);
  t.requiresGrad = true;
  assertThrows(
    () => lt.binaryCrossentropy(p, t),
    "binaryCrossentropy: the target must not require gradients",
  );
  t.requiresGrad = false;
  assertThrows(
    () => lt.binaryCrossentropy(p, t, { epsilon: 0 }),
    "binaryCrossentropy: epsilon must be in (0, 0.5), got 0",
  );
  assertThrows(
    () => lt.sparseCategoricalCrossentropy(p, lt.zeros([4], "f32")),
    "sparseCategoricalCrossentropy: expected i32 labels [4], got f32 [4]",
  );
  assertThrows(
    () => lt.sparseCategoricalCrossentropy(p, lt.zeros([3], "i32")),
    "sparseCategoricalCrossentropy: prediction [4, 3] needs labels [4], got [3]",
  );
  assertThrows(() => lt.categoricalCrossentropy(lt.zeros([]), lt.zeros([])), "rank >= 1");
  assertThrows(() => lt.meanSquaredError(p, lt.zeros([4, 3], "i32")), "expected an f32 target");
  assertThrows(() => lt.l2Penalty(p, NaN), "l2Penalty: scale must be a finite number, got NaN");
  const dead = lt.zeros([1]);
  dead.dispose();
  const needsGrad = lt.zeros([1]);
  needsGrad.requiresGrad = true;
  for (
    const [into, scale, message] of [
      [lt.zeros([1], "i32"), 1, "meanSquaredError: accumulate.into must be a live f32 tensor"],
      [dead, 1, "meanSquaredError: accumulate.into must be a live f32 tensor, got a disposed"],
      [
        lt.zeros([2]),
        1,
        "meanSquaredError: accumulate.into must have 1 element(s) (the result's), got [2]",
      ],
      [needsGrad, 1, "meanSquaredError: accumulate.into is a running total and must not require"],
      [
        lt.zeros([1]),
        Infinity,
        "meanSquaredError: accumulate.scale must be a finite number, got Infinity",
      ],
    ] as const
  ) {
    const before = lt.runtime().dispatchCount;
    assertThrows(() => lt.meanSquaredError(p, t, { accumulate: { into, scale } }), message);
    assertEquals(lt.runtime().dispatchCount, before, `no GPU work before: ${message}`);
    if (!into.disposed) into.dispose();
  }
  // A total the loss reads (or a view of one) would be read and written by one dispatch.
  const a1 = lt.zeros([1]), b1 = lt.zeros([1]), b1view = lt.reshape(b1, []);
  for (const into of [a1, b1view]) {
    const before = lt.runtime().dispatchCount;
    assertThrows(
      () => lt.meanSquaredError(a1, b1, { accumulate: { into } }),
      "meanSquaredError: accumulate.into must not share storage with the op's inputs",
    );
    assertEquals(lt.runtime().dispatchCount, before, "no GPU work before the refusal");
  }
  for (const v of [a1, b1, b1view]) v.dispose();
  const labels = lt.zeros([4], "i32"), three = lt.zeros([3]), one = lt.zeros([1]);
  assertThrows(
    () => lt.sparseCategoricalCrossentropy(p, labels, { accumulate: { into: three } }),
    "sparseCategoricalCrossentropy: accumulate.into must have 1 element(s) (the result's), got [3]",
  );
  const x = lt.zeros([5]);
  assertThrows(
    () => internal.reduceAxisRaw("max", x, 1, 5, 1, [], { accumulate: { into: one } }),
    "max: only a sum accumulates into a total, got max",
  );
  for (const v of [labels, three, one, x]) v.dispose();
  p.dispose();
  t.dispose();
});

test("a sparse label outside the classes makes the loss NaN", async () => {
  await lt.init();
  const x = lt.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = lt.tensor(new Int32Array([0, 3]), [2]);
  const loss = lt.sparseCategoricalCrossentropy(x, y, { fromLogits: true });
  assert(Number.isNaN(await loss.item()), "NaN");
  for (const v of [x, y, loss]) v.dispose();
});

test("cross-entropies laid out for GPUs match float64 on this adapter too", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, k] of [[13, 10], [64, 300], [3, 2000]]) {
    const x = rng.normals(n * k, 3), p = probs(rng, n * k), t = distributions(rng, n * k, k);
    const y = rng.ints(n, k);
    const [xt, pt, tt, yt] = [
      lt.tensor(x, [n, k]),
      lt.tensor(p, [n, k]),
      lt.tensor(t, [n, k]),
      lt.tensor(y, [n]),
    ];
    const got = internal.withTuning({ reduce: internal.GPU_REDUCE }, () =>
      lt.tidy(() => [
        lt.categoricalCrossentropy(xt, tt, { fromLogits: true }),
        lt.categoricalCrossentropy(pt, tt),
        lt.sparseCategoricalCrossentropy(xt, yt, { fromLogits: true }),
        lt.sparseCategoricalCrossentropy(pt, yt),
        lt.meanSquaredError(pt, tt),
      ]));
    const want = [
      REF.cceLogits(x, t, k),
      REF.cce(p, t, k),
      REF.sparseLogits(x, y, k),
      REF.sparse(p, y, k),
      REF.mse(p, t),
    ];
    assertClose(await Promise.all(got.map((g) => g.item())), want, {
      rtol: 2e-5,
      atol: 1e-6,
      label: `[${n}, ${k}] seed ${rng.seed}`,
    });
    for (const v of [xt, pt, tt, yt, ...got]) v.dispose();
  }
  // gradCheck's forward runs inside tidy, so each check is one op (the
  // intermediate tensors of a composition would be freed before backward).
  const y = rng.ints(4, 9);
  const labels = lt.tensor(y, [4]);
  for (const fromLogits of [false, true]) {
    const ref = fromLogits ? REF.cceLogits : REF.cce;
    const sref = fromLogits ? REF.sparseLogits : REF.sparse;
    const data = fromLogits ? rng.normals(36, 2) : probs(rng, 36);
    await gradCheck({
      label: `categorical gradient (GPU layout) fromLogits ${fromLogits}`,
      rng,
      inputs: [{ data, shape: [4, 9] }, {
        data: distributions(rng, 36, 9),
        shape: [4, 9],
        check: false,
      }],
      forward: ([x, t]) =>
        internal.withTuning(
          { reduce: internal.GPU_REDUCE },
          () => lt.categoricalCrossentropy(x, t, { fromLogits }),
        ),
      reference: ([x, t]) => [ref(x, t, 9)],
    });
    await gradCheck({
      label: `sparse gradient (GPU layout) fromLogits ${fromLogits}`,
      rng,
      inputs: [{ data, shape: [4, 9] }],
      forward: ([x]) =>
        internal.withTuning(
          { reduce: internal.GPU_REDUCE },
          () => lt.sparseCategoricalCrossentropy(x, labels, { fromLogits }),
        ),
      reference: ([x]) => [sref(x, y, 9)],
    });
  }
  labels.dispose();
});
