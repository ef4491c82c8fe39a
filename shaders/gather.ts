/**
 * Batch gathers for GPU-resident datasets: rows picked by an index buffer,
 * normalised, optionally made noisy, written as an f32 batch; and the
 * matching labels as i32 class ids or one-hot f32 rows.
 *
 * A dataset's samples live in up to thousands of storage buffers ("shards",
 * each at most one storage binding and a whole number of samples; MNIST as
 * u8 is one shard, as f32 two on a 128 MiB-binding adapter). WGSL cannot
 * index an array of bindings, so a kernel binds a group of up to
 * {@link MAX_SHARDS_PER_DISPATCH} shards and picks one with a `switch`;
 * datasets with more shards dispatch once per group, each dispatch writing
 * the rows that live in its group.
 *
 * Row `r` of the batch is sample `idx[offset + r]` of the dataset; a subset
 * view maps that through `map` (parent sample ids), a slice view adds `base`.
 * An index outside `[0, n)` makes the row NaN (labels −1 / NaN), so a bad
 * index shows up in the output instead of reading another sample.
 *
 * Values: `u8 · scale + shift` (or `f32 · scale + shift`), then with noise
 * `+ std · z`, clipped to `[lo, hi]` if asked. `z` is a standard normal from
 * Philox4x32-10 ({@link PHILOX_WGSL}): thread `t` draws block
 * `philox([t, step, NOISE_STREAM, 0], [seed_lo, seed_hi])` and Box–Muller
 * turns its lanes (x, y) and (z, w) into the noise of its four elements (the
 * transform of the `random` family's normals), so each batch `step` gets
 * fresh noise and a run is reproducible from the seed.
 *
 * Dispatch (features): thread `t` writes features `4c .. 4c+3` (fewer at the
 * row's end) of batch row `r`, where `t = r · quads + c` and
 * `quads = ceil(features / 4)`: one index read per thread, and for u8 one or
 * two word loads. ceil(count · quads / WG) workgroups. Bindings: idx (read),
 * [map (read)], shards s0..s(k−1) (read), out (write) [, rows_out (write)]. Uniform:
 * {@link GATHER_FIELDS}, filled by src/ops/gather.ts.
 *
 * Dispatch (labels): ceil(count · (oneHot ? classes : 1) / WG) workgroups.
 * Bindings: idx, [map], labels (i32, read), out (write). Uniform: {@link GATHER_FIELDS}.
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";
import { PHILOX_WGSL } from "./random.ts";

/** Most shards one gather dispatch binds (plus idx, map and out: 7 of the 8 guaranteed bindings). */
export const MAX_SHARDS_PER_DISPATCH = 4;

/** Third Philox counter word of dataset noise ("nois"), so it differs from other draws of one seed. */
export const NOISE_STREAM = 0x6e6f6973;

/** Specialisation of the feature gather. */
export interface GatherSpec {
  /** Element type of the stored samples (u8 is read packed four to a u32). */
  source: "u8" | "f32";
  /** Shards bound in one dispatch, 1..{@link MAX_SHARDS_PER_DISPATCH}. */
  shards: number;
  /** Indices go through a subset map. */
  mapped: boolean;
  /** Add Gaussian noise. */
  noise: boolean;
  /** Clamp to [lo, hi] after the noise. */
  clip: boolean;
  /**
   * Also copy the batch's indices `idx[offset + r]` into `rows_out[r]` (the
   * first group's dispatch; a compiled training step hands them on without a
   * copy command of its own).
   */
  rowsOut?: boolean;
}

/**
 * The uniform fields of both gather families, in struct order: rows `count`
 * of `features` values (classes for one-hot labels) from index row `offset`;
 * the view's `n` samples start at storage sample `base`; `rows` samples per
 * shard, `first` the first shard of this dispatch's group, `quads` =
 * ceil(features / 4); values `· scale + shift`, noise `sigma`, clip
 * `[lo, hi]`, the 64-bit noise seed and batch `step`; `bad` the bits written
 * for a bad index (NaN).
 */
export const GATHER_FIELDS = {
  count: "u32",
  features: "u32",
  offset: "u32",
  n: "u32",
  base: "u32",
  rows: "u32",
  first: "u32",
  quads: "u32",
  scale: "f32",
  shift: "f32",
  sigma: "f32",
  lo: "f32",
  hi: "f32",
  seed_lo: "u32",
  seed_hi: "u32",
  step: "u32",
  bad: "u32",
} as const;

/** The buffer name of the `s`-th shard bound in one feature gather dispatch. */
export function shardBuffer(s: number): string {
  return `s${s}`;
}

/** Buffers shared by both families: idx, then the subset map if any. */
function indexInputs(mapped: boolean): Record<string, Elem> {
  return mapped ? { idx: "i32", map: "i32" } : { idx: "i32" };
}

/** The dataset sample of batch row `r`, or -1 when its index is outside [0, n). */
function sampleOf(mapped: boolean): string {
  return /* wgsl */ `
fn sample_of(r: u32) -> i32 {
  let p = idx[u.offset + r];
  if (p < 0 || u32(p) >= u.n) { return -1; }
  return ${mapped ? "map[p]" : "i32(u.base + u32(p))"};
}`;
}

/** WGSL of `rowsOut`: the first group's dispatch copies each row's index once. */
const COPY_ROW = "  if (f0 == 0u && u.first == 0u) { rows_out[row] = idx[u.offset + row]; }\n";

/** The feature gather kernel for a spec. */
export const gatherKernel: (spec: GatherSpec) => DeclaredKernel = family(
  "gather",
  (spec: GatherSpec) => {
    const { source, shards, mapped, noise, clip, rowsOut } = spec;
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS_PER_DISPATCH) {
      throw new RangeError(`gather: shards per dispatch must be 1..4, got ${shards}`);
    }
    const elem = source === "u8" ? "u32" : "f32";
    const inputs = indexInputs(mapped);
    for (let s = 0; s < shards; s++) inputs[shardBuffer(s)] = elem;
    // One `switch` arm per bound shard (WGSL cannot index an array of bindings).
    const perShard = (body: (name: string) => string) =>
      Array.from(
        { length: shards },
        (_, s) => `${s === shards - 1 ? "default" : `case ${s}u`} { ${body(shardBuffer(s))} }`,
      ).join("\n    ");
    // u8: element a of a shard is byte (a & 3) of word a >> 2; four elements
    // starting at a span at most two words.
    const load = source === "u8"
      ? /* wgsl */ `
fn word(s: u32, w: u32) -> u32 {
  switch s {
    ${perShard((x) => `return ${x}[w];`)}
  }
}
fn load4(s: u32, a: u32, width: u32) -> vec4f {
  let shift = (a & 3u) * 8u;
  var bits = word(s, a >> 2u);
  if (shift != 0u) {
    bits = bits >> shift;
    if ((a & 3u) + width > 4u) { bits = bits | (word(s, (a >> 2u) + 1u) << (32u - shift)); }
  }
  return vec4f(vec4u(bits, bits >> 8u, bits >> 16u, bits >> 24u) & vec4u(0xffu));
}`
      : /* wgsl */ `
fn load4(s: u32, a: u32, width: u32) -> vec4f {
  var v = vec4f(0.0);
  switch s {
    ${perShard((x) => `for (var j = 0u; j < width; j++) { v[j] = ${x}[a + j]; }`)}
  }
  return v;
}`;
    return declare({
      key: `gather/${source}/s${shards}${mapped ? "/map" : ""}${noise ? "/noise" : ""}${
        clip ? "/clip" : ""
      }${rowsOut ? "/rows" : ""}`,
      inputs,
      outputs: rowsOut ? { out: "f32", rows_out: "i32" } : { out: "f32" },
      uniforms: GATHER_FIELDS,
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
const SHARDS = ${shards}u;
const NOISE_STREAM = ${NOISE_STREAM}u;
${noise ? PHILOX_WGSL : ""}
${sampleOf(mapped)}
${load}`,
      main: /* wgsl */ `
  // Thread i writes features f0 .. f0 + width - 1 of one batch row.
  let row = i / u.quads;
  if (row >= u.count) { return; }
  let f0 = (i - row * u.quads) * 4u;
  let width = min(4u, u.features - f0);
  let e0 = row * u.features + f0;
${rowsOut ? COPY_ROW : ""}  let sample = sample_of(row);
  if (sample < 0) {
    // Every group dispatch sees the bad index; the first one marks the row.
    if (u.first == 0u) {
      for (var j = 0u; j < width; j++) { out[e0 + j] = bitcast<f32>(u.bad); }
    }
    return;
  }
  let shard = u32(sample) / u.rows;
  if (shard < u.first || shard >= u.first + SHARDS) { return; }
  let a = (u32(sample) - shard * u.rows) * u.features + f0;
  var v = load4(shard - u.first, a, width) * u.scale + u.shift;
${
        noise
          ? `  let r = philox(vec4u(i, u.step, NOISE_STREAM, 0u), vec2u(u.seed_lo, u.seed_hi));
  v += u.sigma * vec4f(box_muller(r.x, r.y), box_muller(r.z, r.w));`
          : ""
      }
${clip ? "  v = clamp(v, vec4f(u.lo), vec4f(u.hi));" : ""}
  for (var j = 0u; j < width; j++) { out[e0 + j] = v[j]; }`,
    });
  },
);

/** Specialisation of the label gather. */
export interface GatherLabelsSpec {
  /** Indices go through a subset map. */
  mapped: boolean;
  /** Write one-hot f32 rows `[count, classes]` instead of i32 class ids `[count]`. */
  oneHot: boolean;
}

/** The label gather kernel for a spec. Uniform: the feature gather's block, `features` = classes. */
export const gatherLabelsKernel: (spec: GatherLabelsSpec) => DeclaredKernel = family(
  "gather_labels",
  (spec: GatherLabelsSpec) => {
    const { mapped, oneHot } = spec;
    return declare({
      key: `gather_labels${mapped ? "/map" : ""}${oneHot ? "/onehot" : ""}`,
      inputs: { ...indexInputs(mapped), labels: "i32" },
      outputs: { out: oneHot ? "f32" : "i32" },
      uniforms: GATHER_FIELDS,
      entry: ENTRY_1D,
      helpers: sampleOf(mapped),
      main: /* wgsl */ `
  if (i >= u.count * u.features) { return; }
${
        oneHot
          ? `  let row = i / u.features;
  let c = i - row * u.features;
  let sample = sample_of(row);
  if (sample < 0) { out[i] = bitcast<f32>(u.bad); return; }
  out[i] = select(0.0, 1.0, u32(labels[sample]) == c);`
          : `  let sample = sample_of(i);
  out[i] = select(-1, labels[max(sample, 0)], sample >= 0);`
      }`,
    });
  },
);
