/**
 * Unary ops and activations against float64 references, their gradients
 * against finite differences, stability at extreme inputs, and bad input.
 */
import * as lt from "../../src/mod.ts";
import { type Activation, activationRef } from "../../shaders/activations.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, type Rng } from "../ref.ts";

/** Shapes: one element, primes, a vec4-sized case and 1000+ elements. */
const SHAPES = [[1], [7], [13, 5], [4, 256], [3, 1031]];

/** Pushes values at least `gap` away from each kink (gradient tests). */
function awayFrom(x: Float32Array, kinks: number[], gap = 0.02): Float32Array {
  return x.map((v) => {
    for (const k of kinks) {
      if (Math.abs(v - k) < gap) v = v >= k ? k + gap + Math.abs(v - k) : k - gap - Math.abs(v - k);
    }
    return v;
  });
}

interface UnaryCase {
  name: string;
  op: (x: lt.Tensor) => lt.Tensor;
  ref: (x: number) => number;
  inputs: (rng: Rng, n: number) => Float32Array;
  /** Points where the derivative jumps (kept away from in gradient checks). */
  kinks?: number[];
  rtol?: number;
  atol?: number;
  /** No gradient check (sign: zero almost everywhere, checked separately). */
  noGrad?: boolean;
}

const normal = (rng: Rng, n: number) => rng.normals(n, 1.5);
const positive = (rng: Rng, n: number) => rng.uniform(n, 0.1, 3);

const CASES: UnaryCase[] = [
  { name: "neg", op: lt.neg, ref: (x) => -x, inputs: normal },
  { name: "abs", op: lt.abs, ref: Math.abs, inputs: normal, kinks: [0] },
  { name: "exp", op: lt.exp, ref: Math.exp, inputs: (r, n) => r.uniform(n, -5, 5) },
  { name: "log", op: lt.log, ref: Math.log, inputs: positive },
  { name: "sqrt", op: lt.sqrt, ref: Math.sqrt, inputs: positive },
  { name: "rsqrt", op: lt.rsqrt, ref: (x) => 1 / Math.sqrt(x), inputs: positive },
  { name: "square", op: lt.square, ref: (x) => x * x, inputs: normal },
  { name: "powScalar(3)", op: (x) => lt.powScalar(x, 3), ref: (x) => x ** 3, inputs: normal },
  { name: "powScalar(2)", op: (x) => lt.powScalar(x, 2), ref: (x) => x ** 2, inputs: normal },
  {
    name: "powScalar(-1)",
    op: (x) => lt.powScalar(x, -1),
    ref: (x) => 1 / x,
    inputs: (r, n) => positive(r, n).map((v, i) => (i % 2 ? -v : v)),
  },
  {
    name: "powScalar(0.5)",
    op: (x) => lt.powScalar(x, 0.5),
    ref: Math.sqrt,
    inputs: positive,
  },
  {
    name: "powScalar(-1.5)",
    op: (x) => lt.powScalar(x, -1.5),
    ref: (x) => x ** -1.5,
    inputs: positive,
  },
  {
    name: "clamp(-0.3, 0.5)",
    op: (x) => lt.clamp(x, -0.3, 0.5),
    ref: (x) => Math.min(Math.max(x, -0.3), 0.5),
    inputs: normal,
    kinks: [-0.3, 0.5],
  },
  { name: "sign", op: lt.sign, ref: Math.sign, inputs: normal, noGrad: true },
  {
    name: "affine(2.5, -1)",
    op: (x) => lt.affine(x, 2.5, -1),
    ref: (x) => 2.5 * x - 1,
    inputs: normal,
  },
];

const ACTS: [Activation, number | undefined, number[]][] = [
  ["linear", undefined, []],
  ["relu", undefined, [0]],
  ["leaky_relu", 0.1, [0]],
  ["elu", 0.7, [0]],
  ["sigmoid", undefined, []],
  ["tanh", undefined, []],
  ["softplus", undefined, []],
  ["gelu", undefined, []],
  ["gelu_tanh", undefined, []],
  ["silu", undefined, []],
  ["swish", undefined, []],
];
for (const [name, alpha, kinks] of ACTS) {
  CASES.push({
    name: `activation ${name}${alpha === undefined ? "" : `(${alpha})`}`,
    op: (x) => lt.activation(x, name, alpha),
    ref: (x) => activationRef(name, x, alpha ?? lt.DEFAULT_ALPHA[name]),
    inputs: (r, n) => r.normals(n, 3),
    kinks,
    rtol: 2e-5,
  });
}

for (const c of CASES) {
  test(`${c.name} matches float64 reference on 1, prime and 1000+ element shapes`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of SHAPES) {
      const x = c.inputs(rng, numel(shape));
      const got = lt.tidy(() => c.op(lt.tensor(x, shape)));
      assertEquals(got.shape, shape);
      const want = Float64Array.from(x, c.ref);
      assertClose(await got.toArray(), want, {
        rtol: c.rtol ?? 1e-5,
        atol: c.atol ?? 1e-6,
        label: `${c.name} ${JSON.stringify(shape)} seed ${rng.seed}`,
      });
      got.dispose();
    }
  });
  if (c.noGrad) continue;
  test(`${c.name} gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    // 35 elements take the scalar kernels, 12 the vec4 ones.
    for (const shape of [[5, 7], [4, 3]]) {
      const x = awayFrom(c.inputs(rng, numel(shape)), c.kinks ?? []);
      await gradCheck({
        label: `${c.name} ${JSON.stringify(shape)}`,
        rng,
        inputs: [{ data: x, shape }],
        forward: ([t]) => c.op(t),
        reference: ([t]) => t.map(c.ref),
      });
    }
  });
}

test("powScalar handles zero bases and a zero exponent", async () => {
  await lt.init();
  const x = lt.tensor([0, 0, -2, 2, -3], [5]);
  const got = lt.tidy(() => [
    lt.powScalar(x, 2),
    lt.powScalar(x, 0),
    lt.powScalar(x, -1),
    lt.powScalar(x, 0.5),
  ]);
  const [sq, one, inv, root] = await Promise.all(got.map((t) => t.toArray()));
  assertEquals(Array.from(sq), [0, 0, 4, 4, 9]);
  assertEquals(Array.from(one), [1, 1, 1, 1, 1]);
  assertEquals(Array.from(inv).slice(0, 2), [Infinity, Infinity]);
  assertClose(Array.from(inv).slice(2), [-0.5, 0.5, -1 / 3]);
  assert(Number.isNaN(root[2]) && Number.isNaN(root[4]), "fractional power of a negative is NaN");
  assertClose([root[0], root[3]], [0, Math.SQRT2]);
  for (const t of [x, ...got]) t.dispose();
});

test("sign gives -1, 0, 1 and a zero gradient", async () => {
  await lt.init();
  const x = lt.tensor([-2, 0, 3, -0.5, 1e-30], [5]);
  x.requiresGrad = true;
  const y = lt.sign(x);
  assertEquals(Array.from(await y.toArray()), [-1, 0, 1, -1, 1]);
  lt.tidy(() => lt.backward(lt.sum(y)));
  assertEquals(Array.from(await x.grad!.toArray()), [0, 0, 0, 0, 0]);
  for (const t of [x.grad!, x, y]) t.dispose();
});

test("activations stay finite and exact at extreme inputs", async () => {
  await lt.init();
  const data = [-1000, -100, -30, 30, 100, 1000];
  const x = lt.tensor(data, [6]);
  for (const name of ["sigmoid", "tanh", "softplus", "elu", "gelu", "gelu_tanh", "silu"] as const) {
    const y = lt.activation(x, name);
    const got = await y.toArray();
    assert(Array.from(got).every(Number.isFinite), `${name} is finite: ${got}`);
    assertClose(got, data.map((v) => activationRef(name, v, 1)), {
      rtol: 1e-5,
      atol: 1e-30,
      label: name,
    });
    y.dispose();
  }
  x.dispose();
});

test("activationGrad computes g times the derivative from the output", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [name, alpha] of [["relu", 0], ["elu", 0.5], ["sigmoid", 0], ["tanh", 0]] as const) {
    const x = awayFrom(rng.normals(37, 2), [0]);
    const g = rng.normals(37);
    const y = lt.tidy(() => lt.activation(lt.tensor(x, [37]), name, alpha));
    const dz = lt.tidy(() => lt.activationGrad(lt.tensor(g, [37]), y, name, alpha));
    const h = 1e-6;
    const want = Float64Array.from(
      x,
      (v, i) =>
        g[i] * (activationRef(name, v + h, alpha) - activationRef(name, v - h, alpha)) / (2 * h),
    );
    assertClose(await dz.toArray(), want, { rtol: 1e-4, atol: 1e-5, label: name });
    y.dispose();
    dz.dispose();
  }
});

test("activation by name: linear is the identity, softmax is over the last axis", async () => {
  await lt.init();
  const x = lt.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert(lt.activation(x, "linear") === x, "linear returns its input");
  const y = lt.activation(x, "softmax");
  const e = [1, 2, 3].map(Math.exp), s = e[0] + e[1] + e[2];
  assertClose(await y.toArray(), [...e.map((v) => v / s), ...e.map((v) => v / s)]);
  y.dispose();
  x.dispose();
});

test("unary ops refuse bad input by name", async () => {
  await lt.init();
  const x = lt.zeros([3]);
  const i = lt.zeros([3], "i32");
  assertThrows(() => lt.exp(i), "exp: expected an f32 tensor, got i32 [3]");
  assertThrows(() => lt.clamp(x, 1, 0), "clamp: expected lo <= hi, got lo=1, hi=0");
  assertThrows(() => lt.powScalar(x, NaN), "powScalar: expected a finite exponent, got NaN");
  assertThrows(
    () => lt.activation(x, "mish" as Activation),
    'activation: unknown activation "mish"',
  );
  assertThrows(() => lt.leakyRelu(x, Infinity), "leaky_relu: alpha must be a finite number");
  x.dispose();
  i.dispose();
});

test("maximum, minimum and pow match float64 with gradients", async () => {
  await lt.init();
  const rng = freshRng();
  const sa = [4, 5], sb = [5];
  // Keep a and b apart so the max/min switch is not within the FD step.
  const a = rng.uniform(20, -1, 1);
  const b = rng.uniform(5, -1, 1).map((v) => v);
  for (let i = 0; i < 20; i++) if (Math.abs(a[i] - b[i % 5]) < 0.02) a[i] += 0.05;
  const ref = (f: (x: number, y: number) => number) => (xs: Float64Array[]) =>
    xs[0].map((v, i) => f(v, xs[1][i % 5]));
  for (
    const [name, op, f] of [
      ["maximum", lt.maximum, Math.max],
      ["minimum", lt.minimum, Math.min],
    ] as const
  ) {
    await gradCheck({
      label: name,
      rng,
      inputs: [{ data: a, shape: sa }, { data: b, shape: sb }],
      forward: ([x, y]) => op(x, y),
      reference: ref(f),
    });
  }
  const pa = rng.uniform(20, 0.2, 2), pb = rng.uniform(5, -2, 2);
  await gradCheck({
    label: "pow",
    rng,
    inputs: [{ data: pa, shape: sa }, { data: pb, shape: sb }],
    forward: ([x, y]) => lt.pow(x, y),
    reference: ref(Math.pow),
  });
  const x = lt.tensor([1, 2, 3], [3]);
  const masks = lt.tidy(() => [lt.greater(x, 2), lt.lessEqual(x, 2), lt.equal(x, 2)]);
  const got = await Promise.all(masks.map((m) => m.toArray()));
  assertEquals(got.map((v) => Array.from(v)), [[0, 0, 1], [1, 1, 0], [0, 1, 0]]);
  for (const t of [x, ...masks]) t.dispose();
});
