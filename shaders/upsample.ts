/**
 * 2-D upsampling of NHWC activations by integer factors (Keras UpSampling2D),
 * forward and backward, nearest or bilinear.
 *
 * `nearest` repeats each pixel SH×SW times (Keras's default). `bilinear` is
 * TensorFlow's `tf.image.resize(method="bilinear")` as Keras's
 * UpSampling2D(interpolation="bilinear") uses it: half-pixel centers, so
 * output row i samples input row src = (i + 0.5) / SH − 0.5 = (2i + 1 − SH) /
 * (2·SH), interpolating between rows max(floor(src), 0) and min(ceil(src),
 * H − 1) with weight src − floor(src) (TensorFlow's
 * `compute_interpolation_weights`); likewise for columns.
 *
 * Forward: `nearest`, one thread per input element writing its SH×SW block
 * (one load and one index decomposition per input, not per output: on
 * lavapipe 3× faster than a thread per output element); `bilinear`, one
 * thread per output element. Backward, as a gather (no atomics): one thread
 * per input element sums the output gradients that read it — its SH×SW
 * block for `nearest`; for `bilinear`, each output row within the few that
 * can touch it ((y − 1)·SH ..= (y + 2)·SH), weighted by the same
 * interpolation weights recomputed from the forward formula. Nearest with
 * compiled-in factors (`size`, up to 4×4 from the op) unrolls the block. Index
 * decompositions use the float-reciprocal `divmod` of the conv kernels (CPU
 * adapters scalarise integer division by a run-time value per lane).
 *
 * Dispatch: ceil(n / WG) workgroups. Declared buffers: X or G (read), OUT or
 * DX (write). Uniforms: n (threads: input elements, except output elements for
 * the bilinear forward), H, W, C, SH, SW, HO, WO.
 *
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";
import { DIVMOD } from "./conv2d.ts";

/** Specialisation of the upsampling family. */
export interface UpsampleSpec {
  mode: "nearest" | "bilinear";
  dir: "fwd" | "bwd";
  /** nearest only: the factors [sh, sw] compiled in, for an unrolled block. */
  size?: [number, number];
}

/** WGSL: the offsets of a compiled-in sh×sw block from its first output element. */
function blockOffsets(sh: number, sw: number): string[] {
  const out: string[] = [];
  for (let dy = 0; dy < sh; dy++) {
    for (let dx = 0; dx < sw; dx++) out.push(`(${dy} * u.WO + ${dx}) * u.C`);
  }
  return out;
}

/** WGSL: the interpolation of output index i along an axis of `len` inputs, factor s. */
const WEIGHTS = /* wgsl */ `
struct Lerp { lo: i32, hi: i32, t: f32 }
fn lerp_of(i: i32, s: i32, len: i32) -> Lerp {
  let src = f32(2 * i + 1 - s) / f32(2 * s);
  let f = floor(src);
  return Lerp(max(i32(f), 0), min(i32(ceil(src)), len - 1), src - f);
}
// Weight of input j in output i's interpolation.
fn weight(l: Lerp, j: i32) -> f32 {
  return select(0.0, 1.0 - l.t, l.lo == j) + select(0.0, l.t, l.hi == j);
}`;

/** The upsampling family's uniform fields (see the module comment). */
const FIELDS = {
  n: "u32",
  H: "i32",
  W: "i32",
  C: "i32",
  SH: "i32",
  SW: "i32",
  HO: "i32",
  WO: "i32",
} as const;

/**
 * The upsampling kernel for a spec.
 *
 * @example
 * ```ts
 * const k = upsampleKernel({ mode: "nearest", dir: "fwd" });
 * ```
 */
export const upsampleKernel: (spec: UpsampleSpec) => DeclaredKernel = family(
  "upsample2d",
  (spec: UpsampleSpec): DeclaredKernel => {
    const { mode, dir } = spec;
    const size = mode === "nearest" ? spec.size : undefined;
    const key = `upsample2d/${mode}/${dir}${size ? `/${size.join("x")}` : ""}`;
    const fwd = dir === "fwd";
    const block = "let base = ((n * u.HO + y * u.SH) * u.WO + x * u.SW) * u.C + c;";
    let body: string;
    if (size && fwd) {
      body = `let v = X[i];\n  ${block}\n` +
        blockOffsets(size[0], size[1]).map((o) => `  OUT[base + ${o}] = v;`).join("\n");
    } else if (size) {
      body = `${block}\n  DX[i] = ` +
        blockOffsets(size[0], size[1]).map((o) => `G[base + ${o}]`).join(" + ") + ";";
    } else if (fwd && mode === "nearest") {
      body = /* wgsl */ `
  let v = X[i];
  for (var dy = 0; dy < u.SH; dy++) {
    for (var dx = 0; dx < u.SW; dx++) {
      OUT[((n * u.HO + y * u.SH + dy) * u.WO + x * u.SW + dx) * u.C + c] = v;
    }
  }`;
    } else if (fwd) {
      body = /* wgsl */ `
  let ly = lerp_of(y, u.SH, u.H);
  let lx = lerp_of(x, u.SW, u.W);
  let b = n * u.H;
  let top = at(b + ly.lo, lx.lo, c) * (1.0 - lx.t) + at(b + ly.lo, lx.hi, c) * lx.t;
  let bottom = at(b + ly.hi, lx.lo, c) * (1.0 - lx.t) + at(b + ly.hi, lx.hi, c) * lx.t;
  OUT[i] = top * (1.0 - ly.t) + bottom * ly.t;`;
    } else if (mode === "nearest") {
      body = /* wgsl */ `
  var s = 0.0;
  for (var dy = 0; dy < u.SH; dy++) {
    for (var dx = 0; dx < u.SW; dx++) {
      s += G[((n * u.HO + y * u.SH + dy) * u.WO + x * u.SW + dx) * u.C + c];
    }
  }
  DX[i] = s;`;
    } else {
      body = /* wgsl */ `
  var s = 0.0;
  for (var oy = max((y - 1) * u.SH, 0); oy < min((y + 2) * u.SH + 1, u.HO); oy++) {
    let wy = weight(lerp_of(oy, u.SH, u.H), y);
    if (wy == 0.0) { continue; }
    for (var ox = max((x - 1) * u.SW, 0); ox < min((x + 2) * u.SW + 1, u.WO); ox++) {
      let wx = weight(lerp_of(ox, u.SW, u.W), x);
      s += wy * wx * G[((n * u.HO + oy) * u.WO + ox) * u.C + c];
    }
  }
  DX[i] = s;`;
    }
    // Threads walk the outputs (bilinear fwd) or the inputs (the rest).
    const [rows, cols] = fwd && mode === "bilinear" ? ["u.HO", "u.WO"] : ["u.H", "u.W"];
    return declare({
      key,
      inputs: { [fwd ? "X" : "G"]: "f32" },
      outputs: { [fwd ? "OUT" : "DX"]: "f32" },
      uniforms: FIELDS,
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
${mode === "bilinear" ? WEIGHTS : ""}
${
        fwd && mode === "bilinear"
          ? "fn at(row: i32, x: i32, c: i32) -> f32 { return X[(row * u.W + x) * u.C + c]; }"
          : ""
      }
${DIVMOD}`,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  let qc = divmod(i, u32(u.C));
  let qx = divmod(qc.x, u32(${cols}));
  let qy = divmod(qx.x, u32(${rows}));
  let c = i32(qc.y);
  let x = i32(qx.y);
  let y = i32(qy.y);
  let n = i32(qy.x);
  ${body}`,
    });
  },
);
