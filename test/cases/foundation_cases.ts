/**
 * The runtime, tensors and the first kernels (fill, copy, broadcasting
 * add/sub/mul/div) against the float64 reference.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, numel, refBinary, refSumTo } from "../ref.ts";
import { gradCheck } from "../gradcheck.ts";
import { copyInto } from "../../src/ops/creation.ts";

const F = {
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
};
const OPS = { add: lt.add, sub: lt.sub, mul: lt.mul, div: lt.div };

const SHAPES: [number[], number[]][] = [
  [[1], [1]],
  [[7], [7]],
  [[13, 5], [13, 5]],
  [[257, 3], [3]],
  [[3, 1], [1, 4]],
  [[2, 3, 5], [3, 1]],
  [[1], [65, 9]],
  [[65, 9], []],
  [[2, 1, 3, 1, 5], [4, 1, 2, 5]],
  [[1031], [1031]],
];

test("init reports the adapter", async () => {
  const rt = await lt.init();
  assert(rt.info.name.length > 0, "adapter name");
  assertEquals(typeof rt.info.isFallback, "boolean");
  assert(rt.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024, "adapter limits requested");
});

test("missing WebGPU says what to install", async () => {
  const e = await assertRejects(() => lt.requestGpu({ gpu: null }), /WebGPU is not available/);
  assert(e instanceof lt.WebGPUUnavailableError);
  assert(/mesa-vulkan-drivers|WebGPU-capable browser/.test(e.message), e.message);
  const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
  await assertRejects(() => lt.requestGpu({ gpu: noAdapter }), /found no adapter/);
  assert(/apt-get install -y mesa-vulkan-drivers/.test(lt.missingWebGPUMessage("adapter", true)));
  assert(/enable-unsafe-webgpu/.test(lt.missingWebGPUMessage("api", false)));
});

for (const op of ["add", "sub", "mul", "div"] as const) {
  for (const [sa, sb] of SHAPES) {
    test(`${op} matches float64 reference on ${JSON.stringify(sa)} and ${JSON.stringify(sb)}`, async () => {
      await lt.init();
      const rng = freshRng();
      const a = rng.uniform(numel(sa), -2, 2);
      // Keep divisors away from zero so the comparison is about the kernel.
      const b = op === "div"
        ? rng.uniform(numel(sb), 0.5, 2).map((v, i) => (i % 2 ? -v : v))
        : rng.uniform(numel(sb), -2, 2);
      const ref = refBinary(F[op], a, sa, b, sb);
      const got = lt.tidy(() => OPS[op](lt.tensor(a, sa), lt.tensor(b, sb)));
      assertEquals(got.shape, ref.shape);
      assertClose(await got.toArray(), ref.data, {
        rtol: 1e-6,
        atol: 1e-6,
        label: `seed ${rng.seed}`,
      });
      got.dispose();
    });
  }
}

for (const op of ["add", "sub", "mul", "div"] as const) {
  for (
    const [sa, sb] of [[[3, 4], [4]], [[2, 3, 1], [5]], [[1], [6, 2]], [[5, 7], [5, 7]]] as const
  ) {
    test(`${op} gradient matches finite differences for ${JSON.stringify(sa)}, ${JSON.stringify(sb)}`, async () => {
      await lt.init();
      const rng = freshRng();
      const b = op === "div" ? rng.uniform(numel(sb), 0.5, 2) : rng.uniform(numel(sb));
      await gradCheck({
        label: op,
        rng,
        inputs: [{ data: rng.uniform(numel(sa)), shape: [...sa] }, { data: b, shape: [...sb] }],
        forward: ([x, y]) => OPS[op](x, y),
        reference: ([x, y]) => refBinary(F[op], x, sa, y, sb).data,
      });
    });
  }
}

test("scalar operands broadcast", async () => {
  await lt.init();
  const x = lt.tensor([1, 2, 3], [3]);
  const y = lt.tidy(() => lt.add(lt.mul(x, 2), 1));
  assertEquals(Array.from(await y.toArray()), [3, 5, 7]);
  const z = lt.tidy(() => lt.sub(10, x));
  assertEquals(Array.from(await z.toArray()), [9, 8, 7]);
  lt.tidy(() => [x, y, z].forEach((t) => t.dispose()));
});

test("reduceTo sums broadcast dimensions like the float64 reference", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [shape, to] of [[[6, 5], [5]], [[4, 3, 2], [3, 1]], [[3, 7], [1, 1]], [[9], [1]]]) {
    const x = rng.uniform(numel(shape));
    const got = lt.tidy(() => lt.reduceTo(lt.tensor(x, shape), to));
    assertClose(await got.toArray(), refSumTo(x, shape, to), { rtol: 1e-5, atol: 1e-5 });
    got.dispose();
  }
});

test("shape mismatch names the op and both shapes", async () => {
  await lt.init();
  const a = lt.zeros([3, 4]), b = lt.zeros([5]);
  const e = assertThrows(
    () => lt.add(a, b),
    "add: shapes [3, 4] and [5] cannot be broadcast together",
  );
  assert(e.message.startsWith("add:"));
  assertThrows(() => lt.tensor([1, 2, 3], [2, 2]), "tensor: shape [2, 2] needs 4 values, got 3");
  assertThrows(() => lt.mul(a, lt.zeros([4], "i32")), /mul: dtypes differ/);
  a.dispose();
  b.dispose();
});

test("fill and typed tensors round-trip every dtype", async () => {
  await lt.init();
  const f = lt.full([5], 2.5);
  assertEquals(Array.from(await f.toArray()), [2.5, 2.5, 2.5, 2.5, 2.5]);
  const i = lt.tensor(new Int32Array([-3, 0, 7]));
  assertEquals(await i.toArray(), new Int32Array([-3, 0, 7]));
  const u = lt.full([3], 4000000000, "u32");
  assertEquals(await u.toArray(), new Uint32Array([4e9, 4e9, 4e9]));
  const b = lt.tensor(new Uint8Array([1, 2, 3, 250, 7]));
  assertEquals(await b.toArray(), new Uint8Array([1, 2, 3, 250, 7]));
  const z = lt.zeros([7], "u8");
  assertEquals(await z.toArray(), new Uint8Array(7));
  // Fills store exact bit patterns: negative i32, −0, an f32 subnormal, a u8 byte.
  const ni = lt.full([3], -7, "i32");
  assertEquals(await ni.toArray(), new Int32Array([-7, -7, -7]));
  const special = [-0, 2 ** -140, -Infinity];
  const fs = special.map((v) => lt.full([2], v));
  for (const [k, t] of fs.entries()) {
    const want = new Float32Array([special[k], special[k]]);
    assertEquals(
      new Uint32Array((await t.toArray()).buffer),
      new Uint32Array(want.buffer),
      `full(${special[k]})`,
    );
  }
  const fb = lt.full([5], 200, "u8");
  assertEquals(await fb.toArray(), new Uint8Array([200, 200, 200, 200, 200]));
  for (const t of [f, i, u, b, z, ni, fb, ...fs]) t.dispose();
});

test("copyInto writes a range of src at an element offset, leaves the rest, and refuses what does not fit", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  const made: lt.Tensor[] = [];
  const t = (data: number[] | Uint8Array | Int32Array) => {
    made.push(lt.tensor(data));
    return made[made.length - 1];
  };
  const dst = t([0, 0, 0, 0, 0, 0]);
  const src = t([7, 8]);
  copyInto(dst, src, { offset: 3 });
  copyInto(dst, t([5]));
  assertEquals(Array.from(await dst.toArray()), [5, 0, 0, 7, 8, 0]);
  // u8 copies move whole words: a word-aligned block copies, a ragged one is refused.
  const bytes = t(new Uint8Array(10));
  copyInto(bytes, t(new Uint8Array([1, 2, 3, 4])), { offset: 4 });
  copyInto(bytes, t(new Uint8Array([9, 9])), { offset: 8 }); // ends at dst's end
  assertEquals(await bytes.toArray(), new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 9, 9]));
  assertThrows(
    () => copyInto(bytes, t(new Uint8Array([1])), { offset: 4, op: "rows" }),
    "rows: u8 elements 4..4 are not whole 4-byte words",
  );
  assertThrows(
    () => copyInto(bytes, t(new Uint8Array(4)), { offset: 2 }),
    "copyInto: u8 elements 2..5 are not whole 4-byte words",
  );
  assertThrows(
    () => copyInto(dst, src, { offset: 5, op: "predict" }),
    "predict: 2 elements from offset 5 do not fit in [6]",
  );
  assertThrows(() => copyInto(dst, t(new Int32Array([1]))), "copyInto: cannot copy i32 into f32");
  // A block out of the middle of src (rows 1..2 of a [4, 2] matrix) into a fresh tensor.
  const rows = t([1, 2, 3, 4, 5, 6, 7, 8]);
  const block = t([0, 0, 0, 0, 0]);
  copyInto(block, rows, { from: 2, count: 4, offset: 1 });
  assertEquals(Array.from(await block.toArray()), [0, 3, 4, 5, 6]);
  assertThrows(
    () => copyInto(block, rows, { from: 6, count: 3, op: "DEC.fit" }),
    "DEC.fit: elements 6..8 are not all in [8]",
  );
  assertThrows(
    () => copyInto(bytes, t(new Uint8Array(8)), { from: 2, count: 4 }),
    "copyInto: u8 elements 0..3 are not whole 4-byte words",
  );
  src.dispose();
  assertThrows(() => copyInto(dst, src, { op: "setWeights" }), /setWeights/);
  for (const x of made) x.dispose();
  assertEquals(lt.memory().tensors, start);
});

test("a tensor of host data with no elements keeps its shape and reads back empty", async () => {
  // Deno 2.9.6 panicked on the 0-byte upload this used to make.
  await lt.init();
  for (const shape of [[0], [0, 7], [3, 0, 2]]) {
    const t = lt.tensor(new Float32Array(0), shape);
    assertEquals(t.shape, shape);
    assertEquals((await t.toArray()).length, 0);
    t.dispose();
  }
});

test("poisoned outputs show unwritten elements as NaN", async () => {
  await lt.init();
  // An empty (uninitialised) output is poisoned in tests: reading it gives NaN.
  const t = lt.empty([9]);
  const v = await t.toArray();
  assert(Array.from(v).every(Number.isNaN), "poison fills NaN");
  t.dispose();
});

test("live tensor count returns to its start after a scope", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  const a = lt.tensor([1, 2, 3, 4], [2, 2]);
  const kept = lt.tidy(() => {
    const b = lt.mul(a, a);
    const c = lt.add(b, 1);
    return lt.sub(c, a);
  });
  assertEquals(lt.memory().tensors, start + 2);
  assertEquals(Array.from(await kept.toArray()), [1, 3, 7, 13]);
  kept.dispose();
  a.dispose();
  assertEquals(lt.memory().tensors, start);
  {
    using _t = lt.zeros([4]);
    assertEquals(lt.memory().tensors, start + 1);
  }
  assertEquals(lt.memory().tensors, start);
});

test("tidy frees its tensors when the block throws", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  assertThrows(() =>
    lt.tidy(() => {
      lt.zeros([3]);
      throw new Error("boom");
    }), "boom");
  assertEquals(lt.memory().tensors, start);
});

test("disposed tensors are refused by name", async () => {
  await lt.init();
  const t = lt.zeros([2]);
  t.dispose();
  await assertRejects(() => t.toArray(), /toArray: tensor \[2\] f32 was already disposed/);
  assertThrows(() => lt.add(t, 1), /add: tensor \[2\] f32 was already disposed/);
});

test("backward from a non-scalar without a seed is refused", async () => {
  await lt.init();
  const w = lt.tensor([1, 2], [2]);
  w.requiresGrad = true;
  const y = lt.mul(w, w);
  assertThrows(
    () => lt.backward(y),
    "backward: expected a scalar loss (1 element) or an explicit seed gradient, got shape [2]",
  );
  y.dispose();
  w.dispose();
});

test("gradients accumulate into .grad across backward calls", async () => {
  await lt.init();
  const w = lt.tensor([1, 2, 3], [3]);
  w.requiresGrad = true;
  for (let k = 0; k < 2; k++) {
    lt.tidy(() => lt.backward(lt.mul(w, 3), lt.ones([3])));
  }
  assertEquals(Array.from(await w.grad!.toArray()), [6, 6, 6]);
  // w*w + w: two paths into the same leaf.
  w.grad!.dispose();
  w.grad = null;
  lt.tidy(() => lt.backward(lt.add(lt.mul(w, w), w), lt.ones([3])));
  assertEquals(Array.from(await w.grad!.toArray()), [3, 5, 7]);
  w.grad!.dispose();
  w.dispose();
});

test("backward seeds a one-element loss with a kept 1: no fill, the same gradients, never handed out", async () => {
  // Without a seed, a loss that did not write its own gradient is seeded
  // with a 1 the runtime keeps: no dispatch for it, the gradients of an
  // explicit seed of ones, nothing left alive, and the 1 never becomes a
  // leaf's .grad (accumulating into that would change every later seed).
  await lt.init();
  const rt = lt.runtime();
  const rng = freshRng();
  const n = 37;
  const wh = rng.normals(n), xh = rng.normals(n);
  const w = lt.tensor(wh, [n]), x = lt.tensor(xh, [n]);
  w.requiresGrad = true;
  const grads: Float32Array[] = [], dispatches: number[] = [];
  for (const seeded of [false, true]) {
    for (const shape of [[], [1], [1, 1]]) {
      const seed = seeded ? lt.ones(shape) : undefined;
      const before = lt.memory().tensors;
      lt.tidy(() => {
        const loss = lt.reshape(lt.sum(lt.mul(lt.mul(w, w), x)), shape); // Σ w² x: no gradient of its own
        const d0 = rt.dispatchCount;
        lt.backward(loss, seed);
        dispatches.push(rt.dispatchCount - d0);
      });
      assertEquals(
        lt.memory().tensors,
        before + 1,
        `only w.grad is new (${shape}, seeded ${seeded})`,
      );
      grads.push(await w.grad!.toArray() as Float32Array);
      w.grad!.dispose();
      w.grad = null;
      seed?.dispose();
    }
  }
  const want = Array.from(wh, (v, i) => 2 * v * xh[i]);
  for (const g of grads) {
    assertClose(g, want, { rtol: 1e-5, atol: 1e-6, label: `seed ${rng.seed}` });
  }
  assertEquals(dispatches.slice(0, 3), dispatches.slice(3), "unseeded = seeded dispatches");
  // A loss that is a leaf gets a copy of the seed: accumulating into its
  // .grad leaves the next seed a 1.
  const s = lt.tensor([5], []);
  s.requiresGrad = true;
  lt.backward(s);
  lt.backward(s);
  assertEquals(Array.from(await s.grad!.toArray()), [2]);
  lt.tidy(() => lt.backward(lt.sum(lt.mul(w, x))));
  assertClose(await w.grad!.toArray(), xh, { rtol: 1e-6, label: "the next seed is still 1" });
  for (const t of [s.grad!, s, w.grad!, w, x]) t.dispose();
});

test("GPU validation errors are re-thrown naming the op", async () => {
  const rt = await lt.init();
  const bad: lt.Kernel = {
    key: "test/broken",
    code: "@compute @workgroup_size(1) fn main() { let x: u32 = undefined_symbol; }",
    bindings: ["write"],
    uniforms: false,
  };
  const t = lt.zeros([4]);
  rt.dispatch({ op: "broken_op", kernel: bad, buffers: [t.binding()], workgroups: 1 });
  await assertRejects(() => rt.sync(), /broken_op/);
  t.dispose();
  assertThrows(
    () => rt.dispatch({ op: "huge_op", kernel: bad, buffers: [], workgroups: [1, 1, 1] }),
    /huge_op: kernel test\/broken expects 1 buffers, got 0/,
  );
  assertThrows(
    () =>
      rt.dispatch({
        op: "wide_op",
        kernel: bad,
        buffers: [lt.zeros([1]).binding()],
        workgroups: [70000, 70000, 1],
      }),
    /wide_op: workgroup count x=70000/,
  );
  await rt.sync();
});
