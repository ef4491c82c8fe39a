/**
 * Integration: a 2 → 16 (tanh) → 2 (softmax) network learns the XOR
 * quadrants with each optimizer, full-batch, every step recorded inside
 * `tidy` with no readback until the end. Initializers, the GPU generator,
 * `linear`, the cross-entropy, autograd and the fused updates all take part.
 */
import * as lt from "../../src/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { test } from "../harness.ts";
import { Rng } from "../ref.ts";

/** XOR quadrants in [-1, 1]², with a margin of 0.1 around the axes. */
function xorData(n: number, rng: Rng): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 2), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    while (Math.abs(a) < 0.1 || Math.abs(b) < 0.1) {
      a = 2 * rng.next() - 1;
      b = 2 * rng.next() - 1;
    }
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = a * b > 0 ? 1 : 0;
  }
  return { x, y };
}

function accuracy(logits: Float32Array, y: Int32Array): number {
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    const guess = logits[2 * i + 1] > logits[2 * i] ? 1 : 0;
    if (guess === y[i]) right++;
  }
  return right / y.length;
}

const OPTIMIZERS: [string, () => lt.optim.Optimizer][] = [
  ["sgd", () => lt.optim.sgd({ learningRate: 0.5 })],
  ["sgd with momentum", () => lt.optim.sgd({ learningRate: 0.1, momentum: 0.9 })],
  [
    "sgd with Nesterov momentum",
    () => lt.optim.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }),
  ],
  ["adam", () => lt.optim.adam({ learningRate: 0.05 })],
  ["adamw", () => lt.optim.adamw({ learningRate: 0.05, weightDecay: 0.01 })],
];

const STEPS = 200;
const N = 256;

for (const [name, make] of OPTIMIZERS) {
  test(`a 2-16-2 MLP trained with ${name} separates XOR quadrants (>= 95% in ${STEPS} steps)`, async () => {
    await lt.init();
    const start = lt.memory().tensors;
    const { x: hx, y: hy } = xorData(N, new Rng(2024));
    const x = lt.tensor(hx, [N, 2]);
    const y = lt.tensor(hy, [N]);
    const rs = new lt.RandomStream(7);
    const glorot = lt.initializers.glorotUniform(), zeros = lt.initializers.zeros();
    const params = [
      glorot.create([2, 16], rs),
      zeros.create([16]),
      glorot.create([16, 2], rs),
      zeros.create([2]),
    ];
    for (const p of params) p.requiresGrad = true;
    const [w1, b1, w2, b2] = params;
    const opt = make();
    const forward = () => lt.linear(lt.linear(x, w1, b1, "tanh"), w2, b2);

    let first: lt.Tensor | null = null;
    let last: lt.Tensor | null = null;
    for (let step = 0; step < STEPS; step++) {
      const loss = lt.tidy(() => {
        const loss = lt.sparseCategoricalCrossentropy(forward(), y, { fromLogits: true });
        lt.backward(loss);
        opt.step(params);
        return loss;
      });
      if (step === 0) first = loss;
      else if (step === STEPS - 1) last = loss;
      else loss.dispose();
    }
    const logits = lt.tidy(() => lt.noGrad(forward));
    const acc = accuracy(await logits.toArray() as Float32Array, hy);
    const [l0, l1] = [await first!.item(), await last!.item()];
    assert(l1 < 0.5 * l0, `${name}: loss fell from ${l0} to ${l1}`);
    assert(acc >= 0.95, `${name}: accuracy ${acc} after ${STEPS} steps (loss ${l0} → ${l1})`);
    for (const t of [logits, first!, last!, x, y, ...params]) t.dispose();
    opt.dispose();
    assertEquals(lt.memory().tensors, start, "every tensor freed");
  });
}
