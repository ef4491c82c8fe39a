/**
 * Matrix products: `matmul` (2-D, or batched 3-D) and the fused dense layer
 * `linear` (y = act(x·W + b) in one kernel). Their gradient rules use the
 * kernel's transposed-operand variants, so no transpose is ever materialised.
 *
 * @module
 */
import { type Activation, ACTIVATION_SAVES, isActivation } from "../../shaders/activations.ts";
import {
  DENSE_GRAD_COLS,
  DENSE_GRAD_ROWS,
  denseGradKernel,
  matmulKernel,
  matmulPairKernel,
  type MatmulSpec,
  type MatmulTile,
  pairable,
  tileName,
  tileShape,
} from "../../shaders/matmul.ts";
import { matmulNaiveKernel, NAIVE_WG } from "../../shaders/matmul_naive.ts";
import { record } from "../autograd/tape.ts";
import type { Budgets } from "../gpu/budget.ts";
import { runtime } from "../gpu/runtime.ts";
import { empty, fmtShape, sizeOf, type Tensor } from "../tensor/tensor.ts";
import { reduceTo } from "./broadcast.ts";
import { launchKernel } from "./kernel_call.ts";
import { DEFAULT_ALPHA } from "./activations.ts";
import { reduceAxisRaw, sumAxesRaw } from "./reduce.ts";
import { binaryRaw } from "./binary.ts";
import { copyInto, fillInPlace } from "./creation.ts";
import { matmulTile, pairProducts } from "./tuning.ts";
import { unaryGradRaw, unaryRaw } from "./unary.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use the transpose of `a` (stored [K, M]) without copying it. */
  transA?: boolean;
  /** Use the transpose of `b` (stored [N, K]) without copying it. */
  transB?: boolean;
}

/** Options of {@link matmulRaw}: the product, its epilogue, and kernel overrides. */
export interface MatmulRawOptions extends MatmulOptions {
  /** Per-column bias [N] added before the activation. */
  bias?: Tensor;
  activation?: Activation;
  /** leaky_relu's slope / elu's scale. */
  alpha?: number;
  /** Tile override (benchmarks, tuning); default from {@link matmulTile}. */
  tile?: MatmulTile;
  /** Use the naive one-thread-per-output kernel (benchmark baseline; no epilogue). */
  naive?: boolean;
  /** Write into this tensor instead of allocating one. */
  out?: Tensor;
  /**
   * Also write the column sums of op(b) (shape [N]) into this tensor, from
   * the same dispatch where it can (a virtual row of ones under op(a); with
   * K split, a reduction after). A dense layer's weight gradient xᵀ·dZ
   * brings its bias gradient this way. 2-D operands, no bias or activation.
   */
  colSums?: Tensor;
  /**
   * Multiply the product by `activation`'s derivative read from its output
   * `y` (shape of the product; an activation whose derivative comes from
   * its output): a dense layer's input gradient leaves as the previous
   * layer's dZ. 2-D operands, no bias, activation or `out`.
   */
  mask?: { activation: Activation; y: Tensor; alpha?: number };
  /** Op name for messages. */
  op?: string;
}

/** The resolved geometry of a (batched) product. */
interface Product {
  m: number;
  n: number;
  k: number;
  batch: number;
  /** Batch strides in elements (0 = broadcast). */
  sa: number;
  sb: number;
  /** Output shape. */
  shape: number[];
}

function fmtOperand(t: Tensor, trans: boolean, name: string): string {
  return `${fmtShape(t.shape)}${trans ? ` (${name} transposed)` : ""}`;
}

/** Validates operands and computes the product's geometry; throws before any GPU work. */
function product(op: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean): Product {
  for (const [t, name] of [[a, "a"], [b, "b"]] as const) {
    if (t === null || typeof t !== "object" || !("shape" in t)) {
      throw new TypeError(`${op}: ${name} must be a Tensor, got ${String(t)}`);
    }
    if (t.dtype !== "f32") {
      throw new TypeError(
        `${op}: expected f32 operands, got ${name}: ${t.dtype} ${fmtShape(t.shape)}`,
      );
    }
    if (t.rank !== 2 && t.rank !== 3) {
      throw new Error(
        `${op}: expected 2-D matrices or 3-D batches of matrices, got ${name} of rank ${t.rank}: ${
          fmtShape(t.shape)
        }`,
      );
    }
  }
  const [a0, a1] = a.shape.slice(-2), [b0, b1] = b.shape.slice(-2);
  const [m, ka] = transA ? [a1, a0] : [a0, a1];
  const [kb, n] = transB ? [b1, b0] : [b0, b1];
  if (ka !== kb) {
    throw new Error(
      `${op}: inner dimensions differ: ${fmtOperand(a, transA, "a")} x ${
        fmtOperand(b, transB, "b")
      } (expected a [*, ${ka}] x [${ka}, *] product)`,
    );
  }
  const ba = a.rank === 3 ? a.shape[0] : 1, bb = b.rank === 3 ? b.shape[0] : 1;
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(
      `${op}: batch sizes differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)}`,
    );
  }
  const batch = Math.max(ba, bb);
  const batched = a.rank === 3 || b.rank === 3;
  return {
    m,
    n,
    k: ka,
    batch,
    sa: ba === 1 ? 0 : m * ka,
    sb: bb === 1 ? 0 : ka * n,
    shape: batched ? [batch, m, n] : [m, n],
  };
}

/** The column sums of op(b) into `out` [n] by a reduction (when they cannot ride in the product). */
function sumColumns(
  b: Tensor,
  transB: boolean,
  n: number,
  k: number,
  out: Tensor,
  op: string,
): void {
  // op(b) is [K, N]: stored so (sum down its columns) or as [N, K] (sum each row).
  const s = transB
    ? reduceAxisRaw("sum", b, n, k, 1, [n], { name: op }).values
    : reduceAxisRaw("sum", b, 1, k, n, [n], { name: op }).values;
  copyInto(out, s, { op });
  s.dispose();
}

/** Validates a product's column sums and mask (before any GPU work). */
function checkExtras(op: string, p: Product, o: MatmulRawOptions): void {
  const { colSums, mask } = o;
  const plain = p.shape.length === 2 && !o.bias && (o.activation ?? "linear") === "linear" &&
    !o.naive;
  if (colSums) {
    if (colSums.dtype !== "f32" || colSums.rank !== 1 || colSums.shape[0] !== p.n) {
      throw new Error(
        `${op}: expected column sums of shape [${p.n}] f32, got ${
          fmtShape(colSums.shape)
        } ${colSums.dtype}`,
      );
    }
    if (!plain) {
      throw new Error(
        `${op}: column sums go with a plain 2-D product (no bias, activation, batch)`,
      );
    }
  }
  if (mask) {
    if (ACTIVATION_SAVES[mask.activation] !== "y" || mask.activation === "linear") {
      throw new Error(
        `${op}: a mask needs an activation whose derivative comes from its output, got ${mask.activation}`,
      );
    }
    if (mask.y.shape.join() !== p.shape.join() || mask.y.dtype !== "f32") {
      throw new Error(
        `${op}: the mask's output ${fmtShape(mask.y.shape)} ${mask.y.dtype} does not match the ` +
          `product ${fmtShape(p.shape)} f32`,
      );
    }
    if (!plain || o.out) {
      throw new Error(`${op}: a mask goes with a plain 2-D product (no bias, activation, out)`);
    }
  }
}

/**
 * Records the product kernel without autograd: `act(op(a)·op(b) + bias)`.
 * Exported for fused uses, gradient rules and benchmarks.
 *
 * @example
 * ```ts
 * const y = lt.matmulRaw(x, w, { bias: b, activation: "relu" });
 * ```
 */
export function matmulRaw(a: Tensor, b: Tensor, options: MatmulRawOptions = {}): Tensor {
  const op = options.op ?? "matmul";
  const transA = options.transA ?? false, transB = options.transB ?? false;
  const p = product(op, a, b, transA, transB);
  const activation = options.activation ?? "linear";
  if (!isActivation(activation)) {
    throw new Error(`${op}: unknown activation "${activation}"`);
  }
  const bias = options.bias;
  if (bias && (bias.dtype !== "f32" || bias.rank !== 1 || bias.shape[0] !== p.n)) {
    throw new Error(
      `${op}: expected a bias of shape [${p.n}] f32, got ${fmtShape(bias.shape)} ${bias.dtype}`,
    );
  }
  if (options.out && options.out.shape.join() !== p.shape.join()) {
    throw new Error(
      `${op}: output ${fmtShape(options.out.shape)} does not match ${fmtShape(p.shape)}`,
    );
  }
  const colSums = options.colSums, mask = options.mask;
  checkExtras(op, p, options);
  if (sizeOf(p.shape) === 0) {
    // No rows (M = 0) still leaves op(b)'s K rows to sum; K = 0 sums nothing.
    if (colSums && p.n > 0) {
      if (p.k === 0) fillInPlace(colSums, 0);
      else sumColumns(b, transB, p.n, p.k, colSums, op);
    }
    return options.out ?? empty(p.shape, "f32", op);
  }
  const { m, n, k } = p;
  const budgets = runtime().budgets;

  if (options.naive) {
    if (bias || activation !== "linear" || p.batch !== 1) {
      throw new Error(`${op}: the naive kernel has no epilogue or batch`);
    }
    if (k > budgets.loopIterations) {
      throw new RangeError(
        `${op}: the naive kernel loops K = ${k} times per output; this driver runs at most ` +
          `${budgets.loopIterations} loop iterations per invocation`,
      );
    }
    const out = options.out ?? empty(p.shape, "f32", op);
    launchKernel(
      op,
      matmulNaiveKernel({ transA, transB }),
      { A: a, B: b, C: out },
      { M: m, N: n, K: k, pad: 0 },
      [Math.ceil(n / NAIVE_WG), Math.ceil(m / NAIVE_WG), 1],
    );
    return out;
  }

  const tile = options.tile ?? matmulTile(m, n, k, transB);
  const { bm, bn } = tileShape(tile);
  const plan = planProduct(op, p, tile, budgets);
  const split = plan.splits > 1;
  // Column sums ride along as row M unless K is split (then a reduction after).
  const sums = colSums !== undefined && !split;
  // With K split, the epilogue runs after the partial products are summed.
  const kernel = matmulKernel({
    ...productSpec(
      p,
      transA,
      transB,
      tile,
      bias !== undefined && !split,
      split ? "linear" : activation,
    ),
    ...(sums ? { colSums: true } : {}),
    ...(mask && !split ? { mask: mask.activation } : {}),
  });
  const alpha = mask
    ? mask.alpha ?? DEFAULT_ALPHA[mask.activation]
    : options.alpha ?? DEFAULT_ALPHA[activation];
  const target = split
    ? empty([p.batch * plan.splits, m, n], "f32", `${op} (split-K partial products)`)
    : options.out ?? empty(p.shape, "f32", op);
  const buffers: Record<string, Tensor> = bias && !split
    ? { A: a, B: b, bias, C: target }
    : { A: a, B: b, C: target };
  if (sums) buffers.CS = colSums;
  if (mask && !split) buffers.Y = mask.y;
  const tilesM = Math.ceil((sums ? m + 1 : m) / bm);
  for (let tile0 = 0; tile0 < tilesM; tile0 += budgets.workgroupsPerDim) {
    launchKernel(
      op,
      kernel,
      buffers,
      productUniforms(p, plan, alpha, tile0),
      [
        Math.ceil(n / bn),
        Math.min(budgets.workgroupsPerDim, tilesM - tile0),
        p.batch * plan.splits,
      ],
    );
  }
  if (colSums && !sums) sumColumns(b, transB, n, k, colSums, op);
  if (!split) return target;
  const sum = reduceAxisRaw("sum", target, p.batch, plan.splits, m * n, p.shape, { name: op })
    .values;
  target.dispose();
  if (mask) {
    const out = unaryGradRaw(mask.activation, sum, mask.y, alpha);
    sum.dispose();
    return out;
  }
  let z = sum;
  if (bias) {
    z = binaryRaw("add", sum, bias);
    sum.dispose();
  }
  if (activation === "linear" && !options.out) return z;
  const out = unaryRaw(activation, z, alpha, 0, options.out);
  z.dispose();
  return out;
}

/** One product of {@link matmulPairRaw}: `op(a) · op(b)`. */
export interface PairedProduct {
  a: Tensor;
  b: Tensor;
  transA?: boolean;
  transB?: boolean;
  /** As {@link MatmulRawOptions.colSums}. */
  colSums?: Tensor;
  /** As {@link MatmulRawOptions.mask}. */
  mask?: MatmulRawOptions["mask"];
}

/**
 * Two independent plain products (no bias or activation) recorded as one
 * dispatch when both are 2-D, need no K split and their tiles can share a
 * workgroup (`matmulPairKernel`); otherwise as two. A dense layer's backward
 * runs its input and weight gradients this way on GPUs (`pairProducts`):
 * one dispatch per layer fewer. `tiles` overrides the two tiles (tests,
 * benchmarks).
 *
 * @example
 * ```ts
 * const [dx, dw] = matmulPairRaw({ a: dz, b: w, transB: true }, { a: x, b: dz, transA: true });
 * ```
 */
export function matmulPairRaw(
  first: PairedProduct,
  second: PairedProduct,
  op = "matmul",
  tiles?: [MatmulTile, MatmulTile],
): [Tensor, Tensor] {
  const both = [first, second] as const;
  const ps = both.map((x) => product(op, x.a, x.b, x.transA ?? false, x.transB ?? false));
  const budgets = runtime().budgets;
  let ts = tiles ?? ps.map((p, i) => matmulTile(p.m, p.n, p.k, both[i].transB ?? false));
  if (!tiles && !pairable(ts[0], ts[1])) {
    // Staged tiles of two thread shapes (a thin product's 16×4 beside a
    // wide one's 4×16) cannot share a workgroup: the larger product's tile
    // serves both. A dispatch saved outweighs the thin product's idle lanes
    // where steps are bound by the host (GPUs; unmeasured there).
    const big = ps[0].m * ps[0].n >= ps[1].m * ps[1].n ? 0 : 1;
    ts = [ts[big], ts[big]];
  }
  const plans = ps.map((p, i) => planProduct(op, p, ts[i], budgets));
  both.forEach((x, i) => checkExtras(op, ps[i], x));
  const single = () =>
    both.map((x, i) =>
      matmulRaw(x.a, x.b, {
        transA: x.transA,
        transB: x.transB,
        op,
        tile: tiles?.[i],
        colSums: x.colSums,
        mask: x.mask,
      })
    ) as [Tensor, Tensor];
  if (
    ps.some((p) => p.shape.length !== 2 || p.k === 0 || sizeOf(p.shape) === 0) ||
    plans.some((pl) => pl.splits > 1) || !pairable(ts[0], ts[1]) ||
    (first.mask && second.mask && first.mask.activation !== second.mask.activation)
  ) return single();
  const specs = ps.map((p, i): MatmulSpec => ({
    ...productSpec(p, both[i].transA ?? false, both[i].transB ?? false, ts[i], false, "linear"),
    ...(both[i].colSums ? { colSums: true } : {}),
    ...(both[i].mask ? { mask: both[i].mask!.activation } : {}),
  }));
  const grid = ps.map((p, i) => {
    const { bm, bn } = tileShape(ts[i]);
    // Column sums are row M of a virtual ones row: one more row to cover.
    const rows = p.m + (both[i].colSums ? 1 : 0);
    return { cols: Math.ceil(p.n / bn), tiles: Math.ceil(p.n / bn) * Math.ceil(rows / bm) };
  });
  const outs = ps.map((p) => empty(p.shape, "f32", op)) as [Tensor, Tensor];
  const uniforms: Record<string, number> = {
    first_b: grid[0].tiles,
    total: grid[0].tiles + grid[1].tiles,
  };
  const buffers: Record<string, Tensor> = {
    A_a: first.a,
    B_a: first.b,
    A_b: second.a,
    B_b: second.b,
    C_a: outs[0],
    C_b: outs[1],
  };
  ps.forEach((p, i) => {
    const s = i === 0 ? "a" : "b";
    const x = both[i];
    const alpha = x.mask ? x.mask.alpha ?? DEFAULT_ALPHA[x.mask.activation] : 0;
    for (const [name, v] of Object.entries(productUniforms(p, plans[i], alpha, 0))) {
      uniforms[`${name}_${s}`] = v;
    }
    uniforms[`cols_${s}`] = grid[i].cols;
    if (x.colSums) buffers[`CS_${s}`] = x.colSums;
    if (x.mask) buffers[`Y_${s}`] = x.mask.y;
  });
  launchKernel(
    op,
    matmulPairKernel({ a: specs[0], b: specs[1] }),
    buffers,
    uniforms,
    grid[0].tiles + grid[1].tiles,
  );
  return outs;
}

/** The kernel spec of a product: transposes, tile, epilogue, and vec4 access where it can. */
function productSpec(
  p: Product,
  transA: boolean,
  transB: boolean,
  tile: MatmulTile,
  bias: boolean,
  activation: Activation,
): MatmulSpec {
  // vec4 bindings need at least 16 bytes: with K = 0 (empty operands) stay scalar.
  const aligned = (d: number) => p.k > 0 && d % 4 === 0;
  return {
    transA,
    transB,
    tile,
    m4: aligned(p.m),
    n4: aligned(p.n),
    k4: aligned(p.k),
    bias,
    activation,
  };
}

/** The product kernel's uniform fields (`MATMUL_FIELDS` in shaders/matmul.ts). */
function productUniforms(
  p: Product,
  plan: ProductPlan,
  alpha: number,
  tile0: number,
): Record<string, number> {
  return {
    M: p.m,
    N: p.n,
    K: p.k,
    alpha,
    sa: p.sa,
    sb: p.sb,
    sc: p.m * p.n,
    kLen: plan.kLen,
    splits: plan.splits,
    tile0,
  };
}

/** How a product's K is split so every invocation's loop stays within the budget. */
interface ProductPlan {
  /** K positions one split covers (a multiple of the tile's K step). */
  kLen: number;
  /** Splits of K: partial products summed afterwards when more than 1. */
  splits: number;
}

/**
 * Splits K so the kernel's K loop stays within the loop budget
 * (src/gpu/budget.ts): a direct tile loops K / 4 times, a staged one runs
 * per BK slice 1 + BK iterations plus its slice loads. Throws, naming the
 * op, when the grid cannot fit the workgroups-per-dimension budget (M tiles
 * never limit it: they are launched in several dispatches).
 */
function planProduct(
  op: string,
  p: Product,
  tile: MatmulTile,
  budgets: Budgets,
): ProductPlan {
  const { bm, bn, threads } = tileShape(tile);
  const step = tile.stage ? tile.bk : 4;
  const perStep = tile.stage
    ? 1 + tile.bk + Math.ceil(tile.bk * bm / threads) + Math.ceil(tile.bk * bn / threads)
    : 1;
  const steps = Math.floor(budgets.loopIterations / perStep);
  if (!(steps >= 1)) {
    throw new RangeError(
      `${op}: one K step of tile ${tileName(tile)} needs ${perStep} loop iterations; ` +
        `the budget is ${budgets.loopIterations}`,
    );
  }
  let kLen = Math.max(p.k, 1), splits = 1;
  if (p.k > steps * step) {
    splits = Math.ceil(p.k / (steps * step));
    kLen = Math.ceil(p.k / splits / step) * step;
    splits = Math.ceil(p.k / kLen);
  }
  const per = budgets.workgroupsPerDim;
  const cols = Math.ceil(p.n / bn);
  if (cols > per || p.batch * splits > per) {
    throw new RangeError(
      `${op}: a [${p.batch}, ${p.m}, ${p.n}] product over K = ${p.k} needs ${cols} column ` +
        `tiles and ${p.batch} × ${splits} batch × K-split workgroups; at most ${per} fit ` +
        `along one grid dimension`,
    );
  }
  return { kLen, splits };
}

/** Sums a [batch, ...] gradient over the batch when the operand was broadcast (rank 2 or batch 1). */
function unbatch(g: Tensor, like: Tensor): Tensor {
  return g.rank === like.rank && g.shape[0] === like.shape[0] ? g : reduceTo(g, like.shape);
}

/**
 * Matrix product `op(a) · op(b)`, where `op` transposes when asked (read in
 * place, never copied). 2-D operands give a 2-D product; a 3-D operand
 * [batch, ·, ·] makes a batched product (a 2-D or batch-1 operand is shared
 * across the batch).
 *
 * Gradients (G = upstream): dA = G·op(B)ᵀ and dB = op(A)ᵀ·G, each one kernel
 * with the transposes folded into its operand reads.
 *
 * @example
 * ```ts
 * const c = lt.matmul(a, b);                    // [m, k] x [k, n]
 * const g = lt.matmul(x, dz, { transA: true }); // xᵀ · dz
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false, transB = options.transB ?? false;
  const out = matmulRaw(a, b, { transA, transB });
  return record(out, "matmul", [a, b], (g) => [
    a.requiresGrad ? unbatch(gradA(g, b, transA, transB), a) : null,
    b.requiresGrad ? unbatch(gradB(g, a, transA, transB), b) : null,
  ]);
}

/** d/dA of C = op(A)·op(B): G·op(B)ᵀ, or its transpose op(B)·Gᵀ when A is read transposed. */
function gradA(g: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return transA
    ? matmulRaw(b, g, { transA: transB, transB: true, op: "matmul (gradient)" })
    : matmulRaw(g, b, { transB: !transB, op: "matmul (gradient)" });
}

/** d/dB of C = op(A)·op(B): op(A)ᵀ·G, or its transpose Gᵀ·op(A) when B is read transposed. */
function gradB(g: Tensor, a: Tensor, transA: boolean, transB: boolean): Tensor {
  return transB
    ? matmulRaw(g, a, { transA: true, transB: transA, op: "matmul (gradient)" })
    : matmulRaw(a, g, { transA: !transA, op: "matmul (gradient)" });
}

/**
 * The backward of a fused dense layer's epilogue: dZ = g ⊙ act'(s) and, when
 * `withBias`, the bias gradient (column sums of dZ) from the same pass. `s`
 * is what the activation's derivative reads: the output y, or the
 * pre-activation z for gelu and silu (`ACTIVATION_SAVES`).
 */
function denseGrad(
  g: Tensor,
  y: Tensor,
  activation: Activation,
  alpha: number,
  withBias: boolean,
  op: string,
): { dz: Tensor; db: Tensor | null } {
  const cols = g.shape[1];
  if (activation === "linear") {
    return { dz: g, db: withBias ? sumAxesRaw(g, [0], [cols], 1, op) : null };
  }
  if (!withBias) return { dz: unaryGradRaw(activation, g, y, alpha), db: null };
  const n = g.shape[0];
  const blocks = Math.max(1, Math.ceil(n / DENSE_GRAD_ROWS));
  const dz = empty(g.shape, "f32", op);
  const partial = empty(blocks === 1 ? [cols] : [blocks, cols], "f32", op);
  if (cols > 0) {
    launchKernel(
      op,
      denseGradKernel({ activation }),
      { G: g, Y: y, dZ: dz, partial },
      { n, cols, alpha },
      [Math.ceil(cols / DENSE_GRAD_COLS), blocks, 1],
    );
  }
  if (blocks === 1) return { dz, db: partial };
  const db = sumAxesRaw(partial, [0], [cols], 1, op);
  partial.dispose();
  return { dz, db };
}

/** Outputs of fused relu dense layers (their consumers may mask the gradient they send back). */
const reluOutputs = new WeakSet<Tensor>();
/** Input gradients sent back already multiplied by relu'(y) of the relu layer that made y. */
const reluMasked = new WeakSet<Tensor>();

/**
 * The dense layer in one kernel: `y = act(x · w + bias)` with x [n, in],
 * w [in, out], bias [out]. `alpha` is leaky_relu's slope / elu's scale.
 *
 * The gradient works from the output y where the activation's derivative
 * is a function of it (relu, sigmoid, tanh, …); gelu and silu run as a
 * second kernel after the product, and the backward reads the kept
 * pre-activation z. One pass makes dZ = g ⊙ act'(y or z) and the bias
 * gradient (its column sums) together, then dx = dZ·wᵀ and dw = xᵀ·dZ read
 * their transposed operands in place. That pass disappears where it can:
 * without an activation dZ = g and dw's product also writes the bias
 * gradient (`colSums`: a virtual ones row under xᵀ); and when x is itself a
 * fused relu layer's output, dx leaves already multiplied by relu'(x)
 * (`mask`), marked, so that layer's backward is its two products alone. A
 * stack of relu layers then costs two dispatches per layer backward (one
 * where the products pair), where it cost three.
 *
 * @example
 * ```ts
 * const h = lt.linear(x, w1, b1, "relu");   // [256, 784] -> [256, 500]
 * const z = lt.linear(h, w2, b2);           // no activation
 * ```
 */
export function linear(
  x: Tensor,
  w: Tensor,
  bias?: Tensor,
  activation: Activation = "linear",
  alpha?: number,
): Tensor {
  const op = "linear";
  for (const [t, name] of [[x, "x"], [w, "w"]] as const) {
    if (t === null || typeof t !== "object" || !("shape" in t)) {
      throw new TypeError(`${op}: ${name} must be a Tensor, got ${String(t)}`);
    }
    if (t.rank !== 2) {
      throw new Error(`${op}: expected ${name} to be 2-D, got ${fmtShape(t.shape)}`);
    }
  }
  if (x.shape[1] !== w.shape[0]) {
    throw new Error(
      `${op}: expected input [*, ${w.shape[0]}] for weights ${fmtShape(w.shape)}, got ${
        fmtShape(x.shape)
      }`,
    );
  }
  if (!isActivation(activation)) {
    throw new Error(`${op}: unknown activation "${activation}"`);
  }
  const a = alpha ?? DEFAULT_ALPHA[activation];
  // An activation whose derivative needs its input (gelu, silu) runs after
  // the product, which keeps the pre-activation z for the backward; the
  // others are fused and the backward reads their output.
  const fused = ACTIVATION_SAVES[activation] === "y";
  const z = matmulRaw(x, w, { bias, activation: fused ? activation : "linear", alpha: a, op });
  const y = fused ? z : unaryRaw(activation, z, a);
  const inputs = bias ? [x, w, bias] : [x, w];
  const out = record(y, op, inputs, (g) => {
    const name = `${op} (gradient)`;
    const wantDb = bias?.requiresGrad ?? false;
    // A gradient the next relu layer already masked (see below) is dZ itself.
    const act = activation === "relu" && reluMasked.has(g) ? "linear" : activation;
    // Both products read dZ: one dispatch when both are wanted (on GPUs: pairProducts).
    const pair = x.requiresGrad && w.requiresGrad && pairProducts();
    // Without an activation dZ = g, and the weight gradient's product brings
    // the bias gradient (dZ's column sums) from the same dispatch.
    const fold = wantDb && w.requiresGrad && act === "linear";
    const { dz, db } = fold
      ? { dz: g, db: empty([w.shape[1]], "f32", name) }
      : denseGrad(g, z, act, a, wantDb, name);
    // When x is a fused relu layer's output, dx leaves multiplied by
    // relu'(x): that layer's dZ, so its backward needs no pass of its own.
    // Only relu: its mask is idempotent, so a gradient summed with another
    // consumer's (not marked) may take it again and stay right.
    const mask = x.requiresGrad && reluOutputs.has(x)
      ? { activation: "relu" as const, y: x }
      : undefined;
    const colSums = fold ? db! : undefined;
    const grads: (Tensor | null)[] = pair
      ? matmulPairRaw(
        { a: dz, b: w, transB: true, mask },
        { a: x, b: dz, transA: true, colSums },
        name,
      )
      : [
        x.requiresGrad ? matmulRaw(dz, w, { transB: true, op: name, mask }) : null,
        w.requiresGrad ? matmulRaw(x, dz, { transA: true, op: name, colSums }) : null,
      ];
    if (mask && grads[0]) reluMasked.add(grads[0]);
    if (bias) grads.push(db);
    return grads;
  });
  if (fused && activation === "relu" && out.requiresGrad) reluOutputs.add(out);
  return out;
}
