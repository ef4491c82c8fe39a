/**
 * Variational autoencoder ops (Kingma & Welling 2014,
 * https://arxiv.org/abs/1312.6114): the reparameterised Gaussian sample and
 * the KL divergence of the approximate posterior from N(0, I).
 *
 * Both read the encoder's output `h = [mean, logvar]` as one `[n, 2d]`
 * tensor (the two halves along the last axis), so a VAE is a plain stack of
 * single-input layers: `Dense(2·d)` → sample → decoder. Kernels are in
 * shaders/vae.ts.
 * @module
 */
import { WG } from "../../shaders/common.ts";
import { KL_MAP, vaeKernel } from "../../shaders/vae.ts";
import { record } from "../autograd/tape.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";
import { reduceAxisRaw } from "./reduce.ts";

/** Throws unless `h` is an f32 `[n, 2d]` with n, d ≥ 1; returns [n, d]. */
function checkH(op: string, h: Tensor): [number, number] {
  if (h.dtype !== "f32") {
    throw new TypeError(
      `${op}: expected an f32 h [n, 2d] (mean and log-variance halves), got ${h.dtype} ${
        fmtShape(h.shape)
      }`,
    );
  }
  if (h.rank !== 2 || h.shape[0] < 1 || h.shape[1] < 2 || h.shape[1] % 2 !== 0) {
    throw new Error(
      `${op}: expected h [n, 2d] (mean and log-variance halves along the last axis, n >= 1, ` +
        `an even last dimension >= 2), got ${fmtShape(h.shape)}`,
    );
  }
  return [h.shape[0], h.shape[1] / 2];
}

function uniforms(n: number, d: number, scale = 0) {
  return { n, d, scale, pad: 0 };
}

/** z from h (and eps, when given), recorded for autograd; `op` names messages. */
function sample(op: string, h: Tensor, eps: Tensor | null, n: number, d: number): Tensor {
  const noise = eps !== null;
  const z = empty([n, d], "f32", op);
  launchKernel(
    op,
    vaeKernel({ kind: "sample", noise }),
    noise ? { H: h, E: eps, Z: z } : { H: h, Z: z },
    uniforms(n * d, d),
    Math.ceil((n * d) / WG),
  );
  return record(z, op, noise ? [h, eps] : [h], (g) => {
    const dh = empty(h.shape, "f32", `${op} gradient`);
    launchKernel(
      `${op} gradient`,
      vaeKernel({ kind: "sample_grad", noise }),
      noise ? { H: h, E: eps, G: g, out: dh } : { G: g, out: dh },
      uniforms(h.size, d),
      Math.ceil(h.size / WG),
    );
    // eps is a constant of the graph (drawn, not learned): no gradient.
    return noise ? [dh, null] : [dh];
  });
}

/**
 * The reparameterised Gaussian sample of a VAE: from `h = [mean, logvar]`
 * (`[n, 2d]`, halves along the last axis) and standard-normal `eps`
 * (`[n, d]`), z = mean + exp(0.5 · logvar) · eps, in one kernel. Gradients go
 * to h (dmean = dz, dlogvar = dz · 0.5 · exp(0.5 · logvar) · eps), none to
 * eps. A logvar above ~177 makes exp overflow and z infinite.
 *
 * @example
 * ```ts
 * const h = encoder.apply(x);                        // [n, 2 * 2]
 * const eps = lt.randomNormal([x.shape[0], 2], { seed: 1 });
 * const z = lt.gaussianSample(h, eps);               // [n, 2]
 * ```
 */
export function gaussianSample(h: Tensor, eps: Tensor): Tensor {
  const op = "gaussianSample";
  const [n, d] = checkH(op, h);
  if (eps.dtype !== "f32" || eps.rank !== 2 || eps.shape[0] !== n || eps.shape[1] !== d) {
    throw new Error(
      `${op}: h ${fmtShape(h.shape)} needs eps of shape ${fmtShape([n, d])} (f32), got ${
        fmtShape(eps.shape)
      } ${eps.dtype}`,
    );
  }
  return sample(op, h, eps, n, d);
}

/**
 * The mean half of `h = [mean, logvar]` (`[n, 2d]` → `[n, d]`): a VAE's
 * deterministic code at inference. The gradient goes to the mean half; the
 * log-variance half gets zeros.
 *
 * @example
 * ```ts
 * const codes = lt.gaussianMean(h); // [n, d]
 * ```
 */
export function gaussianMean(h: Tensor): Tensor {
  const op = "gaussianMean";
  const [n, d] = checkH(op, h);
  return sample(op, h, null, n, d);
}

/** Options of {@link gaussianKl}. */
export interface GaussianKlOptions {
  /** Multiplies the result (a VAE's KL weight, or β of a β-VAE); default 1. */
  weight?: number;
}

/**
 * The KL divergence of N(mean, exp(logvar)) from N(0, I), averaged over the
 * batch: weight · (1/n) · Σ_rows −0.5 · Σ_j (1 + logvar − mean² − exp(logvar)),
 * for `h = [mean, logvar]` (`[n, 2d]`, halves along the last axis); a scalar
 * (shape []) reduced on the GPU, with its gradient to h
 * (dmean = mean / n, dlogvar = 0.5 · (exp(logvar) − 1) / n, times weight).
 *
 * Numerics: each summed term is ≤ 0, so the KL is ≥ 0 and overflows only to
 * +∞: a logvar above log(FLT_MAX) ≈ 88.72 (where exp(logvar) overflows f32),
 * a logvar of ±∞ or an infinite mean give KL = +∞, not NaN. NaN in h gives
 * NaN.
 *
 * @example
 * ```ts
 * const kl = lt.gaussianKl(h);                     // scalar
 * const loss = lt.add(reconstruction, lt.gaussianKl(h, { weight: 1 / 784 }));
 * ```
 */
export function gaussianKl(h: Tensor, options: GaussianKlOptions = {}): Tensor {
  const op = "gaussianKl";
  const [n, d] = checkH(op, h);
  const weight = options.weight ?? 1;
  if (typeof weight !== "number" || !Number.isFinite(weight)) {
    throw new RangeError(`${op}: weight must be a finite number, got ${weight}`);
  }
  const out = reduceAxisRaw("sum", h, 1, h.size, 1, [], {
    scale: (-0.5 * weight) / n,
    map: KL_MAP,
    inputs: [h],
    p0: d,
    p1: -Infinity,
    name: op,
  }).values;
  return record(out, op, [h], (g) => {
    const dh = empty(h.shape, "f32", `${op} gradient`);
    launchKernel(
      `${op} gradient`,
      vaeKernel({ kind: "kl_grad", noise: false }),
      { H: h, G: g, out: dh },
      uniforms(h.size, d, weight / n),
      Math.ceil(h.size / WG),
    );
    return [dh];
  });
}
