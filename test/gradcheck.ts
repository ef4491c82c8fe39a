/**
 * One helper for every gradient test: the GPU gradient of an op (autograd,
 * seeded with a random upstream gradient u) against central finite
 * differences of the float64 reference L(x) = Σ u · f(x).
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { assertClose } from "./assert.ts";
import { numericGrad, type Rng } from "./ref.ts";

/** An input of the op under test. */
export interface GradInput {
  data: Float32Array;
  shape: number[];
  /** Check this input's gradient (default true). */
  check?: boolean;
}

/** Options for {@link gradCheck}. */
export interface GradCheckOptions {
  label: string;
  inputs: GradInput[];
  /** The op under test, on GPU tensors. */
  forward: (xs: lt.Tensor[]) => lt.Tensor;
  /** The same function in float64 on the CPU. */
  reference: (xs: Float64Array[]) => ArrayLike<number>;
  rng: Rng;
  rtol?: number;
  atol?: number;
  /** Finite-difference step. */
  h?: number;
  /**
   * Back-propagate from a scalar output without a seed (u = 1), as a
   * training step does, instead of from a random seed.
   */
  unit?: boolean;
}

/** Asserts autograd's gradients match finite differences for every checked input. */
export async function gradCheck(o: GradCheckOptions): Promise<void> {
  const xs = o.inputs.map((i) => {
    const t = lt.tensor(i.data, i.shape);
    t.requiresGrad = i.check !== false;
    return t;
  });
  try {
    // Forward and backward share one scope: intermediates of a composed
    // forward must stay alive (and linked) until backward has run.
    let u: Float32Array = new Float32Array(0);
    lt.tidy(() => {
      const out = o.forward(xs);
      if (o.unit) {
        u = new Float32Array([1]);
        lt.backward(out);
      } else {
        u = o.rng.normals(out.size);
        lt.backward(out, lt.tensor(u, [...out.shape]));
      }
    });
    const x64 = o.inputs.map((i) => Float64Array.from(i.data));
    for (let k = 0; k < xs.length; k++) {
      if (o.inputs[k].check === false) continue;
      const g = xs[k].grad;
      if (!g) throw new Error(`${o.label}: input ${k} received no gradient`);
      const gpu = await g.toArray();
      const num = numericGrad(
        (x) => {
          const args = x64.map((v, j) => (j === k ? x : v));
          const y = o.reference(args);
          let s = 0;
          for (let i = 0; i < y.length; i++) s += u[i] * y[i];
          return s;
        },
        x64[k],
        o.h ?? 1e-4,
      );
      assertClose(gpu, num, {
        rtol: o.rtol ?? 2e-3,
        atol: o.atol ?? 2e-3,
        label: `${o.label} (seed ${o.rng.seed}) d/dinput${k}`,
      });
    }
  } finally {
    for (const t of xs) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
