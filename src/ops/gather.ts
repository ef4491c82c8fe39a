/**
 * Batch gathers of GPU-resident datasets as ops: rows picked through an
 * index buffer from sharded sample storage into an f32 batch (normalised,
 * noisy when asked), and the matching labels. The kernels and the uniform
 * layout are shaders/gather.ts; src/data/dataset.ts owns the storage, views
 * and validation and calls these to record the dispatches.
 *
 * @module
 */
import { WG } from "../../shaders/common.ts";
import {
  gatherKernel,
  gatherLabelsKernel,
  MAX_SHARDS_PER_DISPATCH,
  shardBuffer,
} from "../../shaders/gather.ts";
import { empty, Tensor } from "../tensor/tensor.ts";
import { launchKernel } from "./kernel_call.ts";

/** The bits a bad index writes into a batch row: a quiet NaN. */
const NAN_BITS = 0x7fc00000;
/** 2^32: splits the 64-bit noise seed into two u32 words. */
const TWO_32 = 4294967296;

/**
 * Where a dataset (or a view of one) keeps its samples and how a batch row's
 * index reaches one (shaders/gather.ts `sample_of`).
 */
export interface SampleStorage {
  /** Element type of the stored samples. */
  source: "u8" | "f32";
  /** Shards of `rows` samples each, grouped {@link MAX_SHARDS_PER_DISPATCH} per dispatch. */
  groups: readonly (readonly Tensor[])[];
  rows: number;
  /** Samples in the view: an index outside `[0, n)` makes a NaN row (label −1). */
  n: number;
  /** Slice views: the storage sample of the view's sample 0. */
  base: number;
  /** Subset views: the storage sample of each view sample (i32), else null. */
  map: Tensor | null;
}

/** Rows `offset .. offset + count − 1` of an i32 index buffer: the samples of one batch. */
export interface IndexRange {
  indices: Tensor;
  offset: number;
  count: number;
}

/**
 * Throws, naming `op`, unless `range` is a live i32 index tensor with rows
 * `offset .. offset + count − 1` inside it (count ≥ 1): the check of every
 * gather's index range, before any GPU work.
 *
 * @example
 * ```ts
 * checkIndexRange("dataset.gather", { indices, offset: 0, count: 256 });
 * ```
 */
export function checkIndexRange(op: string, { indices, offset, count }: IndexRange): void {
  if (!(indices instanceof Tensor) || indices.dtype !== "i32" || indices.disposed) {
    throw new TypeError(
      `${op}: expected indices as a live i32 tensor, got ${
        indices instanceof Tensor ? indices.toString() : typeof indices
      }`,
    );
  }
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`${op}: expected a batch size >= 1, got ${count}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + count > indices.size) {
    throw new RangeError(
      `${op}: rows ${offset}..${offset + count - 1} (offset ${offset}, count ${count}) are ` +
        `outside the ${indices.size} indices`,
    );
  }
}

/** How gathered values are transformed: `value · scale + shift`, then the noise if any. */
export interface GatherTransform {
  scale: number;
  shift: number;
  /** Gaussian noise (standard deviation, optional clamp, 64-bit seed), or null. */
  noise: { std: number; clip: readonly [number, number] | null; seed: number } | null;
  /** The batch counter of the noise stream (fresh noise per step). */
  step: number;
}

/**
 * The uniform fields both gather families share, without the transform:
 * `count` rows of `features` values each (classes for one-hot labels).
 */
function indexUniforms(
  storage: SampleStorage,
  range: IndexRange,
  features: number,
  first: number,
) {
  return {
    count: range.count,
    features,
    offset: range.offset,
    n: storage.n,
    base: storage.base,
    rows: storage.rows,
    first,
    quads: Math.ceil(features / 4),
    scale: 0,
    shift: 0,
    sigma: 0,
    lo: 0,
    hi: 0,
    seed_lo: 0,
    seed_hi: 0,
    step: 0,
    bad: NAN_BITS,
  };
}

/**
 * Records the gather of the samples of `range` into `out` (f32
 * `[count, ...sampleShape]`, whose row length gives the values per sample),
 * one dispatch per shard group, each writing the rows stored in its group.
 * Ranges and shapes are the caller's to check. At each replay of a captured
 * step (src/gpu/capture.ts), `live.stepAt` gives the noise counter again and
 * `live.offsetAt` the index row to start from (checked then against the
 * index buffer); `live.rowsOut` (i32, ≥ count) receives the batch's indices.
 *
 * @example
 * ```ts
 * gatherSamples("dataset.gather", storage, { indices, offset: 0, count: 256 }, out,
 *   { scale: 1 / 255, shift: 0, noise: null, step: 0 });
 * ```
 */
export function gatherSamples(
  op: string,
  storage: SampleStorage,
  range: IndexRange,
  out: Tensor,
  transform: GatherTransform,
  live: { stepAt?: () => number; offsetAt?: () => number; rowsOut?: Tensor } = {},
): void {
  const { stepAt, offsetAt, rowsOut } = live;
  const offsetNow = () => {
    const offset = offsetAt!();
    checkIndexRange(op, { ...range, offset });
    return offset;
  };
  const { noise } = transform;
  const features = out.size / range.count;
  const workgroups = Math.ceil((range.count * Math.ceil(features / 4)) / WG);
  const head: Record<string, Tensor> = storage.map
    ? { idx: range.indices, map: storage.map }
    : { idx: range.indices };
  const [lo, hi] = noise?.clip ?? [0, 0];
  for (let g = 0; g < storage.groups.length; g++) {
    const group = storage.groups[g];
    const withRows = rowsOut !== undefined && g === 0;
    const kernel = gatherKernel({
      source: storage.source,
      shards: group.length,
      mapped: storage.map !== null,
      noise: noise !== null,
      clip: noise !== null && noise.clip !== null,
      rowsOut: withRows,
    });
    const u = (step: number, offset: number) => ({
      ...indexUniforms(storage, { ...range, offset }, features, g * MAX_SHARDS_PER_DISPATCH),
      scale: transform.scale,
      shift: transform.shift,
      sigma: noise?.std ?? 0,
      lo,
      hi,
      seed_lo: noise ? noise.seed % TWO_32 : 0,
      seed_hi: noise ? Math.floor(noise.seed / TWO_32) : 0,
      step: step % TWO_32, // a 32-bit Philox counter word
    });
    const buffers: Record<string, Tensor> = withRows ? { ...head, out, rows_out: rowsOut } : {
      ...head,
      out,
    };
    group.forEach((t, s) => buffers[shardBuffer(s)] = t);
    const refresh = stepAt || offsetAt
      ? () => u(stepAt ? stepAt() : transform.step, offsetAt ? offsetNow() : range.offset)
      : undefined;
    launchKernel(op, kernel, buffers, u(transform.step, range.offset), workgroups, refresh);
  }
}

/**
 * Records the gather of the labels of `range` from `labels` (i32, one per
 * storage sample) into `out`: i32 ids `[count]`, or with `oneHot` f32 rows
 * `[count, classes]` built in the kernel. Ranges and shapes are the caller's
 * to check.
 *
 * @example
 * ```ts
 * gatherLabels("dataset.gatherLabels", storage, labels, { indices, offset: 0, count: 256 },
 *   out, true); // out: f32 [256, 10]
 * ```
 */
export function gatherLabels(
  op: string,
  storage: SampleStorage,
  labels: Tensor,
  range: IndexRange,
  out: Tensor,
  oneHot: boolean,
): void {
  const width = out.size / range.count;
  const buffers: Record<string, Tensor> = storage.map
    ? { idx: range.indices, map: storage.map, labels, out }
    : { idx: range.indices, labels, out };
  launchKernel(
    op,
    gatherLabelsKernel({ mapped: storage.map !== null, oneHot }),
    buffers,
    indexUniforms(storage, range, width, 0),
    Math.ceil((range.count * width) / WG),
  );
}

/**
 * Rows of an f32 matrix `table` `[n, ...]` picked by `range` (rows
 * `range.offset ..` of an i32 index buffer) into a new `[count, ...]`
 * tensor: the gather kernel over the matrix as one shard. An index outside
 * `[0, n)` makes a NaN row. DEC's step takes its batch's rows of the target
 * distribution this way, with the batch's own indices, so every step
 * records the same commands (src/gpu/capture.ts).
 *
 * @example
 * ```ts
 * const pb = gatherRows("DEC.fit", p, { indices: rows, offset: 0, count: 256 }); // p: [n, 10]
 * ```
 */
export function gatherRows(op: string, table: Tensor, range: IndexRange): Tensor {
  if (table.dtype !== "f32" || table.shape.length < 1) {
    throw new TypeError(`${op}: expected an f32 table [n, ...], got ${table.toString()}`);
  }
  checkIndexRange(op, range);
  const n = table.shape[0];
  const out = empty([range.count, ...table.shape.slice(1)], "f32", op);
  gatherSamples(
    op,
    { source: "f32", groups: [[table]], rows: n, n, base: 0, map: null },
    range,
    out,
    { scale: 1, shift: 0, noise: null, step: 0 },
  );
  return out;
}
