/**
 * DEC's soft assignment (Xie, Girshick & Farhadi 2016, "Unsupervised Deep
 * Embedding for Clustering Analysis", eq. 1–3): the Student's t kernel between
 * embeddings and cluster centres, its row normaliser, its gradient (also the
 * fused gradient of KL(P‖Q)), and the target distribution.
 *
 * With d_ij = ‖z_i − μ_j‖², b_ij = 1 + d_ij/α and e = (α+1)/2:
 *   q_ij = b_ij^(−e) / Σ_l b_il^(−e).
 * The kernels evaluate w_ij = (b_ij / b_i,min)^(−e) ∈ (0, 1] instead of
 * b_ij^(−e): the ratio cancels in q, and the nearest centre's term is 1, so
 * the normaliser never underflows even for large α or far-away points.
 *
 * The forward kernel is one pass (a thread per row: distances to all k
 * centres through the pairwise core, then the kernel values and the row sum
 * in the same thread). The gradient kernel produces, per (i, j),
 *   H_ij = ∂L/∂d_ij · 2,
 * from which ∂L/∂z_i = Σ_j H_ij (z_i − μ_j) ({@link softAssignDzKernel}) and
 * ∂L/∂μ_j = −Σ_i H_ij (z_i − μ_j) (a segmented column sum).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";
import { pairwiseMain } from "./distance.ts";
import { termWgsl } from "./loss.ts";

/** WGSL: w = (b / bmin)^(−e), with the common α = 1 (e = 1) as a division. */
const RATIO = /* wgsl */ `
fn ratio(b: f32, bmin: f32) -> f32 {
  if (u.expo == 1.0) { return bmin / b; }
  return pow(b / bmin, -u.expo);
}`;

/**
 * WGSL of the forward kernel's `kl` option: the row's Keras KL term, the
 * `kld` loss's own `term` (shaders/loss.ts) with q the prediction and p the
 * target.
 */
const KL_ROW = /* wgsl */ `
    var t = 0.0;
    for (var j = 0u; j < u.k; j++) { t += term(Q[i * u.k + j], P[i * u.k + j], u.eps); }
    KL[i] = t;`;

/** Specialisation of the forward kernel. */
export interface SoftAssignSpec {
  /** Tile sizes of the pairwise core (see `pairTiles`). */
  tj: number;
  tf: number;
  stage: boolean;
  /**
   * Also the row's KL term Σ_j p_ij log(p_ij / q_ij), p and q clipped to
   * [eps, 1] as Keras' `kld`, into KL [n] (DEC's loss without a pass over Q).
   */
  kl?: boolean;
}

/**
 * q = softAssign(z, μ): one thread per row. Q's row is scratch for b_ij
 * before it receives q_ij. Bindings: A = Z [n, d], B = MU [k, d] [, P [n, k]],
 * Q [n, k] [, KL [n]]. Uniform: n, k, d, alpha, expo, eps. Dispatch: ceil(n / 64).
 */
export const softAssignKernel: (spec: SoftAssignSpec) => DeclaredKernel = family(
  "soft_assign",
  (spec: SoftAssignSpec) =>
    declare({
      key: `soft_assign/${spec.tj}x${spec.tf}${spec.stage ? "" : "/direct"}${spec.kl ? "/kl" : ""}`,
      inputs: spec.kl ? { A: "f32", B: "f32", P: "f32" } : { A: "f32", B: "f32" },
      outputs: spec.kl ? { Q: "f32", KL: "f32" } : { Q: "f32" },
      uniforms: { n: "u32", k: "u32", d: "u32", alpha: "f32", expo: "f32", eps: "f32" },
      helpers: spec.kl ? RATIO + termWgsl("kld") : RATIO,
      ...pairwiseMain({ combine: "sqdist", tj: spec.tj, tf: spec.tf, stage: spec.stage }, {
        before: "var bmin = 3.4e38;",
        each: "let b = 1.0 + v / u.alpha; Q[i * u.k + j] = b; bmin = min(bmin, b);",
        after: /* wgsl */ `
  if (valid) {
    var s = 0.0;
    for (var j = 0u; j < u.k; j++) {
      let w = ratio(Q[i * u.k + j], bmin);
      Q[i * u.k + j] = w;
      s += w;
    }
    let inv = 1.0 / s;
    for (var j = 0u; j < u.k; j++) { Q[i * u.k + j] *= inv; }${spec.kl ? KL_ROW : ""}
  }`,
      }),
    }),
);

/** Specialisation of the gradient family. */
export interface SoftAssignGradSpec {
  /**
   * `upstream`: any loss, given Q and G = ∂L/∂q [n, k]:
   *   H_ij = ((α+1)/α) · q_ij (Σ_l G_il q_il − G_ij) / b_ij.
   * `kl`: L = g · KL(P‖Q) / n fused, given P and the scalar g (q recomputed):
   *   H_ij = g · ((α+1)/α) · (p_ij − q_ij) / (n · b_ij).
   */
  mode: "upstream" | "kl";
  /**
   * `kl` only: the row's thread also writes ∂L/∂z_i = Σ_j H_ij (z_i − μ_j)
   * into DZ [n, d] from the H row it just wrote ({@link softAssignDzKernel}
   * in the same dispatch: DEC's step saves one).
   */
  dz?: boolean;
  /** Tile sizes of the pairwise core (see `pairTiles`). */
  tj: number;
  tf: number;
  stage: boolean;
}

/**
 * H = 2 ∂L/∂d for the soft assignment (see the module comment).
 * Derivation (upstream mode): with w_ij = b_ij^(−e), S_i = Σ_l w_il,
 * ∂q_il/∂w_ij = (δ_lj − q_il)/S_i, so ∂L/∂w_ij = (G_ij − c_i)/S_i with
 * c_i = Σ_l G_il q_il; ∂w_ij/∂d_ij = −(e/α) w_ij / b_ij; hence
 * ∂L/∂d_ij = (e/α) q_ij (c_i − G_ij) / b_ij and H = 2 ∂L/∂d. In kl mode
 * G_ij = −g p_ij / (n q_ij) and Σ_l p_il = 1 give q_ij (c_i − G_ij) =
 * g (p_ij − q_ij)/n: DEC's closed form, eq. 4–5 of the paper.
 *
 * Bindings: A = Z, B = MU, Q or P [n, k], G ([n, k] upstream, [1] kl), H [n, k]
 * [, DZ [n, d] (kl with `dz`)].
 * Uniform: n, k, d, alpha, expo, coef = (α+1)/α, invN. Dispatch: ceil(n / 64).
 */
export const softAssignGradKernel: (spec: SoftAssignGradSpec) => DeclaredKernel = family(
  "soft_assign_grad",
  (spec: SoftAssignGradSpec) => {
    const upstream = spec.mode === "upstream";
    const hooks = upstream
      ? {
        before: /* wgsl */ `
  var gq = 0.0; // Σ_l G_il q_il
  if (valid) { for (var j = 0u; j < u.k; j++) { gq += G[i * u.k + j] * QP[i * u.k + j]; } }`,
        each: /* wgsl */ `
  let b = 1.0 + v / u.alpha;
  H[i * u.k + j] = u.coef * QP[i * u.k + j] * (gq - G[i * u.k + j]) / b;`,
      }
      : {
        before: "var bmin = 3.4e38;",
        each: "let b = 1.0 + v / u.alpha; H[i * u.k + j] = b; bmin = min(bmin, b);",
        after: /* wgsl */ `
  if (valid) {
    var s = 0.0;
    for (var j = 0u; j < u.k; j++) { s += ratio(H[i * u.k + j], bmin); }
    let g = G[0] * u.coef * u.inv_n;
    for (var j = 0u; j < u.k; j++) {
      let b = H[i * u.k + j];
      let q = ratio(b, bmin) / s;
      H[i * u.k + j] = g * (QP[i * u.k + j] - q) / b;
    }${
          spec.dz
            ? `
    for (var f = 0u; f < u.d; f++) {
      let zf = A[i * u.d + f];
      var t = 0.0;
      for (var j = 0u; j < u.k; j++) { t = fma(H[i * u.k + j], zf - B[j * u.d + f], t); }
      DZ[i * u.d + f] = t;
    }`
            : ""
        }
  }`,
      };
    if (spec.dz && upstream) throw new Error("soft_assign_grad: dz is fused in kl mode only");
    return declare({
      key: `soft_assign_grad/${spec.mode}/${spec.tj}x${spec.tf}${spec.stage ? "" : "/direct"}${
        spec.dz ? "/dz" : ""
      }`,
      inputs: { A: "f32", B: "f32", QP: "f32", G: "f32" },
      outputs: spec.dz ? { H: "f32", DZ: "f32" } : { H: "f32" },
      uniforms: {
        n: "u32",
        k: "u32",
        d: "u32",
        alpha: "f32",
        expo: "f32",
        coef: "f32",
        inv_n: "f32",
      },
      helpers: RATIO,
      ...pairwiseMain({ combine: "sqdist", tj: spec.tj, tf: spec.tf, stage: spec.stage }, hooks),
    });
  },
);

/**
 * ∂L/∂z_i = Σ_j H_ij (z_i − μ_j), a thread per (i, f); the difference form
 * avoids the cancellation of (Σ_j H_ij) z_i − Σ_j H_ij μ_j.
 * Bindings: Z [n, d], MU [k, d], H [n, k], DZ [n, d]. Uniform: n, k, d.
 * Dispatch: ceil(n·d / 256).
 */
export const softAssignDzKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "soft_assign_dz",
  (_spec: Record<string, never>) =>
    declare({
      key: "soft_assign_dz",
      inputs: { Z: "f32", MU: "f32", H: "f32" },
      outputs: { DZ: "f32" },
      uniforms: { n: "u32", k: "u32", d: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n * u.d) { return; }
  let row = i / u.d;
  let f = i % u.d;
  let z = Z[i];
  var s = 0.0;
  for (var j = 0u; j < u.k; j++) { s = fma(H[row * u.k + j], z - MU[j * u.d + f], s); }
  DZ[i] = s;`,
    }),
);

/**
 * p_ij = (q_ij² / f_j) / Σ_l (q_il² / f_l), f_j = Σ_i q_ij given (eq. 3), a
 * thread per row. Bindings: Q [n, k], F [k], P [n, k]. Uniform: n, k.
 * Dispatch: ceil(n / 256).
 */
export const targetKernel: (spec: Record<string, never>) => DeclaredKernel = family(
  "target_distribution",
  (_spec: Record<string, never>) =>
    declare({
      key: "target_distribution",
      inputs: { Q: "f32", F: "f32" },
      outputs: { P: "f32" },
      uniforms: { n: "u32", k: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  var s = 0.0;
  for (var j = 0u; j < u.k; j++) {
    let q = Q[i * u.k + j];
    let w = q * q / F[j];
    P[i * u.k + j] = w;
    s += w;
  }
  let inv = 1.0 / s;
  for (var j = 0u; j < u.k; j++) { P[i * u.k + j] *= inv; }`,
    }),
);
