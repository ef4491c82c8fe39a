/**
 * 2-D convolution as an implicit GEMM, in NHWC with HWIO kernels.
 *
 * Layouts: activations are `[batch, height, width, channels]`, kernels are
 * `[kh, kw, inC, outC]` (Keras). Seen as matrices, an NHWC activation is
 * `[batch·H·W, C]` row-major and an HWIO kernel is `[kh·kw·inC, outC]`, so a
 * convolution is one matrix product whose left operand (the "im2col" matrix)
 * is never built: each element is gathered from the activation when the
 * workgroup stages its tile, and taps that fall in the padding read as 0.
 *
 * One tiled kernel serves the three products of a convolution (and, through
 * them, the transposed convolution), differing only in how operand tiles are
 * gathered and how the result is stored:
 *
 * | mode  | C = A·B                      | M            | N     | K            |
 * | ----- | ---------------------------- | ------------ | ----- | ------------ |
 * | `fwd` | Y = im2col(X) · W            | batch·Ho·Wo  | outC  | kh·kw·inC    |
 * | `dx`  | dX = col2im-gather(dY) · Wᵀ  | batch·H·W    | inC   | kh·kw·outC   |
 * | `dw`  | dW = im2col(X)ᵀ · dY         | kh·kw·inC(+1)| outC  | batch·Ho·Wo  |
 *
 * `dx` is the transposed convolution: input position (h, w) receives tap
 * (ky, kx) from output (oh, ow) when h + padT − ky·dh = oh·sh (likewise for
 * w), so its A element is dY at that (oh, ow), or 0 when the division is not
 * exact or falls outside the output. `dw` reduces over every output position
 * (the long dimension); it is split across workgroups (`split`, grid z) into
 * partial sums that {@link conv2dSplitSumKernel} adds up, since WGSL has no
 * float atomics. With `bias`, `dw` appends a row of ones to im2col(X)ᵀ so the
 * bias gradient (the column sums of dY) comes out as one more output row.
 *
 * Tiling: a workgroup of WGM×WGN threads owns a BM×BN tile of C (BM = WGM·TM,
 * BN = WGN·TN); each thread keeps TM×TN accumulators in registers, with rows
 * `ty + i·WGM` and columns `tx + j·WGN` (neighbouring threads, neighbouring
 * columns: coalesced stores). K is walked in BK-deep slices staged k-major in
 * workgroup memory. Gathers are split into a per-row part (hoisted out of the
 * K loop: each thread stages the same rows every slice) and a per-column part
 * (one decomposition per slice, shared by all of a thread's loads), so the
 * index arithmetic per staged element is a few adds and compares.
 *
 * Direct variant (WGN = 1; the tiles CPU adapters get): each thread owns TM
 * whole rows across all BN columns, so an A element has no other reader. It
 * is gathered straight into a register while K is walked one step at a time
 * (the column part advanced by carrying through its digits, `nextA`, with no
 * division), and B is read straight from storage: every thread reads the
 * same B element, which a CPU adapter loads once for all lanes. Nothing is
 * staged, so there is no workgroup memory and no barrier (BK is unused).
 *
 * The geometry lives in the uniform block, so one compiled pipeline serves
 * every shape (compiling is the slow part on software adapters, and a model
 * has many layer shapes); only choices that change the code are
 * specialisations: mode, tile, fused bias / activation / folds and split.
 *
 * Fused extras: a bias + activation epilogue (`bias`, `act`, modes fwd/dx),
 * and the activation derivative folded into the gradient operand's loads
 * (`foldA` / `foldB`: the loaded element g becomes g·act'(y) with y read from
 * the layer's output at the same index), so no dZ = dY ⊙ act'(Y) pass runs.
 *
 * Dispatch: `[mx, my, ceil(N / BN) · splits]` with mx·my ≥ ceil(M / BM).
 * Bindings (in order, see `convGemmBuffers`): A source, [YA if foldA], B
 * source, [YB if foldB], [BIAS if bias and mode ≠ dw], then outputs: OUT
 * (fwd/dx); DW, [DB if bias] (dw, not split); P, the partials (dw, split).
 * Uniform: m, k, chunk, alpha, then the geometry (H, W, CI, HO, WO, CO, KH,
 * KW, SH, SW, DILH, DILW, PT, PL), N (NG), the number of N tiles (NTILES),
 * the tap count KK = KH·KW·CI and pad0 (see `CONV_FIELDS`).
 *
 * @module
 */
import { type Activation, activationWgsl } from "./activations.ts";
import { ENTRY_1D, family } from "./common.ts";
import {
  type Declaration,
  declare,
  type DeclaredKernel,
  type Elem,
  type Entry,
} from "./declare.ts";

/**
 * The geometry of one convolution (compiled into its kernels): the input's
 * spatial size and channels, the output's, the kernel size, strides,
 * dilations and the top/left padding (bottom/right padding is implied).
 */
export interface ConvGeometry {
  h: number;
  w: number;
  ci: number;
  ho: number;
  wo: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
}

/** Work split of the implicit-GEMM kernel: BM = wgm·tm rows, BN = wgn·tn columns, bk deep. */
export interface ConvTile {
  /** Output rows per thread. */
  tm: number;
  /** Output columns per thread. */
  tn: number;
  /** Threads along M. */
  wgm: number;
  /** Threads along N. */
  wgn: number;
  /** K depth of a staged slice. */
  bk: number;
}

/** Which product of the convolution a kernel computes (see the module table). */
export type ConvGemmMode = "fwd" | "dx" | "dw";

/** Specialisation of the implicit-GEMM family. */
export interface ConvGemmSpec {
  mode: ConvGemmMode;
  tile: ConvTile;
  /** fwd/dx: add a per-column bias before `act`. dw: append the bias-gradient row. */
  bias: boolean;
  /** Epilogue activation (fwd/dx). */
  act: Activation;
  /** Multiply A's elements by act'(YA[same index]). */
  foldA: Activation | null;
  /** Multiply B's elements by act'(YB[same index]). */
  foldB: Activation | null;
  /** dw: write per-split partial sums instead of dW / dB. */
  split: boolean;
}

/** The GEMM's column count N: output channels, or input channels for dx. */
export function convGemmN(mode: ConvGemmMode, g: ConvGeometry): number {
  return mode === "dx" ? g.ci : g.co;
}

/**
 * The uniform fields shared by every mode and the row-run kernel: m, k,
 * chunk, alpha, the geometry, N (`NG`), the number of N tiles, the tap count
 * KK = KH·KW·CI, and `pad0` (the row-run kernel's runs per row; 0 otherwise).
 */
export const CONV_FIELDS = {
  m: "u32",
  k: "u32",
  chunk: "u32",
  alpha: "f32",
  H: "u32",
  W: "u32",
  CI: "u32",
  HO: "u32",
  WO: "u32",
  CO: "u32",
  KH: "u32",
  KW: "u32",
  SH: "u32",
  SW: "u32",
  DILH: "u32",
  DILW: "u32",
  PT: "i32",
  PL: "i32",
  NG: "u32",
  NTILES: "u32",
  KK: "u32",
  pad0: "u32",
} as const;

/**
 * The entry point of the implicit-GEMM and row-run kernels: `size` threads
 * per workgroup over a grid folded into x·y, each calling its index `t`.
 */
function convEntry(size: number): Entry {
  return {
    workgroupSize: size,
    builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
    prelude: "  let t = lid;",
  };
}

/** Rows and columns of a tile, and its thread count. */
export function convTileShape(t: ConvTile): { bm: number; bn: number; threads: number } {
  return { bm: t.wgm * t.tm, bn: t.wgn * t.tn, threads: t.wgm * t.wgn };
}

/** Bytes of workgroup memory a tile stages. */
export function convTileBytes(t: ConvTile): number {
  const { bm, bn } = convTileShape(t);
  return 4 * t.bk * (bm + 1 + bn + 1);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * WGSL `divmod(a, b) -> vec2u(a / b, a % b)` for a divisor only known at run
 * time. Integer division is a long instruction sequence on GPUs and, with
 * no vector integer divide in AVX2, scalarised per lane on CPU adapters;
 * a float reciprocal estimate (exact to within one for a < 2^22, since the
 * estimate's relative error is a few 2^-24) plus one correction step is a
 * handful of vector instructions. Larger dividends take the integer path.
 */
export const DIVMOD = /* wgsl */ `
fn divmod(a: u32, b: u32) -> vec2u {
  if (a >= 4194304u) { return vec2u(a / b, a % b); }
  var q = u32(f32(a) * (1.0 / f32(b)));
  var r = i32(a) - i32(q * b);
  if (r < 0) { q -= 1u; r += i32(b); }
  if (r >= i32(b)) { q += 1u; r -= i32(b); }
  return vec2u(q, u32(r));
}`;

/**
 * The A operand's gather, in parts: `rowA(m) -> vec4i` (a row's part,
 * hoisted: each thread handles the same rows in every slice), `colRaw(k) ->
 * vec4i` (a column's raw part, which the direct variant steps with
 * `nextA`), `colView(raw, valid) -> vec4i` (what the gather needs of it) and
 * `gatherA(row, col) -> f32`. `colA(k, kEnd)` is `colView(colRaw(k), k <
 * kEnd)`. The `w` components carry validity flags (dw: 2 marks the bias row).
 */
function gatherAWgsl(spec: ConvGemmSpec): string {
  const fold = spec.foldA ? " * act_grad(YA[i], u.alpha)" : "";
  const colA = /* wgsl */ `
fn colA(k: u32, kEnd: u32) -> vec4i { return colView(colRaw(k), k < kEnd); }`;
  // The direct variant's K-walk state and its view; dx overrides both.
  const direct = /* wgsl */ `
fn colStart(k: u32) -> vec4i { return colRaw(k); }
fn colAt(c: vec4i, valid: bool) -> vec4i { return colView(c, valid); }`;
  switch (spec.mode) {
    case "fwd":
      // Rows: output positions (n, oh, ow). Columns: taps (ky·DILH, kx·DILW, c).
      return /* wgsl */ `
fn rowA(m: u32) -> vec4i {
  let a = divmod(m, u.WO);
  let b = divmod(a.x, u.HO);
  return vec4i(i32(b.x * u.H * u.W * u.CI), i32(b.y * u.SH) - u.PT, i32(a.y * u.SW) - u.PL,
               select(0, 1, m < u.m));
}
fn colRaw(k: u32) -> vec4i {
  let a = divmod(k, u.CI);
  let b = divmod(a.x, u.KW);
  return vec4i(i32(b.x * u.DILH), i32(b.y * u.DILW), i32(a.y), 0);
}
fn colView(c: vec4i, valid: bool) -> vec4i { return vec4i(c.xyz, select(0, 1, valid)); }${colA}${direct}
fn gatherA(r: vec4i, c: vec4i) -> f32 {
  let ih = r.y + c.x;
  let iw = r.z + c.y;
  if ((r.w & c.w) == 0 || u32(ih) >= u.H || u32(iw) >= u.W) { return 0.0; }
  let i = u32(r.x + (ih * i32(u.W) + iw) * i32(u.CI) + c.z);
  return A[i]${fold};
}`;
    case "dw":
      // Rows: taps (ky·DILH, kx·DILW, c) and the bias row. Columns: output
      // positions (image base, oh·SH − PT, ow·SW − PL).
      return /* wgsl */ `
fn rowA(m: u32) -> vec4i {
  let a = divmod(m, u.CI);
  let b = divmod(a.x, u.KW);
  var f = select(0, 1, m < u.m);
  ${spec.bias ? `if (m == u.KK) { f = 2; }` : ""}
  return vec4i(i32(b.x * u.DILH), i32(b.y * u.DILW), i32(a.y), f);
}
fn colRaw(k: u32) -> vec4i {
  let a = divmod(k, u.WO);
  let b = divmod(a.x, u.HO);
  return vec4i(i32(b.x * u.H * u.W * u.CI), i32(b.y * u.SH) - u.PT, i32(a.y * u.SW) - u.PL, 0);
}
fn colView(c: vec4i, valid: bool) -> vec4i { return vec4i(c.xyz, select(0, 1, valid)); }${colA}${direct}
fn gatherA(r: vec4i, c: vec4i) -> f32 {
  if (r.w == 0 || c.w == 0) { return 0.0; }
  if (r.w == 2) { return 1.0; }
  let ih = c.y + r.x;
  let iw = c.z + r.y;
  if (u32(ih) >= u.H || u32(iw) >= u.W) { return 0.0; }
  let i = u32(c.x + (ih * i32(u.W) + iw) * i32(u.CI) + r.z);
  return A[i]${fold};
}`;
    case "dx":
      // Rows: input positions (n, h, w). Columns: (ky, kx, co). Input row h
      // takes tap ky from output row oh when h + PT − ky·DILH = oh·SH. With
      // h + PT = qh·SH + rh and ky·DILH = qk·SH + rk (split once per row and
      // once per tap), that holds iff rh = rk, and then oh = qh − qk: no
      // division per element. Remainders ride in the flag word: bit 0
      // valid, bits 1.. the row remainder, bits 16.. the column remainder.
      return /* wgsl */ `
fn rowA(m: u32) -> vec4i {
  let a = divmod(m, u.W);
  let b = divmod(a.x, u.H);
  let qh = divmod(b.y + u32(u.PT), u.SH);
  let qw = divmod(a.y + u32(u.PL), u.SW);
  return vec4i(i32(b.x * u.HO * u.WO * u.CO), i32(qh.x), i32(qw.x),
               select(0, 1, m < u.m) | i32(qh.y << 1u) | i32(qw.y << 16u));
}
fn colRaw(k: u32) -> vec4i {
  let a = divmod(k, u.CO);
  let b = divmod(a.x, u.KW);
  return vec4i(i32(b.x * u.DILH), i32(b.y * u.DILW), i32(a.y), 0);
}
fn colView(c: vec4i, valid: bool) -> vec4i {
  let qh = divmod(u32(c.x), u.SH);
  let qw = divmod(u32(c.y), u.SW);
  return vec4i(i32(qh.x), i32(qw.x), c.z, select(0, 1, valid) | i32(qh.y << 1u) | i32(qw.y << 16u));
}${colA}
// The direct variant walks K in the split form itself (see nextA): no division per step.
fn colStart(k: u32) -> vec4i { return colView(colRaw(k), true); }
fn colAt(c: vec4i, valid: bool) -> vec4i { return vec4i(c.xyz, (c.w & ~1) | select(0, 1, valid)); }
fn gatherA(r: vec4i, c: vec4i) -> f32 {
  if ((r.w & c.w & 1) == 0 || (r.w >> 1u) != (c.w >> 1u)) { return 0.0; }
  let oh = u32(r.y - c.x);
  let ow = u32(r.z - c.y);
  if (oh >= u.HO || ow >= u.WO) { return 0.0; }
  let i = u32(r.x) + (oh * u.WO + ow) * u.CO + u32(c.z);
  return A[i]${fold};
}`;
  }
}

/**
 * WGSL `nextA(c) -> vec4i`: the raw column part of A for k + 1 from the one
 * for k, by carrying through the column's mixed-radix digits: no division
 * per step. Used by the direct variant, which walks K one by one.
 */
function nextAWgsl(mode: ConvGemmMode): string {
  if (mode === "dw") {
    // Columns are output positions: (image base, ih0 = oh·SH − PT, iw0 = ow·SW − PL).
    return /* wgsl */ `
fn nextA(c: vec4i) -> vec4i {
  var r = c;
  if (r.z == i32((u.WO - 1u) * u.SW) - u.PL) {
    r.z = -u.PL;
    if (r.y == i32((u.HO - 1u) * u.SH) - u.PT) {
      r.y = -u.PT;
      r.x += i32(u.H * u.W * u.CI);
    } else { r.y += i32(u.SH); }
  } else { r.z += i32(u.SW); }
  return r;
}`;
  }
  if (mode === "dx") {
    // Taps in the split form of colView: (qy, qx, channel, flags with ry, rx);
    // stepping a tap adds DIL split by the stride, with a carry. The divides
    // run once per channel wrap.
    return /* wgsl */ `
fn nextA(c: vec4i) -> vec4i {
  var r = c;
  r.z += 1;
  if (u32(r.z) == u.CO) {
    r.z = 0;
    var ry = (r.w >> 1u) & 32767;
    var rx = (r.w >> 16u) & 32767;
    if (r.y * i32(u.SW) + rx == i32((u.KW - 1u) * u.DILW)) {
      r.y = 0;
      rx = 0;
      let d = divmod(u.DILH, u.SH);
      r.x += i32(d.x);
      ry += i32(d.y);
      if (ry >= i32(u.SH)) { ry -= i32(u.SH); r.x += 1; }
    } else {
      let d = divmod(u.DILW, u.SW);
      r.y += i32(d.x);
      rx += i32(d.y);
      if (rx >= i32(u.SW)) { rx -= i32(u.SW); r.y += 1; }
    }
    r.w = (r.w & 1) | (ry << 1u) | (rx << 16u);
  }
  return r;
}`;
  }
  // Columns are taps (ky·DILH, kx·DILW, channel).
  const ch = mode === "fwd" ? "u.CI" : "u.CO";
  return /* wgsl */ `
fn nextA(c: vec4i) -> vec4i {
  var r = c;
  r.z += 1;
  if (u32(r.z) == ${ch}) {
    r.z = 0;
    if (r.y == i32((u.KW - 1u) * u.DILW)) {
      r.y = 0;
      r.x += i32(u.DILH);
    } else { r.y += i32(u.DILW); }
  }
  return r;
}`;
}

/** Staged loads per thread above which staging is a loop rather than unrolled (code size). */
const UNROLL_LIMIT = 8;

/** Staging of the BM×BK slice of A (k-major, rows padded by one against bank conflicts). */
function stageA(bm: number, bk: number, threads: number): { hoist: string; stage: string } {
  if (threads % bk !== 0) {
    return {
      hoist: "",
      stage: /* wgsl */ `
    for (var e = t; e < BM * BK; e += WGT) {
      let kk = e % BK;
      let mm = e / BK;
      As[kk * AS + mm] = gatherA(rowA(m0 + mm), colA(k0 + kk, kEnd));
    }`,
    };
  }
  // Every thread stages column `ak` of rows `ar + i·step` in every slice:
  // the row parts are computed once, the column part once per slice.
  const step = threads / bk;
  const count = Math.ceil(bm / step);
  const guard = count * step > bm;
  const head = `  let ak = t % BK;\n  let ar = t / BK;`;
  if (count <= UNROLL_LIMIT) {
    const hoist = range(count).map((i) => `  let ra${i} = rowA(m0 + ar + ${i * step}u);`);
    const stage = range(count).map((i) => {
      const put = `As[ak * AS + ar + ${i * step}u] = gatherA(ra${i}, ca);`;
      return guard && (i + 1) * step > bm
        ? `    if (ar + ${i * step}u < BM) { ${put} }`
        : `    ${put}`;
    });
    return {
      hoist: `${head}\n${hoist.join("\n")}`,
      stage: `    let ca = colA(k0 + ak, kEnd);\n${stage.join("\n")}`,
    };
  }
  return {
    hoist: /* wgsl */ `${head}
  var ra: array<vec4i, ${count}>;
  for (var i = 0u; i < ${count}u; i++) { ra[i] = rowA(m0 + ar + i * ${step}u); }`,
    stage: /* wgsl */ `
    let ca = colA(k0 + ak, kEnd);
    for (var i = 0u; i < ${count}u; i++) {
      let mm = ar + i * ${step}u;
      ${guard ? "if (mm < BM) { " : ""}As[ak * AS + mm] = gatherA(ra[i], ca);${guard ? " }" : ""}
    }`,
  };
}

/** Staging of the BK×BN slice of B (k-major). */
function stageB(spec: ConvGemmSpec, bk: number, threads: number): { decl: string; stage: string } {
  if (spec.mode === "dx") {
    // B(k, n) = W[ky, kx, n, co] with k = (ky, kx, co) = (tap, co): threads
    // walk k (contiguous co). The k part is split once per slice when every
    // thread stages a single k lane.
    const decl = /* wgsl */ `
fn loadB(q: vec2u, k: u32, n: u32, kEnd: u32) -> f32 {
  if (k >= kEnd || n >= u.NG) { return 0.0; }
  return B[q.x * (u.CI * u.CO) + n * u.CO + q.y];
}`;
    if (threads % bk === 0) {
      return {
        decl,
        stage: /* wgsl */ `
    let bkk = t % BK;
    let bq = divmod(k0 + bkk, u.CO);
    for (var nn = t / BK; nn < BN; nn += WGT / BK) {
      Bs[bkk * BS + nn] = loadB(bq, k0 + bkk, n0 + nn, kEnd);
    }`,
      };
    }
    return {
      decl,
      stage: /* wgsl */ `
    for (var e = t; e < BN * BK; e += WGT) {
      let kk = e % BK;
      let nn = e / BK;
      Bs[kk * BS + nn] = loadB(divmod(k0 + kk, u.CO), k0 + kk, n0 + nn, kEnd);
    }`,
    };
  }
  // Row-major [K, N] (W in fwd, dY in dw): threads walk n.
  const fold = spec.foldB ? " * act_grad(YB[i], u.alpha)" : "";
  return {
    decl: /* wgsl */ `
fn loadB(k: u32, n: u32, kEnd: u32) -> f32 {
  if (k >= kEnd || n >= u.NG) { return 0.0; }
  let i = k * u.NG + n;
  return B[i]${fold};
}`,
    stage: /* wgsl */ `
    for (var e = t; e < BN * BK; e += WGT) {
      let nn = e % BN;
      let kk = e / BN;
      Bs[kk * BS + nn] = loadB(k0 + kk, n0 + nn, kEnd);
    }`,
  };
}

/** The store of one accumulator `v` at (m, n), both in range. */
function storeWgsl(spec: ConvGemmSpec): string {
  if (spec.mode !== "dw") {
    const v = spec.bias ? "v + BIAS[n]" : "v";
    const out = spec.act === "linear" ? v : `act(${v}, u.alpha)`;
    return `OUT[m * u.NG + n] = ${out};`;
  }
  if (spec.split) return "P[(sp * u.m + m) * u.NG + n] = v;";
  return spec.bias
    ? "if (m < u.KK) { DW[m * u.NG + n] = v; } else { DB[n] = v; }"
    : "DW[m * u.NG + n] = v;";
}

/**
 * A thread's tm × tn register tile: the accumulators c{i}_{j}, the FMAs of
 * one k step (from a{i} and b{j}), and the bounds-checked store of each
 * element at row `row(i)`, column `col(j)`.
 */
function registerTile(
  spec: ConvGemmSpec,
  t: { tm: number; tn: number },
  row: (i: number) => string,
  col: (j: number) => string,
): { accDecl: string; fmas: string[]; epilogue: string[] } {
  const accDecl = range(t.tm).map((i) =>
    "  var " + range(t.tn).map((j) => `c${i}_${j} = 0.0`).join(";\n  var ") + ";"
  ).join("\n");
  const fmas = range(t.tm).flatMap((i) =>
    range(t.tn).map((j) => `      c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`)
  );
  const store = storeWgsl(spec);
  const epilogue = range(t.tm).flatMap((i) =>
    range(t.tn).map((j) =>
      `  {
    let m = ${row(i)};
    let n = ${col(j)};
    let v = c${i}_${j};
    if (m < u.m && n < u.NG) { ${store} }
  }`
    )
  );
  return { accDecl, fmas, epilogue };
}

/** A spec's storage buffers (all f32), inputs and outputs each in binding order. */
export function convGemmBuffers(
  spec: ConvGemmSpec,
): { inputs: Record<string, Elem>; outputs: Record<string, Elem> } {
  const inputs: Record<string, Elem> = { A: "f32" };
  if (spec.foldA) inputs.YA = "f32";
  inputs.B = "f32";
  if (spec.foldB) inputs.YB = "f32";
  const outputs: Record<string, Elem> = {};
  if (spec.mode !== "dw") {
    if (spec.bias) inputs.BIAS = "f32";
    outputs.OUT = "f32";
  } else if (spec.split) outputs.P = "f32";
  else {
    outputs.DW = "f32";
    if (spec.bias) outputs.DB = "f32";
  }
  return { inputs, outputs };
}

/**
 * The implicit-GEMM convolution kernel for a spec.
 *
 * @example
 * ```ts
 * const k = conv2dGemmKernel({
 *   mode: "fwd", tile: { tm: 4, tn: 4, wgm: 16, wgn: 4, bk: 8 },
 *   bias: true, act: "relu", foldA: null, foldB: null, split: false,
 * });
 * ```
 */
export const conv2dGemmKernel: (spec: ConvGemmSpec) => DeclaredKernel = family(
  "conv2d_gemm",
  (spec: ConvGemmSpec): DeclaredKernel => {
    const t = spec.tile;
    const { bm, bn, threads } = convTileShape(t);
    const folds = [spec.foldA, spec.foldB].filter((f) => f !== null) as Activation[];
    if (folds.length && spec.act !== "linear") {
      throw new Error("conv2d_gemm: an epilogue activation and a folded derivative cannot mix");
    }
    if (folds.length === 2 && folds[0] !== folds[1]) {
      throw new Error("conv2d_gemm: both folded derivatives must use one activation");
    }
    const key = [
      "conv2d_gemm",
      spec.mode,
      `${t.tm}x${t.tn}/${t.wgm}x${t.wgn}${t.wgn === 1 ? "" : `/k${t.bk}`}`,
      spec.bias ? "bias" : "nobias",
      spec.act,
      `fa=${spec.foldA ?? "-"}`,
      `fb=${spec.foldB ?? "-"}`,
      spec.split ? "split" : "whole",
    ].join("/");
    const buffers = convGemmBuffers(spec);
    // Direct variant: one thread owns whole rows (see directCode).
    if (t.wgn === 1) {
      return declare({
        key,
        ...buffers,
        uniforms: CONV_FIELDS,
        ...directCode(spec, folds[0] ?? spec.act),
      });
    }
    const a = stageA(bm, t.bk, threads);
    const b = stageB(spec, t.bk, threads);
    const loadsA = range(t.tm).map((i) => `      let a${i} = As[ka + ty + ${i * t.wgm}u];`);
    const loadsB = range(t.tn).map((j) => `      let b${j} = Bs[kb + tx + ${j * t.wgn}u];`);
    const { accDecl, fmas, epilogue } = registerTile(
      spec,
      t,
      (i) => `m0 + ty + ${i * t.wgm}u`,
      (j) => `n0 + tx + ${j * t.wgn}u`,
    );
    const helpers = /* wgsl */ `
const BM = ${bm}u;
const BN = ${bn}u;
const BK = ${t.bk}u;
const WGT = ${threads}u;
const AS = ${bm + 1}u;
const BS = ${bn + 1}u;
var<workgroup> As: array<f32, ${t.bk * (bm + 1)}>;
var<workgroup> Bs: array<f32, ${t.bk * (bn + 1)}>;
${activationWgsl(folds[0] ?? spec.act)}
${DIVMOD}
${gatherAWgsl(spec)}
${b.decl}`;
    const main = /* wgsl */ `
  let m0 = (wid.y * nwg.x + wid.x) * BM;
  if (m0 >= u.m) { return; }
  let n0 = (wid.z % u.NTILES) * BN;
  let sp = wid.z / u.NTILES;
  let kBegin = sp * u.chunk;
  let kEnd = min(u.k, kBegin + u.chunk);
  let tx = t % ${t.wgn}u;
  let ty = t / ${t.wgn}u;
${a.hoist}
${accDecl}
  for (var k0 = kBegin; k0 < kEnd; k0 += BK) {
${a.stage}
${b.stage}
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let ka = kk * AS;
      let kb = kk * BS;
${loadsA.join("\n")}
${loadsB.join("\n")}
${fmas.join("\n")}
    }
    workgroupBarrier();
  }
${epilogue.join("\n")}`;
    return declare({
      key,
      ...buffers,
      uniforms: CONV_FIELDS,
      entry: convEntry(threads),
      helpers,
      main,
    });
  },
);

/**
 * The direct variant (WGN = 1): each thread owns TM rows (`t + i·WGM`) across
 * all TN columns and walks K one step at a time. A is gathered straight into
 * registers (no other thread reads it) with the column part stepped by
 * `nextA`; B is read from storage at an address every thread shares, which a
 * CPU adapter loads once for all lanes. No workgroup memory and no barriers:
 * on lavapipe a barrier makes a workgroup's invocations run as coroutines,
 * and the staged form measured slower at every conv-autoencoder shape.
 * Columns past N are clamped to N − 1 for the loads and dropped at the store.
 */
function directCode(
  spec: ConvGemmSpec,
  act: Activation,
): Pick<Declaration, "entry" | "helpers" | "main"> {
  const t = spec.tile;
  const fold = spec.foldB ? " * act_grad(YB[i], u.alpha)" : "";
  // dx: B(k, n) = W[tap, n, co] for k = tap·CO + co, at kb + n·CO, with kb
  // stepped alongside k (no division per step).
  const loadsB = range(t.tn).map((j) =>
    spec.mode === "dx"
      ? `      let b${j} = B[kb + nc${j} * u.CO];`
      : `      let b${j} = ldB(k * u.NG + nc${j});`
  );
  const cols = range(t.tn).map((j) => `  let nc${j} = min(n0 + ${j}u, u.NG - 1u);`);
  const { accDecl, fmas, epilogue } = registerTile(
    spec,
    t,
    (i) => `m0 + t + ${i * t.wgm}u`,
    (j) => `n0 + ${j}u`,
  );
  return {
    entry: convEntry(t.wgm),
    helpers: /* wgsl */ `
const BM = ${t.wgm * t.tm}u;
${activationWgsl(act)}
${DIVMOD}
${gatherAWgsl(spec)}
${nextAWgsl(spec.mode)}
fn ldB(i: u32) -> f32 { return B[i]${fold}; }`,
    main: /* wgsl */ `
  let m0 = (wid.y * nwg.x + wid.x) * BM;
  if (m0 >= u.m) { return; }
  let n0 = (wid.z % u.NTILES) * ${t.tn}u;
  let sp = wid.z / u.NTILES;
  let kBegin = sp * u.chunk;
  let kEnd = min(u.k, kBegin + u.chunk);
${cols.join("\n")}
${range(t.tm).map((i) => `  let ra${i} = rowA(m0 + t + ${i * t.wgm}u);`).join("\n")}
  var cs = colStart(kBegin);
${
      spec.mode === "dx"
        ? "  let q0 = divmod(kBegin, u.CO);\n  var kb = q0.x * u.CI * u.CO + q0.y;\n  var co = q0.y;"
        : ""
    }
${accDecl}
  for (var k = kBegin; k < kEnd; k++) {
    let cv = colAt(cs, true);
${range(t.tm).map((i) => `    let a${i} = gatherA(ra${i}, cv);`).join("\n")}
${loadsB.join("\n")}
${fmas.join("\n")}
    cs = nextA(cs);
${
      spec.mode === "dx"
        ? "    kb += 1u;\n    co += 1u;\n    if (co == u.CO) { co = 0u; kb += u.CO * (u.CI - 1u); }"
        : ""
    }
  }
${epilogue.join("\n")}`,
  };
}

/** Specialisation of the row-run forward kernel ({@link conv2dRowsKernel}). */
export interface ConvRowsSpec {
  /** Consecutive output pixels of one output row per thread. */
  tm: number;
  /** Output channels per thread. */
  tn: number;
  /** Threads per workgroup. */
  wgm: number;
  /** Kernel width, horizontal stride and dilation (the register window's shape). */
  kw: number;
  sw: number;
  dw: number;
  bias: boolean;
  act: Activation;
}

/**
 * Row-run forward convolution for CPU adapters: each thread computes TM
 * consecutive output pixels of one output row (a "run"; a row of WO pixels
 * has ceil(WO / TM) runs) for TN output channels. For each kernel row ky and
 * input channel c it gathers the (TM − 1)·SW + (KW − 1)·DW + 1 input pixels
 * its run's taps cover into registers once and reuses each for every kx
 * that reads it, instead of gathering TM·KW elements: for 3×3 stride-1 taps
 * and TM = 7, 9 gathers instead of 21. On CPU adapters a gathered element
 * costs a scalar load per lane, so this is what a thin product (few output
 * channels to share each gather) is bound by. Weights are read at one address
 * for all lanes; no workgroup memory, no barrier.
 *
 * Dispatch: `[mx, my, ceil(N / TN)]`, mx·my ≥ ceil(runs / WGM). Bindings: X,
 * KER (the weights; not `W`, which names the input width field), [BIAS],
 * OUT. Uniform: the implicit-GEMM fields (`CONV_FIELDS`) with m = the number
 * of runs (batch·HO·runs per row) and pad0 = runs per row.
 *
 * @example
 * ```ts
 * const k = conv2dRowsKernel({ tm: 7, tn: 1, wgm: 16, kw: 3, sw: 1, dw: 1, bias: true, act: "sigmoid" });
 * ```
 */
export const conv2dRowsKernel: (spec: ConvRowsSpec) => DeclaredKernel = family(
  "conv2d_rows",
  (spec: ConvRowsSpec): DeclaredKernel => {
    const { tm, tn, kw, sw, dw } = spec;
    const win = (tm - 1) * sw + (kw - 1) * dw + 1;
    const key = `conv2d_rows/${tm}x${tn}/${spec.wgm}/k${kw}s${sw}d${dw}/` +
      `${spec.bias ? "bias" : "nobias"}/${spec.act}`;
    const inputs: Record<string, Elem> = spec.bias
      ? { X: "f32", KER: "f32", BIAS: "f32" }
      : { X: "f32", KER: "f32" };
    // The window's element j sits at input column iw0 + j (clamped into the
    // row for the address; lanes outside the input read 0).
    const cols = range(win).map((j) =>
      `  let col${j} = u32(clamp(iw0 + ${j}, 0, i32(u.W) - 1));\n` +
      `  let in${j} = u32(iw0 + ${j}) < u.W;`
    );
    const gathers = range(win).map((j) =>
      `      let x${j} = select(0.0, X[(rowBase + col${j}) * u.CI + c], ok && in${j});`
    );
    const body: string[] = [];
    for (let kx = 0; kx < kw; kx++) {
      body.push(
        `      let wb${kx} = ((ky * ${kw}u + ${kx}u) * u.CI + c) * u.CO;`,
        ...range(tn).map((j) => `      let b${kx}_${j} = KER[wb${kx} + nc${j}];`),
        ...range(tm).flatMap((i) =>
          range(tn).map((j) =>
            `      c${i}_${j} = fma(x${i * sw + kx * dw}, b${kx}_${j}, c${i}_${j});`
          )
        ),
      );
    }
    const v = (i: number, j: number) => spec.bias ? `c${i}_${j} + BIAS[n]` : `c${i}_${j}`;
    const epilogue = range(tm).flatMap((i) =>
      range(tn).map((j) =>
        `  if (ok0 && ow0 + ${i}u < u.WO && n0 + ${j}u < u.CO) {
    let n = n0 + ${j}u;
    OUT[(row + ${i}u) * u.CO + n] = ${spec.act === "linear" ? v(i, j) : `act(${v(i, j)}, u.alpha)`};
  }`
      )
    );
    const main = /* wgsl */ `
  let r0 = (wid.y * nwg.x + wid.x) * ${spec.wgm}u;
  if (r0 >= u.m) { return; }
  let n0 = wid.z * ${tn}u;
${range(tn).map((j) => `  let nc${j} = min(n0 + ${j}u, u.CO - 1u);`).join("\n")}
  // Run r = (image, output row, run in the row).
  let run = min(r0 + t, u.m - 1u);
  let ok0 = r0 + t < u.m;
  let a = divmod(run, u.pad0);
  let b = divmod(a.x, u.HO);
  let ow0 = a.y * ${tm}u;
  let row = a.x * u.WO + ow0;
  let ih0 = i32(b.y * u.SH) - u.PT;
  let iw0 = i32(ow0 * ${sw}u) - u.PL;
  let img = b.x * u.H;
${cols.join("\n")}
${
      range(tm).map((i) => "  var " + range(tn).map((j) => `c${i}_${j} = 0.0`).join("; var ") + ";")
        .join("\n")
    }
  for (var ky = 0u; ky < u.KH; ky++) {
    let ih = ih0 + i32(ky * u.DILH);
    let ok = u32(ih) < u.H;
    // Clamped so every address is in bounds; masked lanes read 0.
    let rowBase = (img + min(u32(max(ih, 0)), u.H - 1u)) * u.W;
    for (var c = 0u; c < u.CI; c++) {
${gathers.join("\n")}
${body.join("\n")}
    }
  }
${epilogue.join("\n")}`;
    return declare({
      key,
      inputs,
      outputs: { OUT: "f32" },
      uniforms: CONV_FIELDS,
      entry: convEntry(spec.wgm),
      helpers: /* wgsl */ `
${activationWgsl(spec.act)}
${DIVMOD}`,
      main,
    });
  },
);

/**
 * Finishes a split `dw` product: sums the per-split partials `P[s, i]` and
 * routes element i to dW (i < kk) or dB (the bias row).
 *
 * Dispatch: ceil(n / WG) workgroups. Bindings: P (read), DW (write), [DB
 * (write)]. Uniform: n (= rows·N), splits, kk (= taps·N).
 *
 * @example
 * ```ts
 * const k = conv2dSplitSumKernel({ bias: true });
 * ```
 */
export const conv2dSplitSumKernel: (spec: { bias: boolean }) => DeclaredKernel = family(
  "conv2d_split_sum",
  (spec: { bias: boolean }): DeclaredKernel =>
    declare({
      key: `conv2d_split_sum/${spec.bias ? "bias" : "nobias"}`,
      inputs: { P: "f32" },
      outputs: spec.bias ? { DW: "f32", DB: "f32" } : { DW: "f32" },
      uniforms: { n: "u32", splits: "u32", kk: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  var s = 0.0;
  for (var z = 0u; z < u.splits; z++) { s += P[z * u.n + i]; }
  ${spec.bias ? "if (i < u.kk) { DW[i] = s; } else { DB[i - u.kk] = s; }" : "DW[i] = s;"}`,
    }),
);

/** Columns per column-sum workgroup. */
export const CONV_COLSUM_COLS = 64;
/** Rows one column-sum workgroup reduces. */
export const CONV_COLSUM_ROWS = 256;

/**
 * Column sums of an `[n, cols]` matrix (NHWC seen as `[positions, channels]`)
 * in blocks of {@link CONV_COLSUM_ROWS} rows, optionally of G ⊙ act'(Y): the
 * bias gradient of a transposed convolution, whose bias lives on the side
 * the implicit GEMMs do not reduce over. Writes `partial[block, col]`; a
 * second, plain pass over the partials finishes when there are several.
 * 64 columns × 4 row lanes per workgroup; the lanes meet in workgroup memory.
 *
 * Dispatch: `[ceil(cols / 64), ceil(n / 256)]`. Bindings: G (read), [Y
 * (read)], partial (write). Uniform: n, cols, alpha.
 *
 * @example
 * ```ts
 * const k = conv2dColumnSumKernel({ fold: "relu" });
 * ```
 */
export const conv2dColumnSumKernel: (spec: { fold: Activation | null }) => DeclaredKernel = family(
  "conv2d_colsum",
  (spec: { fold: Activation | null }): DeclaredKernel => {
    const f = spec.fold;
    return declare({
      key: `conv2d_colsum/${f ?? "plain"}`,
      inputs: f ? { G: "f32", Y: "f32" } : { G: "f32" },
      outputs: { partial: "f32" },
      uniforms: { n: "u32", cols: "u32", alpha: "f32" },
      entry: {
        workgroupSize: [CONV_COLSUM_COLS, 4, 1],
        builtins: ["workgroup_id", "local_invocation_id"],
      },
      helpers: /* wgsl */ `
${f ? activationWgsl(f) : ""}
var<workgroup> part: array<f32, ${CONV_COLSUM_COLS * 4}>;`,
      main: /* wgsl */ `
  let col = wid.x * ${CONV_COLSUM_COLS}u + lid.x;
  let r0 = wid.y * ${CONV_COLSUM_ROWS}u;
  var acc = 0.0;
  if (col < u.cols) {
    for (var t = lid.y; t < ${CONV_COLSUM_ROWS}u; t += 4u) {
      let r = r0 + t;
      if (r >= u.n) { break; }
      let i = r * u.cols + col;
      acc += G[i]${f ? " * act_grad(Y[i], u.alpha)" : ""};
    }
  }
  let slot = lid.y * ${CONV_COLSUM_COLS}u + lid.x;
  part[slot] = acc;
  workgroupBarrier();
  if (lid.y < 2u) { part[slot] += part[slot + ${2 * CONV_COLSUM_COLS}u]; }
  workgroupBarrier();
  if (lid.y == 0u && col < u.cols) {
    partial[wid.y * u.cols + col] = part[lid.x] + part[lid.x + ${CONV_COLSUM_COLS}u];
  }`,
    });
  },
);
