/**
 * The counter-based GPU generator: bit-exact against a CPU Philox4x32-10
 * (itself checked on the Random123 known-answer vectors), each transform
 * against its float64 formula, distribution statistics on ~100k samples, and
 * reproducibility from one seed.
 *
 * Statistical tolerances are six to seven standard errors (KS: a 1e-9 tail):
 * a correct generator essentially never fails them, a wrong transform (a missing factor, a wrong
 * range, a lane reused) fails by a wide margin.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng } from "../ref.ts";

// ------------------------------------------------------------- CPU reference

const MASK = 0xffffffffn;

/**
 * Philox4x32-10 with BigInt arithmetic: written independently of the
 * library's host copy so the two are not wrong in the same way.
 */
function philoxRef(ctr: readonly number[], key: readonly number[]): number[] {
  let c = ctr.map((v) => BigInt(v >>> 0));
  let k = key.map((v) => BigInt(v >>> 0));
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c[0], p1 = 0xcd9e8d57n * c[2];
    c = [
      ((p1 >> 32n) ^ c[1] ^ k[0]) & MASK,
      p1 & MASK,
      ((p0 >> 32n) ^ c[3] ^ k[1]) & MASK,
      p0 & MASK,
    ];
    k = [(k[0] + 0x9e3779b9n) & MASK, (k[1] + 0xbb67ae85n) & MASK];
  }
  return c.map(Number);
}

/** The words the GPU writes for (seed, stream): block b = philox([b, 0, stream, 0], seed). */
function bitsRef(n: number, seed: number, stream = 0): Uint32Array {
  const out = new Uint32Array(n);
  const key = [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
  for (let b = 0; b * 4 < n; b++) {
    const r = philoxRef([b, 0, stream, 0], key);
    for (let j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = r[j];
  }
  return out;
}

const unit = (r: number) => (r >>> 8) * 2 ** -24;
const openUnit = (r: number) => ((r >>> 9) + 0.5) * 2 ** -23;

/** Box–Muller on lane pairs; `n` may cut the last block (its lanes are still drawn). */
function normalRef(n: number, seed: number, mean: number, std: number): Float64Array {
  const bits = bitsRef(Math.ceil(n / 4) * 4, seed);
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(openUnit(bits[i])));
    const angle = 2 * Math.PI * unit(bits[i + 1]) - Math.PI;
    out[i] = mean + std * radius * Math.cos(angle);
    out[i + 1] = mean + std * radius * Math.sin(angle);
  }
  return out.subarray(0, n);
}

/**
 * Per-sample bound on |GPU − float64| of {@link normalRef} from WGSL's accuracy
 * guarantees, so any conforming adapter passes whatever the seed: cos / sin to
 * 2^-11 absolute on [−π, π] (scaled by the radius r); log to 2^-21 absolute on
 * [0.5, 2], which moves r² = −2 ln u by 2^-20 and so r by ≤ min(2^-10, 2^-21 / r);
 * a few ULP (< 2e-6 relative) for the angle, sqrt, log below 0.5 and rounding.
 */
function normalBound(n: number, seed: number, mean: number, std: number): Float64Array {
  const bits = bitsRef(Math.ceil(n / 4) * 4, seed);
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(openUnit(bits[i])));
    const bound = std * (r * 2 ** -11 + Math.min(2 ** -10, 2 ** -21 / r)) +
      2e-6 * (Math.abs(mean) + std * r);
    out[i] = out[i + 1] = bound;
  }
  return out.subarray(0, n);
}

/** erf by its Maclaurin series (|x| < 3 needs < 100 terms for full float64 accuracy). */
function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let sum = x, term = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= -x * x / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function erfinv(y: number): number {
  let z = 0;
  for (let k = 0; k < 60; k++) {
    const step = (erf(z) - y) / ((2 / Math.sqrt(Math.PI)) * Math.exp(-z * z));
    z -= step;
    if (Math.abs(step) < 1e-15) break;
  }
  return z;
}

const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/** Kolmogorov–Smirnov distance between a sample and a CDF. */
function ksDistance(sample: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  }
  return d;
}

/**
 * The KS distance a correct sampler exceeds with probability about 1e-9
 * (P(D > d) ≈ 2·exp(−2 n d²)); a dozen checks a run stay far below 1e-6 in
 * all, while a wrong transform is off by 0.1 or more.
 */
const ksLimit = (n: number) => Math.sqrt(-Math.log(0.5e-9) / 2) / Math.sqrt(n);

function moments(x: ArrayLike<number>): { mean: number; std: number; kurtosis: number } {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  let m2 = 0, m4 = 0;
  for (let i = 0; i < x.length; i++) {
    const d = (x[i] - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= x.length;
  m4 /= x.length;
  return { mean, std: Math.sqrt(m2), kurtosis: m4 / (m2 * m2) };
}

function correlationOfNeighbours(x: ArrayLike<number>, lag: number): number {
  const a = Array.from(x).slice(0, x.length - lag), b = Array.from(x).slice(lag);
  const ma = moments(a), mb = moments(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i] - ma.mean) * (b[i] - mb.mean);
  return c / a.length / (ma.std * mb.std);
}

async function read(t: lt.Tensor): Promise<Float32Array> {
  const v = await t.toArray();
  t.dispose();
  return v as Float32Array;
}

const N = 102_400;
const SEEDS = [0, 1, 2 ** 32 + 5, 2 ** 53 - 1];

// --------------------------------------------------------------------- tests

test("CPU Philox4x32-10 matches the Random123 known-answer vectors", () => {
  const hex = (v: number[]) => v.map((x) => x.toString(16).padStart(8, "0")).join(" ");
  assertEquals(hex(philoxRef([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  const ones = 0xffffffff;
  assertEquals(
    hex(philoxRef([ones, ones, ones, ones], [ones, ones])),
    "408f276d 41c83b0e a20bc7c6 6d5451fd",
  );
  assertEquals(
    hex(philoxRef([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    "d16cfe09 94fdcceb 5001e420 24126ea1",
  );
});

test("randomBits is bit-exact against CPU Philox for several seeds, streams and sizes", async () => {
  await lt.init();
  const rng = freshRng();
  const seeds = [...SEEDS, Math.floor(rng.next() * 2 ** 53)];
  for (const [n, stream] of [[1, 0], [5, 3], [4099, 0], [1031, 0xffffffff]] as const) {
    for (const seed of seeds) {
      const got = await lt.randomBits([n], { seed, stream }).toArray();
      assertEquals(got, bitsRef(n, seed, stream), `n=${n} seed=${seed} stream=${stream}`);
    }
  }
  // Seed 0, stream 0, block 0 is the first known-answer vector.
  const first = await lt.randomBits([4], { seed: 0 }).toArray();
  assertEquals(Array.from(first), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
});

test("randomUniform equals lo + (hi - lo) * bits / 2^32 and fills [lo, hi) uniformly", async () => {
  await lt.init();
  const seed = Math.floor(freshRng().next() * 2 ** 40);
  for (const [lo, hi] of [[0, 1], [-3, 5]]) {
    const got = await read(lt.randomUniform([N], { lo, hi, seed }));
    const bits = bitsRef(N, seed);
    const ref = Float64Array.from(bits, (r) => lo + (hi - lo) * unit(r));
    assertClose(got, ref, { rtol: 1e-6, atol: 1e-6, label: `seed ${seed}` });
    assert(got.every((v) => v >= lo && v <= hi), "range");
    const m = moments(got);
    const w = hi - lo;
    assert(Math.abs(m.mean - (lo + hi) / 2) < 6 * w / Math.sqrt(12 * N), `mean ${m.mean}`);
    assert(Math.abs(m.std / (w / Math.sqrt(12)) - 1) < 0.01, `std ${m.std}`);
    assert(Math.abs(m.kurtosis - 1.8) < 0.03, `kurtosis ${m.kurtosis}`);
    assert(ksDistance(got, (x) => (x - lo) / w) < ksLimit(N), "KS vs uniform");
    assert(Math.abs(correlationOfNeighbours(got, 1)) < 0.02, "neighbours uncorrelated");
  }
});

test("randomNormal is Box–Muller of the bits with mean, std and kurtosis of a normal", async () => {
  await lt.init();
  const seed = Math.floor(freshRng().next() * 2 ** 40);
  const got = await read(lt.randomNormal([N], { mean: 2, std: 3, seed }));
  // WGSL only promises cos to 2^-11 absolute (and log to 2^-21 near 1), so a
  // conforming adapter (SwiftShader) may differ from float64 by up to ~1e-3 · r
  // (r the Box–Muller radius, not |x|): bound each sample by that.
  assertClose(got, normalRef(N, seed, 2, 3), {
    rtol: 0,
    atol: normalBound(N, seed, 2, 3),
    label: `seed ${seed}`,
  });
  const m = moments(got);
  assert(Math.abs(m.mean - 2) < 6 * 3 / Math.sqrt(N), `mean ${m.mean}`);
  assert(Math.abs(m.std / 3 - 1) < 0.015, `std ${m.std}`);
  assert(Math.abs(m.kurtosis - 3) < 0.1, `kurtosis ${m.kurtosis}`);
  assert(ksDistance(got, (x) => normalCdf((x - 2) / 3)) < ksLimit(N), "KS vs normal");
  for (const lag of [1, 2, 4]) {
    assert(Math.abs(correlationOfNeighbours(got, lag)) < 0.02, `lag ${lag} uncorrelated`);
  }
  assert(got.every(Number.isFinite), "no infinities from log(0)");
});

test("truncatedNormal stays within 2 std and follows the truncated normal CDF", async () => {
  await lt.init();
  const seed = Math.floor(freshRng().next() * 2 ** 40);
  const got = await read(lt.truncatedNormal([N], { mean: -1, std: 0.5, seed }));
  const E = erf(Math.SQRT2);
  const ref = Float64Array.from(
    bitsRef(N, seed),
    (r) => -1 + 0.5 * Math.SQRT2 * erfinv(E * (2 * openUnit(r) - 1)),
  );
  assertClose(got, ref, { rtol: 1e-4, atol: 1e-4, label: `seed ${seed}` });
  assert(got.every((v) => v >= -2 && v <= 0), "within mean ± 2 std");
  const m = moments(got);
  assert(Math.abs(m.std / (0.5 * 0.87962566103423978) - 1) < 0.015, `std ${m.std}`);
  const lo = normalCdf(-2), mass = normalCdf(2) - lo;
  assert(
    ksDistance(got, (x) => (normalCdf((x + 1) / 0.5) - lo) / mass) < ksLimit(N),
    "KS vs truncated normal",
  );
});

test("bernoulli draws value with probability p, exactly at p = 0 and p = 1", async () => {
  await lt.init();
  const seed = Math.floor(freshRng().next() * 2 ** 40);
  const p = 0.3;
  const got = await read(lt.bernoulli([N], p, { seed, value: 2.5 }));
  const ref = Float64Array.from(bitsRef(N, seed), (r) => unit(r) < Math.fround(p) ? 2.5 : 0);
  assertEquals(Array.from(got), Array.from(ref));
  const ones = got.filter((v) => v === 2.5).length;
  assert(Math.abs(ones / N - p) < 6 * Math.sqrt(p * (1 - p) / N), `rate ${ones / N}`);
  assert(got.every((v) => v === 0 || v === 2.5), "two values only");
  assert((await read(lt.bernoulli([999], 0, 5))).every((v) => v === 0), "p = 0");
  assert((await read(lt.bernoulli([999], 1, 5))).every((v) => v === 1), "p = 1");
});

test("the same seed gives the same numbers, other seeds and streams differ", async () => {
  await lt.init();
  const draw = (seed: number, stream = 0) => read(lt.randomNormal([4096], { seed, stream }));
  assertEquals(await draw(7), await draw(7));
  for (const [a, b] of [[await draw(7), await draw(8)], [await draw(7), await draw(7, 1)]]) {
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    assert(same < 5, `${same} equal values`);
  }
});

test("RandomStream gives a reproducible sequence of distinct 53-bit sub-seeds", async () => {
  await lt.init();
  const a = new lt.RandomStream(123), b = new lt.RandomStream(123);
  const sa = Array.from({ length: 1000 }, () => a.next());
  const sb = Array.from({ length: 1000 }, () => b.next());
  assertEquals(sa, sb);
  assertEquals(new Set(sa).size, 1000);
  assert(sa.every((s) => Number.isSafeInteger(s) && s >= 0), "safe integers");
  assert(sa.some((s) => s >= 2 ** 32), "uses the high key word");
  assert(new lt.RandomStream(124).next() !== sa[0], "seed matters");
  b.position = 10;
  assertEquals(b.next(), sa[10]);
  // A stream passed as the seed draws its next sub-seed: two draws differ,
  // replaying the stream replays them.
  const run = async () => {
    const rs = new lt.RandomStream(5);
    return [
      await read(lt.randomUniform([64], { seed: rs })),
      await read(lt.randomUniform([64], { seed: rs })),
    ];
  };
  const [x1, x2] = await run();
  const [y1, y2] = await run();
  assertEquals([x1, x2], [y1, y2]);
  assert(x1.some((v, i) => v !== x2[i]), "consecutive draws differ");
  const f = new lt.RandomStream(9).fork(), g = new lt.RandomStream(9).fork();
  assertEquals(f.next(), g.next());
});

test("fillRandom writes every element in place without allocating", async () => {
  await lt.init();
  for (const n of [1, 3, 6, 257]) {
    const t = lt.empty([n]); // poisoned with NaN in tests
    const before = lt.memory().tensors;
    const same = lt.fillRandom(t, { dist: "normal", std: 2 }, { seed: 11 });
    assert(same === t, "returns its target");
    assertEquals(lt.memory().tensors, before);
    const ref = normalRef(n, 11, 0, 2);
    const atol = normalBound(n, 11, 0, 2); // see above
    assertClose(await t.toArray(), ref, { rtol: 0, atol, label: `n=${n}` });
    t.dispose();
  }
  const u = lt.zeros([10], "u32");
  lt.fillRandom(u, { dist: "bits" }, { seed: 3 });
  assertEquals(await u.toArray(), bitsRef(10, 3));
  u.dispose();
  // An i32 target gets the same bits (the kernel declares its output i32).
  const i = lt.zeros([10], "i32");
  lt.fillRandom(i, { dist: "bits" }, { seed: 3 });
  assertEquals(await i.toArray(), new Int32Array(bitsRef(10, 3).buffer));
  i.dispose();
  const z = lt.randomUniform([0, 4], { seed: 1 });
  assertEquals(z.shape, [0, 4]);
  z.dispose();
});

test("random ops refuse bad seeds, parameters and dtypes by name", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  assertThrows(
    () => lt.randomUniform([3], { seed: -1 }),
    "randomUniform: seed must be a non-negative safe integer or a RandomStream, got -1",
  );
  assertThrows(() => lt.randomNormal([3], { seed: 1.5 }), /randomNormal: seed must be/);
  assertThrows(() => lt.randomNormal([3], { std: -1 }), "randomNormal: std must be >= 0, got -1");
  assertThrows(
    () => lt.randomUniform([3], { lo: 2, hi: 1 }),
    "randomUniform: expected lo <= hi, got lo=2, hi=1",
  );
  assertThrows(() => lt.randomUniform([3], { hi: NaN }), "randomUniform: hi must be a finite");
  assertThrows(
    () => lt.bernoulli([3], 1.5, 1),
    "bernoulli: p must be a probability in [0, 1], got 1.5",
  );
  assertThrows(() => lt.randomBits([2.5]), /randomBits: shape must be a list of non-negative/);
  assertThrows(() => lt.randomBits([2], { stream: -1 }), /randomBits: stream must be an integer/);
  assertThrows(() => new lt.RandomStream(-3), "RandomStream: seed must be a non-negative");
  const i = lt.zeros([4], "i32");
  assertThrows(
    () => lt.fillRandom(i, { dist: "uniform" }),
    "fillRandom(uniform): expected a f32 tensor for uniform values, got i32 [4]",
  );
  assertThrows(
    () => lt.fillRandom(i, { dist: "gamma" } as unknown as lt.RandomDistribution),
    /unknown distribution "gamma"; expected one of bits, uniform, normal/,
  );
  i.dispose();
  assertEquals(lt.memory().tensors, start);
});

// ---------------------------------------------------------------- initializers

const init = lt.initializers;

test("computeFans follows Keras for scalars, vectors, dense and conv kernels", () => {
  assertEquals(init.computeFans([]), { fanIn: 1, fanOut: 1 });
  assertEquals(init.computeFans([7]), { fanIn: 7, fanOut: 7 });
  assertEquals(init.computeFans([784, 500]), { fanIn: 784, fanOut: 500 });
  assertEquals(init.computeFans([3, 3, 16, 32]), { fanIn: 144, fanOut: 288 });
  assertEquals(init.computeFans([5, 4, 3]), { fanIn: 20, fanOut: 15 });
});

/**
 * Standard error of the sample std over the true std from `n` draws of a
 * distribution with kurtosis `kurtosis`: Var(s²)/σ⁴ ≈ (κ − 1)/n, halved for s.
 */
const stdError = (n: number, kurtosis: number) => 0.5 * Math.sqrt((kurtosis - 1) / n);

/**
 * Draws with a fresh seed and checks bounds, mean and std; returns the values.
 * The std may miss by 7 standard errors (a correct initializer fails with
 * probability ~1e-11; a wrong fan or limit is off by 10% or more).
 */
async function drawInit(
  i: lt.initializers.Initializer,
  shape: number[],
  { limit, std, kurtosis }: { limit: number; std: number; kurtosis: number },
): Promise<Float32Array> {
  const seed = Math.floor(freshRng().next() * 2 ** 40);
  const t = i.create(shape, seed);
  assertEquals(t.shape, shape);
  const v = await read(t);
  const m = moments(v);
  const label = `${i.name} ${JSON.stringify(shape)} seed ${seed}`;
  assert(v.every((x) => Math.abs(x) <= limit * (1 + 1e-6)), `${label}: within ±${limit}`);
  assert(Math.abs(m.mean) < 6 * std / Math.sqrt(v.length), `${label}: mean ${m.mean}`);
  const tol = 7 * stdError(v.length, kurtosis);
  assert(Math.abs(m.std / std - 1) < tol, `${label}: std ${m.std}, expected ${std} ± ${tol}`);
  return v;
}

test("uniform variance-scaling initializers reach their Keras limits", async () => {
  await lt.init();
  const cases: [lt.initializers.Initializer, number[], number][] = [
    [init.glorotUniform(), [300, 200], Math.sqrt(6 / 500)],
    [init.heUniform(), [5, 5, 16, 64], Math.sqrt(6 / 400)],
    [init.lecunUniform(), [400, 90], Math.sqrt(3 / 400)],
    // DEC's encoder initializer: limit sqrt(1 / fan_in).
    [
      init.varianceScaling({ scale: 1 / 3, mode: "fan_in", distribution: "uniform" }),
      [500, 100],
      Math.sqrt(1 / 500),
    ],
    [
      init.varianceScaling({ scale: 2, mode: "fan_out", distribution: "uniform" }),
      [50, 600],
      Math.sqrt(6 / 600),
    ],
  ];
  for (const [i, shape, limit] of cases) {
    const v = await drawInit(i, shape, { limit, std: limit / Math.sqrt(3), kurtosis: 1.8 });
    const top = Math.max(...Array.from(v, Math.abs));
    assert(top > 0.99 * limit, `${i.name}: largest |w| ${top} reaches the limit ${limit}`);
    assert(ksDistance(v, (x) => (x + limit) / (2 * limit)) < ksLimit(v.length), `${i.name}: KS`);
  }
});

test("normal variance-scaling initializers have Keras' std after truncation", async () => {
  await lt.init();
  const cases: [lt.initializers.Initializer, number[], number, boolean][] = [
    [init.heNormal(), [400, 300], Math.sqrt(2 / 400), true],
    [init.glorotNormal(), [300, 200], Math.sqrt(2 / 500), true],
    [init.lecunNormal(), [3, 3, 64, 64], Math.sqrt(1 / 576), true],
    [
      init.varianceScaling({ scale: 3, mode: "fan_avg", distribution: "untruncated_normal" }),
      [
        200,
        400,
      ],
      Math.sqrt(3 / 300),
      false,
    ],
  ];
  for (const [i, shape, std, truncated] of cases) {
    const limit = truncated ? 2 * std / 0.87962566103423978 : Infinity;
    // Truncation at 2 std lowers the kurtosis from 3 to 2.3655; n·Var(sample
    // kurtosis) is 24 for a normal and 3.85 truncated (delta method on the
    // 2nd..8th moments). Allow 7 standard errors, as for the std.
    const [k, nVar] = truncated ? [2.3655, 3.85] : [3, 24];
    const v = await drawInit(i, shape, { limit, std, kurtosis: k });
    const m = moments(v);
    const tol = 7 * Math.sqrt(nVar / v.length);
    assert(
      Math.abs(m.kurtosis - k) < tol,
      `${i.name}: kurtosis ${m.kurtosis}, expected ${k} ± ${tol}`,
    );
  }
});

test("initializers are deterministic per seed, fill in place, and take explicit fans", async () => {
  await lt.init();
  const g = init.glorotUniform();
  const a = await read(g.create([20, 30], 99));
  assertEquals(await read(g.create([20, 30], 99)), a);
  const t = lt.zeros([20, 30]);
  assert(g.fill(t, 99) === t, "fill returns its target");
  assertEquals(await read(t), a);
  const b = await read(g.create([20, 30], 100));
  assert(a.some((v, i) => v !== b[i]), "another seed differs");
  // A stream gives the same sequence of weights on every run.
  const twice = async () => {
    const rs = new lt.RandomStream(3);
    return [await read(g.create([4, 5], rs)), await read(g.create([4, 5], rs))];
  };
  assertEquals(await twice(), await twice());
  // Explicit fans override the shape's (e.g. a layer with another kernel layout).
  const v = await read(init.heUniform().create([1000], 1, { fanIn: 6, fanOut: 1 }));
  assert(Math.max(...Array.from(v, Math.abs)) > 0.95, "limit sqrt(6/6) = 1 is used");
});

test("constant initializers and names resolve like Keras", async () => {
  await lt.init();
  assertEquals(Array.from(await read(init.zeros().create([3]))), [0, 0, 0]);
  assertEquals(Array.from(await read(init.ones().create([2, 2]))), [1, 1, 1, 1]);
  assertEquals(Array.from(await read(init.constant(0.25).create([2]))), [0.25, 0.25]);
  assertEquals(init.get("glorot_uniform").name, "glorot_uniform");
  assertEquals(init.get("HeNormal").name, "he_normal");
  assertEquals(init.get("xavier_uniform").name, "glorot_uniform");
  assertEquals(init.get("zeros").name, "zeros");
  const custom = init.constant(2);
  assert(init.get(custom) === custom, "an initializer passes through");
  assertEquals(init.varianceScaling({ scale: 1 / 3, distribution: "uniform" }).config, {
    scale: 1 / 3,
    mode: "fan_in",
    distribution: "uniform",
  });
});

test("initializers refuse unknown names and bad options", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  assertThrows(
    () => init.get("glorot"),
    'initializer: unknown name "glorot"; expected one of glorot_uniform, glorot_normal, he_uniform',
  );
  assertThrows(
    () => init.varianceScaling({ mode: "fan_mid" as "fan_in" }),
    'variance_scaling: mode must be one of fan_in, fan_out, fan_avg, got "fan_mid"',
  );
  assertThrows(
    () => init.varianceScaling({ distribution: "normal" as "uniform" }),
    /variance_scaling: distribution must be one of uniform, truncated_normal, untruncated_normal/,
  );
  assertThrows(
    () => init.varianceScaling({ scale: 0 }),
    "variance_scaling: scale must be a finite number > 0, got 0",
  );
  assertThrows(
    () => init.randomNormal({ stddev: -1 }),
    "random_normal: stddev must be >= 0, got -1",
  );
  assertThrows(() => init.constant(NaN), "constant: value must be a finite number, got NaN");
  assertThrows(() => init.glorotUniform().create([2, 2], -5), /glorot_uniform: seed must be/);
  assertThrows(() => init.heNormal().create([2, -2]), /he_normal: shape must be a list/);
  const i = lt.zeros([2], "i32");
  assertThrows(() => init.zeros().fill(i), "zeros: expected a f32 tensor, got i32");
  i.dispose();
  assertEquals(lt.memory().tensors, start);
});
