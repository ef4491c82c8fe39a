/**
 * Misuse that used to pass silently: backward through freed tensors,
 * malformed training and clustering options, datasets given to k-means.
 * Each case fails on code that ignores the misuse.
 * @module
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng } from "../ref.ts";

/** A parameter-like leaf of `n` random values that requires grad. */
function leaf(n: number): { p: lt.Tensor; values: Float32Array } {
  const values = freshRng().normals(n);
  const p = lt.tensor(values, [n]);
  p.requiresGrad = true;
  return { p, values };
}

test("backward through a loss returned from tidy reaches the parameter", async () => {
  await lt.init();
  const { p, values } = leaf(7);
  const before = lt.memory().tensors;
  const L = lt.tidy(() => lt.sum(lt.mul(p, p)));
  lt.backward(L);
  assert(p.grad !== null, "p.grad is null after backward through a tidy-returned loss");
  assertClose(await p.grad.toArray(), values.map((v) => 2 * v), { rtol: 1e-6, label: "d/dp" });
  // The loss and p.grad, nothing attached to the freed product.
  assertEquals(lt.memory().tensors, before + 2);
  L.dispose();
  p.grad.dispose();
  p.dispose();
});

test("backward after disposing an intermediate by hand still reaches the parameter", async () => {
  await lt.init();
  const { p, values } = leaf(5);
  const before = lt.memory().tensors;
  const m = lt.mul(p, p);
  const L = lt.sum(m);
  m.dispose();
  lt.backward(L);
  assert(p.grad !== null, "p.grad is null after backward past a disposed intermediate");
  assertClose(await p.grad.toArray(), values.map((v) => 2 * v), { rtol: 1e-6, label: "d/dp" });
  assertEquals(lt.memory().tensors, before + 2);
  L.dispose();
  p.grad.dispose();
  p.dispose();
});

test("backward names a freed tensor whose data a gradient needs, and how to keep it", async () => {
  await lt.init();
  const { p } = leaf(6);
  const before = lt.memory().tensors;
  const L = lt.tidy(() => lt.sum(lt.exp(lt.mul(p, p))));
  assertThrows(
    () => lt.backward(L),
    /backward: the gradient of exp needs the output of exp \[6\], which was disposed.*lt\.keep\(\)/,
  );
  assertEquals(p.grad, null);
  assertEquals(lt.memory().tensors, before + 1, "backward left tensors behind after throwing");
  L.dispose();
  // The same loss with backward inside the scope works.
  lt.tidy(() => lt.backward(lt.sum(lt.exp(lt.mul(p, p)))));
  assert(p.grad !== null);
  p.grad.dispose();
  p.dispose();
});

test("backward refuses a disposed parameter by name before any work", async () => {
  await lt.init();
  const { p } = leaf(4);
  p.name = "w";
  const L = lt.sum(lt.mul(p, 2));
  p.dispose();
  assertThrows(() => lt.backward(L), /backward: "w" \[4\] requires grad but was disposed/);
  assertEquals(p.grad, null);
  L.dispose();
});

test("fit refuses initialEpoch >= epochs instead of returning an empty history", async () => {
  await lt.init();
  const rng = freshRng();
  lt.nn.setSeed(1);
  const m = lt.nn.sequential([lt.nn.dense(3)], { inputShape: [4] });
  m.compile({ optimizer: "sgd", loss: "mse" });
  const x = rng.normals(8 * 4), y = rng.normals(8 * 3);
  await assertRejects(
    () => m.fit(x, y, { initialEpoch: 5, epochs: 2 }),
    /fit\(.*\): initialEpoch must be an integer in \[0, epochs\) = \[0, 2\), got 5/,
  );
  await assertRejects(() => m.fit(x, y, { initialEpoch: -1, epochs: 2 }), /initialEpoch/);
  const h = await m.fit(x, y, { initialEpoch: 1, epochs: 3 });
  assertEquals(h.epoch, [1, 2]);
  m.dispose();
});

test("DEC validates alpha and seed in the constructor", async () => {
  await lt.init();
  for (const alpha of [0, -1, NaN, Infinity]) {
    assertThrows(
      () => new lt.cluster.DEC({ clusters: 2, dims: [4, 2], alpha }),
      `DEC: alpha must be a finite number > 0, got ${alpha}`,
    );
  }
  assertThrows(
    () => new lt.cluster.DEC({ clusters: 2, dims: [4, 2], seed: 1.5 }),
    "DEC: seed must be a non-negative integer, got 1.5",
  );
});

test("KMeans.fit accepts a dataset and clusters its samples as rows", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 60, d = 3;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < d; f++) x[i * d + f] = (i % 3) * 10 + 0.1 * rng.normal();
  }
  const ds = lt.data.dataset(x, { shape: [d] });
  const xt = lt.tensor(x, [n, d]);
  const a = await new lt.cluster.KMeans({ k: 3, seed: 1 }).fit(ds);
  const b = await new lt.cluster.KMeans({ k: 3, seed: 1 }).fit(xt);
  assertEquals(Array.from(a.labels), Array.from(b.labels));
  assertClose(a.centers, b.centers, { rtol: 1e-6, label: "centres" });
  // Anything else is refused with a message, not a TypeError from inside.
  await assertRejects(
    () => new lt.cluster.KMeans({ k: 3 }).fit(x as unknown as lt.Tensor),
    "KMeans.fit: expected x to be an f32 tensor [n, d], got Float32Array",
  );
  ds.dispose();
  xt.dispose();
});

test("KMeans on duplicated points (5 distinct, k = 7) stops like scikit-learn", async () => {
  await lt.init();
  const rng = freshRng();
  // Rounding in the means of duplicates used to make empty clusters take a
  // different zero-distance point each iteration: 300 iterations, labels churning.
  for (let trial = 0; trial < 6; trial++) {
    const d = 1 + (trial % 3), n = 7 + Math.floor(rng.next() * 40);
    const points = rng.uniform(5 * d, 0, 10);
    const x = new Float32Array(n * d);
    const which = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      which[i] = i < 5 ? i : Math.floor(rng.next() * 5);
      x.set(points.subarray(which[i] * d, (which[i] + 1) * d), i * d);
    }
    const xt = lt.tensor(x, [n, d]);
    for (const [init, tol] of [["k-means++", 1e-4], ["k-means++", 0], ["random", 1e-4]] as const) {
      const r = await new lt.cluster.KMeans({ k: 7, seed: rng.seed + trial, init, tol }).fit(xt);
      const tag = `seed ${rng.seed}, trial ${trial}, ${init}, tol ${tol}`;
      // k-means++ covers the five points at once and stops by tol after 1
      // or 2 iterations as scikit-learn; with tol 0 ties between a copy
      // and a rounded mean settle in a few more; random seeding may need a
      // few relocations first.
      const most = init === "random" ? 8 : tol === 0 ? 5 : 2;
      assert(r.nIter <= most, `${tag}: ${r.nIter} iterations`);
      // Every copy of a point shares one label, and the five points five labels.
      const labelOf = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const l = labelOf.get(which[i]);
        if (l === undefined) labelOf.set(which[i], r.labels[i]);
        else assertEquals(r.labels[i], l, `${tag}: copies of point ${which[i]} split`);
      }
      assertEquals(new Set(labelOf.values()).size, 5, `${tag}: distinct labels`);
    }
    xt.dispose();
  }
});
