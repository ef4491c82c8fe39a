/**
 * k-means run states: the 8-float state vector every run keeps on the GPU
 * ({@link KMEANS_STATE}), the gate that turns a finished run's kernels into
 * no-ops, the reset that starts a batch of runs, and the end-of-iteration
 * bookkeeping (inertia, changed labels, centre shift, scikit-learn's
 * stopping rules).
 *
 * Once a run's state says "done", every gated kernel returns at once for that
 * run, so the host may record many iterations ahead and read the states only
 * now and then. Kernels with barriers gate with `workgroupUniformLoad`
 * ({@link GATE}) so that the early return is uniform; barrier-free kernels
 * simply return ({@link GATE_DIRECT}).
 * @module
 */
import { family } from "../common.ts";
import { declare, type DeclaredKernel } from "../declare.ts";

/** Slots of a run's f32 state vector shared by the k-means kernels and the host. */
export const KMEANS_STATE = {
  /** 1 once converged or out of iterations. */
  done: 0,
  /** Lloyd iterations completed. */
  iterations: 1,
  /** Inertia of the last assignment (Σ squared distance to the nearest centre). */
  inertia: 2,
  /** Points whose label changed in the last assignment. */
  changed: 3,
  /** Σ ‖c_new − c_old‖² of the last update. */
  shift: 4,
  /** Absolute tolerance: tol · mean over features of the data variance. */
  tol: 5,
  /** 1 if the labels stopped changing (scikit-learn's strict convergence). */
  strict: 6,
  /** 1 if a column mean or variance of the data is not finite. */
  nonFinite: 7,
} as const;

/** Length of a run's state vector (the state of run r starts at r · 8). */
export const KMEANS_STATE_SIZE = 8;

const S = KMEANS_STATE;

/** WGSL: run `run`'s state slot `slot` (a {@link KMEANS_STATE} name). */
export function stateSlot(slot: keyof typeof KMEANS_STATE, run = "run"): string {
  return `STATE[${run} * ${KMEANS_STATE_SIZE}u + ${S[slot]}u]`;
}

/**
 * WGSL: returns early (uniformly) when the gate is on and run `run`'s state
 * says done. Needs `var<workgroup> gate_flag: u32;`, `lid` and `run`.
 */
export const GATE = /* wgsl */ `
  if (lid == 0u) { gate_flag = select(0u, 1u, u.gate != 0u && ${stateSlot("done")} != 0.0); }
  if (workgroupUniformLoad(&gate_flag) != 0u) { return; }`;

/** WGSL: the same test for kernels without barriers (a plain, possibly non-uniform return). */
export const GATE_DIRECT = `u.gate != 0u && ${stateSlot("done")} != 0.0`;

/**
 * Resets the states of `runs` runs: tol_abs = tol · mean_f var_f
 * (scikit-learn's `_tolerance`), and flags a non-finite mean or variance
 * (NaN/±Inf anywhere in the data propagates into them). Bindings: MEAN [d],
 * VAR [d], STATE (rw) [R, 8]. Uniform: d, tol, runs. Dispatch: 1 workgroup.
 */
export const resetKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_reset",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_reset",
      inputs: { MEAN: "f32", VAR: "f32" },
      outputs: { STATE: "f32" },
      uniforms: { d: "u32", tol: "f32", runs: "u32" },
      entry: { workgroupSize: 256, builtins: ["local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> var_sums: array<f32, 256>;
var<workgroup> bad_flags: array<u32, 256>;
fn bad(x: f32) -> u32 {
  return select(0u, 1u, (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u);
}`,
      main: /* wgsl */ `
  var s = 0.0;
  var b = 0u;
  for (var f = lid; f < u.d; f += 256u) {
    s += VAR[f];
    b |= bad(MEAN[f]) | bad(VAR[f]);
  }
  var_sums[lid] = s;
  bad_flags[lid] = b;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) { var_sums[lid] += var_sums[lid + h]; bad_flags[lid] |= bad_flags[lid + h]; }
    workgroupBarrier();
  }
  for (var run = lid; run < u.runs; run += 256u) {
    for (var e = 0u; e < ${KMEANS_STATE_SIZE}u; e++) { STATE[run * ${KMEANS_STATE_SIZE}u + e] = 0.0; }
    ${stateSlot("tol")} = u.tol * var_sums[0] / f32(u.d);
    ${stateSlot("nonFinite")} = f32(bad_flags[0] | bad(var_sums[0]));
  }`,
    }),
);

/**
 * End of an iteration, one workgroup per run: inertia = Σ MIN_DIST, changed =
 * Σ CHANGED, shift = Σ SHIFT_SQ; appends the inertia to HISTORY and applies
 * scikit-learn's stopping rules (labels unchanged → strict convergence; else
 * shift ≤ tol; or max_iter reached). With `final_pass` set it only stores
 * the inertia (the closing assignment after the loop) and ignores the gate.
 * Bindings: MIN_DIST [R, row_stride], CHANGED [R, row_stride], SHIFT_SQ
 * [R, kd], STATE (rw), HISTORY (rw) [R, max_iter]. Uniform: n, kd, max_iter,
 * final_pass, row_stride. Dispatch: (1, 1, R).
 */
export const statsKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "kmeans_stats",
  (_spec: Record<string, never>) =>
    declare({
      key: "kmeans_stats",
      inputs: { MIN_DIST: "f32", CHANGED: "u32", SHIFT_SQ: "f32" },
      outputs: { STATE: "f32", HISTORY: "f32" },
      uniforms: { n: "u32", kd: "u32", max_iter: "u32", final_pass: "u32", row_stride: "u32" },
      entry: { workgroupSize: 256, builtins: ["workgroup_id", "local_invocation_index"] },
      helpers: /* wgsl */ `
var<workgroup> skip_run: u32;
var<workgroup> inertia_sums: array<f32, 256>;
var<workgroup> shift_sums: array<f32, 256>;
var<workgroup> changed_sums: array<u32, 256>;`,
      main: /* wgsl */ `
  let run = wid.z;
  if (lid == 0u) { skip_run = select(0u, 1u, u.final_pass == 0u && ${stateSlot("done")} != 0.0); }
  if (workgroupUniformLoad(&skip_run) != 0u) { return; }
  let points = run * u.row_stride;
  var inertia = 0.0;
  var changed = 0u;
  for (var i = lid; i < u.n; i += 256u) { inertia += MIN_DIST[points + i]; changed += CHANGED[points + i]; }
  var shift = 0.0;
  if (u.final_pass == 0u) {
    for (var e = lid; e < u.kd; e += 256u) { shift += SHIFT_SQ[run * u.kd + e]; }
  }
  inertia_sums[lid] = inertia;
  shift_sums[lid] = shift;
  changed_sums[lid] = changed;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h >>= 1u) {
    if (lid < h) {
      inertia_sums[lid] += inertia_sums[lid + h];
      shift_sums[lid] += shift_sums[lid + h];
      changed_sums[lid] += changed_sums[lid + h];
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  ${stateSlot("inertia")} = inertia_sums[0];
  if (u.final_pass != 0u) { return; }
  let it = u32(${stateSlot("iterations")});
  HISTORY[run * u.max_iter + it] = inertia_sums[0];
  ${stateSlot("iterations")} = f32(it + 1u);
  ${stateSlot("changed")} = f32(changed_sums[0]);
  ${stateSlot("shift")} = shift_sums[0];
  if (changed_sums[0] == 0u) {
    ${stateSlot("strict")} = 1.0;
    ${stateSlot("done")} = 1.0;
  } else if (shift_sums[0] <= ${stateSlot("tol")}) {
    ${stateSlot("done")} = 1.0;
  }
  if (it + 1u >= u.max_iter) { ${stateSlot("done")} = 1.0; }`,
    }),
);
