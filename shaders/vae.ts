/**
 * Variational autoencoder kernels (Kingma & Welling 2014, https://arxiv.org/abs/1312.6114).
 *
 * The encoder's output `h` is `[rows, 2d]`: the mean in columns `[0, d)` and
 * the log-variance in `[d, 2d)` of a diagonal Gaussian per row.
 *
 * - `sample`: z = mean + exp(0.5 · logvar) · eps (the reparameterisation
 *   trick, §2.4), or z = mean without noise (inference). One thread per
 *   element of z. Declared buffers: H, [E,] (read), Z (write).
 * - `sample_grad`: dmean = g, dlogvar = g · 0.5 · exp(0.5 · logvar) · eps
 *   (0 without noise). One thread per element of h. Declared buffers: with
 *   noise H, E, G (read); without, G (read); then out (write).
 * - `kl_grad`: d/dh of scale · KL, with KL = −0.5 · Σ (1 + logvar − mean² −
 *   exp(logvar)): dmean = scale · mean, dlogvar = scale · 0.5 · (exp(logvar) − 1),
 *   times the upstream scalar G[0]. Declared buffers: H, G (read), out (write).
 *
 * The KL forward is a reduction map ({@link KL_MAP}) run by the reduction
 * family, so it gets its tree reductions and multi-pass plans for free.
 *
 * Dispatch: ceil(elements / WG) workgroups.
 * Uniforms: n (elements the dispatch covers), d, scale (f32), pad (0).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";
import type { ReduceMap } from "./reduce.ts";

/** Specialisation of the VAE family. */
export interface VaeSpec {
  kind: "sample" | "sample_grad" | "kl_grad";
  /** With eps (training); without, the sample is the mean (inference). Ignored by `kl_grad`. */
  noise: boolean;
}

/** The VAE family's uniform fields (see the module comment). */
const FIELDS = { n: "u32", d: "u32", scale: "f32", pad: "u32" } as const;

/** The VAE kernel for a spec. */
export const vaeKernel: (spec: VaeSpec) => DeclaredKernel = family("vae", (spec: VaeSpec) => {
  const noise = spec.kind !== "kl_grad" && spec.noise;
  const reads = spec.kind === "sample"
    ? (noise ? ["H", "E"] : ["H"])
    : spec.kind === "sample_grad"
    ? (noise ? ["H", "E", "G"] : ["G"])
    : ["H", "G"];
  const out = spec.kind === "sample" ? "Z" : "out";
  const body = {
    sample: /* wgsl */ `
  let r = i / u.d;
  let j = i - r * u.d;
  let m = H[2u * u.d * r + j];
  ${
      noise
        ? `let lv = H[2u * u.d * r + u.d + j];
  Z[i] = m + exp(0.5 * lv) * E[i];`
        : "Z[i] = m;"
    }`,
    // i runs over h: row r, column c; the matching element of z / eps is r·d + (c mod d).
    sample_grad: /* wgsl */ `
  let r = i / (2u * u.d);
  let c = i - r * 2u * u.d;
  let j = select(c - u.d, c, c < u.d);
  let g = G[r * u.d + j];
  ${
      noise
        ? `out[i] = select(g * 0.5 * exp(0.5 * H[i]) * E[r * u.d + j], g, c < u.d);`
        : "out[i] = select(0.0, g, c < u.d);"
    }`,
    kl_grad: /* wgsl */ `
  let c = i % (2u * u.d);
  let v = H[i];
  out[i] = G[0] * u.scale * select(0.5 * (exp(v) - 1.0), v, c < u.d);`,
  }[spec.kind];
  return declare({
    key: `vae/${spec.kind}${noise ? "/noise" : ""}`,
    inputs: Object.fromEntries(reads.map((n) => [n, "f32" as const])),
    outputs: { [out]: "f32" },
    uniforms: FIELDS,
    entry: ENTRY_1D,
    main: /* wgsl */ `
  if (i >= u.n) { return; }
${body}`,
  });
});

/**
 * The reduction map of the KL divergence: element i of h contributes −mean²
 * (mean columns) or 1 + logvar − exp(logvar) (log-variance columns), so a
 * plain sum over h times −0.5 / rows is the batch-mean KL. `u.p0` holds d
 * (exact as an f32 up to 2^24) and `u.p1` −∞.
 *
 * Numerics: every term is ≤ 0, so the sum can overflow only to −∞ (KL = +∞),
 * never to NaN. exp overflows f32 above log(FLT_MAX) ≈ 88.72; there the term
 * is set to −∞ explicitly rather than trusting the adapter's exp to return
 * +∞, which also makes logvar = +∞ give KL = +∞ instead of ∞ − ∞ = NaN.
 * NaN inputs stay NaN.
 */
export const KL_MAP: ReduceMap = {
  name: "vae_kl",
  inputs: ["H"],
  expr: "kl_term(i)",
  helpers: /* wgsl */ `
fn kl_term(i: u32) -> f32 {
  let d = u32(u.p0);
  let v = H[i];
  if (i % (2u * d) < d) { return -v * v; }
  if (v > 88.72) { return u.p1; }
  return 1.0 + v - exp(v);
}`,
};
