/**
 * conv2d and conv2dTranspose against the float64 references in
 * test/ref_conv.ts, their gradients against finite differences, and the
 * errors bad input gets before any GPU work.
 *
 * Lavapipe and SwiftShader pick the CPU (direct) tiles, so cases also force
 * the tiles real GPUs use (and one whose thread count is not a multiple of
 * the slice depth) to cover every staging path of the kernel, and direct
 * tiles other than the default choice.
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import type { Activation } from "../../shaders/activations.ts";
import type { ConvTile } from "../../shaders/conv2d.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numel, Rng } from "../ref.ts";
import { refConv2d, refConv2dTranspose } from "../ref_conv.ts";

type P2 = [number, number];

interface ConvCase {
  x: number[];
  /** conv2d: [kh, kw, inC, outC]; transpose: [kh, kw, outC, inC]. */
  w: number[];
  padding: "same" | "valid";
  strides?: P2;
  dilation?: P2;
  bias?: boolean;
  activation?: Activation;
}

/** Tiles of the GPU table (16×4 and 16×16 threads) and one with 4 threads and 8-deep slices. */
const GPU_TILES: Record<string, ConvTile> = {
  "gpu 64x16": { tm: 4, tn: 4, wgm: 16, wgn: 4, bk: 8 },
  "gpu 64x64": { tm: 4, tn: 4, wgm: 16, wgn: 16, bk: 16 },
  "4 threads": { tm: 2, tn: 3, wgm: 2, wgn: 2, bk: 8 },
};

/** Direct tiles (one thread owns whole rows; CPU adapters) other than the default choice. */
const DIRECT_TILES: Record<string, ConvTile> = {
  "direct 8x4": { tm: 8, tn: 4, wgm: 4, wgn: 1, bk: 16 },
  "direct 1x1": { tm: 1, tn: 1, wgm: 8, wgn: 1, bk: 16 },
};

function describe(c: ConvCase): string {
  const s = c.strides ?? [1, 1], d = c.dilation ?? [1, 1];
  return `x ${JSON.stringify(c.x)} k ${JSON.stringify(c.w)} ${c.padding} stride ${s.join("x")}` +
    (d[0] > 1 || d[1] > 1 ? ` dilation ${d.join("x")}` : "") +
    (c.bias ? " +bias" : "") + (c.activation ? ` ${c.activation}` : "");
}

function options(c: ConvCase, bias?: lt.Tensor): lt.Conv2DOptions {
  return {
    padding: c.padding,
    strides: c.strides,
    dilation: c.dilation,
    activation: c.activation,
    alpha: 0.3,
    bias,
  };
}

async function checkForward(
  c: ConvCase,
  transpose: boolean,
  kernels?: ConvTile | internal.ConvTuning,
): Promise<void> {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(numel(c.x)), w = rng.uniform(numel(c.w));
  const outC = transpose ? c.w[2] : c.w[3];
  const b = c.bias ? rng.uniform(outC) : undefined;
  const refFn = transpose ? refConv2dTranspose : refConv2d;
  const ref = refFn(x, c.x, w, c.w, { ...c, bias: b, alpha: 0.3 });
  const y = lt.tidy(() => {
    const args = options(c, b ? lt.tensor(b, [outC]) : undefined);
    const run = () =>
      (transpose ? lt.conv2dTranspose : lt.conv2d)(lt.tensor(x, c.x), lt.tensor(w, c.w), args);
    if (!kernels) return run();
    return internal.withTuning({ conv: "tm" in kernels ? { tile: kernels } : kernels }, run);
  });
  assertEquals(y.shape, ref.shape, "output shape");
  assertClose(await y.toArray(), ref.data, {
    rtol: 1e-4,
    atol: 1e-4,
    label: `seed ${rng.seed}`,
  });
  y.dispose();
}

const FORWARD: ConvCase[] = [
  { x: [1, 7, 9, 3], w: [3, 3, 3, 5], padding: "same" },
  { x: [3, 7, 9, 1], w: [3, 3, 1, 16], padding: "valid", strides: [2, 2], bias: true },
  { x: [1, 28, 28, 1], w: [3, 3, 1, 16], padding: "same", bias: true, activation: "relu" },
  { x: [1, 28, 28, 16], w: [3, 3, 16, 16], padding: "same", bias: true, activation: "relu" },
  { x: [1, 9, 7, 16], w: [5, 5, 16, 17], padding: "same", dilation: [2, 2] },
  { x: [3, 1, 1, 17], w: [1, 1, 17, 3], padding: "valid", bias: true },
  { x: [1, 1, 1, 3], w: [3, 3, 3, 4], padding: "same" },
  { x: [2, 7, 9, 17], w: [5, 5, 17, 1], padding: "valid", strides: [2, 2], activation: "sigmoid" },
  { x: [1, 28, 28, 3], w: [5, 5, 3, 16], padding: "same", strides: [2, 2], activation: "tanh" },
  { x: [1, 9, 9, 3], w: [3, 3, 3, 4], padding: "same", strides: [2, 2], dilation: [2, 2] },
  { x: [2, 8, 6, 3], w: [3, 2, 3, 5], padding: "same", strides: [1, 2], activation: "leaky_relu" },
  { x: [1, 6, 6, 2], w: [3, 3, 2, 3], padding: "valid", bias: true, activation: "elu" },
  { x: [2, 6, 5, 3], w: [3, 3, 3, 4], padding: "same", bias: true, activation: "silu" },
  { x: [1, 7, 6, 2], w: [3, 3, 2, 9], padding: "valid", bias: true, activation: "gelu" },
  { x: [1, 5, 5, 2], w: [3, 3, 2, 2], padding: "same", bias: true, activation: "softplus" },
];

for (const c of FORWARD) {
  test(`conv2d matches float64 reference: ${describe(c)}`, () => checkForward(c, false));
}
for (const [name, tile] of Object.entries({ ...GPU_TILES, ...DIRECT_TILES })) {
  for (const c of [FORWARD[0], FORWARD[1], FORWARD[4], FORWARD[7], FORWARD[9]]) {
    test(`conv2d with the ${name} tile matches float64 reference: ${describe(c)}`, () =>
      checkForward(c, false, tile));
  }
}

// The row-run kernel on every shape, including the 16+ output channels it is not picked for.
for (const c of FORWARD) {
  test(`conv2d with the row-run kernel matches float64 reference: ${describe(c)}`, () =>
    checkForward(c, false, { rows: true }));
}

const TRANSPOSE: ConvCase[] = [
  { x: [1, 7, 9, 3], w: [3, 3, 5, 3], padding: "same" },
  {
    x: [3, 7, 7, 16],
    w: [3, 3, 16, 16],
    padding: "same",
    strides: [2, 2],
    bias: true,
    activation: "relu",
  },
  { x: [2, 4, 5, 17], w: [3, 3, 1, 17], padding: "valid", strides: [2, 2], activation: "sigmoid" },
  { x: [1, 1, 1, 3], w: [5, 5, 4, 3], padding: "valid", bias: true },
  { x: [1, 5, 4, 2], w: [3, 3, 3, 2], padding: "same", dilation: [2, 2] },
  { x: [2, 3, 4, 3], w: [1, 1, 16, 3], padding: "valid", strides: [2, 2] },
  { x: [1, 14, 14, 16], w: [3, 3, 1, 16], padding: "same", bias: true, activation: "sigmoid" },
];

for (const c of TRANSPOSE) {
  test(`conv2dTranspose matches float64 reference: ${describe(c)}`, () => checkForward(c, true));
}
for (const c of [TRANSPOSE[0], TRANSPOSE[2], TRANSPOSE[4]]) {
  test(`conv2dTranspose with the gpu 64x16 tile matches float64 reference: ${describe(c)}`, () =>
    checkForward(c, true, GPU_TILES["gpu 64x16"]));
  test(`conv2dTranspose with the direct 8x4 tile matches float64 reference: ${describe(c)}`, () =>
    checkForward(c, true, DIRECT_TILES["direct 8x4"]));
}

// ----------------------------------------------------------------- gradients

async function checkGrad(
  c: ConvCase,
  transpose: boolean,
  kernels: internal.ConvTuning = {},
): Promise<void> {
  await lt.init();
  const rng = freshRng();
  const outC = transpose ? c.w[2] : c.w[3];
  const inputs = [
    { data: rng.uniform(numel(c.x)), shape: c.x },
    { data: rng.uniform(numel(c.w)), shape: c.w },
  ];
  if (c.bias) inputs.push({ data: rng.uniform(outC), shape: [outC] });
  const refFn = transpose ? refConv2dTranspose : refConv2d;
  const op = transpose ? lt.conv2dTranspose : lt.conv2d;
  await internal.withTuning({ conv: kernels }, () =>
    gradCheck({
      label: `${transpose ? "conv2dTranspose" : "conv2d"} ${describe(c)}`,
      rng,
      inputs,
      forward: ([x, w, b]) => op(x, w, options(c, b)),
      reference: ([x, w, b]) => refFn(x, c.x, w, c.w, { ...c, bias: b, alpha: 0.3 }).data,
    }));
}

const GRADS: ConvCase[] = [
  { x: [2, 5, 4, 3], w: [3, 3, 3, 4], padding: "same", bias: true, activation: "tanh" },
  { x: [1, 7, 6, 2], w: [3, 3, 2, 3], padding: "valid", strides: [2, 2], bias: true },
  { x: [1, 7, 7, 1], w: [3, 3, 1, 2], padding: "same", dilation: [2, 2], activation: "sigmoid" },
  { x: [2, 3, 3, 3], w: [1, 1, 3, 2], padding: "valid", bias: true, activation: "softplus" },
  { x: [1, 6, 5, 2], w: [5, 5, 2, 2], padding: "same", strides: [2, 2] },
  { x: [1, 1, 1, 2], w: [3, 3, 2, 3], padding: "same", bias: true },
  { x: [2, 5, 4, 3], w: [3, 3, 3, 4], padding: "same", bias: true, activation: "silu" },
  { x: [1, 6, 5, 2], w: [3, 3, 2, 3], padding: "valid", bias: true, activation: "gelu" },
];

for (const c of GRADS) {
  test(`conv2d gradients match finite differences: ${describe(c)}`, () => checkGrad(c, false));
}
test("conv2d kernel gradient split across 3 workgroups matches finite differences", () =>
  checkGrad(GRADS[0], false, { splits: 3 }));
test("conv2d gradients with the gpu 64x16 tile and 2 splits match finite differences", () =>
  checkGrad(GRADS[1], false, { tile: GPU_TILES["gpu 64x16"], splits: 2 }));
test("conv2d gradients with the 4-thread tile match finite differences", () =>
  checkGrad(GRADS[2], false, { tile: GPU_TILES["4 threads"] }));
test("conv2d gradients with the activation folded into the products' loads match finite differences", () =>
  checkGrad(GRADS[0], false, { prefold: false }));
test("conv2d gradients with a separate activation-gradient pass match finite differences", () =>
  checkGrad(GRADS[2], false, { prefold: true }));
test("conv2d gradients with silu folded into the products' loads read the pre-activation", () =>
  checkGrad(GRADS[6], false, { prefold: false }));
test("conv2d gradients with a separate gelu-gradient pass read the pre-activation", () =>
  checkGrad(GRADS[7], false, { prefold: true }));
test("conv2d gradients with the direct 8x4 tile and 2 splits match finite differences", () =>
  checkGrad(GRADS[0], false, { tile: DIRECT_TILES["direct 8x4"], splits: 2 }));

const TGRADS: ConvCase[] = [
  {
    x: [2, 3, 4, 3],
    w: [3, 3, 2, 3],
    padding: "same",
    strides: [2, 2],
    bias: true,
    activation: "sigmoid",
  },
  { x: [1, 3, 3, 2], w: [3, 3, 3, 2], padding: "valid", strides: [2, 2], bias: true },
  { x: [1, 4, 3, 2], w: [3, 3, 2, 2], padding: "same", dilation: [2, 2], activation: "tanh" },
  {
    x: [2, 3, 3, 2],
    w: [3, 3, 3, 2],
    padding: "same",
    strides: [2, 2],
    bias: true,
    activation: "gelu_tanh",
  },
];
for (const c of TGRADS) {
  test(`conv2dTranspose gradients match finite differences: ${describe(c)}`, () =>
    checkGrad(c, true));
}
test("conv2dTranspose gradients with the activation folded into the loads match finite differences", () =>
  checkGrad(TGRADS[0], true, { prefold: false }));
test("conv2dTranspose gradients with a separate activation-gradient pass match finite differences", () =>
  checkGrad(TGRADS[2], true, { prefold: true }));
test("conv2dTranspose gradients with the row-run kernel match finite differences", () =>
  checkGrad(TGRADS[1], true, { rows: true }));
test("conv2dTranspose gradients with the gpu 64x16 tile and 2 splits match finite differences", () =>
  checkGrad(TGRADS[0], true, { tile: GPU_TILES["gpu 64x16"], splits: 2 }));

test("conv2d gradient reaches only the inputs that require it", async () => {
  await lt.init();
  const x = lt.tensor(new Float32Array(2 * 5 * 5 * 2).fill(0.5), [2, 5, 5, 2]);
  const w = lt.tensor(new Float32Array(3 * 3 * 2 * 4).fill(0.25), [3, 3, 2, 4]);
  w.requiresGrad = true;
  lt.tidy(() => lt.backward(lt.conv2d(x, w, { padding: "same" }), lt.ones([2, 5, 5, 4])));
  assert(w.grad !== null && x.grad === null, "only the kernel gets a gradient");
  // Each dW element sums x·1 over the in-bounds positions of its tap.
  const g = await w.grad!.toArray();
  assertClose([g[0]], [2 * 16 * 0.5]); // tap (0, 0): 4×4 positions per image
  assertClose([g[(1 * 3 + 1) * 8]], [2 * 25 * 0.5]); // the centre tap sees all 25
  w.grad!.dispose();
  x.dispose();
  w.dispose();
});

// -------------------------------------------------------------------- errors

test("conv2d rejects bad input before any GPU work", async () => {
  const rt = await lt.init();
  const x3 = lt.zeros([1, 3, 3, 1]), k5 = lt.zeros([5, 5, 1, 1]), k3 = lt.zeros([3, 3, 1, 1]);
  const x3c = lt.zeros([2, 8, 8, 3]), k1c = lt.zeros([3, 3, 1, 4]), k3c = lt.zeros([3, 3, 3, 4]);
  const rank3 = lt.zeros([3, 3, 3]), b5 = lt.zeros([5]), kt = lt.zeros([3, 3, 4, 1]);
  const all = [x3, k5, k3, x3c, k1c, k3c, rank3, b5, kt];
  const before = rt.dispatchCount;
  assertThrows(
    () => lt.conv2d(x3, k5),
    "conv2d: kernel 5x5 does not fit a valid-padded 3x3 input",
  );
  assertThrows(
    () => lt.conv2d(x3, k3, { dilation: 2 }),
    "conv2d: kernel 3x3 (dilated to 5x5) does not fit a valid-padded 3x3 input",
  );
  assertThrows(() => lt.conv2d(x3c, k1c), "conv2d: input has 3 channels, kernel expects 1");
  assertThrows(
    () => lt.conv2d(rank3, k1c),
    "conv2d: expected input [batch, height, width, channels], got [3, 3, 3]",
  );
  assertThrows(
    () => lt.conv2d(x3c, rank3),
    "conv2d: expected kernel [kh, kw, inC, outC], got [3, 3, 3]",
  );
  assertThrows(
    () => lt.conv2d(x3c, k3c, { bias: b5 }),
    "conv2d: expected an f32 bias [4], got [5] f32",
  );
  assertThrows(
    () => lt.conv2d(x3c, k3c, { strides: 0 }),
    "conv2d: strides must be a positive integer or a pair of them, got 0",
  );
  assertThrows(
    () => lt.conv2d(x3c, k3c, { padding: "full" as "same" }),
    `conv2d: padding must be "same" or "valid", got "full"`,
  );
  assertThrows(
    () => lt.conv2dTranspose(x3c, kt),
    "conv2dTranspose: input has 3 channels, kernel expects 1",
  );
  assertEquals(rt.dispatchCount, before, "no dispatch recorded");
  for (const t of all) t.dispose();
});

test("conv2d output shapes follow Keras for same and valid padding", async () => {
  await lt.init();
  const cases: [number[], number[], lt.Conv2DOptions, number[]][] = [
    [[2, 28, 28, 1], [3, 3, 1, 16], { padding: "same" }, [2, 28, 28, 16]],
    [[2, 28, 28, 1], [3, 3, 1, 16], { padding: "valid" }, [2, 26, 26, 16]],
    [[1, 7, 9, 1], [3, 3, 1, 2], { padding: "same", strides: 2 }, [1, 4, 5, 2]],
    [[1, 7, 9, 1], [3, 3, 1, 2], { padding: "valid", strides: 2 }, [1, 3, 4, 2]],
    [[1, 7, 9, 1], [3, 3, 1, 2], { padding: "valid", dilation: 2 }, [1, 3, 5, 2]],
  ];
  for (const [xs, ws, o, want] of cases) {
    const y = lt.tidy(() => lt.conv2d(lt.zeros(xs), lt.zeros(ws), o));
    assertEquals([...y.shape], want, JSON.stringify(o));
    y.dispose();
  }
  const t = lt.tidy(() =>
    lt.conv2dTranspose(lt.zeros([1, 7, 7, 4]), lt.zeros([3, 3, 2, 4]), { strides: 2 })
  );
  assertEquals([...t.shape], [1, 15, 15, 2], "transpose valid: (7 - 1)·2 + 3");
  t.dispose();
});

// -------------------------------------------------------------- integration

/**
 * Synthetic digit-like 28×28 images: two or three anti-aliased strokes
 * (line segments about 2 px wide) on a black background, values in [0, 1].
 */
function strokes(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * 28 * 28);
  for (let i = 0; i < n; i++) {
    const segs = Array.from({ length: 2 + Math.floor(rng.next() * 2) }, () => {
      const p = () => 6 + rng.next() * 16;
      return [p(), p(), p(), p()];
    });
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        let v = 0;
        for (const [ax, ay, bx, by] of segs) {
          const dx = bx - ax, dy = by - ay;
          const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
          const d = Math.hypot(x - ax - t * dx, y - ay - t * dy);
          v = Math.max(v, Math.min(1, Math.max(0, 1.5 - d)));
        }
        out[(i * 28 + y) * 28 + x] = v;
      }
    }
  }
  return out;
}

test("the tutorials' convolutional autoencoder learns synthetic digits (binary cross-entropy, Adam)", async () => {
  await lt.init();
  const start = lt.memory().tensors;
  const N = 4, STEPS = 40;
  const x = lt.tensor(strokes(N, new Rng(7)), [N, 28, 28, 1]);
  const glorot = lt.initializers.glorotUniform(), zeros = lt.initializers.zeros();
  // 28×28×1 → Conv2D 16 3×3 same relu → MaxPool 2×2 → Conv2D 16 3×3 same relu
  // → UpSampling 2×2 → Conv2D 1 3×3 same sigmoid.
  const params = [
    glorot.create([3, 3, 1, 16], 1),
    zeros.create([16]),
    glorot.create([3, 3, 16, 16], 2),
    zeros.create([16]),
    glorot.create([3, 3, 16, 1], 3),
    zeros.create([1]),
  ];
  for (const p of params) p.requiresGrad = true;
  const [w1, b1, w2, b2, w3, b3] = params;
  const same = { padding: "same" } as const;
  const forward = () => {
    const h1 = lt.conv2d(x, w1, { ...same, bias: b1, activation: "relu" });
    const h2 = lt.conv2d(lt.maxPool2d(h1), w2, { ...same, bias: b2, activation: "relu" });
    return lt.conv2d(lt.upSampling2d(h2), w3, { ...same, bias: b3, activation: "sigmoid" });
  };
  const opt = lt.optim.adam({ learningRate: 0.01 });
  const losses: lt.Tensor[] = [];
  for (let step = 0; step < STEPS; step++) {
    const loss = lt.tidy(() => {
      const loss = lt.binaryCrossentropy(forward(), x);
      lt.backward(loss);
      opt.step(params);
      return loss;
    });
    if (step === 0 || step === STEPS - 1) losses.push(loss);
    else loss.dispose();
  }
  const [l0, l1] = [await losses[0].item(), await losses[1].item()];
  assert(Number.isFinite(l1) && l1 < 0.5 * l0, `binary cross-entropy fell from ${l0} to ${l1}`);
  for (const t of [...losses, x, ...params]) t.dispose();
  opt.dispose();
  assertEquals(lt.memory().tensors, start, "every tensor freed");
});
