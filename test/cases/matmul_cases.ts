/**
 * matmul and the fused dense layer `linear` against float64 references:
 * every transposed variant, awkward shapes, every tile family, the fused
 * epilogue, batching, gradients, and bad input.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { type Activation, activationRef, ACTIVATIONS } from "../../shaders/activations.ts";
import { type MatmulTile, tileName } from "../../shaders/matmul.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, poisonOutputs, refMatmul, type Rng } from "../ref.ts";

/** Row-major transpose of an [r, c] matrix. */
function transpose<T extends Float32Array | Float64Array>(x: T, r: number, c: number): T {
  const out = new (x.constructor as { new (n: number): T })(x.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  return out;
}

/** Tolerance of an f32 sum of K products of O(1) terms (error grows like sqrt(K)). */
function tol(k: number): { rtol: number; atol: number } {
  const t = 2e-6 * Math.sqrt(Math.max(k, 1)) + 1e-6;
  return { rtol: t * 10, atol: t };
}

const VARIANTS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

function tag(ta: boolean, tb: boolean): string {
  return (ta ? "Aᵀ" : "A") + "·" + (tb ? "Bᵀ" : "B");
}

/**
 * Random A' [m, k] and B' [k, n], stored transposed where asked, the GPU
 * product of the stored operands, and the float64 reference of A'·B'.
 */
async function checkProduct(
  rng: Rng,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
  options: internal.MatmulRawOptions = {},
  epilogue?: { bias: Float32Array; act: Activation; alpha: number },
): Promise<void> {
  const a = rng.uniform(m * k), b = rng.uniform(k * n);
  const aStored = ta ? transpose(a, m, k) : a;
  const bStored = tb ? transpose(b, k, n) : b;
  const ref = refMatmul(a, b, m, k, n);
  if (epilogue) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        ref[i * n + j] = activationRef(
          epilogue.act,
          ref[i * n + j] + epilogue.bias[j],
          epilogue.alpha,
        );
      }
    }
  }
  const got = lt.tidy(() => {
    const A = lt.tensor(aStored, ta ? [k, m] : [m, k]);
    const B = lt.tensor(bStored, tb ? [n, k] : [k, n]);
    if (epilogue) {
      return internal.matmulRaw(A, B, {
        ...options,
        transA: ta,
        transB: tb,
        bias: lt.tensor(epilogue.bias),
        activation: epilogue.act,
        alpha: epilogue.alpha,
      });
    }
    return options.tile || options.naive
      ? internal.matmulRaw(A, B, { ...options, transA: ta, transB: tb })
      : lt.matmul(A, B, { transA: ta, transB: tb });
  });
  assertEquals(got.shape, [m, n]);
  assertClose(await got.toArray(), ref, {
    ...tol(k),
    label: `${m}x${k}x${n} ${tag(ta, tb)} seed ${rng.seed}`,
  });
  got.dispose();
}

// M x K x N, as in x [M, K] · W [K, N].
const SHAPES: [number, number, number, boolean][] = [
  [1, 1, 1, true],
  [7, 13, 5, true],
  [257, 129, 65, true],
  [1, 1000, 1, true],
  [33, 1, 17, true],
  [8, 12, 16, true],
  [64, 64, 64, true],
  // The autoencoder's layers: over 3 s per case on lavapipe with the float64 reference.
  [256, 784, 500, false],
  [256, 500, 2000, false],
];

for (const [m, k, n, browser] of SHAPES) {
  if (browser) {
    for (const [ta, tb] of VARIANTS) {
      test(`matmul ${tag(ta, tb)} matches float64 reference on ${m}x${k}x${n}`, async () => {
        await lt.init();
        await checkProduct(freshRng(), m, k, n, ta, tb);
      });
    }
  } else {
    test(`matmul (every transpose) matches float64 reference on ${m}x${k}x${n}`, async () => {
      await lt.init();
      const rng = freshRng();
      for (const [ta, tb] of VARIANTS) await checkProduct(rng, m, k, n, ta, tb);
    }, { browser: false });
  }
}

// Every tile the tuning table uses, whatever this adapter picks, over the
// alignment cases: nothing a multiple of 4, M and N but not K, K only, all.
const ALIGNMENTS = [[37, 29, 41], [36, 31, 40], [5, 8, 7], [40, 28, 44]];
const TILES: [MatmulTile, number[][]][] = [
  [{ tm: 16, tn: 8, wgm: 2, wgn: 8, bk: 4, stage: false }, ALIGNMENTS],
  [{ tm: 16, tn: 4, wgm: 2, wgn: 4, bk: 4, stage: false }, [ALIGNMENTS[0], ALIGNMENTS[1]]],
  [{ tm: 4, tn: 16, wgm: 4, wgn: 2, bk: 4, stage: false }, [ALIGNMENTS[2], ALIGNMENTS[3]]],
  [{ tm: 8, tn: 8, wgm: 8, wgn: 8, bk: 16, stage: true }, [ALIGNMENTS[0], ALIGNMENTS[3]]],
  [{ tm: 4, tn: 4, wgm: 4, wgn: 16, bk: 16, stage: true }, [ALIGNMENTS[1], ALIGNMENTS[3]]],
  [{ tm: 4, tn: 4, wgm: 16, wgn: 4, bk: 16, stage: true }, [ALIGNMENTS[1], ALIGNMENTS[2]]],
  [{ tm: 4, tn: 8, wgm: 2, wgn: 4, bk: 8, stage: true }, [ALIGNMENTS[0], ALIGNMENTS[2]]],
];
for (const [tile, shapes] of TILES) {
  test(`matmul tile ${tileName(tile)} matches float64 reference in every variant`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const [m, k, n] of shapes) {
      for (const [ta, tb] of VARIANTS) await checkProduct(rng, m, k, n, ta, tb, { tile });
    }
  });
}

/**
 * op(A)·op(B) of A' [m, k] and B' [k, n] (stored transposed where asked)
 * with `extra` options, and the dispatches it recorded beyond the plain
 * product's (measured first; its output's poison fill included).
 */
function productWith(
  a: Float32Array,
  b: Float32Array,
  [m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  tile: MatmulTile | undefined,
  extra: internal.MatmulRawOptions,
): { c: lt.Tensor; dispatches: number } {
  const rt = lt.runtime();
  const A = lt.tensor(ta ? transpose(a, m, k) : a, ta ? [k, m] : [m, k]);
  const B = lt.tensor(tb ? transpose(b, k, n) : b, tb ? [n, k] : [k, n]);
  let before = rt.dispatchCount;
  lt.tidy(() => internal.matmulRaw(A, B, { transA: ta, transB: tb, tile }));
  before += 2 * (rt.dispatchCount - before);
  const c = internal.matmulRaw(A, B, { ...extra, transA: ta, transB: tb, tile });
  const dispatches = rt.dispatchCount - before;
  A.dispose();
  B.dispose();
  return { c, dispatches };
}

/**
 * A product with `colSums`: C = op(A)·op(B) and the column sums of op(B)
 * (a virtual row of ones under op(A)) against float64; returns the
 * dispatches it recorded beyond the plain product's. Outputs are poisoned,
 * so an unwritten sum is NaN.
 */
async function checkColSums(
  rng: Rng,
  [m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  tile?: MatmulTile,
): Promise<number> {
  const a = rng.uniform(m * k), b = rng.uniform(k * n);
  const ref = refMatmul(a, b, m, k, n);
  const sums = new Float64Array(n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) sums[j] += b[i * n + j];
  const cs = lt.empty([n]);
  const { c, dispatches } = productWith(a, b, [m, k, n], ta, tb, tile, { colSums: cs });
  const label = `${m}x${k}x${n} ${tag(ta, tb)} ${tile ? tileName(tile) : ""} seed ${rng.seed}`;
  assertClose(await c.toArray(), ref, { ...tol(k), label });
  assertClose(await cs.toArray(), sums, { ...tol(k), label: `${label} column sums` });
  c.dispose();
  cs.dispose();
  return dispatches;
}

// The column sums ride along in the product's own dispatch (row M of a
// virtual ones row), in every variant, tile family and alignment.
for (const [tile, shapes] of TILES) {
  test(`matmul tile ${tileName(tile)} writes op(B)'s column sums in the same dispatch`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const shape of shapes) {
      for (const [ta, tb] of VARIANTS) {
        assertEquals(
          await checkColSums(rng, shape, ta, tb, tile),
          0,
          `${shape}: no dispatch of their own`,
        );
      }
    }
  });
}

test("column sums past the grid limit, with K split, and of empty products", async () => {
  await lt.init();
  const rng = freshRng();
  // Row tiles over several launches (37 + 1 rows in tiles of 8 at 2 per
  // launch): the ones row sits in the last one.
  const launches = await internal.withBudgets(
    { workgroupsPerDim: 2 },
    () =>
      checkColSums(rng, [37, 9, 13], true, false, {
        tm: 4,
        tn: 4,
        wgm: 2,
        wgn: 4,
        bk: 4,
        stage: false,
      }),
  );
  assertEquals(launches, 0, "no dispatch of their own");
  // K = 784 in 4-deep steps is 196 loop iterations: a budget of 64 splits
  // it, and the sums come from a reduction instead.
  for (const [ta, tb] of VARIANTS) {
    await internal.withBudgets(
      { loopIterations: 64 },
      () => checkColSums(rng, [6, 784, 10], ta, tb),
    );
  }
  // M = 0: no rows to write, the column sums still cover op(B)'s K rows.
  for (const [ta, tb] of VARIANTS) await checkColSums(rng, [0, 7, 5], ta, tb);
  // K = 0: the product is empty, the sums are zeros.
  const cs = lt.empty([3]);
  lt.tidy(() => internal.matmulRaw(lt.zeros([2, 0]), lt.zeros([0, 3]), { colSums: cs }));
  assertEquals(Array.from(await cs.toArray()), [0, 0, 0]);
  cs.dispose();
  // Refused: a wrong shape, or an epilogue beside the sums.
  const [x, w, three, four] = [[2, 3], [3, 4], [3], [4]].map((s) => lt.zeros(s));
  assertThrows(
    () => internal.matmulRaw(x, w, { colSums: three }),
    "column sums of shape [4] f32, got [3]",
  );
  assertThrows(
    () => internal.matmulRaw(x, w, { colSums: four, activation: "relu" }),
    "column sums go with a plain 2-D product",
  );
  for (const t of [x, w, three, four]) t.dispose();
});

/** Derivatives from the output y of the activations a product may be masked by. */
const MASKS: [Activation, (y: number) => number][] = [
  ["relu", (y) => (y > 0 ? 1 : 0)],
  ["sigmoid", (y) => y * (1 - y)],
  ["tanh", (y) => 1 - y * y],
];

/**
 * A product with `mask`: C = (op(A)·op(B)) ⊙ act'(Y) against float64, with
 * Y a random output of `act` (zeros included for relu); returns the
 * dispatches beyond the plain product's.
 */
async function checkMask(
  rng: Rng,
  [m, k, n]: number[],
  ta: boolean,
  tb: boolean,
  [act, grad]: [Activation, (y: number) => number],
  tile?: MatmulTile,
): Promise<number> {
  const a = rng.uniform(m * k), b = rng.uniform(k * n);
  const y = rng.uniform(m * n).map((v, i) =>
    act === "relu" ? (i % 3 === 0 ? 0 : Math.max(v, 0)) : act === "tanh" ? 1.6 * v - 0.8 : v
  );
  const ref = refMatmul(a, b, m, k, n).map((v, i) => v * grad(y[i]));
  const Y = lt.tensor(y, [m, n]);
  const { c, dispatches } = productWith(a, b, [m, k, n], ta, tb, tile, {
    mask: { activation: act, y: Y },
  });
  const label = `${m}x${k}x${n} ${tag(ta, tb)} ${act} ${
    tile ? tileName(tile) : ""
  } seed ${rng.seed}`;
  assertClose(await c.toArray(), ref, { ...tol(k), label });
  for (const t of [Y, c]) t.dispose();
  return dispatches;
}

// The mask is applied in the product's epilogue, in every variant, tile
// family and alignment.
for (const [tile, shapes] of TILES) {
  test(`matmul tile ${tileName(tile)} masks its product by an activation's derivative`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const [s, shape] of shapes.entries()) {
      for (const [ta, tb] of VARIANTS) {
        const mask = MASKS[(s + (ta ? 1 : 0)) % MASKS.length];
        assertEquals(
          await checkMask(rng, shape, ta, tb, mask, tile),
          0,
          `${shape}: in the product`,
        );
      }
    }
  });
}

test("masked products with K split, and masks refused before any GPU work", async () => {
  await lt.init();
  const rng = freshRng();
  // K = 784 in 4-deep steps is 196 loop iterations: a budget of 64 splits
  // it, and the mask is applied after the partial products are summed.
  for (const mask of MASKS) {
    await internal.withBudgets(
      { loopIterations: 64 },
      () => checkMask(rng, [6, 784, 10], false, true, mask),
    );
  }
  const [x, w, y, wrong, b] = [[2, 3], [3, 4], [2, 4], [4, 2], [4]].map((s) => lt.zeros(s));
  assertThrows(
    () => internal.matmulRaw(x, w, { mask: { activation: "relu", y: wrong } }),
    "the mask's output [4, 2] f32 does not match the product [2, 4] f32",
  );
  assertThrows(
    () => internal.matmulRaw(x, w, { mask: { activation: "gelu", y } }),
    "derivative comes from its output, got gelu",
  );
  assertThrows(
    () => internal.matmulRaw(x, w, { mask: { activation: "relu", y }, bias: b }),
    "a mask goes with a plain 2-D product",
  );
  for (const t of [x, w, y, wrong, b]) t.dispose();
});

test("the naive kernel matches float64 reference in every variant", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [ta, tb] of VARIANTS) await checkProduct(rng, 19, 23, 17, ta, tb, { naive: true });
});

ACTIVATIONS.forEach((act, index) => {
  test(`matmul epilogue adds bias and applies ${act} like the float64 reference`, async () => {
    await lt.init();
    const rng = freshRng();
    // Unaligned (scalar loads and stores) and aligned (vec4) shapes, two
    // transpose variants each, rotating so the activations cover all four.
    for (const [s, [m, k, n]] of [[13, 11, 9], [16, 20, 24]].entries()) {
      for (const v of [0, 2]) {
        const [ta, tb] = VARIANTS[(index + s + v) % 4];
        await checkProduct(rng, m, k, n, ta, tb, {}, {
          bias: rng.uniform(n),
          act,
          alpha: act === "elu" ? 0.7 : 0.1,
        });
      }
    }
  });
});

test("linear matches act(x·W + b) on 37x29x23 without a bias", async () => {
  await lt.init();
  const rng = freshRng();
  const [m, k, n] = [37, 29, 23];
  const x = rng.uniform(m * k), w = rng.uniform(k * n);
  const ref = refMatmul(x, w, m, k, n).map((v) => Math.tanh(v));
  const y = lt.tidy(() => lt.linear(lt.tensor(x, [m, k]), lt.tensor(w, [k, n]), undefined, "tanh"));
  assertClose(await y.toArray(), ref, { ...tol(k), label: `seed ${rng.seed}` });
  y.dispose();
});

test("batched matmul matches per-batch float64 products, with broadcast operands", async () => {
  await lt.init();
  const rng = freshRng();
  const [bs, m, k, n] = [3, 7, 9, 6];
  for (
    const [sa, sb] of [[[bs, m, k], [bs, k, n]], [[bs, m, k], [k, n]], [[m, k], [bs, k, n]], [[
      1,
      m,
      k,
    ], [bs, k, n]]]
  ) {
    const a = rng.uniform(numel(sa)), b = rng.uniform(numel(sb));
    const ref = new Float64Array(bs * m * n);
    for (let i = 0; i < bs; i++) {
      const ai = sa.length === 3 && sa[0] > 1 ? a.subarray(i * m * k, (i + 1) * m * k) : a;
      const bi = sb.length === 3 ? b.subarray(i * k * n, (i + 1) * k * n) : b;
      ref.set(refMatmul(ai, bi, m, k, n), i * m * n);
    }
    const got = lt.tidy(() => lt.matmul(lt.tensor(a, sa), lt.tensor(b, sb)));
    assertEquals(got.shape, [bs, m, n]);
    assertClose(await got.toArray(), ref, { ...tol(k), label: `${sa} x ${sb} seed ${rng.seed}` });
    got.dispose();
  }
});

// ------------------------------------------------------------------ gradients

for (const [ta, tb] of VARIANTS) {
  test(`matmul ${tag(ta, tb)} gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    const [m, k, n] = [3, 5, 4];
    await gradCheck({
      label: `matmul ${tag(ta, tb)}`,
      rng,
      inputs: [
        { data: rng.uniform(m * k), shape: ta ? [k, m] : [m, k] },
        { data: rng.uniform(k * n), shape: tb ? [n, k] : [k, n] },
      ],
      forward: ([a, b]) => lt.matmul(a, b, { transA: ta, transB: tb }),
      reference: ([a, b]) =>
        refMatmul(ta ? transpose(a, k, m) : a, tb ? transpose(b, n, k) : b, m, k, n),
    });
  });
}

test("batched matmul gradient sums over the batch for a shared operand", async () => {
  await lt.init();
  const rng = freshRng();
  const [bs, m, k, n] = [2, 3, 4, 5];
  await gradCheck({
    label: "batched matmul",
    rng,
    inputs: [
      { data: rng.uniform(bs * m * k), shape: [bs, m, k] },
      { data: rng.uniform(k * n), shape: [k, n] },
    ],
    forward: ([a, b]) => lt.matmul(a, b),
    reference: ([a, b]) => {
      const out = new Float64Array(bs * m * n);
      for (let i = 0; i < bs; i++) {
        out.set(refMatmul(a.subarray(i * m * k, (i + 1) * m * k), b, m, k, n), i * m * n);
      }
      return out;
    },
  });
});

function refLinear(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  m: number,
  k: number,
  n: number,
  act: Activation,
  alpha: number,
): Float64Array {
  const z = refMatmul(x, w, m, k, n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      z[i * n + j] = activationRef(act, z[i * n + j] + (b ? b[j] : 0), alpha);
    }
  }
  return z;
}

/** Activations whose derivative jumps at 0. */
const KINKED: readonly Activation[] = ["relu", "leaky_relu", "elu"];
const f64 = (v: Float32Array) => Float64Array.from(v);

for (const act of ACTIVATIONS) {
  test(`linear with ${act} gradient matches finite differences`, async () => {
    await lt.init();
    const rng = freshRng();
    const [m, k, n] = [4, 5, 3];
    const alpha = act === "elu" ? 0.8 : 0.1;
    // relu, leaky_relu and elu have a kink at 0: a pre-activation within the
    // finite-difference step (1e-4) of it makes the numeric gradient wrong
    // (odds ~1e-3 a draw), so redraw until every one is at least 0.02 away
    // (about four draws in five pass).
    let x: Float32Array, w: Float32Array, b: Float32Array;
    do {
      [x, w, b] = [rng.uniform(m * k), rng.uniform(k * n), rng.uniform(n)];
    } while (
      KINKED.includes(act) &&
      refLinear(f64(x), f64(w), f64(b), m, k, n, "linear", 0).some((z) => Math.abs(z) < 0.02)
    );
    await gradCheck({
      label: `linear ${act}`,
      rng,
      inputs: [
        { data: x, shape: [m, k] },
        { data: w, shape: [k, n] },
        { data: b, shape: [n] },
      ],
      forward: ([x, w, b]) => lt.linear(x, w, b, act, alpha),
      reference: ([x, w, b]) => refLinear(x, w, b, m, k, n, act, alpha),
    });
  });
}

// A relu layer's input gradient goes back to the previous relu layer
// already masked (its dZ), and that layer takes its bias gradient from its
// weight-gradient product: a stack of them against finite differences,
// seeded and unseeded, paired or not, and with a hidden output that a
// second consumer also reads (its summed gradient takes the mask again).
for (const shared of [false, true]) {
  test(
    `stacked relu layers back-propagate through masked products${
      shared ? ", a hidden output read twice" : ""
    }`,
    async () => {
      await lt.init();
      const rng = freshRng();
      const [m, d0, d1, d2, d3] = [5, 4, 6, 3, 2];
      const sizes = [m * d0, d0 * d1, d1, d1 * d2, d2, d2 * d3, d3];
      const shapes = [[m, d0], [d0, d1], [d1], [d1, d2], [d2], [d2, d3], [d3]];
      const ref = (v: Float64Array[], pre?: (z: Float64Array) => void) => {
        const h1 = refLinear(v[0], v[1], v[2], m, d0, d1, "linear", 0);
        pre?.(h1);
        const a1 = h1.map((z) => Math.max(z, 0));
        const h2 = refLinear(a1, v[3], v[4], m, d1, d2, "linear", 0);
        pre?.(h2);
        const a2 = h2.map((z) => Math.max(z, 0));
        const out = refLinear(a2, v[5], v[6], m, d2, d3, "linear", 0);
        // The second consumer: the sum of squares of the first hidden output,
        // added to the sum of the outputs.
        return shared
          ? Float64Array.of(
            out.reduce((acc, t) => acc + t, 0) + a1.reduce((acc, t) => acc + t * t, 0),
          )
          : out;
      };
      let data: Float32Array[];
      let near: boolean;
      do {
        data = sizes.map((n) => rng.uniform(n));
        near = false;
        ref(data.map(f64), (z) => (near ||= z.some((v) => Math.abs(v) < 0.02)));
      } while (near);
      const forward = ([x, w1, b1, w2, b2, w3, b3]: lt.Tensor[]) => {
        const a1 = lt.linear(x, w1, b1, "relu");
        const out = lt.linear(lt.linear(a1, w2, b2, "relu"), w3, b3);
        return shared ? lt.add(lt.sum(out), lt.sum(lt.mul(a1, a1))) : out;
      };
      for (const adapter of ["cpu", "gpu"] as const) {
        await internal.withTuning({ adapter }, () =>
          gradCheck({
            label: `relu stack (${adapter} products)`,
            rng,
            inputs: data.map((d, i) => ({ data: d, shape: shapes[i] })),
            forward,
            reference: (v) => ref(v),
          }));
      }
    },
  );
}

test("linear without a bias back-propagates to x and W", async () => {
  await lt.init();
  const rng = freshRng();
  const [m, k, n] = [5, 3, 4];
  await gradCheck({
    label: "linear sigmoid, no bias",
    rng,
    inputs: [
      { data: rng.uniform(m * k), shape: [m, k] },
      { data: rng.uniform(k * n), shape: [k, n] },
    ],
    forward: ([x, w]) => lt.linear(x, w, undefined, "sigmoid"),
    reference: ([x, w]) => refLinear(x, w, null, m, k, n, "sigmoid", 0),
  });
});

test("linear bias gradient sums 600 rows (two-pass column sums)", async () => {
  await lt.init();
  const rng = freshRng();
  const [m, k, n] = [600, 3, 70];
  const x = rng.uniform(m * k), w = rng.uniform(k * n), b = rng.uniform(n);
  // Where the pre-activation is within f32 rounding (≤ ~1e-6 here) of relu's
  // kink, the GPU and float64 may take opposite sides and disagree by a whole
  // g; odds ~1e-3 over 42000 elements. Zero the upstream gradient there
  // (a margin of 1e-5, so about one element in 10^5).
  const z = refLinear(f64(x), f64(w), f64(b), m, k, n, "linear", 0);
  const g = rng.uniform(m * n).map((v, i) => (Math.abs(z[i]) < 1e-5 ? 0 : v));
  const X = lt.tensor(x, [m, k]), W = lt.tensor(w, [k, n]), B = lt.tensor(b, [n]);
  B.requiresGrad = true;
  W.requiresGrad = true;
  const G = lt.tensor(g, [m, n]);
  lt.tidy(() => lt.backward(lt.linear(X, W, B, "relu"), G));
  const y = refLinear(
    Float64Array.from(x),
    Float64Array.from(w),
    Float64Array.from(b),
    m,
    k,
    n,
    "relu",
    0,
  );
  const dz = g.map((v, i) => (y[i] > 0 ? v : 0));
  const db = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) db[j] += dz[i * n + j];
  assertClose(await B.grad!.toArray(), db, { rtol: 1e-4, atol: 1e-4, label: `seed ${rng.seed}` });
  const dw = refMatmul(transpose(Float64Array.from(x), m, k), dz, k, m, n);
  assertClose(await W.grad!.toArray(), dw, { ...tol(m), label: `dW seed ${rng.seed}` });
  for (const t of [X, W, B, G]) {
    t.grad?.dispose();
    t.dispose();
  }
});

// ------------------------------------------------------------------ bad input

test("matmul refuses mismatched, wrongly ranked and non-f32 operands before any GPU work", async () => {
  const rt = await lt.init();
  const a = lt.zeros([32, 783]), b = lt.zeros([784, 10]), x = lt.zeros([32, 784]);
  const v = lt.zeros([5]), i = lt.zeros([784, 10], "i32"), bias9 = lt.zeros([9]);
  const b3 = lt.zeros([2, 3, 4]), c3 = lt.zeros([3, 4, 5]);
  const before = rt.dispatchCount;
  assertThrows(
    () => lt.matmul(a, b),
    "matmul: inner dimensions differ: [32, 783] x [784, 10] (expected a [*, 783] x [783, *] product)",
  );
  assertThrows(
    () => lt.matmul(b, a, { transB: true }),
    "matmul: inner dimensions differ: [784, 10] x [32, 783] (b transposed)",
  );
  assertThrows(
    () => lt.matmul(v, b),
    "matmul: expected 2-D matrices or 3-D batches of matrices, got a of rank 1: [5]",
  );
  assertThrows(() => lt.matmul(x, i), "matmul: expected f32 operands, got b: i32 [784, 10]");
  assertThrows(() => lt.matmul(b3, c3), "matmul: batch sizes differ: [2, 3, 4] x [3, 4, 5]");
  assertThrows(
    () => lt.linear(a, b),
    "linear: expected input [*, 784] for weights [784, 10], got [32, 783]",
  );
  assertThrows(
    () => lt.linear(x, b, bias9),
    "linear: expected a bias of shape [10] f32, got [9] f32",
  );
  assertThrows(
    () => lt.linear(x, b, undefined, "mish" as Activation),
    'linear: unknown activation "mish"',
  );
  assertThrows(() => lt.linear(v, b), "linear: expected x to be 2-D, got [5]");
  assertEquals(rt.dispatchCount, before, "dispatches recorded by refused calls");
  for (const t of [a, b, x, v, i, bias9, b3, c3]) t.dispose();
});

test("matmul with K = 0 gives act(bias)", async () => {
  await lt.init();
  const y = lt.tidy(() =>
    internal.matmulRaw(lt.zeros([3, 0]), lt.zeros([0, 2]), {
      bias: lt.tensor([1, -2]),
      activation: "relu",
    })
  );
  assertEquals(Array.from(await y.toArray()), [1, 0, 1, 0, 1, 0]);
  y.dispose();
});

/**
 * A dense layer's backward products, dX = dZ·Wᵀ and dW = Xᵀ·dZ, through
 * `matmulPairRaw` against float64; returns the dispatches it recorded.
 */
async function checkPair(
  rng: Rng,
  [m, k, n]: [number, number, number],
  tiles?: [MatmulTile, MatmulTile],
): Promise<number> {
  const x = rng.uniform(m * k), w = rng.uniform(k * n), dz = rng.uniform(m * n);
  const rt = lt.runtime();
  const X = lt.tensor(x, [m, k]), W = lt.tensor(w, [k, n]), DZ = lt.tensor(dz, [m, n]);
  const pair = () =>
    internal.matmulPairRaw(
      { a: DZ, b: W, transB: true },
      { a: X, b: DZ, transA: true },
      "pair",
      tiles,
    );
  // Counted once without the poisoning fills of the outputs, checked once with them.
  poisonOutputs(false);
  const d0 = rt.dispatchCount;
  try {
    pair().forEach((t) => t.dispose());
  } finally {
    poisonOutputs(true);
  }
  const dispatches = rt.dispatchCount - d0;
  const [dx, dw] = pair();
  const label = `${m}x${k}x${n}${
    tiles ? ` ${tiles.map(tileName).join(" + ")}` : ""
  } seed ${rng.seed}`;
  assertClose(await dx.toArray(), refMatmul(dz, transpose(w, k, n), m, n, k), {
    ...tol(n),
    label: `dZ·Wᵀ ${label}`,
  });
  assertClose(await dw.toArray(), refMatmul(transpose(x, m, k), dz, k, m, n), {
    ...tol(m),
    label: `Xᵀ·dZ ${label}`,
  });
  for (const t of [X, W, DZ, dx, dw]) t.dispose();
  return dispatches;
}

const PAIR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 17, 65],
  [256, 30, 10],
  [5, 784, 12],
];

test("a dense layer's two backward products run in one dispatch and match float64", async () => {
  await lt.init();
  const rng = freshRng();
  for (const shape of PAIR_SHAPES) {
    assertEquals(await checkPair(rng, shape), 1, `one dispatch for ${shape}`);
    // Staged tiles of one thread shape (their barriers meet), different blocks and depths.
    const staged: [MatmulTile, MatmulTile] = [
      { tm: 4, tn: 8, wgm: 4, wgn: 8, bk: 8, stage: true },
      { tm: 8, tn: 4, wgm: 4, wgn: 8, bk: 4, stage: true },
    ];
    assertEquals(await checkPair(rng, shape, staged), 1, `one staged dispatch for ${shape}`);
    // The GPU configuration's own tiles: where they differ in thread shape,
    // the larger product's tile serves both, so they still pair.
    assertEquals(
      await internal.withTuning({ adapter: "gpu" }, () => checkPair(rng, shape)),
      1,
      `one dispatch for ${shape} on the GPU configuration`,
    );
  }
  // More workgroups than one grid dimension holds: the launch is folded into
  // x·y·z and the kernel skips the workgroups past the two products' tiles.
  const folded = await internal.withBudgets(
    { workgroupsPerDim: 4 },
    () => checkPair(rng, [300, 20, 100]),
  );
  assertEquals(folded, 1, "one folded dispatch past the grid limit");
});

test("paired products carry a relu mask and column sums in their one dispatch", async () => {
  // dX = (dZ·Wᵀ) ⊙ relu'(Y) and dW = Xᵀ·dZ with dZ's column sums (the bias
  // gradient): a relu layer's whole backward, in one dispatch.
  await lt.init();
  const rng = freshRng();
  const rt = lt.runtime();
  const staged: [MatmulTile, MatmulTile] = [
    { tm: 4, tn: 8, wgm: 4, wgn: 8, bk: 8, stage: true },
    { tm: 8, tn: 4, wgm: 4, wgn: 8, bk: 4, stage: true },
  ];
  for (const [m, k, n] of PAIR_SHAPES) {
    for (const tiles of [undefined, staged]) {
      const x = rng.uniform(m * k), w = rng.uniform(k * n), dz = rng.uniform(m * n);
      const y = rng.uniform(m * k).map((v, i) => (i % 3 === 0 ? 0 : Math.max(v, 0)));
      const [X, W, DZ, Y] = [[x, [m, k]], [w, [k, n]], [dz, [m, n]], [y, [m, k]]].map(([d, s]) =>
        lt.tensor(d as Float32Array, s as number[])
      );
      const cs = lt.empty([n]);
      const d0 = rt.dispatchCount;
      const [dx, dw] = internal.matmulPairRaw(
        { a: DZ, b: W, transB: true, mask: { activation: "relu", y: Y } },
        { a: X, b: DZ, transA: true, colSums: cs },
        "pair",
        tiles,
      );
      // Two poisoned outputs (a fill each) and the pair.
      assertEquals(rt.dispatchCount - d0, 3, `${m}x${k}x${n}: one dispatch`);
      const label = `${m}x${k}x${n}${tiles ? " staged" : ""} seed ${rng.seed}`;
      const refDx = refMatmul(dz, transpose(w, k, n), m, n, k).map((v, i) => (y[i] > 0 ? v : 0));
      assertClose(await dx.toArray(), refDx, { ...tol(n), label: `masked dZ·Wᵀ ${label}` });
      assertClose(await dw.toArray(), refMatmul(transpose(x, m, k), dz, k, m, n), {
        ...tol(m),
        label: `Xᵀ·dZ ${label}`,
      });
      const sums = new Float64Array(n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) sums[j] += dz[i * n + j];
      assertClose(await cs.toArray(), sums, { ...tol(m), label: `column sums ${label}` });
      for (const t of [X, W, DZ, Y, cs, dx, dw]) t.dispose();
    }
  }
});

test("products that cannot share a dispatch (mixed tiles, split K) run as two and match", async () => {
  await lt.init();
  const rng = freshRng();
  const staged: MatmulTile = { tm: 4, tn: 4, wgm: 4, wgn: 4, bk: 8, stage: true };
  const direct: MatmulTile = { tm: 8, tn: 8, wgm: 4, wgn: 8, bk: 4, stage: false };
  for (const shape of PAIR_SHAPES) {
    assertEquals(await checkPair(rng, shape, [staged, direct]), 2, `${shape}: mixed tiles`);
  }
  // K = 784 in 4-deep steps is 196 loop iterations: a budget of 64 splits it.
  const split = await internal.withBudgets(
    { loopIterations: 64 },
    () => checkPair(rng, [5, 12, 784]),
  );
  assert(split > 2, `split-K products record their own passes (${split} dispatches)`);
});

test("a dense layer's gradients are the same with its backward products paired or not", async () => {
  await lt.init();
  const rng = freshRng();
  const [n, din, dout] = [9, 14, 6];
  const x = rng.uniform(n * din), w = rng.uniform(din * dout), b = rng.uniform(dout);
  const grads = async (pairProducts: boolean) => {
    const X = lt.tensor(x, [n, din]), W = lt.tensor(w, [din, dout]), B = lt.tensor(b, [dout]);
    for (const t of [X, W, B]) t.requiresGrad = true;
    const rt = lt.runtime();
    const d0 = rt.dispatchCount;
    internal.withTuning(
      { pairProducts },
      () => lt.tidy(() => lt.backward(lt.mean(lt.square(lt.linear(X, W, B, "tanh"))))),
    );
    const dispatches = rt.dispatchCount - d0;
    const out = await Promise.all([X, W, B].map((t) => t.grad!.toArray()));
    for (const t of [X, W, B]) t.dispose();
    return { out, dispatches };
  };
  const two = await grads(false), one = await grads(true);
  one.out.forEach((g, i) =>
    assertClose(g, two.out[i], { rtol: 1e-6, atol: 1e-7, label: `gradient ${i}, seed ${rng.seed}` })
  );
  assertEquals(one.dispatches, two.dispatches - 1);
});
