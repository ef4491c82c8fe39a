/**
 * maxPool2d, avgPool2d, upSampling2d, reshape and flatten against the
 * float64 references in test/ref_conv.ts, their gradients against finite
 * differences, and bad input.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, type Rng } from "../ref.ts";
import { refAvgPool2d, refMaxPool2d, refUpSampling2d } from "../ref_conv.ts";

type P2 = [number, number];

interface PoolCase {
  x: number[];
  pool: P2;
  strides?: P2;
  padding: "same" | "valid";
}

function describe(c: PoolCase): string {
  return `x ${JSON.stringify(c.x)} pool ${c.pool.join("x")} stride ${
    (c.strides ?? c.pool).join("x")
  } ${c.padding}`;
}

/**
 * Distinct values at least 0.01 apart in random order: a finite-difference
 * step can then never change which element of a window is the maximum.
 */
function separated(rng: Rng, n: number): Float32Array {
  const v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

const POOLS: PoolCase[] = [
  { x: [3, 28, 28, 3], pool: [2, 2], padding: "valid" },
  { x: [1, 28, 28, 16], pool: [2, 2], padding: "same" },
  { x: [2, 7, 9, 17], pool: [2, 2], padding: "same" },
  { x: [2, 7, 9, 17], pool: [2, 2], padding: "valid" },
  { x: [1, 9, 7, 3], pool: [3, 3], strides: [2, 2], padding: "same" },
  { x: [1, 9, 7, 3], pool: [3, 3], strides: [1, 1], padding: "valid" },
  { x: [1, 8, 9, 1], pool: [2, 3], strides: [1, 2], padding: "same" },
  { x: [3, 1, 1, 16], pool: [2, 2], padding: "same" },
  { x: [1, 7, 8, 2], pool: [2, 2], strides: [3, 3], padding: "valid" },
  { x: [2, 7, 8, 3], pool: [3, 3], padding: "same" },
  { x: [1, 8, 7, 5], pool: [3, 2], padding: "valid" },
  // Larger than 3x3: max pools walk the window in loops instead of unrolling it.
  { x: [2, 9, 11, 3], pool: [4, 4], padding: "same" },
  { x: [1, 9, 7, 2], pool: [4, 3], strides: [2, 2], padding: "valid" },
];

for (const mode of ["max", "avg"] as const) {
  const op = mode === "max" ? lt.maxPool2d : lt.avgPool2d;
  const ref = mode === "max" ? refMaxPool2d : refAvgPool2d;
  const name = mode === "max" ? "maxPool2d" : "avgPool2d";
  for (const c of POOLS) {
    test(`${name} matches float64 reference: ${describe(c)}`, async () => {
      await lt.init();
      const rng = freshRng();
      const x = rng.uniform(numel(c.x));
      const want = ref(x, c.x, c);
      const y = lt.tidy(() =>
        op(lt.tensor(x, c.x), { poolSize: c.pool, strides: c.strides, padding: c.padding })
      );
      assertEquals(y.shape, want.shape, "output shape");
      assertClose(await y.toArray(), want.data, {
        rtol: 1e-6,
        atol: 1e-6,
        label: `seed ${rng.seed}`,
      });
      y.dispose();
    });
  }
  for (const c of [POOLS[2], POOLS[3], POOLS[4], POOLS[5], POOLS[6], POOLS[8], POOLS[9]]) {
    const small = { ...c, x: [Math.min(c.x[0], 2), c.x[1], c.x[2], Math.min(c.x[3], 3)] };
    test(`${name} gradient matches finite differences: ${describe(small)}`, async () => {
      await lt.init();
      const rng = freshRng();
      const o = { poolSize: small.pool, strides: small.strides, padding: small.padding };
      await gradCheck({
        label: `${name} ${describe(small)}`,
        rng,
        inputs: [{
          data: mode === "max" ? separated(rng, numel(small.x)) : rng.uniform(numel(small.x)),
          shape: small.x,
        }],
        forward: ([x]) => op(x, o),
        reference: ([x]) => ref(x, small.x, small).data,
      });
    });
  }
}

/**
 * maxPool2d's input gradient routed by hand: each window's output gradient
 * goes to its first maximum (row-major, strict >) over the clipped window.
 */
function refMaxPoolGrad(x: Float32Array, g: Float32Array, c: PoolCase): Float64Array {
  const [b, h, w, ch] = c.x;
  const [ph, pw] = c.pool;
  const [sh, sw] = c.strides ?? c.pool;
  const axis = (size: number, k: number, s: number) => {
    if (c.padding === "valid") return { out: Math.floor((size - k) / s) + 1, before: 0 };
    const out = Math.ceil(size / s);
    return { out, before: Math.floor(Math.max((out - 1) * s + k - size, 0) / 2) };
  };
  const ah = axis(h, ph, sh), aw = axis(w, pw, sw);
  const dx = new Float64Array(x.length);
  for (let n = 0; n < b; n++) {
    for (let oh = 0; oh < ah.out; oh++) {
      for (let ow = 0; ow < aw.out; ow++) {
        const y0 = Math.max(oh * sh - ah.before, 0), y1 = Math.min(oh * sh - ah.before + ph, h);
        const x0 = Math.max(ow * sw - aw.before, 0), x1 = Math.min(ow * sw - aw.before + pw, w);
        for (let k = 0; k < ch; k++) {
          const at = (y: number, xx: number) => ((n * h + y) * w + xx) * ch + k;
          let best = at(y0, x0);
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) if (x[at(y, xx)] > x[best]) best = at(y, xx);
          }
          dx[best] += g[((n * ah.out + oh) * aw.out + ow) * ch + k];
        }
      }
    }
  }
  return dx;
}

for (const c of POOLS) {
  test(`maxPool2d gradient matches the routed reference: ${describe(c)}`, async () => {
    await lt.init();
    const rng = freshRng();
    // Few distinct values, so windows hold ties.
    const x = Float32Array.from(rng.uniform(numel(c.x)), (v) => Math.round(v * 3));
    const xt = lt.tensor(x, c.x);
    xt.requiresGrad = true;
    const o = { poolSize: c.pool, strides: c.strides, padding: c.padding };
    const y = lt.maxPool2d(xt, o);
    const g = rng.uniform(y.size);
    lt.tidy(() => lt.backward(y, lt.tensor(g, [...y.shape])));
    assertClose(await xt.grad!.toArray(), refMaxPoolGrad(x, g, c), {
      rtol: 1e-6,
      atol: 1e-6,
      label: `seed ${rng.seed}`,
    });
    for (const t of [xt.grad!, xt, y]) t.dispose();
  });
}

test("maxPool2d sends a tied window's gradient to its first maximum", async () => {
  await lt.init();
  // One 2x2 window of equal values, then a window whose max repeats at its end.
  const x = lt.tensor([5, 5, 1, 7, 5, 5, 7, 2], [1, 2, 4, 1]);
  x.requiresGrad = true;
  lt.tidy(() => lt.backward(lt.maxPool2d(x), lt.tensor([10, 20], [1, 1, 2, 1])));
  assertEquals(Array.from(await x.grad!.toArray()), [10, 0, 0, 20, 0, 0, 0, 0]);
  x.grad!.dispose();
  x.dispose();
});

test("pooling rejects bad input before any GPU work", async () => {
  const rt = await lt.init();
  const x = lt.zeros([1, 2, 2, 1]), flat = lt.zeros([4, 4]);
  const before = rt.dispatchCount;
  assertThrows(
    () => lt.maxPool2d(x, { poolSize: 3 }),
    "maxPool2d: pool 3x3 does not fit a valid-padded 2x2 input",
  );
  assertThrows(
    () => lt.avgPool2d(x, { poolSize: [1, 3] }),
    "avgPool2d: pool 1x3 does not fit a valid-padded 2x2 input",
  );
  assertThrows(
    () => lt.maxPool2d(flat),
    "maxPool2d: expected input [batch, height, width, channels], got [4, 4]",
  );
  assertThrows(
    () => lt.maxPool2d(x, { strides: [1, 0] }),
    "maxPool2d: strides must be a positive integer or a pair of them, got [1,0]",
  );
  assertThrows(
    () => lt.upSampling2d(x, { interpolation: "cubic" as "nearest" }),
    `upSampling2d: interpolation must be "nearest" or "bilinear", got "cubic"`,
  );
  assertThrows(
    () => lt.upSampling2d(x, { size: 1.5 }),
    "upSampling2d: size must be a positive integer or a pair of them, got 1.5",
  );
  assertEquals(rt.dispatchCount, before, "no dispatch recorded");
  // `same` padding never produces an empty output.
  const y = lt.maxPool2d(x, { poolSize: 3, padding: "same" });
  assertEquals([...y.shape], [1, 1, 1, 1]);
  for (const t of [x, flat, y]) t.dispose();
});

// ---------------------------------------------------------------- upsampling

const UPS: { x: number[]; size: P2 }[] = [
  { x: [2, 14, 14, 16], size: [2, 2] },
  { x: [1, 7, 9, 3], size: [3, 2] },
  { x: [3, 1, 1, 17], size: [2, 2] },
  { x: [1, 5, 4, 1], size: [1, 1] },
  { x: [1, 4, 5, 2], size: [4, 3] },
  // Over 4: nearest walks its block in loops instead of unrolling it.
  { x: [1, 3, 2, 2], size: [5, 2] },
];

for (const interpolation of ["nearest", "bilinear"] as const) {
  for (const c of UPS) {
    test(
      `upSampling2d ${interpolation} matches float64 reference: x ${JSON.stringify(c.x)} size ${
        c.size.join("x")
      }`,
      async () => {
        await lt.init();
        const rng = freshRng();
        const x = rng.uniform(numel(c.x));
        const want = refUpSampling2d(x, c.x, c.size, interpolation);
        const y = lt.tidy(() =>
          lt.upSampling2d(lt.tensor(x, c.x), { size: c.size, interpolation })
        );
        assertEquals(y.shape, want.shape, "output shape");
        assertClose(await y.toArray(), want.data, {
          rtol: 1e-5,
          atol: 1e-6,
          label: `seed ${rng.seed}`,
        });
        y.dispose();
      },
    );
  }
  for (
    const c of [
      { x: [2, 3, 4, 2], size: [2, 2] as P2 },
      { x: [1, 4, 3, 1], size: [3, 2] as P2 },
      { x: [1, 2, 3, 2], size: [2, 5] as P2 },
    ]
  ) {
    test(
      `upSampling2d ${interpolation} gradient matches finite differences: x ${
        JSON.stringify(c.x)
      } size ${c.size.join("x")}`,
      async () => {
        await lt.init();
        const rng = freshRng();
        await gradCheck({
          label: `upSampling2d ${interpolation}`,
          rng,
          inputs: [{ data: rng.uniform(numel(c.x)), shape: c.x }],
          forward: ([x]) => lt.upSampling2d(x, { size: c.size, interpolation }),
          reference: ([x]) => refUpSampling2d(x, c.x, c.size, interpolation).data,
        });
      },
    );
  }
}

test("upSampling2d bilinear uses half-pixel centers like tf.image.resize", async () => {
  await lt.init();
  // tf.image.resize([[[[0], [1]]]], [1, 4], "bilinear") = [0, 0.25, 0.75, 1].
  const y = lt.tidy(() =>
    lt.upSampling2d(lt.tensor([0, 1], [1, 1, 2, 1]), { size: [1, 2], interpolation: "bilinear" })
  );
  assertClose(await y.toArray(), [0, 0.25, 0.75, 1]);
  y.dispose();
});

// --------------------------------------------------------------------- views

test("reshape and flatten are views with gradients that view back", async () => {
  await lt.init();
  const rng = freshRng();
  const data = rng.uniform(2 * 3 * 4 * 5);
  const x = lt.tensor(data, [2, 3, 4, 5]);
  x.requiresGrad = true;
  const f = lt.flatten(x);
  assertEquals([...f.shape], [2, 60]);
  assert(f.storage() === x.storage(), "flatten shares storage (no copy)");
  const r = lt.reshape(f, [-1, 4, 5, 3]);
  assertEquals([...r.shape], [2, 4, 5, 3]);
  assertClose(await r.toArray(), data);
  const seed = rng.uniform(r.size);
  lt.tidy(() => lt.backward(r, lt.tensor(seed, r.shape)));
  assertEquals([...x.grad!.shape], [2, 3, 4, 5]);
  assertClose(await x.grad!.toArray(), seed);
  assertThrows(
    () => lt.reshape(x, [7, -1]),
    "reshape: cannot reshape [2, 3, 4, 5] (120 elements) to [7, -1]",
  );
  assertThrows(
    () => lt.reshape(x, [-1, -1]),
    "reshape: shape must be non-negative integers with at most one -1, got [-1, -1]",
  );
  assertThrows(() => lt.reshape(x, [100]), /reshape: cannot view \[2, 3, 4, 5\]/);
  for (const t of [x.grad!, r, f, x]) t.dispose();
});
