/**
 * Tensor: a shape, a dtype and a handle on GPU storage.
 *
 * Tensors are contiguous and row-major. Several tensors may share one storage
 * (reshape views); the storage returns its buffer to the pool when the last
 * of them is disposed. `dispose()` and `Symbol.dispose` (so `using` works)
 * free eagerly; {@link tidy} frees everything a block created but did not
 * return. {@link memory} counts what is live, like `tf.memory()`.
 *
 * @module
 */
import { alignSize, type Runtime, runtime } from "../gpu/runtime.ts";
import { track, untrack } from "./scope.ts";

/** Element types. `u8` is storage-only (datasets); kernels read it packed four to a u32. */
export type DType = "f32" | "i32" | "u32" | "u8";

/** The typed array that holds a dtype's values on the host. */
export type TypedArrayFor<D extends DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : D extends "u32" ? Uint32Array
  : Uint8Array;

/** Any host array a tensor can be made from or read into. */
export type HostArray = Float32Array | Int32Array | Uint32Array | Uint8Array;

/** Bytes per element. */
export function bytesPer(dtype: DType): number {
  return dtype === "u8" ? 1 : 4;
}

/** Shared GPU storage of one or more tensors (views). */
export class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number, readonly rt: Runtime) {}
  retain(): this {
    this.refs++;
    return this;
  }
  releaseRef(): void {
    if (--this.refs === 0) this.rt.release(this.buffer);
  }
}

/**
 * An autograd record: the inputs of the op that made a tensor and the rule
 * that maps the output's gradient to theirs (null where an input needs none).
 */
export interface GradNode {
  op: string;
  inputs: Tensor[];
  backward: (grad: Tensor) => (Tensor | null)[];
  /**
   * The inputs' gradients for an output gradient of exactly 1, when the op
   * has them at hand (a loss that wrote its gradient while computing
   * itself), else null. `backward` from this node without a seed uses it
   * instead of filling a 1 and running `backward`.
   */
  unit?: () => (Tensor | null)[] | null;
}

let liveTensors = 0;
let liveBytes = 0;
let nextId = 1;

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape the way error messages show it: `[32, 784]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Throws unless `shape` is a list of non-negative integers. */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(
      `${op}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
}

/**
 * Thrown when a disposed tensor's data is needed. Carries the tensor, so
 * callers that know more (autograd) can say where it came from and how to
 * keep it.
 */
export class DisposedTensorError extends Error {
  constructor(op: string, readonly tensor: Tensor) {
    super(`${op}: tensor ${fmtShape(tensor.shape)} ${tensor.dtype} was already disposed`);
    this.name = "DisposedTensorError";
  }
}

/** A GPU tensor. Create with `tensor()`, `zeros()`, `full()` or from ops. */
export class Tensor {
  /** Unique id (debugging, graph ordering). */
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Whether gradients flow to this tensor (parameters, and results of ops on them). */
  requiresGrad = false;
  /** Accumulated gradient, for tensors that require grad and are leaves. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded for autograd. */
  node: GradNode | null = null;
  /** Optional name (parameters), used in messages and when saving. */
  name?: string;
  #storage: Storage | null;

  constructor(shape: readonly number[], dtype: DType, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.#storage = storage;
    liveTensors++;
    liveBytes += this.byteLength;
    track(this);
  }

  /** Bytes of data (unpadded). */
  get byteLength(): number {
    return this.size * bytesPer(this.dtype);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True after `dispose()`. */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** The storage; throws if the tensor was disposed. */
  storage(op = "tensor"): Storage {
    if (!this.#storage) throw new DisposedTensorError(op, this);
    return this.#storage;
  }

  /** Binding for kernels: the buffer and this tensor's byte size (at least 4). */
  binding(op = "tensor"): { buffer: GPUBuffer; size: number } {
    return { buffer: this.storage(op).buffer, size: Math.max(4, alignSize(this.byteLength)) };
  }

  /**
   * Frees the tensor's storage (when no view shares it). Idempotent. The
   * autograd record stays: a loss returned from `tidy` still reaches the
   * parameters through its freed intermediates, and `backward` names
   * the freed tensor if a gradient rule needs its data.
   */
  dispose(): void {
    if (!this.#storage) return;
    liveTensors--;
    liveBytes -= this.byteLength;
    this.#storage.releaseRef();
    this.#storage = null;
    untrack(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A tensor of another shape over the same storage (no copy). */
  view(shape: readonly number[], op = "reshape"): Tensor {
    checkShape(op, shape);
    if (sizeOf(shape) !== this.size) {
      throw new Error(
        `${op}: cannot view ${fmtShape(this.shape)} (${this.size} elements) as ${
          fmtShape(shape)
        } (${sizeOf(shape)} elements)`,
      );
    }
    return new Tensor(shape, this.dtype, this.storage(op).retain());
  }

  /**
   * Reads the values back to the host (waits for the GPU).
   *
   * @example
   * ```ts
   * const t = lt.tensor([1, 2, 3], [3]);
   * console.log(await t.toArray()); // Float32Array [1, 2, 3]
   * ```
   */
  async toArray(): Promise<HostArray> {
    const s = this.storage("toArray");
    const bytes = await s.rt.read(s.buffer, this.byteLength);
    switch (this.dtype) {
      case "f32":
        return new Float32Array(bytes);
      case "i32":
        return new Int32Array(bytes);
      case "u32":
        return new Uint32Array(bytes);
      case "u8":
        return new Uint8Array(bytes);
    }
  }

  /** Reads a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new Error(`item: expected a tensor of 1 element, got ${fmtShape(this.shape)}`);
    }
    return (await this.toArray())[0];
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.disposed ? ", disposed" : ""})`;
  }
}

/** Allocates an uninitialised tensor (op outputs). Poisoned first when {@link debug}.poison is set. */
export function empty(shape: readonly number[], dtype: DType = "f32", op = "empty"): Tensor {
  checkShape(op, shape);
  const rt = runtime();
  const bytes = Math.max(4, alignSize(sizeOf(shape) * bytesPer(dtype)));
  const max = rt.limits.maxStorageBufferBindingSize;
  if (bytes > max) {
    throw new RangeError(
      `${op}: tensor ${fmtShape(shape)} ${dtype} needs ${bytes} bytes, more than the adapter's ` +
        `maxStorageBufferBindingSize (${max})`,
    );
  }
  const t = new Tensor(shape, dtype, new Storage(rt.allocate(bytes), bytes, rt));
  if (debug.poison) debug.poisonHook(t);
  return t;
}

/** Debug switches. `poison` fills every new op output with NaN (or 0xDEADBEEF) before the op runs. */
export const debug: { poison: boolean; poisonHook: (t: Tensor) => void } = {
  poison: false,
  poisonHook: () => {},
};

/** Live tensor and byte counts, and the pool's GPU footprint. */
export interface MemoryInfo {
  /** Tensors created and not yet disposed. */
  tensors: number;
  /** Bytes of live tensor data (views counted once per view). */
  bytes: number;
  /** GPU bytes held by the buffer pool (in use + free). */
  poolBytes: number;
  /** Highest pool footprint seen. */
  peakBytes: number;
}

/**
 * Live tensor / byte counts.
 *
 * @example
 * ```ts
 * const before = lt.memory().tensors;
 * lt.tidy(() => lt.add(a, b));
 * console.log(lt.memory().tensors === before); // true
 * ```
 */
export function memory(): MemoryInfo {
  const rt = runtime();
  return {
    tensors: liveTensors,
    bytes: liveBytes,
    poolBytes: rt.pool.inUseBytes + rt.pool.freeBytes,
    peakBytes: rt.pool.peakBytes,
  };
}
