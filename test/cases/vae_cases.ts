/**
 * Variational autoencoder pieces: gaussianSample / gaussianMean / gaussianKl
 * against float64 references on awkward shapes, their gradients against
 * finite differences, KL overflow to +∞ (never NaN), bad input rejected
 * before any GPU work, and the gaussianSampling layer: sample statistics
 * while training (six-standard-error bounds), the mean at inference, the KL
 * term in fit's loss, a small VAE that learns, and flat memory.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { assertFitMemoryFlat } from "../fit_memory.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** An h = [mean, logvar] of n rows and d latent dims, both halves uniform in ±`range`. */
function makeH(rng: Rng, n: number, d: number, range = 2): Float32Array {
  return rng.uniform(n * 2 * d, -range, range);
}

function sampleRef(h: ArrayLike<number>, eps: ArrayLike<number>, n: number, d: number): number[] {
  const z: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      z.push(h[r * 2 * d + j] + Math.exp(0.5 * h[r * 2 * d + d + j]) * eps[r * d + j]);
    }
  }
  return z;
}

/** KL per batch (mean over rows) and Σ|terms| / n · 0.5, the scale of its f32 rounding. */
function klRef(h: ArrayLike<number>, n: number, d: number): { kl: number; mag: number } {
  let s = 0, mag = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      const m = h[r * 2 * d + j], lv = h[r * 2 * d + d + j];
      s += 1 + lv - m * m - Math.exp(lv);
      mag += 1 + Math.abs(lv) + m * m + Math.exp(lv);
    }
  }
  return { kl: (-0.5 * s) / n, mag: (0.5 * mag) / n };
}

const SHAPES: [number, number][] = [[1, 1], [1, 3], [7, 17], [13, 1], [3, 3], [31, 17], [2, 5]];

test("gaussianSample matches float64 reference on n x d = 1x1, 1x3, 7x17, 13x1, 3x3, 31x17, 2x5", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d] of SHAPES) {
    const h = makeH(rng, n, d), eps = rng.normals(n * d);
    const z = lt.tidy(() => lt.gaussianSample(lt.tensor(h, [n, 2 * d]), lt.tensor(eps, [n, d])));
    assertEquals([...z.shape], [n, d]);
    const ref = sampleRef(h, eps, n, d);
    // WGSL's exp is accurate to 3 + 2|x| ulp: |x| <= 1 here.
    assertClose(await z.toArray(), ref, {
      rtol: 1e-5,
      atol: 1e-6,
      label: `gaussianSample ${n}x${d} (seed ${rng.seed})`,
    });
    z.dispose();
  }
});

test("gaussianMean returns the mean half on n x d = 1x1, 13x1, 7x17, 31x17", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d] of [[1, 1], [13, 1], [7, 17], [31, 17]]) {
    const h = makeH(rng, n, d);
    const m = lt.tidy(() => lt.gaussianMean(lt.tensor(h, [n, 2 * d])));
    const want = Array.from({ length: n * d }, (_, i) => h[Math.floor(i / d) * 2 * d + (i % d)]);
    assertEquals(Array.from(await m.toArray()), want, `gaussianMean ${n}x${d}`);
    m.dispose();
  }
});

test("gaussianKl matches float64 reference on 1x1, 1x3, 7x17, 13x1, 31x17, 2x5 and a multi-pass 1031x50", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d] of [...SHAPES, [1031, 50] as [number, number]]) {
    const h = makeH(rng, n, d);
    const { kl, mag } = klRef(h, n, d);
    for (const profile of [internal.CPU_REDUCE, internal.GPU_REDUCE]) {
      const out = internal.withTuning(
        { reduce: profile },
        () => lt.tidy(() => lt.gaussianKl(lt.tensor(h, [n, 2 * d]))),
      );
      assertEquals([...out.shape], []);
      assertClose([await out.item()], [kl], {
        rtol: 0,
        atol: 1e-5 * mag + 1e-6,
        label: `gaussianKl ${n}x${d} target ${profile.target} (seed ${rng.seed})`,
      });
      out.dispose();
    }
    const w = 0.25 + rng.next();
    const weighted = lt.tidy(() => lt.gaussianKl(lt.tensor(h, [n, 2 * d]), { weight: w }));
    assertClose([await weighted.item()], [w * kl], {
      rtol: 0,
      atol: w * (1e-5 * mag + 1e-6),
      label: `gaussianKl weight ${w} ${n}x${d}`,
    });
    weighted.dispose();
  }
});

test("gaussianKl overflows to +Infinity, not NaN: huge or infinite logvar, infinite mean", async () => {
  await lt.init();
  // Rows of [mean, logvar] with d = 1; each case alone in its own batch.
  const cases: [number, number, number][] = [
    [0, 100, Infinity], // exp(100) overflows f32
    [0, 89, Infinity],
    [0, Infinity, Infinity], // would be ∞ − ∞ without the explicit guard
    [0, -Infinity, Infinity], // zero variance
    [Infinity, 0, Infinity],
    [1e30, 0, Infinity], // mean² overflows
    [NaN, 0, NaN],
    [0, NaN, NaN],
  ];
  for (const [m, lv, want] of cases) {
    const kl = await lt.tidy(() => lt.gaussianKl(lt.tensor(new Float32Array([m, lv]), [1, 2])))
      .item();
    assert(Object.is(kl, want), `gaussianKl(mean ${m}, logvar ${lv}) = ${kl}, expected ${want}`);
  }
  // Large but finite: exp(80) ≈ 5.5e34 stays finite, and so does the KL.
  const big = await lt.tidy(() => lt.gaussianKl(lt.tensor(new Float32Array([0, 80]), [1, 2])))
    .item();
  assertClose([big], [0.5 * (Math.exp(80) - 81)], { rtol: 1e-4, label: "logvar 80" });
  // One overflowing row among finite ones: the batch mean is +∞ too.
  const mixed = lt.tensor(new Float32Array([0.5, 0.1, -0.3, 0.2, 0, 1, 120, -1]), [2, 4]);
  const mixedKl = await lt.tidy(() => lt.gaussianKl(mixed)).item();
  assert(Object.is(mixedKl, Infinity), `one row with logvar 120: KL ${mixedKl}`);
  mixed.dispose();
});

test("gaussianSample, gaussianMean and gaussianKl gradients match finite differences on 1x1, 7x3, 5x17", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d] of [[1, 1], [7, 3], [5, 17]]) {
    const h = makeH(rng, n, d, 1.5), eps = rng.normals(n * d);
    await gradCheck({
      label: `gaussianSample ${n}x${d}`,
      inputs: [{ data: h, shape: [n, 2 * d] }, { data: eps, shape: [n, d], check: false }],
      forward: ([ht, et]) => lt.gaussianSample(ht, et),
      reference: ([hv, ev]) => sampleRef(hv, ev, n, d),
      rng,
    });
    await gradCheck({
      label: `gaussianMean ${n}x${d}`,
      inputs: [{ data: h, shape: [n, 2 * d] }],
      forward: ([ht]) => lt.gaussianMean(ht),
      reference: ([hv]) =>
        Array.from({ length: n * d }, (_, i) => hv[Math.floor(i / d) * 2 * d + (i % d)]),
      rng,
    });
    const w = 0.5 + rng.next();
    await gradCheck({
      label: `gaussianKl ${n}x${d} weight ${w}`,
      inputs: [{ data: h, shape: [n, 2 * d] }],
      forward: ([ht]) => lt.gaussianKl(ht, { weight: w }),
      reference: ([hv]) => [w * klRef(hv, n, d).kl],
      rng,
    });
  }
});

test("VAE ops and the gaussianSampling layer reject bad shapes and weights before any GPU work", async () => {
  const rt = await lt.init();
  const h = lt.zeros([3, 6]), odd = lt.zeros([3, 5]), flat = lt.zeros([6]);
  const cube = lt.zeros([2, 3, 4]), ints = lt.zeros([3, 6], "i32");
  const eps = lt.zeros([3, 3]), epsBad = lt.zeros([3, 2]), epsRows = lt.zeros([4, 3]);
  await rt.sync();
  const before = rt.dispatchCount;
  const shapeMsg = /expected h \[n, 2d\] \(mean and log-variance halves.*got \[3, 5\]/;
  assertThrows(() => lt.gaussianSample(odd, eps), new RegExp("gaussianSample: " + shapeMsg.source));
  assertThrows(() => lt.gaussianKl(odd), new RegExp("gaussianKl: " + shapeMsg.source));
  assertThrows(() => lt.gaussianMean(odd), new RegExp("gaussianMean: " + shapeMsg.source));
  assertThrows(() => lt.gaussianKl(flat), /gaussianKl: expected h \[n, 2d\].*got \[6\]/);
  assertThrows(() => lt.gaussianKl(cube), /gaussianKl: expected h \[n, 2d\].*got \[2, 3, 4\]/);
  assertThrows(() => lt.gaussianKl(ints), /gaussianKl: expected an f32 h \[n, 2d\].*got i32/);
  assertThrows(
    () => lt.gaussianSample(h, epsBad),
    "gaussianSample: h [3, 6] needs eps of shape [3, 3] (f32), got [3, 2] f32",
  );
  assertThrows(
    () => lt.gaussianSample(h, epsRows),
    "gaussianSample: h [3, 6] needs eps of shape [3, 3] (f32), got [4, 3] f32",
  );
  assertThrows(() => lt.gaussianKl(h, { weight: NaN }), "gaussianKl: weight must be a finite");
  assertThrows(
    () => lt.nn.gaussianSampling({ klWeight: -1 }),
    /klWeight must be a finite number >= 0, got -1/,
  );
  assertThrows(
    () => lt.nn.gaussianSampling().apply(lt.nn.input([5])),
    /gaussianSampling\(klWeight=1\/784\): expected input \[\*, 2d\] .*got \[\*, 5\]/,
  );
  assertEquals(rt.dispatchCount, before, "no dispatch recorded for bad input");
  for (const t of [h, odd, flat, cube, ints, eps, epsBad, epsRows]) t.dispose();
});

test("gaussianSampling samples N(mean, exp(logvar)) while training (6-standard-error bounds), fresh noise each call", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 4096, d = 3;
  // |logvar| in [1.5, 2.5]: exp(logvar) and exp(0.5 logvar) differ by a factor >= 2.1.
  const mean = Array.from({ length: d }, () => 4 * rng.next() - 2);
  const logvar = Array.from({ length: d }, () => (rng.next() < 0.5 ? -1 : 1) * (1.5 + rng.next()));
  const h = new Float32Array(n * 2 * d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      h[r * 2 * d + j] = mean[j];
      h[r * 2 * d + d + j] = logvar[j];
    }
  }
  const layer = lt.nn.gaussianSampling({ seed: Math.floor(rng.next() * 2 ** 31), klWeight: 0.5 });
  const ht = lt.tensor(h, [n, 2 * d]);
  const losses: lt.Tensor[] = [];
  const z1 = layer.apply(ht, { training: true, losses });
  const z2 = layer.apply(ht, { training: true, losses });
  assertEquals([...z1.shape], [n, d]);
  assertEquals(losses.length, 2, "one KL term per training call");
  const a = (await z1.toArray()) as Float32Array, b = (await z2.toArray()) as Float32Array;
  for (const z of [a, b]) {
    for (let j = 0; j < d; j++) {
      let s = 0, s2 = 0;
      for (let r = 0; r < n; r++) s += z[r * d + j];
      const mu = s / n;
      for (let r = 0; r < n; r++) s2 += (z[r * d + j] - mu) ** 2;
      const sd = Math.sqrt(s2 / (n - 1)), sigma = Math.exp(0.5 * logvar[j]);
      const tag = `column ${j} (mean ${mean[j]}, logvar ${logvar[j]}, seed ${rng.seed})`;
      assert(Math.abs(mu - mean[j]) <= (6 * sigma) / Math.sqrt(n), `${tag}: sample mean ${mu}`);
      // The sample std of n normals has standard error σ / sqrt(2(n − 1)).
      assert(Math.abs(sd - sigma) <= (6 * sigma) / Math.sqrt(2 * (n - 1)), `${tag}: std ${sd}`);
    }
  }
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  assert(same < a.length / 100, `${same} of ${a.length} samples repeated between calls`);
  // The KL term: klWeight · KL of the (identical) rows.
  const { kl, mag } = klRef(h, n, d);
  assertClose([await losses[0].item()], [0.5 * kl], { rtol: 0, atol: 1e-5 * mag });
  // The same seed reproduces the same draws.
  const again = lt.nn.gaussianSampling({ seed: 7 });
  const twin = lt.nn.gaussianSampling({ seed: 7 });
  assertEquals(
    Array.from(await again.apply(ht, { training: true }).toArray()),
    Array.from(await twin.apply(ht, { training: true }).toArray()),
  );
  for (const t of [ht, z1, z2, ...losses]) t.dispose();
});

test("gaussianSampling returns the mean at inference and adds no loss term", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 9, d = 5;
  const h = makeH(rng, n, d, 3);
  const ht = lt.tensor(h, [n, 2 * d]);
  const layer = lt.nn.gaussianSampling({ klWeight: 1 });
  const losses: lt.Tensor[] = [];
  const z = layer.apply(ht, { losses });
  const z2 = layer.apply(ht, { losses, training: false });
  const want = Array.from({ length: n * d }, (_, i) => h[Math.floor(i / d) * 2 * d + (i % d)]);
  assertEquals(Array.from(await z.toArray()), want);
  assertEquals(Array.from(await z2.toArray()), want);
  assertEquals(losses.length, 0);
  for (const t of [ht, z, z2]) t.dispose();
});

/** Noisy binary patterns: `k` prototypes of `d` pixels, n samples in [0, 1]. */
function patterns(rng: Rng, n: number, d: number, k: number): Float32Array {
  const protos = Array.from(
    { length: k },
    () => Float32Array.from({ length: d }, () => (rng.next() < 0.4 ? 1 : 0)),
  );
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      x[i * d + j] = Math.min(1, Math.max(0, protos[i % k][j] + 0.1 * rng.normal()));
    }
  }
  return x;
}

/** The small dense VAE of the integration cases: 36 → 16 → (2·2) → sample → 16 → 36. */
function smallVae(klWeight: number): lt.nn.Sequential {
  return lt.nn.sequential([
    lt.nn.dense(16, "relu"),
    lt.nn.dense(2 * 2),
    lt.nn.gaussianSampling({ klWeight }),
    lt.nn.dense(16, "relu"),
    lt.nn.dense(36, "sigmoid"),
  ], { inputShape: [36] });
}

test("summary shows gaussianSampling with output (None, d) and 0 params", async () => {
  await lt.init();
  const vae = smallVae(1 / 36);
  const text = vae.summary(() => {});
  assert(/gaussian_sampling\S* \(GaussianSampling\)\s+\(None, 2\)\s+0\n/.test(text), text);
  assert(/\(Dense\)\s+\(None, 4\)\s+68\n/.test(text), text);
  assert(text.includes("Total params: 1,320"), text);
  vae.dispose();
});

test("fit's loss includes klWeight · KL: with the reconstruction zeroed it equals the KL of the encoder's output", async () => {
  await lt.init();
  const rng = freshRng();
  lt.nn.setSeed(Math.floor(rng.next() * 2 ** 31));
  const n = 24, D = 6, d = 3, w = 0.75;
  const x = lt.nn.input([D]);
  const hSym = lt.nn.dense(2 * d).apply(x);
  const out = lt.nn.dense(D, "sigmoid").apply(lt.nn.gaussianSampling({ klWeight: w }).apply(hSym));
  const vae = lt.nn.model(x, out);
  const encoder = lt.nn.model(x, hSym);
  const data = rng.uniform(n * D, 0, 1);
  const hv = await encoder.predict(data);
  const { kl, mag } = klRef(await hv.toArray(), n, d);
  hv.dispose();
  // One step over the whole batch: the reported loss is the one before the update.
  vae.compile({
    optimizer: lt.optim.sgd(0.01),
    loss: (p, t) => lt.mul(lt.meanSquaredError(p, t), 0),
  });
  const h = await vae.fit(data, data, { epochs: 1, batchSize: n, shuffle: false });
  assertClose(h.history.loss, [w * kl], {
    rtol: 0,
    atol: 1e-5 * w * mag,
    label: `seed ${rng.seed}`,
  });
  vae.dispose();
});

test("a small dense VAE (36-16-2x2-sample-16-36) learns synthetic patterns with Adam: its loss falls", async () => {
  await lt.init();
  const rng = freshRng();
  lt.nn.setSeed(Math.floor(rng.next() * 2 ** 31));
  const data = patterns(rng, 96, 36, 3);
  const vae = smallVae(1 / 36);
  vae.compile({ optimizer: lt.optim.adam(0.01), loss: "binary_crossentropy" });
  const h = await vae.fit(data, data, { epochs: 12, batchSize: 16, seed: 1 });
  const loss = h.history.loss;
  assert(loss.every(Number.isFinite), `losses ${loss}`);
  // The sampling noise is drawn afresh at each replay: the step compiles.
  assertEquals(h.compileStep!.fallback, null);
  assertEquals(h.compileStep!.replayed, 12 * 6 - 3);
  assert(
    loss[loss.length - 1] < 0.8 * loss[0],
    `loss fell only from ${loss[0]} to ${loss[loss.length - 1]} (seed ${rng.seed})`,
  );
  // Inference is deterministic (the sampling layer returns the mean).
  const p1 = await vae.predict(data.subarray(0, 8 * 36));
  const p2 = await vae.predict(data.subarray(0, 8 * 36));
  assertEquals(Array.from(await p1.toArray()), Array.from(await p2.toArray()));
  p1.dispose();
  p2.dispose();
  vae.dispose();
});

test("fitting a VAE keeps the live tensor count flat over 300 steps", async () => {
  await lt.init();
  const rng = freshRng();
  lt.nn.setSeed(Math.floor(rng.next() * 2 ** 31));
  const vae = smallVae(1 / 36);
  vae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
  const x = lt.data.dataset(patterns(rng, 300, 36, 3), { shape: [36] });
  await assertFitMemoryFlat(vae, x, { batchSize: 2 }); // 300 steps
  x.dispose();
  vae.dispose();
}, { browser: false }); // ~4 s on SwiftShader; Deno covers it
