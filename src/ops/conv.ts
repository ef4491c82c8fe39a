/**
 * Convolutions: `conv2d` (Keras Conv2D) and `conv2dTranspose` (Keras
 * Conv2DTranspose), each with a fused bias + activation and its gradient rule.
 *
 * Layouts: activations are NHWC `[batch, height, width, channels]`; a
 * `conv2d` kernel is HWIO `[kh, kw, inC, outC]` and a `conv2dTranspose`
 * kernel is `[kh, kw, outC, inC]`, both exactly as Keras stores them (so
 * Keras weights load unchanged). Padding follows Keras/TensorFlow: `valid`
 * uses no padding; `same` gives ceil(size / stride) outputs and pads
 * max((out − 1)·s + (k − 1)·d + 1 − size, 0) in total, the odd one on the
 * bottom/right.
 *
 * All products run on one implicit-GEMM kernel family
 * (`shaders/conv2d.ts`): conv2d's forward is its `fwd` mode, its input
 * gradient the `dx` mode (a transposed convolution), its kernel and bias
 * gradients one `dw` product. conv2dTranspose is the same three products with
 * roles swapped: its forward is `dx`, its input gradient `fwd`, its kernel
 * gradient `dw`; its bias gradient (on the side no product reduces over) is
 * a channel-sum kernel.
 *
 * @module
 */
import { type Activation, ACTIVATION_SAVES, isActivation } from "../../shaders/activations.ts";
import {
  conv2dColumnSumKernel,
  conv2dGemmKernel,
  conv2dRowsKernel,
  conv2dSplitSumKernel,
  CONV_COLSUM_COLS,
  CONV_COLSUM_ROWS,
  type ConvGemmMode,
  convGemmN,
  type ConvGemmSpec,
  type ConvGeometry,
  type ConvRowsSpec,
  type ConvTile,
  convTileShape,
} from "../../shaders/conv2d.ts";
import { WG } from "../../shaders/common.ts";
import { record } from "../autograd/tape.ts";
import { runtime } from "../gpu/runtime.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { activationGrad, DEFAULT_ALPHA } from "./activations.ts";
import { zeros } from "./creation.ts";
import { launchKernel } from "./kernel_call.ts";
import { convPrefold, convRowRuns, convSplits, convTile } from "./tuning.ts";
import { unaryRaw } from "./unary.ts";

/** Keras padding modes. */
export type Padding = "same" | "valid";

/** A size given once for both spatial axes, or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Options of {@link conv2d} and {@link conv2dTranspose}. */
export interface Conv2DOptions {
  /** Strides [sh, sw] (default 1). */
  strides?: Size2;
  /** `"valid"` (default, as Keras) or `"same"`. */
  padding?: Padding;
  /** Dilation rate [dh, dw] (default 1). */
  dilation?: Size2;
  /** Per-output-channel bias `[outC]`, added before the activation. */
  bias?: Tensor;
  /** Fused activation (default linear). */
  activation?: Activation;
  /** leaky_relu's slope (default 0.2) / elu's scale (default 1). */
  alpha?: number;
}

/** Validates a Size2 option as a pair of positive integers. */
export function size2(
  op: string,
  name: string,
  v: Size2 | undefined,
  def: number,
): [number, number] {
  const p: readonly number[] = v === undefined ? [def, def] : typeof v === "number" ? [v, v] : v;
  if (p.length !== 2 || p.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new RangeError(
      `${op}: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`,
    );
  }
  return [p[0], p[1]];
}

/** Validates a padding option. */
export function paddingOf(op: string, p: Padding | undefined): Padding {
  const v = p ?? "valid";
  if (v !== "same" && v !== "valid") {
    throw new RangeError(`${op}: padding must be "same" or "valid", got ${JSON.stringify(p)}`);
  }
  return v;
}

/**
 * Output size and leading padding along one axis, by Keras/TensorFlow's rule,
 * for a window of `k` taps spaced `d` apart moved in steps of `s`.
 *
 * @example
 * ```ts
 * convAxis(28, 3, 2, 1, "same"); // { out: 14, before: 0 } (1 padded at the end)
 * ```
 */
export function convAxis(
  size: number,
  k: number,
  s: number,
  d: number,
  padding: Padding,
): { out: number; before: number } {
  const span = (k - 1) * d + 1;
  if (padding === "valid") {
    return { out: size >= span ? Math.floor((size - span) / s) + 1 : 0, before: 0 };
  }
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + span - size, 0);
  return { out, before: Math.floor(total / 2) };
}

function checkRank4(op: string, what: string, t: Tensor, layout: string): void {
  if (t.rank !== 4) {
    throw new Error(`${op}: expected ${what} ${layout}, got ${fmtShape(t.shape)}`);
  }
  if (t.dtype !== "f32") throw new TypeError(`${op}: expected an f32 ${what}, got ${t.dtype}`);
}

interface Resolved {
  g: ConvGeometry;
  batch: number;
  bias?: Tensor;
  act: Activation;
  alpha: number;
}

/**
 * Resolves a convolution's geometry from the tensor at its input side (`x`,
 * NHWC, `inC` channels), validating everything before any GPU work.
 */
function resolve(
  op: string,
  x: Tensor,
  kernel: Tensor,
  o: Conv2DOptions,
  transpose: boolean,
): Resolved {
  checkRank4(op, "input", x, "[batch, height, width, channels]");
  checkRank4(op, "kernel", kernel, transpose ? "[kh, kw, outC, inC]" : "[kh, kw, inC, outC]");
  const [batch, h, w, c] = x.shape;
  const [kh, kw, k2, k3] = kernel.shape;
  const inC = transpose ? k3 : k2;
  const outC = transpose ? k2 : k3;
  if (c !== inC) throw new Error(`${op}: input has ${c} channels, kernel expects ${inC}`);
  const [sh, sw] = size2(op, "strides", o.strides, 1);
  const [dh, dw] = size2(op, "dilation", o.dilation, 1);
  const padding = paddingOf(op, o.padding);
  const act = o.activation ?? "linear";
  if (!isActivation(act)) throw new RangeError(`${op}: unknown activation ${JSON.stringify(act)}`);
  const alpha = o.alpha ?? DEFAULT_ALPHA[act];
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new TypeError(`${op}: alpha must be a finite number, got ${alpha}`);
  }
  if (o.bias) {
    if (o.bias.rank !== 1 || o.bias.shape[0] !== outC || o.bias.dtype !== "f32") {
      throw new Error(
        `${op}: expected an f32 bias [${outC}], got ${fmtShape(o.bias.shape)} ${o.bias.dtype}`,
      );
    }
  }
  if (kh < 1 || kw < 1 || outC < 1 || inC < 1) {
    throw new Error(`${op}: kernel ${fmtShape(kernel.shape)} has an empty dimension`);
  }
  if (h < 1 || w < 1) throw new Error(`${op}: input ${fmtShape(x.shape)} has no pixels`);
  if (!transpose) {
    const ah = convAxis(h, kh, sh, dh, padding), aw = convAxis(w, kw, sw, dw, padding);
    if (ah.out === 0 || aw.out === 0) {
      const dil = dh > 1 || dw > 1 ? ` (dilated to ${(kh - 1) * dh + 1}x${(kw - 1) * dw + 1})` : "";
      throw new Error(
        `${op}: kernel ${kh}x${kw}${dil} does not fit a valid-padded ${h}x${w} input`,
      );
    }
    return {
      g: {
        h,
        w,
        ci: inC,
        ho: ah.out,
        wo: aw.out,
        co: outC,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        pt: ah.before,
        pl: aw.before,
      },
      batch,
      bias: o.bias,
      act,
      alpha,
    };
  }
  // conv2dTranspose: the gradient of a conv2d whose output is x. Its
  // output size is Keras's deconv_output_length; the underlying conv maps it
  // back to x's size with the same padding rule.
  const span = (k: number, d: number) => (k - 1) * d + 1;
  const ho = padding === "same" ? h * sh : (h - 1) * sh + span(kh, dh);
  const wo = padding === "same" ? w * sw : (w - 1) * sw + span(kw, dw);
  const ah = convAxis(ho, kh, sh, dh, padding), aw = convAxis(wo, kw, sw, dw, padding);
  return {
    g: {
      h: ho,
      w: wo,
      ci: outC,
      ho: h,
      wo: w,
      co: inC,
      kh,
      kw,
      sh,
      sw,
      dh,
      dw,
      pt: ah.before,
      pl: aw.before,
    },
    batch,
    bias: o.bias,
    act,
    alpha,
  };
}

// ------------------------------------------------------------- the products

interface GemmOperands {
  A: Tensor;
  YA?: Tensor;
  B: Tensor;
  YB?: Tensor;
  BIAS?: Tensor;
}

/** The M and K extents of a product for a batch. */
function extents(mode: ConvGemmMode, g: ConvGeometry, batch: number, bias: boolean) {
  switch (mode) {
    case "fwd":
      return { m: batch * g.ho * g.wo, k: g.kh * g.kw * g.ci };
    case "dx":
      return { m: batch * g.h * g.w, k: g.kh * g.kw * g.co };
    case "dw":
      return { m: g.kh * g.kw * g.ci + (bias ? 1 : 0), k: batch * g.ho * g.wo };
  }
}

/** The geometry's uniform fields (`CONV_FIELDS` in shaders/conv2d.ts). */
function geometryUniforms(g: ConvGeometry) {
  return {
    H: g.h,
    W: g.w,
    CI: g.ci,
    HO: g.ho,
    WO: g.wo,
    CO: g.co,
    KH: g.kh,
    KW: g.kw,
    SH: g.sh,
    SW: g.sw,
    DILH: g.dh,
    DILW: g.dw,
    PT: g.pt,
    PL: g.pl,
    KK: g.kh * g.kw * g.ci,
  };
}

/** The uniform fields of one product (`CONV_FIELDS` in shaders/conv2d.ts). */
function gemmUniforms(
  g: ConvGeometry,
  e: { m: number; k: number; chunk: number; alpha: number; n: number; bn: number },
) {
  return {
    m: e.m,
    k: e.k,
    chunk: e.chunk,
    alpha: e.alpha,
    ...geometryUniforms(g),
    NG: e.n,
    NTILES: Math.ceil(e.n / e.bn),
    pad0: 0,
  };
}

/**
 * The grid of a conv product: M tiles folded over x·y (the kernels read
 * `wid.y · nwg.x + wid.x`), column tiles × K splits along z, all under the
 * workgroups-per-dimension budget (src/gpu/budget.ts); throws, naming the
 * op, when they do not fit.
 */
function grid(op: string, mTiles: number, z: number): [number, number, number] {
  const max = runtime().budgets.workgroupsPerDim;
  const y = Math.ceil(mTiles / max);
  if (y > max || z > max) {
    throw new RangeError(
      `${op}: ${mTiles} row tiles and ${z} column tiles × K splits do not fit a grid of ` +
        `at most ${max} workgroups per dimension`,
    );
  }
  return [Math.ceil(mTiles / y), y, z];
}

/**
 * The most K positions one invocation of a conv product may walk under the
 * loop budget (src/gpu/budget.ts), a multiple of the tile's BK: the direct
 * kernels (wgn = 1) loop once per position; the staged ones, per BK slice,
 * once per position plus their slice loads.
 */
function kBudget(tile: ConvTile): number {
  const budget = runtime().budgets.loopIterations;
  if (budget === Infinity) return Infinity;
  const { bm, bn, threads } = convTileShape(tile);
  const perSlice = tile.wgn === 1
    ? tile.bk
    : 1 + tile.bk + 2 * Math.ceil((bm + bn) * tile.bk / threads) + tile.tm;
  return Math.floor(budget / perSlice) * tile.bk;
}

/** Throws, naming the op, when a product's K positions per output exceed the loop budget. */
function checkDepth(op: string, k: number, most: number): void {
  if (k > most) {
    throw new RangeError(
      `${op}: each output sums ${k} products (kernel height × width × channels); this driver ` +
        `runs at most ${runtime().budgets.loopIterations} loop iterations per invocation, ` +
        `which holds ${most} (a driver without a loop cap, e.g. Mesa >= 25, has no such limit)`,
    );
  }
}

/**
 * A product's buffers by name: the operands given and the outputs (the
 * kernel's declaration checks them against its spec when launched).
 */
function gemmBuffers(ops: GemmOperands, outs: Record<string, Tensor>): Record<string, Tensor> {
  const all: Record<string, Tensor> = { ...outs };
  for (const [name, t] of Object.entries(ops)) if (t) all[name] = t;
  return all;
}

/** fwd / dx product: an NHWC output of the given spatial size with N channels. */
function gemmOut(
  op: string,
  mode: "fwd" | "dx",
  g: ConvGeometry,
  batch: number,
  ops: GemmOperands,
  epi: { bias: boolean; act: Activation; foldA: Activation | null; alpha: number },
): Tensor {
  const { m, k } = extents(mode, g, batch, false);
  const n = convGemmN(mode, g);
  const shape = mode === "fwd" ? [batch, g.ho, g.wo, n] : [batch, g.h, g.w, n];
  if (m * n === 0) return empty(shape, "f32", op);
  if (mode === "fwd" && !epi.foldA && convRowRuns(n)) {
    checkDepth(op, k, runtime().budgets.loopIterations);
    const out = empty(shape, "f32", op);
    rowRuns(op, g, batch, ops, epi, out);
    return out;
  }
  const tile = convTile(m, n);
  checkDepth(op, k, kBudget(tile));
  const out = empty(shape, "f32", op);
  const spec: ConvGemmSpec = {
    mode,
    tile,
    bias: epi.bias,
    act: epi.act,
    foldA: epi.foldA,
    foldB: null,
    split: false,
  };
  const { bm, bn } = convTileShape(tile);
  launchKernel(
    op,
    conv2dGemmKernel(spec),
    gemmBuffers(ops, { OUT: out }),
    gemmUniforms(g, { m, k, chunk: k, alpha: epi.alpha, n, bn }),
    grid(op, Math.ceil(m / bm), Math.ceil(n / bn)),
  );
  return out;
}

/**
 * The row-run tile for output rows of `wo` pixels and `n` channels: up to
 * 16 channels per thread, then the run length in 1..8 (at most 64
 * accumulators per thread: every length up to 8 for the ≤ 8 channels it
 * serves by default) that wastes the fewest pixels at the row's end, the
 * longest among equals (28 and 14 → 7 for one channel, 4 for 16).
 */
export function convRowsTile(wo: number, n: number): { tm: number; tn: number } {
  let tn = 1;
  while (tn < n && tn < 16) tn *= 2;
  let tm = 1;
  for (let c = 1; c <= Math.min(8, 64 / tn, wo); c++) {
    if (Math.ceil(wo / c) * c - wo <= Math.ceil(wo / tm) * tm - wo) tm = c;
  }
  return { tm, tn };
}

/** fwd product through the row-run kernel, into `out`. */
function rowRuns(
  op: string,
  g: ConvGeometry,
  batch: number,
  ops: GemmOperands,
  epi: { bias: boolean; act: Activation; alpha: number },
  out: Tensor,
): void {
  const { tm, tn } = convRowsTile(g.wo, g.co);
  const perRow = Math.ceil(g.wo / tm);
  const runs = batch * g.ho * perRow;
  let wgm = 16;
  while (wgm > 4 && wgm / 2 >= runs) wgm /= 2;
  const spec: ConvRowsSpec = {
    tm,
    tn,
    wgm,
    kw: g.kw,
    sw: g.sw,
    dw: g.dw,
    bias: epi.bias,
    act: epi.act,
  };
  const u = {
    m: runs,
    k: 0,
    chunk: 0,
    alpha: epi.alpha,
    ...geometryUniforms(g),
    NG: g.co,
    NTILES: 1,
    pad0: perRow,
  };
  launchKernel(
    op,
    conv2dRowsKernel(spec),
    epi.bias
      ? { X: ops.A, KER: ops.B, BIAS: ops.BIAS!, OUT: out }
      : { X: ops.A, KER: ops.B, OUT: out },
    u,
    grid(op, Math.ceil(runs / wgm), Math.ceil(g.co / tn)),
  );
}

/**
 * dw product: the kernel gradient `[kh, kw, ci, co]` (A = the conv's input
 * side, B = the gradient at its output side) and, with `bias`, the bias
 * gradient `[co]` from the appended row of ones.
 */
function gemmFilter(
  op: string,
  g: ConvGeometry,
  batch: number,
  ops: GemmOperands,
  fold: { foldA: Activation | null; foldB: Activation | null; alpha: number },
  bias: boolean,
): [Tensor, Tensor | null] {
  const { m, k } = extents("dw", g, batch, bias);
  const n = g.co;
  if (k === 0) return [zeros([g.kh, g.kw, g.ci, g.co]), bias ? zeros([g.co]) : null];
  const dW = empty([g.kh, g.kw, g.ci, g.co], "f32", op);
  const dB = bias ? empty([g.co], "f32", op) : null;
  const tile = convTile(m, n);
  const { bm, bn } = convTileShape(tile);
  const tiles = Math.ceil(m / bm) * Math.ceil(n / bn);
  // Each split reduces at least 16 slices.
  const maxSplits = Math.max(1, Math.floor(k / (16 * tile.bk)));
  let splits = convSplits(tiles, maxSplits);
  splits = Math.max(1, Math.min(splits, Math.ceil(k / tile.bk)));
  // Enough splits that no invocation walks more K positions than the loop budget holds.
  const most = kBudget(tile);
  if (!(most >= tile.bk)) {
    throw new RangeError(
      `${op}: a loop budget of ${runtime().budgets.loopIterations} iterations cannot hold ` +
        `one K slice of the kernel gradient's product`,
    );
  }
  splits = Math.max(splits, Math.ceil(k / most));
  const chunk = Math.ceil(k / splits / tile.bk) * tile.bk;
  splits = Math.ceil(k / chunk);
  const split = splits > 1;
  const spec: ConvGemmSpec = {
    mode: "dw",
    tile,
    bias,
    act: "linear",
    foldA: fold.foldA,
    foldB: fold.foldB,
    split,
  };
  const u = gemmUniforms(g, { m, k, chunk, alpha: fold.alpha, n, bn });
  const wg = grid(op, Math.ceil(m / bm), Math.ceil(n / bn) * splits);
  if (!split) {
    const outs: Record<string, Tensor> = dB ? { DW: dW, DB: dB } : { DW: dW };
    launchKernel(op, conv2dGemmKernel(spec), gemmBuffers(ops, outs), u, wg);
    return [dW, dB];
  }
  const partial = empty([splits, m, n], "f32", op);
  launchKernel(op, conv2dGemmKernel(spec), gemmBuffers(ops, { P: partial }), u, wg);
  launchKernel(
    op,
    conv2dSplitSumKernel({ bias }),
    dB ? { P: partial, DW: dW, DB: dB } : { P: partial, DW: dW },
    { n: m * n, splits, kk: g.kh * g.kw * g.ci * n },
    Math.ceil((m * n) / WG),
  );
  partial.dispose();
  return [dW, dB];
}

/**
 * The backward's output gradient and the activation to fold into the
 * products' loads, or, where {@link convPrefold} says so, the gradient
 * already multiplied by act'(y) in one elementwise pass.
 */
function foldOrPass(
  gy: Tensor,
  y: Tensor,
  act: Activation,
  alpha: number,
): { g: Tensor; fold: Activation | null; temp: boolean } {
  if (act === "linear") return { g: gy, fold: null, temp: false };
  if (!convPrefold()) return { g: gy, fold: act, temp: false };
  return { g: activationGrad(gy, y, act, alpha), fold: null, temp: true };
}

/** Sums an NHWC gradient over batch and space (times act'(y) when folded): `[C]`. */
function channelSums(
  op: string,
  gr: Tensor,
  y: Tensor | null,
  fold: Activation | null,
  alpha: number,
): Tensor {
  const c = gr.shape[gr.rank - 1];
  let rows = gr.size / c;
  if (rows === 0) return zeros([c]);
  const out = empty([c], "f32", op);
  let blocks = Math.ceil(rows / CONV_COLSUM_ROWS);
  let src = gr;
  let first = true;
  for (;;) {
    const dst = blocks === 1 ? out : empty([blocks, c], "f32", op);
    const f = first && y ? fold : null;
    launchKernel(
      op,
      conv2dColumnSumKernel({ fold: f }),
      f && y ? { G: src, Y: y, partial: dst } : { G: src, partial: dst },
      { n: rows, cols: c, alpha },
      [Math.ceil(c / CONV_COLSUM_COLS), blocks],
    );
    if (!first) src.dispose();
    first = false;
    if (dst === out) return out;
    src = dst;
    rows = blocks;
    blocks = Math.ceil(rows / CONV_COLSUM_ROWS);
  }
}

// ---------------------------------------------------------------- the ops

/** The activation a product's epilogue applies: all but those whose derivative needs their input. */
function fusable(act: Activation): Activation {
  return ACTIVATION_SAVES[act] === "y" ? act : "linear";
}

/**
 * The layer output y from a product's output z, and s, the value the
 * backward's act' reads: y itself for fused activations; for gelu and silu
 * (`ACTIVATION_SAVES` "x") y = act(z) in one more kernel and s = z.
 */
function activate(z: Tensor, act: Activation, alpha: number): { y: Tensor; s: Tensor } {
  if (ACTIVATION_SAVES[act] === "y") return { y: z, s: z };
  return { y: unaryRaw(act, z, alpha), s: z };
}

/**
 * 2-D convolution (Keras Conv2D): `act(conv(x, kernel) + bias)`, with x NHWC
 * `[batch, H, W, inC]` and kernel HWIO `[kh, kw, inC, outC]`. Output
 * `[batch, Ho, Wo, outC]`, Ho = ceil(H / s) for `same` and
 * floor((H − (kh − 1)·d − 1) / s) + 1 for `valid`.
 *
 * Gradients flow to x, kernel and bias (the activation's derivative is
 * folded into the backward products' loads).
 *
 * @example
 * ```ts
 * const x = lt.zeros([8, 28, 28, 1]);
 * const w = lt.zeros([3, 3, 1, 16]);
 * const b = lt.zeros([16]);
 * const y = lt.conv2d(x, w, { padding: "same", bias: b, activation: "relu" }); // [8, 28, 28, 16]
 * ```
 */
export function conv2d(x: Tensor, kernel: Tensor, options: Conv2DOptions = {}): Tensor {
  const op = "conv2d";
  const r = resolve(op, x, kernel, options, false);
  const { g, batch, bias, act, alpha } = r;
  const z = gemmOut(op, "fwd", g, batch, { A: x, B: kernel, BIAS: bias }, {
    bias: !!bias,
    act: fusable(act),
    foldA: null,
    alpha,
  });
  const { y, s } = activate(z, act, alpha);
  const inputs = bias ? [x, kernel, bias] : [x, kernel];
  return record(y, op, inputs, (gy0) => {
    const gop = `${op} (gradient)`;
    const { g: gy, fold, temp } = foldOrPass(gy0, s, act, alpha);
    const dx = x.requiresGrad
      ? gemmOut(gop, "dx", g, batch, { A: gy, YA: fold ? s : undefined, B: kernel }, {
        bias: false,
        act: "linear",
        foldA: fold,
        alpha,
      })
      : null;
    let dw: Tensor | null = null, db: Tensor | null = null;
    if (kernel.requiresGrad || bias?.requiresGrad) {
      [dw, db] = gemmFilter(gop, g, batch, { A: x, B: gy, YB: fold ? s : undefined }, {
        foldA: null,
        foldB: fold,
        alpha,
      }, !!bias);
    }
    if (temp) gy.dispose();
    return [dx, dw, db];
  });
}

/**
 * Transposed 2-D convolution (Keras Conv2DTranspose), the gradient of
 * conv2d with respect to its input: x NHWC `[batch, H, W, inC]`, kernel
 * `[kh, kw, outC, inC]` (Keras's layout). Output `[batch, Ho, Wo, outC]` with
 * Ho = H·s for `same` and (H − 1)·s + (kh − 1)·d + 1 for `valid` (Keras's
 * rule without output_padding).
 *
 * @example
 * ```ts
 * const z = lt.zeros([8, 7, 7, 32]);
 * const w = lt.zeros([3, 3, 16, 32]);
 * const y = lt.conv2dTranspose(z, w, { strides: 2, padding: "same", activation: "relu" }); // [8, 14, 14, 16]
 * ```
 */
export function conv2dTranspose(x: Tensor, kernel: Tensor, options: Conv2DOptions = {}): Tensor {
  const op = "conv2dTranspose";
  const { g, batch, bias, act, alpha } = resolve(op, x, kernel, options, true);
  // Forward: the dx product of the underlying conv, with x as its output gradient.
  const z = gemmOut(op, "dx", g, batch, { A: x, B: kernel, BIAS: bias }, {
    bias: !!bias,
    act: fusable(act),
    foldA: null,
    alpha,
  });
  const { y, s } = activate(z, act, alpha);
  const inputs = bias ? [x, kernel, bias] : [x, kernel];
  return record(y, op, inputs, (gy0) => {
    const gop = `${op} (gradient)`;
    const { g: gy, fold, temp } = foldOrPass(gy0, s, act, alpha);
    const ya = fold ? s : undefined;
    const dx = x.requiresGrad
      ? gemmOut(gop, "fwd", g, batch, { A: gy, YA: ya, B: kernel }, {
        bias: false,
        act: "linear",
        foldA: fold,
        alpha,
      })
      : null;
    const dw = kernel.requiresGrad
      ? gemmFilter(
        gop,
        g,
        batch,
        { A: gy, YA: ya, B: x },
        { foldA: fold, foldB: null, alpha },
        false,
      )[0]
      : null;
    const db = bias?.requiresGrad ? channelSums(gop, gy, ya ?? null, fold, alpha) : null;
    if (temp) gy.dispose();
    return [dx, dw, db];
  });
}
