/**
 * The work planner under lowered budgets (src/gpu/budget.ts): with 4
 * workgroups per grid dimension and loop budgets of a few iterations, small
 * shapes take the folded-grid, multi-pass, split-K and chunked paths that
 * real sizes take on a driver that truncates loops (Mesa 22's llvmpipe).
 * Every result is checked against float64 or finite differences, and sizes
 * past what the budgets can plan must throw a clear error before any GPU
 * work. The large sizes themselves, on both Mesa drivers, are in
 * test/size_test.ts.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { rowsTooLong } from "../../src/ops/softmax.ts";
import { rowThreads } from "../../shaders/reduce.ts";
import { reduceProfile } from "../../src/ops/tuning.ts";
import type { MatmulTile } from "../../shaders/matmul.ts";
import type { ConvTile } from "../../shaders/conv2d.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, refMatmul } from "../ref.ts";
import { refConv2d } from "../ref_conv.ts";

/** The budgets of most cases: 4 workgroups per dimension, 64 loop iterations. */
const LOW = { workgroupsPerDim: 4, loopIterations: 64 };

test("the loop budget follows the measured cap, and withBudgets restores it", async () => {
  const rt = await lt.init();
  assert(rt.info.loopCap !== undefined, "init did not measure the loop cap");
  const cap = rt.info.loopCap;
  assert(cap === null || (Number.isInteger(cap) && cap >= 4096), `loop cap ${cap}`);
  const before = rt.budgets;
  assertEquals(before.loopIterations, cap === null ? Infinity : Math.floor(cap / 2));
  assertEquals(before.workgroupsPerDim, rt.limits.maxComputeWorkgroupsPerDimension);
  if (cap !== null) assert(rt.info.notes?.some((n) => n.includes(String(cap))), "no cap note");
  internal.withBudgets(LOW, () => assertEquals(rt.budgets, LOW));
  assertEquals(rt.budgets, before);
  await internal.withBudgets(LOW, async () => {
    await Promise.resolve();
    assertEquals(rt.budgets, LOW);
  });
  assertEquals(rt.budgets, before);
  assertThrows(() =>
    internal.withBudgets(LOW, () => {
      throw new Error("inner");
    }), "inner");
  assertEquals(rt.budgets, before);
});

test("elementwise ops fold their grid into x, y and z under 4 workgroups per dimension", async () => {
  await lt.init();
  const rng = freshRng();
  // 1-D launches of 3, 12 and 47 workgroups: x only, x·y, and x·y·z.
  for (const n of [700, 3001, 12000]) {
    const a = rng.uniform(n), b = rng.uniform(n);
    const got = await internal.withBudgets(LOW, () => {
      const t = lt.tidy(() => lt.mul(lt.add(lt.tensor(a, [n]), lt.tensor(b, [n])), 2));
      return t.toArray().finally(() => t.dispose());
    });
    const want = Float64Array.from(a, (v, i) => 2 * (v + b[i]));
    assertClose(got, want, { rtol: 1e-6, atol: 1e-6, label: `n ${n} seed ${rng.seed}` });
  }
  // 4·4·4 workgroups of 64 threads hold 16384 vec4s at most.
  const big = lt.zeros([70001]);
  try {
    // (The test harness poisons the output first, so the fill may be named.)
    const e = assertThrows(() => internal.withBudgets(LOW, () => lt.exp(big)), /exp|fill/);
    assert(/do not fold into a grid of at most 4 per dimension/.test(e.message), e.message);
  } finally {
    big.dispose();
  }
});

test("reductions under a loop budget of 64 take more passes and match float64", async () => {
  await lt.init();
  const rng = freshRng();
  for (const shape of [[20000], [3, 5003], [2, 4099, 3]]) {
    const x = rng.uniform(numel(shape), -1, 1);
    const axis = shape.length - (shape.length === 3 ? 2 : 1);
    const len = shape[axis], inner = numel(shape.slice(axis + 1));
    const outer = numel(shape) / (len * inner);
    const want = { sum: new Float64Array(outer * inner), max: new Float64Array(outer * inner) };
    const abs = new Float64Array(outer * inner);
    const arg = new Int32Array(outer * inner);
    want.max.fill(-Infinity);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < len; j++) {
        for (let i = 0; i < inner; i++) {
          const v = x[(o * len + j) * inner + i], r = o * inner + i;
          want.sum[r] += v;
          abs[r] += Math.abs(v);
          if (v > want.max[r]) [want.max[r], arg[r]] = [v, j];
        }
      }
    }
    const label = `${JSON.stringify(shape)} axis ${axis} seed ${rng.seed}`;
    const [s, m, mn, a] = await internal.withBudgets(LOW, async () => {
      const t = lt.tensor(x, shape);
      const outs = [lt.sum(t, axis), lt.max(t, axis), lt.mean(t, axis), lt.argmax(t, axis)];
      try {
        return await Promise.all(outs.map((o) => o.toArray()));
      } finally {
        for (const o of [t, ...outs]) o.dispose();
      }
    });
    assertClose(s, want.sum, { rtol: 0, atol: 1e-6 * Math.max(...abs), label: `sum ${label}` });
    assertClose(m, want.max, { rtol: 0, atol: 0, label: `max ${label}` });
    assertClose(mn, want.sum.map((v) => v / len), {
      rtol: 0,
      atol: 1e-6 * Math.max(...abs) / len,
      label: `mean ${label}`,
    });
    assertEquals(Array.from(a), Array.from(arg), `argmax ${label}`);
  }
  // The example, scaled to the lowered budget: the maximum is the last element.
  const n = 12001;
  const z = new Float32Array(n);
  z[n - 1] = 7;
  const last = await internal.withBudgets(LOW, async () => {
    const t = lt.tensor(z, [n]);
    const outs = [lt.max(t), lt.argmax(t, 0), lt.sum(lt.onesLike(t))];
    try {
      return await Promise.all(outs.map((o) => o.item()));
    } finally {
      for (const o of [t, ...outs]) o.dispose();
    }
  });
  assertEquals(last, [7, n - 1, n]);
});

test("losses and penalties over long inputs under a loop budget of 64 match float64", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 25000;
  const p = rng.uniform(n, 0.05, 0.95), t = rng.uniform(n, 0, 1);
  let mse = 0, bce = 0, l2 = 0;
  for (let i = 0; i < n; i++) {
    mse += (p[i] - t[i]) ** 2;
    bce -= t[i] * Math.log(p[i]) + (1 - t[i]) * Math.log(1 - p[i]);
    l2 += p[i] * p[i];
  }
  const got = await internal.withBudgets(LOW, async () => {
    const pt = lt.tensor(p, [50, 500]), tt = lt.tensor(t, [50, 500]);
    const outs = [
      lt.meanSquaredError(pt, tt),
      lt.binaryCrossentropy(pt, tt),
      lt.l2Penalty(pt, 0.5),
    ];
    try {
      return await Promise.all(outs.map((o) => o.item()));
    } finally {
      for (const o of [pt, tt, ...outs]) o.dispose();
    }
  });
  assertClose(got, [mse / n, bce / n, 0.5 * l2], {
    rtol: 2e-5,
    atol: 0,
    label: `seed ${rng.seed}`,
  });
});

/** Float64 softmax (or log-softmax) of each row of an [rows, len] matrix. */
function refSoftmax(x: ArrayLike<number>, rows: number, len: number, log: boolean): Float64Array {
  const out = new Float64Array(rows * len);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity, s = 0;
    for (let j = 0; j < len; j++) m = Math.max(m, x[r * len + j]);
    for (let j = 0; j < len; j++) s += Math.exp(x[r * len + j] - m);
    for (let j = 0; j < len; j++) {
      const v = x[r * len + j] - m - Math.log(s);
      out[r * len + j] = log ? v : Math.exp(v);
    }
  }
  return out;
}

test("softmax and logSoftmax of rows past the loop budget compose reductions and match float64", async () => {
  await lt.init();
  const rng = freshRng();
  const budgets = { loopIterations: 4 };
  for (const [rows, len] of [[3, 1000], [2, 4099]]) {
    const x = rng.uniform(rows * len, -8, 8);
    internal.withBudgets(budgets, () => {
      assert(rowsTooLong(len, rowThreads(len, reduceProfile())), `rows of ${len} are not too long`);
    });
    for (const log of [false, true]) {
      const got = await internal.withBudgets(budgets, async () => {
        const t = lt.tensor(x, [rows, len]);
        const y = log ? lt.logSoftmax(t) : lt.softmax(t);
        try {
          return await y.toArray();
        } finally {
          t.dispose();
          y.dispose();
        }
      });
      assertClose(got, refSoftmax(x, rows, len, log), {
        rtol: 1e-5,
        atol: 1e-6,
        label: `${log ? "logSoftmax" : "softmax"} [${rows}, ${len}] seed ${rng.seed}`,
      });
    }
  }
  for (const log of [false, true]) {
    await internal.withBudgets(budgets, () =>
      gradCheck({
        label: `${log ? "logSoftmax" : "softmax"} [2, 1100] under a budget of 4`,
        rng,
        inputs: [{ data: rng.uniform(2 * 1100, -2, 2), shape: [2, 1100] }],
        forward: ([x]) => (log ? lt.logSoftmax(x) : lt.softmax(x)),
        reference: ([x]) => refSoftmax(x, 2, 1100, log),
        atol: 1e-3,
      }));
  }
});

test("cross-entropy names the op, the row length and the loop budget it cannot fit", async () => {
  await lt.init();
  const p = lt.full([2, 3000], 1 / 3000);
  const labels = lt.tensor(new Int32Array([1, 2]), [2], "i32");
  try {
    internal.withBudgets({ loopIterations: 4 }, () => {
      for (
        const [name, f] of [
          ["categoricalCrossentropy", () => lt.categoricalCrossentropy(p, p, { fromLogits: true })],
          ["sparseCategoricalCrossentropy", () => lt.sparseCategoricalCrossentropy(p, labels)],
        ] as const
      ) {
        const e = assertThrows(f, name);
        assert(/3000 classes/.test(e.message) && /at most 4/.test(e.message), e.message);
      }
    });
  } finally {
    p.dispose();
    labels.dispose();
  }
});

/** Tiles whose K loops the planner splits: one direct, one staged. */
const TILES: Record<string, MatmulTile> = {
  direct: { tm: 4, tn: 4, wgm: 8, wgn: 8, bk: 4, stage: false },
  staged: { tm: 4, tn: 4, wgm: 8, wgn: 8, bk: 8, stage: true },
};

test("matmul splits K past the loop budget, with bias and activation, and matches float64", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [name, tile] of Object.entries(TILES)) {
    for (
      const [m, k, n, ta, tb] of [[5, 1000, 6, false, false], [7, 333, 9, true, true]] as const
    ) {
      const a = rng.uniform(m * k), b = rng.uniform(k * n), bias = rng.uniform(n);
      const ref = refMatmul(a, b, m, k, n);
      const st = (x: Float32Array, r: number, c: number, t: boolean) =>
        t ? Float32Array.from({ length: r * c }, (_, i) => x[(i % r) * c + Math.floor(i / r)]) : x;
      const got = await internal.withBudgets({ loopIterations: 64 }, async () => {
        const at = lt.tensor(st(a, m, k, ta), ta ? [k, m] : [m, k]);
        const bt = lt.tensor(st(b, k, n, tb), tb ? [n, k] : [k, n]);
        const bb = lt.tensor(bias, [n]);
        const outs = [
          internal.matmulRaw(at, bt, { transA: ta, transB: tb, tile }),
          internal.matmulRaw(at, bt, {
            transA: ta,
            transB: tb,
            tile,
            bias: bb,
            activation: "relu",
          }),
        ];
        try {
          return await Promise.all(outs.map((o) => o.toArray()));
        } finally {
          for (const o of [at, bt, bb, ...outs]) o.dispose();
        }
      });
      const label = `${name} [${m}, ${k}] x [${k}, ${n}] seed ${rng.seed}`;
      const t = 2e-6 * Math.sqrt(k) + 1e-6;
      assertClose(got[0], ref, { rtol: 10 * t, atol: t, label });
      const relu = ref.map((v, i) => Math.max(0, v + bias[i % n]));
      assertClose(got[1], relu, { rtol: 10 * t, atol: t, label: `${label} +bias relu` });
    }
  }
});

test("matmul launches more row tiles than 4 workgroups per dimension in several dispatches", async () => {
  await lt.init();
  const rng = freshRng();
  const [m, k, n] = [300, 21, 7];
  const a = rng.uniform(m * k), b = rng.uniform(k * n);
  for (const batch of [1, 3]) {
    const got = await internal.withBudgets({ workgroupsPerDim: 4 }, async () => {
      const at = lt.tensor(new Float32Array(batch * m * k).map((_, i) => a[i % (m * k)]), [
        batch,
        m,
        k,
      ]);
      const bt = lt.tensor(b, [k, n]);
      const c = internal.matmulRaw(at, bt, { tile: TILES.direct });
      try {
        return await c.toArray();
      } finally {
        for (const o of [at, bt, c]) o.dispose();
      }
    });
    const one = refMatmul(a, b, m, k, n);
    const want = new Float64Array(batch * m * n).map((_, i) => one[i % (m * n)]);
    assertClose(got, want, { rtol: 1e-4, atol: 1e-5, label: `batch ${batch} seed ${rng.seed}` });
  }
  // 5 batches × 1 split along z do not fit 4 per dimension: a clear error first.
  const x = lt.zeros([5, 8, 8]);
  try {
    const e = assertThrows(() =>
      internal.withBudgets({ workgroupsPerDim: 4 }, () => lt.matmul(x, x))
    );
    assert(/matmul/.test(e.message) && /at most 4/.test(e.message), e.message);
  } finally {
    x.dispose();
  }
});

test("linear's gradients with K split under a loop budget of 64 match finite differences", async () => {
  await lt.init();
  const rng = freshRng();
  const [rows, inC, outC] = [300, 5, 3];
  await internal.withBudgets({ loopIterations: 64 }, () =>
    gradCheck({
      label: `linear [${rows}, ${inC}] -> ${outC} tanh under a budget of 64`,
      rng,
      inputs: [
        { data: rng.uniform(rows * inC), shape: [rows, inC] },
        { data: rng.uniform(inC * outC), shape: [inC, outC] },
        { data: rng.uniform(outC), shape: [outC] },
      ],
      forward: ([x, w, b]) => lt.linear(x, w, b, "tanh"),
      reference: ([x, w, b]) => {
        const z = refMatmul(x, w, rows, inC, outC);
        return z.map((v, i) => Math.tanh(v + b[i % outC]));
      },
    }));
});

const DIRECT_CONV: ConvTile = { tm: 8, tn: 4, wgm: 4, wgn: 1, bk: 4 };

test("conv2d's kernel and bias gradients split N·Ho·Wo under a loop budget and match finite differences", async () => {
  await lt.init();
  const rng = freshRng();
  const xs = [2, 9, 9, 3], ws = [3, 3, 3, 4];
  // Forward sums 27 products per output, dx 36; the kernel gradient 162 positions in chunks of 40.
  await internal.withBudgets(
    { loopIterations: 40 },
    () =>
      internal.withTuning({ conv: { tile: DIRECT_CONV } }, () =>
        gradCheck({
          label: "conv2d x [2, 9, 9, 3] k 3x3x3x4 same +bias under a budget of 40",
          rng,
          inputs: [
            { data: rng.uniform(numel(xs)), shape: xs },
            { data: rng.uniform(numel(ws)), shape: ws },
            { data: rng.uniform(4), shape: [4] },
          ],
          forward: ([x, w, b]) => lt.conv2d(x, w, { padding: "same", bias: b }),
          reference: ([x, w, b]) => refConv2d(x, xs, w, ws, { padding: "same", bias: b }).data,
        })),
  );
  // A window of 27 products cannot fit a budget of 16: a clear error first.
  const x = lt.zeros(xs), w = lt.zeros(ws);
  try {
    const e = assertThrows(() =>
      internal.withBudgets({ loopIterations: 16 }, () => lt.conv2d(x, w, { padding: "same" }))
    );
    assert(/conv2d/.test(e.message) && /27 products/.test(e.message), e.message);
  } finally {
    x.dispose();
    w.dispose();
  }
});

test("KMeans sums its clusters in chunks under a loop budget of 64 and returns true means", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 3001;
  // Two groups on a line, [0, 1) and [10, 11): the example, scaled down.
  const x = Float32Array.from({ length: n }, (_, i) => (i % 2) * 10 + rng.uniform(1)[0]);
  const r = await internal.withBudgets({ loopIterations: 64 }, async () => {
    const t = lt.tensor(x, [n, 1]);
    try {
      return await new lt.cluster.KMeans({ k: 2, seed: 1, nInit: 2 }).fit(t);
    } finally {
      t.dispose();
    }
  });
  const sums = [0, 0], counts = [0, 0];
  for (let i = 0; i < n; i++) {
    assertEquals(r.labels[i], r.labels[i % 2], `point ${i} joined the other group`);
    sums[r.labels[i]] += x[i];
    counts[r.labels[i]]++;
  }
  assertClose(r.centers, sums.map((s, j) => s / counts[j]), {
    rtol: 1e-5,
    atol: 1e-5,
    label: `seed ${rng.seed}`,
  });
});
