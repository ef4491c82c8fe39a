/**
 * The optimizers' GPU work as ops: the fused per-parameter update and the
 * squared gradient norms that clipping by norm reads (the kernels and their
 * maths are in shaders/optim.ts). src/nn/optimizers.ts keeps what is host
 * state — the step count, the hyperparameters, the lazily made state
 * tensors — and calls these to record the kernels, so every launch stays
 * inside src/ops.
 *
 * @module
 */
import { WG } from "../../shaders/common.ts";
import {
  optimKernel,
  optimSlots,
  type OptimSpec,
  slotBuffer,
  SQNORM_WG,
  sqnormKernel,
} from "../../shaders/optim.ts";
import { runtime } from "../gpu/runtime.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";

/** The uniforms of one fused update besides the element count (shaders/optim.ts). */
export interface UpdateParams {
  /** This parameter's entry in the norms written by {@link gradientSquaredNorms}. */
  slot: number;
  /** Entries the global norm sums (the parameters updated this step). */
  count: number;
  lr: number;
  /** lr · weight decay (decoupled). */
  decay: number;
  /** The clip value or norm (0 without clipping). */
  clip: number;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** The step size of this iteration (Adam's bias-corrected one). */
  lrT: number;
}

/**
 * Records one workgroup per gradient that writes the sum of its squares into
 * `norms[k]`, for clipping by norm (per gradient or global). Checks first
 * that each workgroup's loop fits the driver's loop budget, so nothing is
 * recorded when one gradient is too large. `optimizer` names the errors and
 * the launches (`<optimizer>.clip`).
 *
 * @example
 * ```ts
 * gradientSquaredNorms("adam", [w.grad!, b.grad!], norms); // norms: f32 [>= 2]
 * ```
 */
export function gradientSquaredNorms(
  optimizer: string,
  grads: readonly Tensor[],
  norms: Tensor,
): void {
  const budget = runtime().budgets.loopIterations;
  for (const g of grads) {
    const iterations = Math.ceil(g.size / SQNORM_WG);
    if (iterations > budget) {
      throw new RangeError(
        `${optimizer}: clipping by norm sums a ${fmtShape(g.shape)} gradient in ` +
          `${iterations} loop iterations per invocation; this driver runs ` +
          `at most ${budget} (Mesa < 25's llvmpipe; Mesa >= 25 has no cap)`,
      );
    }
  }
  grads.forEach((g, k) => {
    launchKernel(
      `${optimizer}.clip`,
      sqnormKernel({}),
      { G: g, NORMS: norms },
      { n: g.size, slot: k },
      1,
    );
  });
}

/**
 * Records the fused update of `param` from `grad`: clipping, decoupled decay
 * and the rule of `spec`, writing the parameter and its `state` tensors (in
 * `optimSlots(spec)` order) in place, one pass over memory. `norms` holds the
 * squared norms when `spec` clips by norm, else null. The parameter must
 * not be empty (callers skip those before making their state).
 *
 * @example
 * ```ts
 * optimizerUpdate("adam", { rule: "adam", clip: "none" }, w, w.grad!, [m, v], null,
 *   { slot: 0, count: 1, lr: 1e-3, decay: 0, clip: 0, momentum: 0, beta1: 0.9,
 *     beta2: 0.999, eps: 1e-7, lrT: 3.2e-4 });
 * ```
 */
export function optimizerUpdate(
  optimizer: string,
  spec: OptimSpec,
  param: Tensor,
  grad: Tensor,
  state: readonly Tensor[],
  norms: Tensor | null,
  u: UpdateParams,
): void {
  const buffers: Record<string, Tensor> = { G: grad, P: param };
  if (norms) buffers.NORMS = norms;
  optimSlots(spec).forEach((s, i) => buffers[slotBuffer(s)] = state[i]);
  // Four elements per invocation where the size allows: the DEC autoencoder's
  // Adam update (16 tensors, 3.3M parameters) took 27 ms of a 359 ms step at
  // batch 256 on lavapipe with one element per invocation.
  const vec4 = param.size % 4 === 0;
  const n = vec4 ? param.size / 4 : param.size;
  launchKernel(
    optimizer,
    optimKernel({ ...spec, vec4 }),
    buffers,
    {
      n,
      slot: u.slot,
      count: u.count,
      lr: u.lr,
      decay: u.decay,
      clip: u.clip,
      momentum: u.momentum,
      beta1: u.beta1,
      beta2: u.beta2,
      eps: u.eps,
      lr_t: u.lrT,
    },
    Math.ceil(n / WG),
  );
}
