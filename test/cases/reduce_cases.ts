/**
 * Reductions (sum, mean, max, min, argmax, argmin, reduceTo) and softmax /
 * log-softmax against float64 references, gradients against finite
 * differences, multi-pass sizes, ties, huge logits and bad input.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, refSumTo } from "../ref.ts";

/** Float64 reduction of `axes` of x; `f` folds, `init` starts. */
function refReduce(
  x: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
  f: (acc: number, v: number) => number,
  init: number,
): Float64Array {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(numel(outShape)).fill(init);
  const strides = shape.map((_, i) => numel(shape.slice(i + 1)));
  const ostr = outShape.map((_, i) => numel(outShape.slice(i + 1)));
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) {
      const idx = Math.floor(i / strides[d]) % shape[d];
      if (!axes.includes(d)) o += idx * ostr[d];
    }
    out[o] = f(out[o], x[i]);
  }
  return out;
}

/** Float64 argmax / argmin along one axis (first on ties). */
function refArg(
  x: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  better: (a: number, b: number) => boolean,
): Int32Array {
  const outer = numel(shape.slice(0, axis)),
    len = shape[axis],
    inner = numel(shape.slice(axis + 1));
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let best = 0;
      for (let k = 1; k < len; k++) {
        if (better(x[(o * len + k) * inner + j], x[(o * len + best) * inner + j])) best = k;
      }
      out[o * inner + j] = best;
    }
  }
  return out;
}

const OPS = {
  sum: { op: lt.sum, f: (a: number, v: number) => a + v, init: 0 },
  mean: { op: lt.mean, f: (a: number, v: number) => a + v, init: 0 },
  max: { op: lt.max, f: Math.max, init: -Infinity },
  min: { op: lt.min, f: Math.min, init: Infinity },
} as const;

/** Shapes and axes: first / middle / last, one element, primes, 1000+ elements. */
const AXIS_CASES: [number[], number | undefined][] = [
  [[1], 0],
  [[1], undefined],
  [[7], 0],
  [[13, 5], 0],
  [[13, 5], 1],
  [[3, 17, 5], 0],
  [[3, 17, 5], 1],
  [[3, 17, 5], 2],
  [[2, 1, 9, 4], 2],
  [[5, 1031], 1],
  [[1031, 3], 0],
  [[1031, 12], 0],
  [[37, 41], undefined],
  [[4, 1, 3], 1],
];

for (const name of ["sum", "mean", "max", "min"] as const) {
  test(`${name} matches float64 reference over first, middle, last and all axes`, async () => {
    await lt.init();
    const rng = freshRng();
    const { op, f, init } = OPS[name];
    for (const [shape, axis] of AXIS_CASES) {
      const x = rng.uniform(numel(shape), -2, 2);
      const axes = axis === undefined ? shape.map((_, i) => i) : [axis];
      let want = refReduce(x, shape, axes, f, init);
      // A sum's f32 rounding error scales with Σ|x| (its terms), not with the
      // possibly cancelled result; max / min are exact.
      let atol: number | Float64Array = 1e-6;
      if (name === "sum" || name === "mean") {
        const count = name === "mean" ? numel(axes.map((a) => shape[a])) : 1;
        want = want.map((v) => v / count);
        atol = refReduce(x, shape, axes, (a, v) => a + Math.abs(v), 0)
          .map((s) => 1e-6 + 2e-7 * s / count);
      }
      for (const keepDims of [false, true]) {
        const got = lt.tidy(() => op(lt.tensor(x, shape), axis, keepDims));
        const wantShape = shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
        assertEquals(got.shape, wantShape, `${name} ${JSON.stringify(shape)} axis ${axis} shape`);
        assertClose(await got.toArray(), want, {
          rtol: 1e-5,
          atol,
          label: `${name} ${JSON.stringify(shape)} axis ${axis} seed ${rng.seed}`,
        });
        got.dispose();
      }
    }
  });
}

test("sum and mean over 100003 elements take several passes and match float64", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 100003;
  const x = rng.uniform(n, -1, 1);
  let s = 0, sa = 0, mx = -Infinity, mn = Infinity;
  for (const v of x) {
    s += v;
    sa += Math.abs(v);
    mx = Math.max(mx, v);
    mn = Math.min(mn, v);
  }
  const t = lt.tensor(x, [n]);
  const got = lt.tidy(
    () => [lt.sum(t), lt.mean(t), lt.max(t), lt.min(t), lt.sum(t.view([1, n]), 1)],
  );
  const [gs, gm, gx, gn, grow] = await Promise.all(got.map((g) => g.item()));
  // f32 accumulation: the error bound scales with Σ|x|.
  assertClose([gs, grow], [s, s], { atol: 1e-6 * sa, rtol: 0, label: `sum seed ${rng.seed}` });
  assertClose([gm], [s / n], { atol: 1e-6 * sa / n, rtol: 0, label: "mean" });
  assertEquals([gx, gn], [mx, mn].map(Math.fround));
  for (const g of [t, ...got]) g.dispose();
});

test("column sums of [256, 2000] (the bias gradient) match float64", async () => {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(256 * 2000, -1, 1);
  const t = lt.tensor(x, [256, 2000]);
  const got = lt.tidy(() => [lt.sum(t, 0), lt.reduceTo(t, [2000]), lt.reduceTo(t, [1, 2000])]);
  const want = refSumTo(x, [256, 2000], [2000]);
  for (const g of got) {
    assertClose(await g.toArray(), want, { rtol: 1e-5, atol: 2e-5, label: `seed ${rng.seed}` });
  }
  for (const g of [t, ...got]) g.dispose();
});

test("sum over several axes matches float64 reference", async () => {
  await lt.init();
  const rng = freshRng();
  for (
    const [shape, axes] of [
      [[3, 4, 5], [0, 2]],
      [[2, 3, 4, 5], [1, 3]],
      [[6, 7], [-1, 0]],
      [[5, 1, 3, 1], [1, 3]],
    ] as [number[], number[]][]
  ) {
    const x = rng.uniform(numel(shape));
    const norm = axes.map((a) => (a < 0 ? a + shape.length : a));
    const want = refReduce(x, shape, norm, (a, v) => a + v, 0);
    const got = lt.tidy(() => lt.sum(lt.tensor(x, shape), axes));
    assertClose(await got.toArray(), want, {
      rtol: 1e-5,
      atol: 1e-5,
      label: JSON.stringify(shape),
    });
    got.dispose();
  }
});

test("reduceTo sums broadcast dims of conv-like and awkward shapes", async () => {
  await lt.init();
  const rng = freshRng();
  for (
    const [shape, to] of [
      [[4, 6, 5, 3], [6, 1, 1]],
      [[3, 7, 2], [1, 7, 1]],
      [[1031, 3], [1031, 1]],
      [[2, 1, 3], [3]],
      [[5, 4], []],
    ] as [number[], number[]][]
  ) {
    const x = rng.uniform(numel(shape));
    const got = lt.tidy(() => lt.reduceTo(lt.tensor(x, shape), to));
    assertEquals(got.shape, to);
    assertClose(await got.toArray(), refSumTo(x, shape, to), { rtol: 1e-5, atol: 1e-5 });
    got.dispose();
  }
});

test("argmax and argmin return the first extreme index along any axis", async () => {
  await lt.init();
  const rng = freshRng();
  const cases: [number[], number][] = [
    [[1], 0],
    [[13, 5], 0],
    [[13, 5], 1],
    [[3, 17, 5], 1],
    [
      [2, 5000],
      1,
    ],
    [[20001], 0],
    [[3, 4099], 1],
  ];
  for (const [shape, axis] of cases) {
    // Few distinct values: ties everywhere.
    const x = Float32Array.from(rng.ints(numel(shape), 5), (v) => v - 2);
    const t = lt.tensor(x, shape);
    const [amax, amin] = lt.tidy(() => [lt.argmax(t, axis), lt.argmin(t, axis)]);
    assertEquals(amax.dtype, "i32");
    assertEquals(await amax.toArray(), refArg(x, shape, axis, (a, b) => a > b), `argmax ${shape}`);
    assertEquals(await amin.toArray(), refArg(x, shape, axis, (a, b) => a < b), `argmin ${shape}`);
    for (const g of [t, amax, amin]) g.dispose();
  }
  const t = lt.tensor([3, 1, 2, 3], [2, 2]);
  const k = lt.argmax(t, -1, true);
  assertEquals(k.shape, [2, 1]);
  assertEquals(Array.from(await k.toArray()), [0, 1]);
  t.dispose();
  k.dispose();
});

test("sum and mean gradients match finite differences", async () => {
  await lt.init();
  const rng = freshRng();
  for (
    const [shape, axis] of [
      [[5, 7], 0],
      [[5, 7], 1],
      [[3, 4, 5], 1],
      [[3, 4, 5], [0, 2]],
      [[6, 5], undefined],
    ] as [number[], number | number[] | undefined][]
  ) {
    const axes = axis === undefined
      ? shape.map((_, i) => i)
      : typeof axis === "number"
      ? [axis]
      : axis;
    const count = numel(axes.map((a) => shape[a]));
    for (const name of ["sum", "mean"] as const) {
      await gradCheck({
        label: `${name} ${JSON.stringify(shape)} axis ${axis}`,
        rng,
        inputs: [{ data: rng.uniform(numel(shape)), shape }],
        forward: ([x]) => OPS[name].op(x, axis as number),
        reference: ([x]) =>
          refReduce(x, shape, axes, (a, v) => a + v, 0).map((v) => name === "mean" ? v / count : v),
      });
    }
  }
});

test("max and min gradients go to the extreme position", async () => {
  await lt.init();
  const rng = freshRng();
  for (
    const [shape, axis] of [[[5, 7], 0], [[5, 7], 1], [[3, 4, 5], 1], [[6, 5], undefined]] as [
      number[],
      number | undefined,
    ][]
  ) {
    // Distinct values 0.01 apart, so no two are within the finite-difference step.
    const n = numel(shape);
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const x = Float32Array.from(perm, (v) => (v - n / 2) * 0.01);
    const axes = axis === undefined ? shape.map((_, i) => i) : [axis];
    for (const name of ["max", "min"] as const) {
      await gradCheck({
        label: `${name} ${JSON.stringify(shape)} axis ${axis}`,
        rng,
        inputs: [{ data: x, shape }],
        forward: ([t]) => OPS[name].op(t, axis),
        reference: ([t]) => refReduce(t, shape, axes, OPS[name].f, OPS[name].init),
      });
    }
  }
  // Ties: the whole gradient goes to the first maximum.
  const w = lt.tensor([1, 5, 5, 2, 5], [5]);
  w.requiresGrad = true;
  lt.tidy(() => lt.backward(lt.max(w)));
  assertEquals(Array.from(await w.grad!.toArray()), [0, 1, 0, 0, 0]);
  w.grad!.dispose();
  w.dispose();
});

test("max over 100003 elements routes the gradient to its one position", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 100003;
  const x = rng.uniform(n, -1, 1);
  const at = Math.floor(rng.next() * n);
  x[at] = 2;
  const t = lt.tensor(x, [n]);
  t.requiresGrad = true;
  const m = lt.max(t);
  assertEquals(await m.item(), 2);
  lt.tidy(() => lt.backward(m));
  const g = await t.grad!.toArray();
  assertEquals(g[at], 1);
  let total = 0;
  for (const v of g) total += v;
  assertEquals(total, 1);
  for (const v of [t.grad!, t, m]) v.dispose();
});

test("reductions refuse bad input by name", async () => {
  await lt.init();
  const x = lt.zeros([3, 4]);
  assertThrows(
    () => lt.sum(x, 2),
    "sum: axis 2 is out of range for a tensor of rank 2 (shape [3, 4])",
  );
  assertThrows(() => lt.mean(x, [0, -3]), "mean: axis -3 is out of range");
  assertThrows(() => lt.max(lt.zeros([3], "i32")), "max: expected an f32 tensor, got i32 [3]");
  assertThrows(() => lt.argmax(x, 1.5), "argmax: axis 1.5 is out of range");
  assertThrows(() => lt.max(lt.zeros([3, 0]), 1), "max: cannot reduce an empty axis of [3, 0]");
  assertThrows(() => lt.reduceTo(x, [3]), "reduceTo: cannot reduce [3, 4] to [3]");
  x.dispose();
});

// ------------------------------------------------------------------ softmax

function refSoftmax(x: ArrayLike<number>, len: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / len; r++) {
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, x[r * len + j]);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x[r * len + j] - m);
    for (let j = 0; j < len; j++) {
      const v = x[r * len + j] - m;
      out[r * len + j] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return out;
}

for (const [name, log] of [["softmax", false], ["logSoftmax", true]] as const) {
  const op = log ? lt.logSoftmax : lt.softmax;
  test(`${name} matches float64 reference on short, prime and long rows`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of [[1, 1], [7, 10], [3, 5, 13], [300, 3], [2, 1000], [1, 4099], [5]]) {
      const x = rng.normals(numel(shape), 3);
      const got = lt.tidy(() => op(lt.tensor(x, shape)));
      assertClose(await got.toArray(), refSoftmax(x, shape[shape.length - 1], log), {
        rtol: 1e-5,
        atol: 1e-6,
        label: `${name} ${JSON.stringify(shape)} seed ${rng.seed}`,
      });
      got.dispose();
    }
  });

  test(`${name} gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of [[4, 7], [2, 3, 5], [1, 300]]) {
      await gradCheck({
        label: `${name} ${JSON.stringify(shape)}`,
        rng,
        inputs: [{ data: rng.normals(numel(shape), 2), shape }],
        forward: ([x]) => op(x),
        reference: ([x]) => refSoftmax(x, shape[shape.length - 1], log),
      });
    }
  });
}

test("softmax of rows with logits of ±1e4 stays finite", async () => {
  await lt.init();
  const x = [1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4 + 2, 1e4, 1e4, 1e4];
  const t = lt.tensor(x, [3, 3]);
  const [p, lp] = lt.tidy(() => [lt.softmax(t), lt.logSoftmax(t)]);
  const pv = await p.toArray(), lv = await lp.toArray();
  assert(Array.from(pv).every(Number.isFinite) && Array.from(lv).every(Number.isFinite), "finite");
  assertClose(pv, refSoftmax(x, 3, false), { atol: 1e-6, rtol: 1e-5 });
  assertClose(lv, refSoftmax(x, 3, true), { atol: 1e-3, rtol: 1e-5 });
  for (const v of [t, p, lp]) v.dispose();
});

test("softmax refuses other axes and non-f32 input", async () => {
  await lt.init();
  const x = lt.zeros([2, 3]);
  assertThrows(
    () => lt.softmax(x, 0),
    "softmax: only the last axis is supported (axis -1 or 1), got axis 0 for [2, 3]",
  );
  assertThrows(() => lt.logSoftmax(lt.zeros([2], "i32")), "logSoftmax: expected an f32 tensor");
  x.dispose();
});

test("reductions and softmax laid out for GPUs match float64 on this adapter too", async () => {
  await lt.init();
  const rng = freshRng();
  const gpu = (f: () => lt.Tensor) =>
    internal.withTuning({ reduce: internal.GPU_REDUCE }, () => lt.tidy(f));
  for (
    const [shape, axis] of [[[13, 5], 1], [[3, 17, 5], 1], [[5, 1031], 1], [[1031, 12], 0], [
      [100003],
      0,
    ], [[300, 2], 1]] as [number[], number][]
  ) {
    const x = rng.uniform(numel(shape), -2, 2);
    const t = lt.tensor(x, shape);
    // A sum's f32 error scales with Σ|x| (measured rms 0.05·2⁻²⁴·Σ|x| here), not
    // with its value: a fixed 1e-4 failed ~2e-4 of seeds on the 100003-element
    // sum when it cancelled near 0. max / min are exact.
    const sumAtol = refReduce(x, shape, [axis], (a, v) => a + Math.abs(v), 0)
      .map((s) => 1e-6 + 2e-7 * s);
    for (const name of ["sum", "max", "min"] as const) {
      const got = gpu(() => OPS[name].op(t, axis));
      assertClose(
        await got.toArray(),
        refReduce(x, shape, [axis], OPS[name].f, OPS[name].init),
        {
          rtol: 1e-5,
          atol: name === "sum" ? sumAtol : 1e-6,
          label: `${name} ${JSON.stringify(shape)} seed ${rng.seed}`,
        },
      );
      got.dispose();
    }
    const arg = gpu(() => lt.argmax(t, axis));
    assertEquals(await arg.toArray(), refArg(x, shape, axis, (a, b) => a > b));
    arg.dispose();
    t.dispose();
  }
  for (const shape of [[7, 10], [300, 3], [2, 1000], [1, 4099]]) {
    const x = rng.normals(numel(shape), 3);
    for (const log of [false, true]) {
      const got = gpu(() => (log ? lt.logSoftmax : lt.softmax)(lt.tensor(x, shape)));
      assertClose(await got.toArray(), refSoftmax(x, shape[shape.length - 1], log), {
        rtol: 1e-5,
        atol: 1e-6,
        label: `softmax ${JSON.stringify(shape)} log ${log}`,
      });
      got.dispose();
    }
  }
  for (const log of [false, true]) {
    await gradCheck({
      label: `softmax gradient (GPU layout) log ${log}`,
      rng,
      inputs: [{ data: rng.normals(3 * 37, 2), shape: [3, 37] }],
      forward: ([x]) =>
        internal.withTuning(
          { reduce: internal.GPU_REDUCE },
          () => (log ? lt.logSoftmax : lt.softmax)(x),
        ),
      reference: ([x]) => refSoftmax(x, 37, log),
    });
  }
});
