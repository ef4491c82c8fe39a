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
  optimBuffers,
  optimBuffersPerTensor,
  optimKernel,
  type OptimSpec,
  SQNORM_WG,
  sqnormKernel,
} from "../../shaders/optim.ts";
import { runtime } from "../gpu/runtime.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";
import { optimTensorsPerDispatch } from "./tuning.ts";

/** The uniforms of a step's fused updates besides the element ranges and norm slots. */
export interface UpdateParams {
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

/** One parameter of a step's update: the tensor, its gradient and state, its norm's slot. */
export interface UpdateTarget {
  param: Tensor;
  grad: Tensor;
  /**
   * The parameter's state: its `optimSlots(spec)` side by side, each as
   * long as the parameter (null when the rule keeps none).
   */
  state: Tensor | null;
  /** This parameter's entry in the norms written by {@link gradientSquaredNorms}. */
  slot: number;
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
 * Records the fused updates of a step's parameters: clipping, decoupled
 * decay and the rule of `spec`, writing each parameter and its state in
 * place, one pass over memory. Parameters whose size is a multiple of 4 run
 * four elements per invocation, the others one, side by side in as few
 * dispatches as the adapter's bindings allow ({@link optimTensorsPerDispatch}). `norms` holds the squared norms when
 * `spec` clips by norm, else null. Parameters must not be empty (callers
 * skip those before making their state). `refresh` gives the step's values
 * again at each replay of a captured step (they change every step:
 * src/gpu/capture.ts).
 *
 * @example
 * ```ts
 * const mv = lt.zeros([2 * w.size]); // m, then v
 * optimizerUpdate("adam", { rule: "adam", clip: "none" },
 *   [{ param: w, grad: w.grad!, state: mv, slot: 0 }], null,
 *   { count: 1, lr: 1e-3, decay: 0, clip: 0, momentum: 0, beta1: 0.9,
 *     beta2: 0.999, eps: 1e-7, lrT: 3.2e-4 });
 * ```
 */
export function optimizerUpdate(
  optimizer: string,
  spec: OptimSpec,
  targets: readonly UpdateTarget[],
  norms: Tensor | null,
  u: UpdateParams,
  refresh?: () => UpdateParams,
): void {
  const most = optimTensorsPerDispatch(optimBuffersPerTensor(spec), norms ? 1 : 0);
  // Four elements per invocation where the size allows: the DEC autoencoder's
  // Adam update (16 tensors, 3.3M parameters) took 27 ms of a 359 ms step at
  // batch 256 on lavapipe with one element per invocation. Those first, the
  // others (sizes not a multiple of 4) after them in the same dispatches.
  const vec4s = targets.filter((t) => t.param.size % 4 === 0);
  const ordered = [...vec4s, ...targets.filter((t) => t.param.size % 4 !== 0)];
  for (let at = 0; at < ordered.length; at += most) {
    const group = ordered.slice(at, at + most);
    const k = group.length;
    const vec4 = at < vec4s.length;
    const scalars = vec4 ? group.filter((t) => t.param.size % 4 !== 0).length : 0;
    const buffers: Record<string, Tensor> = {};
    const ranges: Record<string, number> = {};
    let end = 0;
    group.forEach((t, j) => {
      const names = optimBuffers(spec, j, k);
      buffers[names.g] = t.grad;
      buffers[names.p] = t.param;
      if (names.s) buffers[names.s] = t.state!;
      end += vec4 && j < k - scalars ? t.param.size / 4 : t.param.size;
      if (k === 1) Object.assign(ranges, { n: end, slot: t.slot });
      else Object.assign(ranges, { [`end${j}`]: end, [`slot${j}`]: t.slot });
    });
    if (norms) buffers.NORMS = norms;
    const uniforms = (u: UpdateParams) => ({
      ...ranges,
      count: u.count,
      lr: u.lr,
      decay: u.decay,
      clip: u.clip,
      momentum: u.momentum,
      beta1: u.beta1,
      beta2: u.beta2,
      eps: u.eps,
      lr_t: u.lrT,
    });
    launchKernel(
      optimizer,
      optimKernel({ ...spec, vec4, tensors: k, scalars }),
      buffers,
      uniforms(u),
      Math.ceil(end / WG),
      refresh && (() => uniforms(refresh())),
    );
  }
}
