/**
 * Creating tensors: from host data, fills, copies.
 * @module
 */
import { type Runtime, runtime } from "../gpu/runtime.ts";
import { WG } from "../../shaders/common.ts";
import { fillKernel } from "../../shaders/fill.ts";
import { gradOps, record } from "../autograd/tape.ts";
import {
  bytesPer,
  checkShape,
  debug,
  type DType,
  empty,
  fmtShape,
  type HostArray,
  sizeOf,
  Storage,
  Tensor,
} from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";

function dtypeOf(data: HostArray | number[]): DType {
  if (data instanceof Float32Array || Array.isArray(data)) return "f32";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof Uint32Array) return "u32";
  if (data instanceof Uint8Array) return "u8";
  throw new TypeError(`tensor: unsupported data type ${Object.prototype.toString.call(data)}`);
}

/**
 * Uploads host data as a new tensor. The dtype follows the array type
 * (number[] and Float32Array → f32) unless given.
 *
 * @example
 * ```ts
 * const x = lt.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
 * const labels = lt.tensor(new Int32Array([0, 1]), [2]);
 * ```
 */
export function tensor(
  data: HostArray | number[],
  shape?: readonly number[],
  dtype?: DType,
): Tensor {
  const dt = dtype ?? dtypeOf(data);
  const sh = shape ?? [data.length];
  checkShape("tensor", sh);
  if (sizeOf(sh) !== data.length) {
    throw new Error(
      `tensor: shape ${fmtShape(sh)} needs ${sizeOf(sh)} values, got ${data.length}`,
    );
  }
  let host: HostArray;
  if (Array.isArray(data) || dtypeOf(data) !== dt) {
    const Ctor = { f32: Float32Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array }[dt];
    host = Ctor.from(data as ArrayLike<number>);
  } else host = data;
  const prev = debug.poison;
  debug.poison = false; // fully written below: no need to poison
  try {
    const t = empty(sh, dt, "tensor");
    runtime().write(t.storage().buffer, host);
    return t;
  } finally {
    debug.poison = prev;
  }
}

function bitsOf(value: number, dtype: DType): number {
  switch (dtype) {
    case "f32":
      return new Uint32Array(new Float32Array([value]).buffer)[0];
    case "i32":
      return (value | 0) >>> 0; // the two's-complement pattern, as a u32
    case "u32":
      return value >>> 0;
    case "u8":
      return ((value & 0xff) * 0x01010101) >>> 0;
  }
}

/** Writes `value` into every element of `t` in place (no autograd). */
export function fillInPlace(t: Tensor, value: number, bits?: number): Tensor {
  const words = Math.ceil(t.byteLength / 4);
  if (words === 0) return t;
  launchKernel(
    "fill",
    fillKernel({ elem: t.dtype === "u8" ? "u32" : t.dtype }),
    { out: t },
    { n: words, bits: bits ?? bitsOf(value, t.dtype) },
    Math.ceil(words / WG),
  );
  return t;
}

/**
 * A tensor with every element equal to `value`.
 *
 * @example
 * ```ts
 * const b = lt.full([10], 0.1);
 * ```
 */
export function full(shape: readonly number[], value: number, dtype: DType = "f32"): Tensor {
  if (typeof value !== "number" || (dtype !== "f32" && !Number.isInteger(value))) {
    throw new TypeError(
      `full: expected a ${dtype === "f32" ? "number" : "integer"} value, got ${value}`,
    );
  }
  const prev = debug.poison;
  debug.poison = false;
  try {
    return fillInPlace(empty(shape, dtype, "full"), value);
  } finally {
    debug.poison = prev;
  }
}

/** A tensor of zeros. @example `lt.zeros([3, 4])` */
export function zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
  return full(shape, 0, dtype);
}

/** A tensor of ones. @example `lt.ones([3, 4])` */
export function ones(shape: readonly number[], dtype: DType = "f32"): Tensor {
  return full(shape, 1, dtype);
}

/** A tensor of zeros shaped like `t`. */
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

/** A tensor of ones shaped like `t`. */
export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, t.dtype);
}

// Per runtime, a buffer holding 1s that lives as long as the runtime.
const unitStorage = new WeakMap<Runtime, Storage>();

/**
 * The seed `backward` gives a one-element loss: a tensor of `shape` over a
 * buffer of 1s the runtime keeps, written once, instead of a 1 filled every
 * step (a dispatch). It reads as a 1 and must never be written: gradient
 * rules do not write their incoming gradient (a caller's seed is handled
 * alike). Disposing it leaves the buffer alone.
 */
export function unitSeed(shape: readonly number[]): Tensor {
  if (sizeOf(shape) !== 1) {
    throw new Error(`backward: a unit seed has one element, not ${fmtShape(shape)}`);
  }
  const rt = runtime();
  let s = unitStorage.get(rt);
  if (!s) {
    // The cache's own reference keeps the buffer out of the pool for good.
    s = new Storage(rt.allocate(4, "unit seed"), 4, rt);
    rt.write(s.buffer, Float32Array.of(1));
    unitStorage.set(rt, s);
  }
  return new Tensor(shape, "f32", s.retain());
}

/**
 * A copy of `t` in new storage (differentiable: the gradient passes through).
 *
 * @example
 * ```ts
 * const snapshot = lt.clone(weights);
 * ```
 */
export function clone(t: Tensor): Tensor {
  const s = t.storage("clone");
  const prev = debug.poison;
  debug.poison = false;
  let out: Tensor;
  try {
    out = empty(t.shape, t.dtype, "clone");
  } finally {
    debug.poison = prev;
  }
  runtime().copy("clone", s.buffer, 0, out.storage().buffer, 0, Math.max(4, t.byteLength));
  return record(out, "clone", [t], (g) => [g]);
}

/** Copies `src` into `dst` in place (same size and dtype; no autograd). */
export function assign(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size || dst.dtype !== src.dtype) {
    throw new Error(
      `assign: expected ${fmtShape(dst.shape)} ${dst.dtype}, got ${
        fmtShape(src.shape)
      } ${src.dtype}`,
    );
  }
  runtime().copy(
    "assign",
    src.storage("assign").buffer,
    0,
    dst.storage("assign").buffer,
    0,
    Math.max(4, src.byteLength),
  );
}

/** Options of {@link copyInto}. */
export interface CopyIntoOptions {
  /** Element of `dst` where the copied elements land (default 0). */
  offset?: number;
  /** First element of `src` copied (default 0). */
  from?: number;
  /** Elements copied (default: the rest of `src` from `from`). */
  count?: number;
  /** The op named in errors, e.g. the caller's `loadWeights(model)` (default `copyInto`). */
  op?: string;
}

/**
 * Copies `count` elements of `src` from element `from` into `dst` from
 * element `offset` on (by default all of `src` to the start of `dst`), in
 * place (same dtype; no autograd): a buffer-to-buffer copy in the current
 * batch, no kernel. Fills a slot of a results buffer (several scalars read
 * back together), a block of rows of a larger output (predict's batches), a
 * whole parameter from an upload (loading weights), or takes a block of
 * rows out of a larger matrix (DEC's batch of the target distribution).
 *
 * @example
 * ```ts
 * copyInto(out, batch, { offset: 256 * 10 }); // out: [n, 10], batch: [b, 10]
 * copyInto(pb, p, { from: offset * k, count: size * k }); // rows offset.. of p [n, k]
 * ```
 */
export function copyInto(dst: Tensor, src: Tensor, options: CopyIntoOptions = {}): void {
  const { offset = 0, from = 0, op = "copyInto" } = options;
  const count = options.count ?? src.size - from;
  if (src.dtype !== dst.dtype) {
    throw new Error(`${op}: cannot copy ${src.dtype} into ${dst.dtype}`);
  }
  if (
    !Number.isInteger(from) || from < 0 || !Number.isInteger(count) || count < 0 ||
    from + count > src.size
  ) {
    throw new RangeError(
      `${op}: elements ${from}..${from + count - 1} are not all in ${fmtShape(src.shape)}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + count > dst.size) {
    throw new RangeError(
      `${op}: ${count} elements from offset ${offset} do not fit in ${fmtShape(dst.shape)}`,
    );
  }
  const per = bytesPer(dst.dtype);
  // Copies move whole 4-byte words: a u8 copy that started or ended inside a
  // word would overwrite the neighbouring bytes (reachable for u8 only).
  const bytes = count * per;
  if (
    (offset * per) % 4 !== 0 || (from * per) % 4 !== 0 ||
    (bytes % 4 !== 0 && (offset + count < dst.size || from + count < src.size))
  ) {
    throw new RangeError(
      `${op}: u8 elements ${offset}..${offset + count - 1} are not whole 4-byte words`,
    );
  }
  runtime().copy(
    op,
    src.storage(op).buffer,
    from * per,
    dst.storage(op).buffer,
    offset * per,
    bytes,
  );
}

debug.poisonHook = (t: Tensor) => {
  fillInPlace(t, NaN, t.dtype === "f32" ? 0x7fc00000 : 0xdeadbeef);
};

gradOps.unitSeed = unitSeed;
gradOps.copy = (t) => {
  const out = clone(t);
  out.node = null;
  out.requiresGrad = false;
  return out;
};

export { Tensor };
