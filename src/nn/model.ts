/**
 * Models: functional graphs of layers (Keras' `Model(inputs, outputs)`) and
 * the sequential stack. A model is itself a layer, so models nest, and models
 * built from the same layers share their weights.
 *
 * @module
 */
import { noGrad } from "../autograd/tape.ts";
import { runtime } from "../gpu/runtime.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/tensor.ts";
import { copyInto, tensor } from "../ops/creation.ts";
import {
  type Compiled,
  type CompileOptions,
  compileOptions,
  type DataLike,
  evaluate,
  fit,
  type FitOptions,
  type History,
  predict,
  type TargetLike,
} from "./training.ts";
import type { Logs } from "./callbacks.ts";
import {
  type CallContext,
  input,
  Layer,
  type Param,
  type Shape,
  type SymbolicTensor,
  uniqueName,
} from "./layer.ts";

/** A functional model: the graph from `inputs` to `outputs`. */
export class Model extends Layer {
  readonly className: string = "Functional";
  inputs: SymbolicTensor[] = [];
  outputs: SymbolicTensor[] = [];
  /** Non-input graph values in evaluation order. */
  #order: SymbolicTensor[] = [];
  /** Distinct layers in evaluation order. */
  layers: Layer[] = [];

  constructor(
    inputs: SymbolicTensor | SymbolicTensor[],
    outputs: SymbolicTensor | SymbolicTensor[],
    name: string = uniqueName("model"),
  ) {
    super(name);
    this.setGraph(
      Array.isArray(inputs) ? inputs : [inputs],
      Array.isArray(outputs) ? outputs : [outputs],
    );
  }

  /** (Re)defines the graph. */
  protected setGraph(inputs: SymbolicTensor[], outputs: SymbolicTensor[]): void {
    this.inputs = inputs;
    this.outputs = outputs;
    const order: SymbolicTensor[] = [];
    const seen = new Set<SymbolicTensor>();
    const visit = (t: SymbolicTensor, path: Set<SymbolicTensor>) => {
      if (seen.has(t)) return;
      if (path.has(t)) throw new Error(`model ${this.name}: the graph has a cycle at ${t.name}`);
      if (!t.layer) {
        if (!inputs.includes(t)) {
          throw new Error(
            `model ${this.name}: the outputs depend on ${t.name} ${
              fmtShape(t.shape)
            }, which is not among the model's inputs`,
          );
        }
        seen.add(t);
        return;
      }
      path.add(t);
      for (const i of t.inputs) visit(i, path);
      path.delete(t);
      seen.add(t);
      order.push(t);
    };
    for (const o of outputs) visit(o, new Set());
    this.#order = order;
    this.layers = [...new Set(order.map((t) => t.layer!))];
    this.inputShape = inputs.length === 1 ? inputs[0].shape : null;
    this.built = true;
  }

  outputShape(inputShape: Shape): Shape {
    const want = this.inputs[0].shape;
    if (inputShape.join() !== want.join()) {
      throw new Error(
        `model ${this.name}: expected input [*, ${want.join(", ")}], got [*, ${
          inputShape.join(", ")
        }]`,
      );
    }
    return this.outputs[0].shape;
  }

  /** Runs the graph on real batches, one per input; returns one batch per output. */
  run(xs: Tensor[], ctx: CallContext): Tensor[] {
    if (xs.length !== this.inputs.length) {
      throw new Error(
        `model ${this.name}: expected ${this.inputs.length} inputs, got ${xs.length}`,
      );
    }
    const values = new Map<SymbolicTensor, Tensor>();
    this.inputs.forEach((s, i) => {
      const got = xs[i].shape.slice(1);
      if (got.join() !== s.shape.join()) {
        throw new Error(
          `model ${this.name}: expected input ${s.name} of shape [*, ${s.shape.join(", ")}], got ${
            fmtShape(xs[i].shape)
          }`,
        );
      }
      values.set(s, xs[i]);
    });
    for (const t of this.#order) {
      const arg = values.get(t.inputs[0])!;
      values.set(t, t.layer!.apply(arg, ctx));
    }
    return this.outputs.map((o) => values.get(o)!);
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    return this.run([x], ctx)[0];
  }

  override weights(): Param[] {
    const seen = new Set<Tensor>();
    const out: Param[] = [];
    for (const l of this.layers) {
      for (const p of l.weights()) {
        if (seen.has(p.tensor)) continue;
        seen.add(p.tensor);
        out.push(l.trainable ? p : { ...p, trainable: false });
      }
    }
    return out;
  }

  override trainableWeights(): Tensor[] {
    return this.trainable ? this.weights().filter((p) => p.trainable).map((p) => p.tensor) : [];
  }

  override regularizationLosses(): Tensor[] {
    return this.layers.flatMap((l) => l.regularizationLosses());
  }

  /** The layer called `name` (searching nested models too). */
  getLayer(name: string): Layer {
    for (const l of this.layers) {
      if (l.name === name) return l;
      if (l instanceof Model) {
        try {
          return l.getLayer(name);
        } catch { /* keep looking */ }
      }
    }
    throw new Error(
      `model ${this.name}: no layer named "${name}" (layers: ${
        this.layers.map((l) => l.name).join(", ")
      })`,
    );
  }

  /**
   * Prints (and returns) a Keras-style table of layers, output shapes and
   * parameter counts.
   *
   * @example
   * ```ts
   * autoencoder.summary();
   * ```
   */
  summary(print: (line: string) => void = console.log): string {
    const rows: [string, string, string][] = [];
    for (const s of this.inputs) {
      rows.push([`${s.name} (InputLayer)`, `(None, ${s.shape.join(", ")})`, "0"]);
    }
    const counted = new Set<Tensor>();
    for (const t of this.#order) {
      const l = t.layer!;
      let n = 0;
      for (const p of l.weights()) {
        if (!counted.has(p.tensor)) {
          counted.add(p.tensor);
          n += p.tensor.size;
        }
      }
      rows.push([
        `${l.name} (${l.className})`,
        `(None, ${t.shape.join(", ")})`,
        n.toLocaleString("en-US"),
      ]);
    }
    const w = [
      Math.max(28, ...rows.map((r) => r[0].length + 2)),
      Math.max(26, ...rows.map((r) => r[1].length + 2)),
      12,
    ];
    const line = (c: string) => c.repeat(w[0] + w[1] + w[2] + 1);
    const row = (r: [string, string, string]) =>
      " " + r[0].padEnd(w[0]) + r[1].padEnd(w[1]) + r[2].padStart(w[2] - 2);
    const total = this.countParams();
    const trainable = this.trainableWeights().reduce((s, t) => s + t.size, 0);
    const lines = [
      `Model: "${this.name}"`,
      line("_"),
      row(["Layer (type)", "Output Shape", "Param #"]),
      line("="),
      ...rows.map(row),
      line("="),
      `Total params: ${total.toLocaleString("en-US")}`,
      `Trainable params: ${trainable.toLocaleString("en-US")}`,
      `Non-trainable params: ${(total - trainable).toLocaleString("en-US")}`,
      line("_"),
    ];
    const text = lines.join("\n");
    print(text);
    return text;
  }

  /** Reads every parameter back to the host, in `weights()` order. */
  getWeights(): Promise<Float32Array[]> {
    runtime();
    return Promise.all(this.weights().map(async (p) => (await p.tensor.toArray()) as Float32Array));
  }

  /** Overwrites every parameter from host arrays, in `weights()` order (sizes checked first). */
  setWeights(values: ArrayLike<number>[]): void {
    const ws = this.weights();
    if (values.length !== ws.length) {
      throw new Error(
        `setWeights(${this.name}): expected ${ws.length} arrays, got ${values.length}`,
      );
    }
    ws.forEach((p, i) => {
      if (values[i].length !== p.tensor.size) {
        throw new Error(
          `setWeights(${this.name}): ${p.name} ${
            fmtShape(p.tensor.shape)
          } needs ${p.tensor.size} values, got ${values[i].length}`,
        );
      }
    });
    noGrad(() => {
      ws.forEach((p, i) => {
        const src = tensor(Float32Array.from(values[i]), p.tensor.shape);
        copyInto(p.tensor, src, { op: "setWeights" });
        src.dispose();
      });
    });
  }

  #compiled: Compiled | null = null;
  /** Set true (e.g. by a callback) to stop fit() after the current batch. */
  stopTraining = false;

  /**
   * Sets the optimizer, loss and metrics for fit/evaluate (Keras' compile).
   *
   * @example
   * ```ts
   * ae.compile({ optimizer: lt.optim.adam(1e-3), loss: "binary_crossentropy" });
   * ```
   */
  compile(options: CompileOptions): void {
    this.#compiled = compileOptions(this, options);
  }

  /** The compiled configuration; throws if compile() was not called. */
  compiled(op: string): Compiled {
    if (!this.#compiled) {
      throw new Error(`${op}(${this.name}): call compile({ optimizer, loss }) first`);
    }
    return this.#compiled;
  }

  /**
   * Trains the model. Batches are gathered on the GPU; the loss is read back
   * once per epoch. Returns the per-epoch History. `options.trainStep`
   * replaces the compiled loss with a step of your own (Keras'
   * `train_step`, see {@link FitOptions.trainStep}); `y` may then be null.
   *
   * @example
   * ```ts
   * const x = lt.data.dataset(mnist.train.images, { shape: [784], scale: 1 / 255 });
   * const h = await ae.fit(x, x, { epochs: 10, batchSize: 256, callbacks: [lt.callbacks.progress()] });
   * console.log(h.history.loss);
   * ```
   */
  fit(x: DataLike, y: TargetLike | null, options: FitOptions = {}): Promise<History> {
    return fit(this, this.compiled("fit"), x, y, options);
  }

  /** Mean loss (and metrics) over data, in inference mode. @example `await model.evaluate(xTest, yTest)` */
  evaluate(x: DataLike, y: TargetLike, options: { batchSize?: number } = {}): Promise<Logs> {
    return evaluate(this, this.compiled("evaluate"), x, y, options);
  }

  /**
   * Outputs for every sample, in batches, as one GPU tensor `[n, ...]`.
   *
   * @example
   * ```ts
   * const codes = await encoder.predict(x);
   * console.log(codes.shape, await codes.toArray());
   * ```
   */
  predict(x: DataLike, options: { batchSize?: number } = {}): Promise<Tensor> {
    return predict(this, x, options);
  }

  override dispose(): void {
    for (const l of this.layers) l.dispose();
    this.#compiled?.optimizer.dispose();
  }
}

/**
 * A functional model from inputs to outputs.
 *
 * @example
 * ```ts
 * const x = lt.nn.input([784]);
 * const code = lt.nn.dense(32, "relu").apply(x);
 * const out = lt.nn.dense(784, "sigmoid").apply(code);
 * const autoencoder = lt.nn.model(x, out, "autoencoder");
 * const encoder = lt.nn.model(x, code, "encoder"); // shares weights
 * ```
 */
export function model(
  inputs: SymbolicTensor | SymbolicTensor[],
  outputs: SymbolicTensor | SymbolicTensor[],
  name?: string,
): Model {
  return new Model(inputs, outputs, name);
}

/** A linear stack of layers (Keras' Sequential). */
export class Sequential extends Model {
  override readonly className: string = "Sequential";
  readonly stack: Layer[];

  constructor(layers: Layer[], options: { inputShape?: Shape; name?: string } = {}) {
    const inShape = options.inputShape;
    const name = options.name ?? uniqueName("sequential");
    if (!inShape) {
      throw new Error(
        `sequential(${name}): pass { inputShape } (per-sample, e.g. [784] or [28, 28, 1])`,
      );
    }
    const x = input(inShape, uniqueName("input"));
    let y = x;
    for (const l of layers) y = l.apply(y);
    super(x, y, name);
    this.stack = layers;
  }
}

/**
 * A sequential model.
 *
 * @example
 * ```ts
 * const ae = lt.nn.sequential([
 *   lt.nn.dense(128, "relu"), lt.nn.dense(32, "relu"),
 *   lt.nn.dense(128, "relu"), lt.nn.dense(784, "sigmoid"),
 * ], { inputShape: [784] });
 * ```
 */
export function sequential(
  layers: Layer[],
  options: { inputShape?: Shape; name?: string } = {},
): Sequential {
  return new Sequential(layers, options);
}
