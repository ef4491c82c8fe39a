/**
 * Optimizers: SGD (with momentum / Nesterov), Adam (with AMSGrad) and AdamW,
 * with Keras 3's formulas (see shaders/optim.ts for the maths).
 *
 * `step(params)` records fused kernels (one per parameter, or several
 * parameters per dispatch where the adapter's bindings allow: src/ops/optim.ts)
 * that read `p.grad` and update `p` and its state in place, then frees the gradient so the next
 * backward starts fresh. State lives on the GPU, made lazily on a parameter's
 * first step; the step count lives on the host, which computes Adam's bias
 * correction and passes it as a uniform, so a step never reads anything back
 * and changing the learning rate never recompiles.
 *
 * @example
 * ```ts
 * const opt = lt.optim.adam({ learningRate: 1e-3 });
 * for (let i = 0; i < 100; i++) {
 *   lt.tidy(() => {
 *     lt.backward(loss(model, x, y));
 *     opt.step(model.parameters());
 *   });
 * }
 * ```
 *
 * @module
 */
import { optimSlots, type OptimSpec } from "../../shaders/optim.ts";
import { copyInto, zeros } from "../ops/creation.ts";
import { runtime } from "../gpu/runtime.ts";
import { gradientSquaredNorms, optimizerUpdate, type UpdateParams } from "../ops/optim.ts";
import { keep } from "../tensor/scope.ts";
import { empty, fmtShape, Tensor } from "../tensor/tensor.ts";

/** Options every optimizer takes (Keras names in camelCase). */
export interface OptimizerOptions {
  /** Step size (> 0). Settable later through {@link Optimizer.learningRate}. */
  learningRate?: number;
  /** Decoupled weight decay: each step p ← p − learningRate · weightDecay · p (default 0). */
  weightDecay?: number;
  /** Clamp every gradient element to [−clipValue, clipValue]. */
  clipValue?: number;
  /** Rescale each parameter's gradient to L2 norm at most clipNorm. */
  clipNorm?: number;
  /** Rescale all gradients together to a joint L2 norm at most globalClipNorm. */
  globalClipNorm?: number;
}

/** Options of {@link sgd}. */
export interface SGDOptions extends OptimizerOptions {
  /** Velocity decay in [0, 1] (default 0: plain gradient descent). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/** Options of {@link adam} and {@link adamw}. */
export interface AdamOptions extends OptimizerOptions {
  /** Decay of the first moment, in [0, 1) (default 0.9). */
  beta1?: number;
  /** Decay of the second moment, in [0, 1) (default 0.999). */
  beta2?: number;
  /** Added to √v (default 1e-7, Keras' value). */
  epsilon?: number;
  /** Use the running maximum of v (default false). */
  amsgrad?: boolean;
}

/** An optimizer's saved state: the step count and named state tensors. */
export interface OptimizerState {
  /** Steps taken (drives Adam's bias correction). */
  iterations: number;
  /** `<parameter name>/<slot>` → tensor, e.g. `dense_1/kernel/m`. */
  tensors: Record<string, Tensor>;
}

function positive(op: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${op}: ${name} must be a finite number > 0, got ${String(v)}`);
  }
  return v;
}

function inRange(op: string, name: string, v: unknown, closed: boolean): number {
  if (typeof v !== "number" || !(v >= 0 && (closed ? v <= 1 : v < 1))) {
    throw new RangeError(
      `${op}: ${name} must be a number in [0, 1${closed ? "]" : ")"}, got ${String(v)}`,
    );
  }
  return v;
}

function nonNegative(op: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`${op}: ${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

/** Hyperparameters a subclass passes in the uniform block. */
interface RuleParams {
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** The step size for iteration t (Adam's bias-corrected one). */
  lrT: number;
}

/**
 * The shared machinery of every optimizer: validation, lazy GPU state,
 * clipping, decay, the step counter, state export and import.
 */
export abstract class Optimizer {
  /** Keras name: `sgd`, `adam`, `adamw`. */
  readonly name: string;
  /** Decoupled weight decay factor. */
  readonly weightDecay: number;
  readonly clipValue: number | undefined;
  readonly clipNorm: number | undefined;
  readonly globalClipNorm: number | undefined;
  #lr: number;
  #iterations = 0;
  /** Per parameter: its state slots side by side ([slots · size]; see optimBuffers). */
  #state = new Map<Tensor, Tensor>();
  #norms: Tensor | null = null;
  #disposed = false;

  constructor(name: string, defaultLr: number, o: OptimizerOptions) {
    this.name = name;
    this.#lr = positive(name, "learningRate", o.learningRate ?? defaultLr);
    this.weightDecay = nonNegative(name, "weightDecay", o.weightDecay ?? 0);
    const clips = (["clipValue", "clipNorm", "globalClipNorm"] as const).filter((k) =>
      o[k] !== undefined
    );
    if (clips.length > 1) {
      throw new RangeError(`${name}: set at most one of ${clips.join(", ")} (Keras allows one)`);
    }
    for (const k of clips) positive(name, k, o[k]);
    this.clipValue = o.clipValue;
    this.clipNorm = o.clipNorm;
    this.globalClipNorm = o.globalClipNorm;
  }

  /** The step size; assign to change it between steps (schedules). */
  get learningRate(): number {
    return this.#lr;
  }
  set learningRate(v: number) {
    this.#lr = positive(this.name, "learningRate", v);
  }

  /** Steps taken so far. */
  get iterations(): number {
    return this.#iterations;
  }

  /** The hyperparameters, for summaries and logs. */
  get config(): Record<string, number | boolean | string> {
    const c: Record<string, number | boolean | string> = {
      name: this.name,
      learningRate: this.#lr,
      weightDecay: this.weightDecay,
    };
    for (const k of ["clipValue", "clipNorm", "globalClipNorm"] as const) {
      if (this[k] !== undefined) c[k] = this[k]!;
    }
    return { ...c, ...this.ruleConfig() };
  }

  /** The kernel specialisation (without clipping and decay, which the base adds). */
  protected abstract rule(): Pick<OptimSpec, "rule" | "momentum" | "nesterov" | "amsgrad">;
  /** The rule's uniforms for step `t` at learning rate `lr`. */
  protected abstract ruleParams(t: number, lr: number): RuleParams;
  /** The rule's hyperparameters for {@link Optimizer.config}. */
  protected abstract ruleConfig(): Record<string, number | boolean>;

  #spec(): OptimSpec {
    const clip = this.clipValue !== undefined
      ? "value"
      : this.clipNorm !== undefined
      ? "norm"
      : this.globalClipNorm !== undefined
      ? "global_norm"
      : "none";
    return { ...this.rule(), clip, decay: this.weightDecay > 0 };
  }

  #check(op: string, params: readonly Tensor[]): void {
    if (this.#disposed) throw new Error(`${this.name}.${op}: the optimizer was disposed`);
    if (!Array.isArray(params)) {
      throw new TypeError(`${this.name}.${op}: expected an array of parameter tensors`);
    }
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      const what = `${this.name}.${op}: parameter ${p?.name ?? i}`;
      if (!(p instanceof Tensor)) throw new TypeError(`${what} is not a Tensor`);
      if (seen.has(p)) throw new Error(`${what} is listed twice`);
      seen.add(p);
      p.storage(what);
      if (p.dtype !== "f32") throw new TypeError(`${what} must be f32, got ${p.dtype}`);
    });
  }

  /**
   * Updates every parameter that has a gradient, in place, from `p.grad`,
   * then disposes the gradients and sets `p.grad = null`. Parameters without
   * a gradient are left alone. Records GPU work only; never waits.
   *
   * @example
   * ```ts
   * lt.backward(loss);
   * opt.step([w, b]);
   * ```
   */
  step(params: readonly Tensor[]): void {
    this.#check("step", params);
    const live = params.filter((p) => p.grad !== null);
    for (const p of live) {
      const g = p.grad!;
      const what = `${this.name}.step: gradient of ${p.name ?? fmtShape(p.shape)}`;
      g.storage(what);
      if (g.dtype !== "f32" || g.size !== p.size || g.shape.join() !== p.shape.join()) {
        throw new Error(
          `${what}: expected ${fmtShape(p.shape)} f32, got ${fmtShape(g.shape)} ${g.dtype}`,
        );
      }
    }
    // The step count and rate, advanced again by each replay of a captured
    // step (the hook), which repacks every update's uniforms from them.
    const advance = () => {
      const t = ++this.#iterations;
      return { lr: this.#lr, r: this.ruleParams(t, this.#lr) };
    };
    let now = advance();
    runtime().hook(() => void (now = advance()));
    const spec = this.#spec();
    const byNorm = spec.clip === "norm" || spec.clip === "global_norm";
    const norms = byNorm ? this.#normsFor(live.length) : null;
    if (norms) gradientSquaredNorms(this.name, live.map((p) => p.grad!), norms);
    const clip = this.clipValue ?? this.clipNorm ?? this.globalClipNorm ?? 0;
    const values = (): UpdateParams => ({
      count: live.length,
      lr: now.lr,
      decay: now.lr * this.weightDecay,
      clip,
      momentum: now.r.momentum,
      beta1: now.r.beta1,
      beta2: now.r.beta2,
      eps: now.r.eps,
      lrT: now.r.lrT,
    });
    const targets = live.flatMap((p, slot) =>
      p.size > 0 ? [{ param: p, grad: p.grad!, state: this.#slotsOf(p), slot }] : []
    );
    if (targets.length) optimizerUpdate(this.name, spec, targets, norms, values(), values);
    for (const p of live) {
      p.grad!.dispose();
      p.grad = null;
    }
  }

  #normsFor(count: number): Tensor {
    if (!this.#norms || this.#norms.size < count) {
      this.#norms?.dispose();
      this.#norms = keep(empty([Math.max(count, 1)], "f32", `${this.name}.clip`));
    }
    return this.#norms;
  }

  /** The parameter's state (its slots side by side), made on first use; null without slots. */
  #slotsOf(p: Tensor): Tensor | null {
    const slots = optimSlots(this.#spec()).length;
    if (!slots) return null;
    let s = this.#state.get(p);
    if (!s) {
      s = keep(zeros([slots * p.size]));
      this.#state.set(p, s);
    }
    return s;
  }

  /**
   * Disposes and clears `p.grad` for each parameter (without updating).
   *
   * @example
   * ```ts
   * opt.zeroGrad(model.parameters());
   * ```
   */
  zeroGrad(params: readonly Tensor[]): void {
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  #names(op: string, params: readonly Tensor[]): string[] {
    const names = params.map((p, i) => p.name ?? `param_${i}`);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) {
      throw new Error(`${this.name}.${op}: two parameters are named "${dup}"`);
    }
    return names;
  }

  /**
   * The step count and the state tensors of `params`, named
   * `<p.name or param_i>/<slot>` (slots: sgd `momentum`; adam `m`, `v`,
   * `vhat`), each of its parameter's shape. They are copies (the optimizer
   * keeps a parameter's slots side by side in one buffer): read or save
   * them, then dispose them (or let a `tidy` do it).
   *
   * @example
   * ```ts
   * const { iterations, tensors } = opt.getState(model.parameters());
   * ```
   */
  getState(params: readonly Tensor[]): OptimizerState {
    this.#check("getState", params);
    const names = this.#names("getState", params);
    const slots = optimSlots(this.#spec());
    const tensors: Record<string, Tensor> = {};
    params.forEach((p, i) => {
      const s = this.#state.get(p);
      if (!s) return;
      slots.forEach((slot, j) => {
        const t = empty(p.shape, "f32", `${this.name}.getState`);
        copyInto(t, s, { from: j * p.size, count: p.size, op: `${this.name}.getState` });
        tensors[`${names[i]}/${slot}`] = t;
      });
    });
    return { iterations: this.#iterations, tensors };
  }

  /**
   * Restores state saved by {@link Optimizer.getState} (copied in; the given
   * tensors stay the caller's). Parameters missing from `state` start from zero.
   *
   * @example
   * ```ts
   * opt.setState(model.parameters(), { iterations: 1200, tensors: loaded });
   * ```
   */
  setState(params: readonly Tensor[], state: OptimizerState): void {
    this.#check("setState", params);
    const it = state?.iterations;
    if (!Number.isSafeInteger(it) || it < 0) {
      throw new RangeError(
        `${this.name}.setState: iterations must be a non-negative integer, got ${it}`,
      );
    }
    const names = this.#names("setState", params);
    const slots = optimSlots(this.#spec());
    const used = new Set<string>();
    const plan: [Tensor, number, Tensor][] = [];
    params.forEach((p, i) => {
      slots.forEach((slot, j) => {
        const key = `${names[i]}/${slot}`;
        const src = state.tensors[key];
        if (!src) return;
        used.add(key);
        if (src.dtype !== "f32" || src.shape.join() !== p.shape.join()) {
          throw new Error(
            `${this.name}.setState: ${key} must be ${fmtShape(p.shape)} f32, got ${
              fmtShape(src.shape)
            } ${src.dtype}`,
          );
        }
        plan.push([p, j, src]);
      });
    });
    const unknown = Object.keys(state.tensors).filter((k) => !used.has(k));
    if (unknown.length) {
      throw new Error(
        `${this.name}.setState: no parameter slot for ${unknown.join(", ")} (expected ` +
          `<parameter name>/${slots.join("|")})`,
      );
    }
    for (const [p, j, src] of plan) {
      copyInto(this.#slotsOf(p)!, src, { offset: j * p.size, op: `${this.name}.setState` });
    }
    this.#iterations = it;
  }

  /**
   * Frees the optimizer's GPU state. The optimizer cannot step afterwards.
   *
   * @example
   * ```ts
   * opt.dispose();
   * ```
   */
  dispose(): void {
    for (const s of this.#state.values()) s.dispose();
    this.#state.clear();
    this.#norms?.dispose();
    this.#norms = null;
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Stochastic gradient descent with optional (Nesterov) momentum; see {@link sgd}. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  constructor(o: SGDOptions = {}) {
    super("sgd", 0.01, o);
    this.momentum = inRange("sgd", "momentum", o.momentum ?? 0, true);
    this.nesterov = o.nesterov ?? false;
    if (typeof this.nesterov !== "boolean") {
      throw new TypeError(`sgd: nesterov must be a boolean, got ${String(o.nesterov)}`);
    }
  }
  protected rule(): Pick<OptimSpec, "rule" | "momentum" | "nesterov"> {
    return { rule: "sgd", momentum: this.momentum > 0, nesterov: this.nesterov };
  }
  protected ruleParams(_t: number, lr: number): RuleParams {
    return { momentum: this.momentum, beta1: 0, beta2: 0, eps: 0, lrT: lr };
  }
  protected ruleConfig(): Record<string, number | boolean> {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
}

/** Adam (and AdamW with a weight decay); see {@link adam}. */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly amsgrad: boolean;
  constructor(o: AdamOptions = {}, name = "adam", defaultDecay = 0) {
    super(name, 1e-3, { ...o, weightDecay: o.weightDecay ?? defaultDecay });
    this.beta1 = inRange(name, "beta1", o.beta1 ?? 0.9, false);
    this.beta2 = inRange(name, "beta2", o.beta2 ?? 0.999, false);
    this.epsilon = nonNegative(name, "epsilon", o.epsilon ?? 1e-7);
    this.amsgrad = o.amsgrad ?? false;
    if (typeof this.amsgrad !== "boolean") {
      throw new TypeError(`${name}: amsgrad must be a boolean, got ${String(o.amsgrad)}`);
    }
  }
  protected rule(): Pick<OptimSpec, "rule" | "amsgrad"> {
    return { rule: "adam", amsgrad: this.amsgrad };
  }
  protected ruleParams(t: number, lr: number): RuleParams {
    // Bias correction in float64 on the host, once per step.
    const lrT = lr * Math.sqrt(1 - this.beta2 ** t) / (1 - this.beta1 ** t);
    return { momentum: 0, beta1: this.beta1, beta2: this.beta2, eps: this.epsilon, lrT };
  }
  protected ruleConfig(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}

function opts<T extends OptimizerOptions>(o: number | T | undefined): T {
  return (typeof o === "number" ? { learningRate: o } : o ?? {}) as T;
}

/**
 * SGD (Keras formulation): plain p ← p − lr·g; with momentum m,
 * v ← m·v − lr·g and p ← p + v; Nesterov p ← p + m·v − lr·g.
 * Default learning rate 0.01. A number is taken as the learning rate.
 *
 * @example
 * ```ts
 * const opt = lt.optim.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true });
 * const plain = lt.optim.sgd(0.01);
 * ```
 */
export function sgd(options?: number | SGDOptions): SGD {
  return new SGD(opts(options));
}

/**
 * Adam (Keras formulation; ε = 1e-7 added to √v; optional AMSGrad).
 * Default learning rate 1e-3. A number is taken as the learning rate.
 *
 * @example
 * ```ts
 * const opt = lt.optim.adam(1e-3);
 * const ams = lt.optim.adam({ learningRate: 3e-4, amsgrad: true });
 * ```
 */
export function adam(options?: number | AdamOptions): Adam {
  return new Adam(opts(options));
}

/**
 * AdamW: Adam with decoupled weight decay p ← p − lr·wd·p applied before
 * each update (Keras default weightDecay 0.004).
 *
 * @example
 * ```ts
 * const opt = lt.optim.adamw({ learningRate: 1e-3, weightDecay: 1e-4 });
 * ```
 */
export function adamw(options?: number | AdamOptions): Adam {
  return new Adam(opts(options), "adamw", 0.004);
}

const FACTORIES: Record<string, () => Optimizer> = { sgd, adam, adamw };

/**
 * Resolves an optimizer or its Keras name (`"sgd"`, `"adam"`, `"adamw"`,
 * any case) with default hyperparameters.
 *
 * @example
 * ```ts
 * const opt = lt.optim.get("adam");
 * ```
 */
export function get(optimizer: Optimizer | string): Optimizer {
  if (optimizer instanceof Optimizer) return optimizer;
  const f = typeof optimizer === "string" ? FACTORIES[optimizer.toLowerCase()] : undefined;
  if (!f) {
    throw new RangeError(
      `optimizer: unknown optimizer ${JSON.stringify(optimizer)}; expected one of ${
        Object.keys(FACTORIES).join(", ")
      } or an Optimizer`,
    );
  }
  return f();
}
