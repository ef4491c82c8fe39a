/**
 * The sampling layer of a variational autoencoder (Kingma & Welling 2014,
 * https://arxiv.org/abs/1312.6114), so that a VAE is a plain Sequential or
 * functional stack trained with `model.fit(x, x)`:
 *
 * ```
 * encoder … → Dense(2·d) → gaussianSampling() → decoder …
 * ```
 *
 * The Dense layer before it outputs the posterior's mean and log-variance
 * side by side; the layer samples z with the reparameterisation trick and adds
 * the KL term to the training loss the way an activity regularizer adds its
 * penalty (through `CallContext.losses`).
 *
 * @module
 */
import { randomNormal, RandomStream } from "../ops/random.ts";
import { gaussianKl, gaussianMean, gaussianSample } from "../ops/vae.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/tensor.ts";
import { type CallContext, Layer, type Shape, uniqueName } from "./layer.ts";
import { seedStream } from "./layers.ts";

/** Options of {@link GaussianSampling}. */
export interface GaussianSamplingOptions {
  /**
   * Weight of the KL term added to the training loss; default 1 / 784.
   *
   * The Keras and PyTorch VAE tutorials minimise the reconstruction loss
   * summed over the D values of a sample plus 1 · KL. latent's losses
   * (`"binary_crossentropy"`, `"mse"`) are means over the values, i.e. that
   * sum divided by D, so the same objective (divided by D) needs
   * `klWeight = 1 / D`. The default, 1 / 784, reproduces the tutorials on
   * 28×28 images (MNIST, Fashion-MNIST) with per-pixel mean BCE; for other
   * data pass 1 / D, or a multiple of it for a β-VAE (β / D); 0 adds no term.
   *
   * Why not 1: next to a per-pixel mean loss that is a β-VAE with β = D. On
   * MNIST (4000 images, 4 epochs) it collapsed the posterior onto the prior
   * (test KL 0.006 nats; every digit decoded to nearly the same blur) where
   * 1 / 784 kept 6.4 nats and a lower reconstruction loss.
   */
  klWeight?: number;
  /** Seed of the noise (default: drawn from the layer seed stream, see `setSeed`). */
  seed?: number;
  name?: string;
}

/**
 * Samples z ~ N(mean, exp(logvar)) from an input `[2d]` = (mean, log-variance)
 * and outputs `[d]`; has no parameters.
 *
 * - While training (inside `fit`), z = mean + exp(0.5 · logvar) · eps with
 *   fresh standard-normal eps every step, drawn on the GPU from the layer's
 *   seed stream, and klWeight · KL(N(mean, exp(logvar)) ‖ N(0, I)) (mean over
 *   the batch) is added to the loss.
 * - At inference (`predict`, `evaluate`, `apply` without `training`, an
 *   encoder sub-model) it returns the mean: deterministic codes, and no
 *   KL term (`evaluate` reports the reconstruction loss of the means).
 */
export class GaussianSampling extends Layer {
  readonly className = "GaussianSampling";
  readonly klWeight: number;
  #seeds: RandomStream | null = null;

  constructor(options: GaussianSamplingOptions = {}) {
    super(options.name ?? uniqueName("gaussian_sampling"));
    const w = options.klWeight ?? 1 / 784;
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`gaussianSampling: klWeight must be a finite number >= 0, got ${w}`);
    }
    this.klWeight = w;
    if (options.seed !== undefined) this.#seeds = new RandomStream(options.seed);
  }

  override describe(): string {
    // 1/784 reads better than 0.0012755102040816326.
    const inv = Math.round(1 / this.klWeight);
    const w = inv > 1 && 1 / inv === this.klWeight ? `1/${inv}` : String(this.klWeight);
    return `gaussianSampling(klWeight=${w})`;
  }

  outputShape(s: Shape): Shape {
    if (s.length !== 1 || s[0] < 2 || s[0] % 2 !== 0) {
      throw new Error(
        `${this.describe()}: expected input [*, 2d] (mean and log-variance side by side, ` +
          `an even number >= 2 per sample), got [*, ${s.join(", ")}]`,
      );
    }
    return [s[0] / 2];
  }

  protected override build(): void {
    this.#seeds ??= seedStream().fork();
  }

  call(h: Tensor, ctx: CallContext): Tensor {
    if (h.rank !== 2) {
      throw new Error(`${this.describe()}: expected a batch [n, 2d], got ${fmtShape(h.shape)}`);
    }
    if (!ctx.training) return gaussianMean(h);
    const eps = randomNormal([h.shape[0], h.shape[1] / 2], { seed: this.#seeds! });
    const z = gaussianSample(h, eps);
    if (this.klWeight > 0) ctx.losses.push(gaussianKl(h, { weight: this.klWeight }));
    return z;
  }
}

/**
 * A VAE sampling layer: input `[2d]` (mean, log-variance) → output `[d]`.
 * Samples and adds klWeight · KL to the loss while training; returns the mean
 * at inference. The default klWeight, 1 / 784, matches the Keras tutorial on
 * MNIST with `"binary_crossentropy"` (see {@link GaussianSamplingOptions.klWeight};
 * pass 1 / D for D values per sample).
 *
 * @example
 * ```ts
 * const vae = lt.nn.sequential([
 *   lt.nn.dense(512, "relu"), lt.nn.dense(2 * 2),
 *   lt.nn.gaussianSampling(), // klWeight 1 / 784: Keras' weighting for 784 pixels
 *   lt.nn.dense(512, "relu"), lt.nn.dense(784, "sigmoid"),
 * ], { inputShape: [784] });
 * vae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
 * await vae.fit(x, x, { epochs: 10, batchSize: 128 });
 * ```
 */
export function gaussianSampling(options: GaussianSamplingOptions = {}): GaussianSampling {
  return new GaussianSampling(options);
}
