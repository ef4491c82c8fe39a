/**
 * Tiled matrix multiply C = act(op(A) · op(B) + bias), with op(X) = X or Xᵀ
 * read in place, over an optional leading batch dimension.
 *
 * The output is cut into BM×BN tiles, one per workgroup of WGM×WGN threads;
 * each thread owns a TM×TN block of accumulators (register tiling), so every
 * value it loads feeds TN (or TM) multiply-adds. A thread's rows and columns
 * are interleaved in groups of 4 (rows `(i·WGM + ty)·4 + r`), so neighbouring
 * threads touch neighbouring vec4s.
 *
 * Two ways to feed the registers (`tile.stage`):
 * - **staged** (GPUs): K is walked in BK-deep slices; the workgroup copies a
 *   BM×BK slice of A and a BK×BN slice of B into workgroup memory (each
 *   global element read once per workgroup, coalesced), then every thread
 *   runs outer products over the slice with vec4 reads. Both slices are
 *   stored k-major (`As[k][m]`, `Bs[k][n]`, vec4 over 4 consecutive m or n)
 *   whatever the operands' layout: transposition only changes how a slice
 *   is fetched.
 * - **direct** (CPU adapters such as lavapipe): each thread reads its own
 *   operands from global memory, 4 k at a time, with no workgroup memory and
 *   no barriers. Lavapipe executes a load whose address differs between the
 *   8 SIMD lanes as 8 scalar loads, whether from workgroup or storage memory,
 *   and runs barrier-separated code as coroutines; staging then only adds
 *   work, and the large register tile is what amortises the loads.
 *
 * Global loads and the store of C are vec4 where the contiguous dimension is
 * a multiple of 4 (`m4`, `n4`, `k4`), scalar otherwise. Every edge is handled
 * (bounds checks when staging; clamped indices and zero weights when direct),
 * so any M, N, K works.
 *
 * Layouts (row-major): A is [M, K] (or [K, M] when `transA`), B is [K, N] (or
 * [N, K] when `transB`), C is [M, N], bias is [N]. Batch b (workgroup z)
 * starts at `b · sa`, `b · sb`, `b · sc` elements (a stride of 0 broadcasts).
 *
 * **Split K.** Workgroup z is `batch · splits + split`: split s covers
 * k in [s · kLen, min(K, (s + 1) · kLen)) and writes its own partial
 * product at `z · sc`. The host splits K when one invocation's K loop would
 * exceed the driver's loop budget (src/gpu/budget.ts; Mesa 22's llvmpipe
 * stops loops silently after 65 535 iterations), sums the partials and
 * applies the epilogue afterwards. kLen is a multiple of 4 (direct) or BK
 * (staged), so every split starts on a K step. With one split (kLen = K)
 * the kernel is the plain product.
 * **Row tiles** start at `tile0` (added to workgroup y), so the host covers
 * more than the per-dimension workgroup limit of M tiles in several launches.
 *
 * Dispatch: `[ceil(N / BN), row tiles, batch · splits]` workgroups.
 * **Gradient epilogues** (plain 2-D products only): `colSums` appends a
 * virtual row of ones to op(A), whose row of C (the column sums of op(B))
 * goes to CS; `mask` multiplies C by an activation's derivative read from
 * Y, an output of that activation. A dense layer's backward uses both
 * (src/ops/matmul.ts `linear`).
 *
 * Bindings: A (read), B (read), [bias (read)], [Y (read)], C (write),
 * [CS (write)], uniforms.
 * Uniform: M, N, K, alpha, sa, sb, sc, kLen, splits, tile0.
 *
 * @module
 */
import { type Activation, ACTIVATION_SAVES, activationWgsl } from "./activations.ts";
import { family, LINEAR_WG } from "./common.ts";
import { declare, type DeclaredKernel, type Elem } from "./declare.ts";

/** Work split of the kernel. Tile = (WGM·TM) × (WGN·TN) outputs. */
export interface MatmulTile {
  /** Output rows per thread (multiple of 4). */
  tm: number;
  /** Output columns per thread (multiple of 4). */
  tn: number;
  /** Threads along M. */
  wgm: number;
  /** Threads along N. */
  wgn: number;
  /** K depth of a staged slice (multiple of 4; unused when not staging). */
  bk: number;
  /** Stage operand slices in workgroup memory (true) or read them directly (false). */
  stage: boolean;
}

/** Specialisation of the matmul family. */
export interface MatmulSpec {
  /** A is stored [K, M] and read as its transpose. */
  transA: boolean;
  /** B is stored [N, K] and read as its transpose. */
  transB: boolean;
  tile: MatmulTile;
  /** M is a multiple of 4. */
  m4: boolean;
  /** N is a multiple of 4. */
  n4: boolean;
  /** K is a multiple of 4. */
  k4: boolean;
  /** Add a per-column bias before the activation. */
  bias: boolean;
  activation: Activation;
  /**
   * Append a virtual row of ones to op(A) (row M): C's row M, the column
   * sums of op(B), goes to CS [N] instead of C. A dense layer's weight
   * gradient xᵀ·dZ then brings its bias gradient (dZ's column sums) in the
   * same dispatch. No bias, activation, batch or K split with it; the grid
   * covers M + 1 rows.
   */
  colSums?: boolean;
  /**
   * Multiply C by an activation's derivative, read from that activation's
   * output Y (same shape and layout as C; an activation whose derivative is
   * a function of its output, `ACTIVATION_SAVES` "y"): C = (op(A)·op(B)) ⊙
   * act'(Y), with act's alpha in `u.alpha`. A dense layer's input gradient
   * dZ·Wᵀ then leaves as the previous relu layer's dZ, with no pass of its
   * own (src/ops/matmul.ts). No bias, activation, batch or K split with it.
   */
  mask?: Activation;
}

/** Rows and columns of the output tile a workgroup computes. */
export function tileShape(t: MatmulTile): { bm: number; bn: number; threads: number } {
  return { bm: t.wgm * t.tm, bn: t.wgn * t.tn, threads: t.wgm * t.wgn };
}

/** Bytes of workgroup memory a tile uses. */
export function tileBytes(t: MatmulTile): number {
  const { bm, bn } = tileShape(t);
  return t.stage ? 4 * t.bk * (bm + bn) : 0;
}

/** Throws unless the tile satisfies the kernel's divisibility rules. */
export function checkTile(t: MatmulTile): void {
  const ok = [t.tm, t.tn, t.bk].every((v) => Number.isInteger(v) && v > 0 && v % 4 === 0) &&
    [t.wgm, t.wgn].every((v) => Number.isInteger(v) && v > 0) && typeof t.stage === "boolean";
  if (!ok) {
    throw new Error(
      `matmul: invalid tile ${
        JSON.stringify(t)
      }: tm, tn, bk must be positive multiples of 4, stage a boolean`,
    );
  }
}

/** A short name of a tile, e.g. `16x8/8x8/direct` or `8x8/8x8/k16`. */
export function tileName(t: MatmulTile): string {
  return `${t.tm}x${t.tn}/${t.wgm}x${t.wgn}/${t.stage ? `k${t.bk}` : "direct"}`;
}

/**
 * WGSL that stages one operand's BK-deep slice into workgroup memory.
 *
 * `outer` is the operand's non-K dimension (M for A, N for B); the slice is
 * stored k-major as vec4 over `outer`. `kMajor` says whether the operand is
 * stored [K, outer] in global memory (A transposed, B plain) or [outer, K].
 */
function stageSlice(
  name: "A" | "B",
  kMajor: boolean,
  vec: boolean,
  outerTile: number,
  bk: number,
  threads: number,
  ones = false,
): string {
  const S = `${name}s`;
  // colSums: A's rows from M on read ones (only row M is stored).
  const past = (one: string) => ones ? ` else if (gk < kEnd) { v = ${one}; }` : "";
  const base = name === "A" ? "row0" : "col0";
  const lim = name === "A" ? "u.M" : "u.N";
  const off = name === "A" ? "offA" : "offB";
  const o4 = outerTile / 4;
  if (kMajor) {
    // Global [K, outer]: contiguous along `outer`, which is also the staged layout.
    if (vec) {
      const count = bk * o4;
      return /* wgsl */ `
  for (var e = li; e < ${count}u; e += ${threads}u) {
    let kk = e / ${o4}u;
    let o4 = e % ${o4}u;
    let gk = k0 + kk;
    let go = ${base} + o4 * 4u;
    var v = vec4f(0.0);
    if (gk < kEnd && go < ${lim}) { v = ${name}[(${off} + gk * ${lim} + go) / 4u]; }${
        past("vec4f(1.0)")
      }
    ${S}[kk * ${o4}u + o4] = v;
  }`;
    }
    const count = bk * outerTile;
    return /* wgsl */ `
  for (var e = li; e < ${count}u; e += ${threads}u) {
    let kk = e / ${outerTile}u;
    let o = e % ${outerTile}u;
    let gk = k0 + kk;
    let go = ${base} + o;
    var v = 0.0;
    if (gk < kEnd && go < ${lim}) { v = ${name}[${off} + gk * ${lim} + go]; }${past("1.0")}
    ${S}[kk * ${o4}u + o / 4u][o % 4u] = v;
  }`;
  }
  // Global [outer, K]: contiguous along K; transposed while staging.
  if (vec) {
    const k4 = bk / 4;
    const count = outerTile * k4;
    return /* wgsl */ `
  for (var e = li; e < ${count}u; e += ${threads}u) {
    let o = e / ${k4}u;
    let kk = (e % ${k4}u) * 4u;
    let gk = k0 + kk;
    let go = ${base} + o;
    var v = vec4f(0.0);
    if (gk < kEnd && go < ${lim}) { v = ${name}[(${off} + go * u.K + gk) / 4u]; }${
      past("vec4f(1.0)")
    }
    let s = kk * ${o4}u + o / 4u;
    let c = o % 4u;
    ${S}[s][c] = v.x;
    ${S}[s + ${o4}u][c] = v.y;
    ${S}[s + ${2 * o4}u][c] = v.z;
    ${S}[s + ${3 * o4}u][c] = v.w;
  }`;
  }
  const count = outerTile * bk;
  return /* wgsl */ `
  for (var e = li; e < ${count}u; e += ${threads}u) {
    let o = e / ${bk}u;
    let kk = e % ${bk}u;
    let gk = k0 + kk;
    let go = ${base} + o;
    var v = 0.0;
    if (gk < kEnd && go < ${lim}) { v = ${name}[${off} + go * u.K + gk]; }${past("1.0")}
    ${S}[kk * ${o4}u + o / 4u][o % 4u] = v;
  }`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The epilogue for one thread: bias, activation, bounds-checked store. */
function epilogue(spec: MatmulSpec, mi: number, nj: number, wgm: number, wgn: number): string {
  const lines: string[] = [];
  for (let j = 0; j < nj; j++) {
    lines.push(`  {
    let col = col0 + (${j * wgn}u + tx) * 4u;`);
    if (spec.bias) {
      lines.push(
        spec.n4
          ? `    var bv = vec4f(0.0);
    if (col < u.N) { bv = bias[col / 4u]; }`
          : `    var bv = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) { if (col + c < u.N) { bv[c] = bias[col + c]; } }`,
      );
    }
    for (let i = 0; i < mi; i++) {
      for (let r = 0; r < 4; r++) {
        const acc = `acc_${i * 4 + r}_${j}`;
        const v = spec.bias ? `${acc} + bv` : acc;
        const value = spec.activation === "linear" ? v : `act4(${v})`;
        lines.push(`    {
      let row = row0 + (${i * wgm}u + ty) * 4u + ${r}u;
      let v = ${value};
      if (row < u.M) {${
          spec.n4
            ? `
        if (col < u.N) {${
              spec.mask
                ? `
          let y = Y[(offC + row * u.N + col) / 4u];
          C[(offC + row * u.N + col) / 4u] = v * vec4f(act_grad(y.x, u.alpha), act_grad(y.y, u.alpha), act_grad(y.z, u.alpha), act_grad(y.w, u.alpha));
        }`
                : ` C[(offC + row * u.N + col) / 4u] = v; }`
            }`
            : `
        for (var c = 0u; c < 4u; c++) { if (col + c < u.N) { C[offC + row * u.N + col + c] = v[c]${
              spec.mask ? " * act_grad(Y[offC + row * u.N + col + c], u.alpha)" : ""
            }; } }`
        }
      }${
          !spec.colSums
            ? ""
            : spec.n4
            ? ` else if (row == u.M && col < u.N) { CS[col / 4u] = v; }`
            : ` else if (row == u.M) {
        for (var c = 0u; c < 4u; c++) { if (col + c < u.N) { CS[col + c] = v[c]; } }
      }`
        }
    }`);
      }
    }
    lines.push("  }");
  }
  return lines.join("\n");
}

const XYZW = "xyzw";

/** Names the loads of the direct mode and the expressions the FMAs read. */
interface DirectOperands {
  /** Statements before the K loop (clamped row / column indices). */
  setup: string[];
  /** Loads at the top of one 4-deep K step. */
  loads: string[];
  /** Scalar A value of thread row `i` at depth `kk`. */
  a: (i: number, kk: number) => string;
  /** vec4 of B over thread column group `j` at depth `kk`. */
  b: (kk: number, j: number) => string;
}

/**
 * Direct mode: each thread loads its TM rows of A and TN columns of B for 4
 * consecutive k straight from global memory. Out-of-range rows and columns
 * are clamped to the last valid one (their results are never stored); past
 * the end of K, values are replaced by zero so they add nothing.
 */
function directOperands(spec: MatmulSpec): DirectOperands {
  const t = spec.tile;
  const mi = t.tm / 4, nj = t.tn / 4;
  const vecA = spec.transA ? spec.m4 : spec.k4;
  const vecB = spec.transB ? spec.k4 : spec.n4;
  const setup: string[] = [];
  const loads: string[] = [];
  // Depth index kk of this step, clamped, and whether it exists.
  const kc = (kk: number) => spec.k4 ? `k + ${kk}u` : `min(k + ${kk}u, u.K - 1u)`;
  const guard = (kk: number, zero: string, v: string) =>
    spec.k4 ? v : `select(${zero}, ${v}, k + ${kk}u < kEnd)`;
  const row = (i: number) => `row0 + ${Math.floor(i / 4) * t.wgm * 4}u + ty * 4u + ${i % 4}u`;
  const col = (j: number, c: number) => `col0 + ${j * t.wgn * 4}u + tx * 4u + ${c}u`;

  let a: DirectOperands["a"];
  // colSums: rows from M on read ones (only row M is stored).
  const ones = (rowExpr: string, one: string, v: string) =>
    spec.colSums ? `select(${v}, ${one}, ${rowExpr} >= u.M)` : v;
  if (vecA && !spec.transA) {
    // [M, K] with K % 4 == 0: one vec4 of 4 k per row.
    for (let i = 0; i < t.tm; i++) {
      setup.push(`let ra${i} = offA + min(${row(i)}, u.M - 1u) * u.K;`);
    }
    for (let i = 0; i < t.tm; i++) {
      loads.push(`let a${i} = ${ones(row(i), "vec4f(1.0)", `A[(ra${i} + k) / 4u]`)};`);
    }
    a = (i, kk) => `a${i}.${XYZW[kk]}`;
  } else if (vecA) {
    // [K, M] with M % 4 == 0: one vec4 of 4 rows per k.
    for (let i = 0; i < mi; i++) {
      setup.push(`let rg${i} = offA + min(${row(i * 4)}, u.M - 4u);`);
    }
    for (let kk = 0; kk < 4; kk++) {
      for (let i = 0; i < mi; i++) {
        const v = ones(row(i * 4), "vec4f(1.0)", `A[(rg${i} + (${kc(kk)}) * u.M) / 4u]`);
        loads.push(`let a${kk}_${i} = ${guard(kk, "vec4f(0.0)", v)};`);
      }
    }
    a = (i, kk) => `a${kk}_${Math.floor(i / 4)}.${XYZW[i % 4]}`;
  } else {
    for (let i = 0; i < t.tm; i++) setup.push(`let ri${i} = min(${row(i)}, u.M - 1u);`);
    for (let kk = 0; kk < 4; kk++) {
      for (let i = 0; i < t.tm; i++) {
        const idx = spec.transA
          ? `offA + (${kc(kk)}) * u.M + ri${i}`
          : `offA + ri${i} * u.K + ${kc(kk)}`;
        loads.push(`let a${kk}_${i} = ${guard(kk, "0.0", ones(row(i), "1.0", `A[${idx}]`))};`);
      }
    }
    a = (i, kk) => `a${kk}_${i}`;
  }

  let b: DirectOperands["b"];
  if (vecB && !spec.transB) {
    // [K, N] with N % 4 == 0: one vec4 of 4 columns per k.
    for (let j = 0; j < nj; j++) setup.push(`let cg${j} = offB + min(${col(j, 0)}, u.N - 4u);`);
    for (let kk = 0; kk < 4; kk++) {
      for (let j = 0; j < nj; j++) {
        loads.push(
          `let b${kk}_${j} = ${guard(kk, "vec4f(0.0)", `B[(cg${j} + (${kc(kk)}) * u.N) / 4u]`)};`,
        );
      }
    }
    b = (kk, j) => `b${kk}_${j}`;
  } else if (vecB) {
    // [N, K] with K % 4 == 0: one vec4 of 4 k per column.
    for (let j = 0; j < nj; j++) {
      for (let c = 0; c < 4; c++) {
        setup.push(`let cc${j}_${c} = offB + min(${col(j, c)}, u.N - 1u) * u.K;`);
        loads.push(`let b${j}_${c} = B[(cc${j}_${c} + k) / 4u];`);
      }
    }
    b = (kk, j) => `vec4f(${[0, 1, 2, 3].map((c) => `b${j}_${c}.${XYZW[kk]}`).join(", ")})`;
  } else {
    for (let j = 0; j < nj; j++) {
      for (let c = 0; c < 4; c++) setup.push(`let ci${j}_${c} = min(${col(j, c)}, u.N - 1u);`);
    }
    for (let kk = 0; kk < 4; kk++) {
      for (let j = 0; j < nj; j++) {
        for (let c = 0; c < 4; c++) {
          const idx = spec.transB
            ? `offB + ci${j}_${c} * u.K + ${kc(kk)}`
            : `offB + (${kc(kk)}) * u.N + ci${j}_${c}`;
          loads.push(`let b${kk}_${j}_${c} = ${guard(kk, "0.0", `B[${idx}]`)};`);
        }
      }
    }
    b = (kk, j) => `vec4f(${[0, 1, 2, 3].map((c) => `b${kk}_${j}_${c}`).join(", ")})`;
  }
  return { setup, loads, a, b };
}

/** The K loop of the direct mode. */
function directLoop(spec: MatmulSpec): string {
  const t = spec.tile;
  const nj = t.tn / 4;
  const ops = directOperands(spec);
  const fmas: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < t.tm; i++) {
      for (let j = 0; j < nj; j++) {
        fmas.push(`acc_${i}_${j} = fma(vec4f(${ops.a(i, kk)}), ${ops.b(kk, j)}, acc_${i}_${j});`);
      }
    }
  }
  return `  ${ops.setup.join("\n  ")}
  for (var k = kBegin; k < kEnd; k += 4u) {
    ${ops.loads.join("\n    ")}
    ${fmas.join("\n    ")}
  }`;
}

/** The K loop of the staged mode: stage a BK slice, barrier, outer products, barrier. */
function stagedLoop(spec: MatmulSpec): string {
  const t = spec.tile;
  const { bm, bn, threads } = tileShape(t);
  const mi = t.tm / 4, nj = t.tn / 4;
  const vecA = spec.transA ? spec.m4 : spec.k4;
  const vecB = spec.transB ? spec.k4 : spec.n4;
  const loadA = range(mi).map((i) => `let a${i} = As[kb + ${i * t.wgm}u + ty];`);
  const loadB = range(nj).map((j) => `let b${j} = Bs[kbn + ${j * t.wgn}u + tx];`);
  const fmas: string[] = [];
  for (let i = 0; i < mi; i++) {
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < nj; j++) {
        const acc = `acc_${i * 4 + r}_${j}`;
        fmas.push(`${acc} = fma(vec4f(a${i}.${XYZW[r]}), b${j}, ${acc});`);
      }
    }
  }
  return `  for (var k0 = kBegin; k0 < kEnd; k0 += ${t.bk}u) {
${stageSlice("A", spec.transA, vecA, bm, t.bk, threads, spec.colSums)}
${stageSlice("B", !spec.transB, vecB, bn, t.bk, threads)}
    workgroupBarrier();
    for (var k = 0u; k < ${t.bk}u; k++) {
      let kb = k * ${bm / 4}u;
      let kbn = k * ${bn / 4}u;
      ${loadA.join("\n      ")}
      ${loadB.join("\n      ")}
      ${fmas.join("\n      ")}
    }
    workgroupBarrier();
  }`;
}

/**
 * The body of one product for one workgroup: reads the workgroup id `wid`
 * and the 2-D local id `lid` (vec3u), the buffers A, B, [bias], C and the
 * uniform fields of {@link MATMUL_FIELDS}. The plain kernel runs it as `main`;
 * {@link matmulPairKernel} runs two of them, renamed, as functions.
 */
function productMain(spec: MatmulSpec): string {
  const t = spec.tile;
  const { bm, bn } = tileShape(t);
  const nj = t.tn / 4;
  const accDecl = range(t.tm).flatMap((r) =>
    range(nj).map((j) => `  var acc_${r}_${j} = vec4f(0.0);`)
  ).join("\n");
  return /* wgsl */ `
  // The flat local_invocation_index: lid is the 2-D local id here (a kernel takes one of the two).
  let li = lid.y * ${t.wgn}u + lid.x;
  let tx = lid.x;
  let ty = lid.y;
  let row0 = (wid.y + u.tile0) * ${bm}u;
  let col0 = wid.x * ${bn}u;
  let batch = wid.z / u.splits;
  let kBegin = (wid.z % u.splits) * u.kLen;
  let kEnd = min(u.K, kBegin + u.kLen);
  let offA = batch * u.sa;
  let offB = batch * u.sb;
  let offC = wid.z * u.sc;
${accDecl}
${t.stage ? stagedLoop(spec) : directLoop(spec)}
${epilogue(spec, t.tm / 4, nj, t.wgm, t.wgn)}`;
}

/** Element types of A, B and C: vec4 along a contiguous dimension that is a multiple of 4. */
function operandElems(spec: MatmulSpec): { fa: Elem; fb: Elem; fc: Elem } {
  const vecA = spec.transA ? spec.m4 : spec.k4;
  const vecB = spec.transB ? spec.k4 : spec.n4;
  return {
    fa: vecA ? "vec4f" : "f32",
    fb: vecB ? "vec4f" : "f32",
    fc: spec.n4 ? "vec4f" : "f32",
  };
}

/** The transposes, tile and alignment of a spec, e.g. `nt/16x8/2x8/direct/m4n4k4`. */
function specName(spec: MatmulSpec): string {
  return [
    (spec.transA ? "t" : "n") + (spec.transB ? "t" : "n"),
    tileName(spec.tile),
    [spec.m4 ? "m4" : "m1", spec.n4 ? "n4" : "n1", spec.k4 ? "k4" : "k1"].join(""),
  ].join("/");
}

/** The matmul kernel's uniform fields (see the module comment). */
const MATMUL_FIELDS = {
  M: "u32",
  N: "u32",
  K: "u32",
  alpha: "f32",
  sa: "u32",
  sb: "u32",
  sc: "u32",
  kLen: "u32",
  splits: "u32",
  tile0: "u32",
} as const;

/**
 * The matmul kernel for a spec.
 *
 * @example
 * ```ts
 * const k = matmulKernel({
 *   transA: false, transB: true, m4: true, n4: true, k4: false,
 *   tile: { tm: 8, tn: 8, wgm: 8, wgn: 8, bk: 16, stage: true },
 *   bias: true, activation: "relu",
 * });
 * ```
 */
export const matmulKernel: (spec: MatmulSpec) => DeclaredKernel = family(
  "matmul",
  (spec: MatmulSpec): DeclaredKernel => {
    const t = spec.tile;
    checkTile(t);
    const { bm, bn } = tileShape(t);
    const { fa, fb, fc } = operandElems(spec);
    if ((spec.colSums || spec.mask) && (spec.bias || spec.activation !== "linear")) {
      throw new Error("matmul: column sums and masks take no bias or activation");
    }
    if (spec.mask && ACTIVATION_SAVES[spec.mask] !== "y") {
      throw new Error(
        `matmul: the mask's derivative must come from its output, not ${spec.mask}'s`,
      );
    }
    const key = `matmul/${specName(spec)}/${spec.bias ? "bias" : "nobias"}/${spec.activation}${
      spec.colSums ? "/colsums" : ""
    }${spec.mask ? `/mask-${spec.mask}` : ""}`;
    const inputs: Record<string, Elem> = spec.bias ? { A: fa, B: fb, bias: fc } : { A: fa, B: fb };
    if (spec.mask) inputs.Y = fc;
    const helpers = /* wgsl */ `
${
      t.stage
        ? `var<workgroup> As: array<vec4f, ${t.bk * bm / 4}>;
var<workgroup> Bs: array<vec4f, ${t.bk * bn / 4}>;`
        : ""
    }
${activationWgsl(spec.mask ?? spec.activation)}
fn act4(v: vec4f) -> vec4f {
  return vec4f(act(v.x, u.alpha), act(v.y, u.alpha), act(v.z, u.alpha), act(v.w, u.alpha));
}`;
    const main = productMain(spec);
    return declare({
      key,
      inputs,
      outputs: spec.colSums ? { C: fc, CS: fc } : { C: fc },
      uniforms: MATMUL_FIELDS,
      entry: {
        workgroupSize: [t.wgn, t.wgm, 1],
        builtins: ["workgroup_id", "local_invocation_id"],
      },
      helpers,
      main,
    });
  },
);

/** Whether {@link matmulPairKernel} can run two products' tiles in one workgroup shape. */
export function pairable(a: MatmulTile, b: MatmulTile): boolean {
  // Staged tiles meet at barriers: every thread of the workgroup must run
  // them, so their thread shapes must agree. Direct tiles have no barriers:
  // the product with fewer threads leaves the others idle.
  return !a.stage && !b.stage || (a.stage && b.stage && a.wgm === b.wgm && a.wgn === b.wgn);
}

/** Uniform fields of the pair kernel: each product's, suffixed `_a` / `_b`, and the grid split. */
function pairFields(): Record<string, "u32" | "f32"> {
  const f: Record<string, "u32" | "f32"> = {};
  for (const s of ["a", "b"]) {
    for (const [name, type] of Object.entries(MATMUL_FIELDS)) f[`${name}_${s}`] = type;
    f[`cols_${s}`] = "u32";
  }
  f.first_b = "u32";
  f.total = "u32";
  return f;
}

/**
 * Two independent products in one dispatch: a dense layer's input gradient
 * dZ·Wᵀ and weight gradient Xᵀ·dZ, which read the same dZ and nothing the
 * other writes. Workgroups `0 .. first_b − 1` (of a 1-D launch the runtime
 * folds) compute product a's tiles, the rest product b's, each with its own
 * tile and transposes; a product's body is the plain kernel's
 * (`productMain`), with its buffers and uniform fields suffixed (`A_a`,
 * `u.M_a`) and run as a function of its tile's workgroup id and 2-D local
 * id. Products are plain (no bias, activation, batch or K split): the host
 * pairs only those ({@link pairable} tiles). Bindings: A_a, B_a, A_b, B_b
 * (read), C_a, C_b (write). Uniform: {@link MATMUL_FIELDS} per product
 * (suffixed), cols_a, cols_b (column tiles), first_b, total (workgroups).
 *
 * @example
 * ```ts
 * const k = matmulPairKernel({ a: dxSpec, b: dwSpec });
 * ```
 */
export const matmulPairKernel: (spec: { a: MatmulSpec; b: MatmulSpec }) => DeclaredKernel = family(
  "matmul_pair",
  ({ a, b }: { a: MatmulSpec; b: MatmulSpec }): DeclaredKernel => {
    for (const x of [a, b]) {
      checkTile(x.tile);
      if (x.bias || x.activation !== "linear") {
        throw new Error("matmul_pair: products take no bias or activation");
      }
    }
    // One act_grad function serves the masks: at most one activation.
    const masks = [...new Set([a.mask, b.mask].filter((m) => m !== undefined))];
    if (masks.length > 1) throw new Error(`matmul_pair: masks of two activations (${masks})`);
    if (!pairable(a.tile, b.tile)) {
      throw new Error(
        `matmul_pair: tiles ${tileName(a.tile)} and ${tileName(b.tile)} cannot share a workgroup`,
      );
    }
    const threads = Math.max(tileShape(a.tile).threads, tileShape(b.tile).threads);
    const inputs: Record<string, Elem> = {};
    const outputs: Record<string, Elem> = {};
    const fns: string[] = [];
    for (const [x, sfx] of [[a, "a"], [b, "b"]] as const) {
      const { fa, fb, fc } = operandElems(x);
      inputs[`A_${sfx}`] = fa;
      inputs[`B_${sfx}`] = fb;
      if (x.mask) inputs[`Y_${sfx}`] = fc;
      outputs[`C_${sfx}`] = fc;
      if (x.colSums) outputs[`CS_${sfx}`] = fc;
      const body = productMain(x)
        .replace(/\b(A|B|C|Y|CS)\[/g, `$1_${sfx}[`)
        .replace(/\bu\.(M|N|K|alpha|sa|sb|sc|kLen|splits|tile0)\b/g, `u.$1_${sfx}`);
      fns.push(`fn product_${sfx}(wid: vec3u, lid: vec3u) {${body}
}`);
    }
    const staged = a.tile.stage
      ? (() => {
        const bk = Math.max(a.tile.bk, b.tile.bk);
        const bm = Math.max(tileShape(a.tile).bm, tileShape(b.tile).bm);
        const bn = Math.max(tileShape(a.tile).bn, tileShape(b.tile).bn);
        return `var<workgroup> As: array<vec4f, ${bk * bm / 4}>;
var<workgroup> Bs: array<vec4f, ${bk * bn / 4}>;`;
      })()
      : "";
    // Each product's threads as its tile lays them out (x along N).
    const call = (x: MatmulSpec, sfx: "a" | "b", g: string) => {
      const { threads: n } = tileShape(x.tile);
      const run = `product_${sfx}(vec3u(${g} % u.cols_${sfx}, ${g} / u.cols_${sfx}, 0u), ` +
        `vec3u(lid % ${x.tile.wgn}u, lid / ${x.tile.wgn}u, 0u));`;
      return n < threads ? `if (lid < ${n}u) { ${run} }` : run;
    };
    // Column sums and masks as the plain kernel names them (`/colsums`, `/mask-relu`).
    const extras = (x: MatmulSpec) =>
      `${x.colSums ? "/colsums" : ""}${x.mask ? `/mask-${x.mask}` : ""}`;
    return declare({
      key: `matmul_pair/${specName(a)}${extras(a)}+${specName(b)}${extras(b)}`,
      inputs,
      outputs,
      uniforms: pairFields(),
      entry: {
        workgroupSize: threads,
        builtins: ["workgroup_id", "num_workgroups", "local_invocation_index"],
        helpers: LINEAR_WG,
      },
      helpers: `${staged}
${masks.length ? activationWgsl(masks[0]!) : ""}
${fns.join("\n")}`,
      main: /* wgsl */ `
  let f = linear_wg(wid, nwg);
  if (f >= u.total) { return; }
  if (f < u.first_b) {
    ${call(a, "a", "f")}
  } else {
    let g = f - u.first_b;
    ${call(b, "b", "g")}
  }`,
    });
  },
);

/** Specialisation of the dense-layer gradient kernel. */
export interface DenseGradSpec {
  /** The fused activation whose derivative (from the output Y) multiplies G. */
  activation: Activation;
}

/** Columns per dense-gradient workgroup. */
export const DENSE_GRAD_COLS = 64;
/** Rows one dense-gradient workgroup reduces. */
export const DENSE_GRAD_ROWS = 256;

/**
 * The backward of the fused epilogue, in one pass over [n, cols]: writes
 * dZ = G ⊙ act'(Y) (the pre-activation gradient both backward matmuls read)
 * and sums it down columns in row blocks of {@link DENSE_GRAD_ROWS} into
 * `partial[block, col]` (the bias gradient, once the blocks are summed), so
 * the bias gradient costs no extra pass over memory.
 *
 * 64 columns × 4 row lanes per workgroup: neighbouring threads read
 * neighbouring columns (coalesced), each lane sums every 4th row, and the
 * 4 lanes meet in a tree in workgroup memory.
 *
 * Dispatch: `[ceil(cols / 64), ceil(n / 256)]`. Bindings: G (read), Y (read),
 * dZ (write), partial (write), uniforms. Uniform: n, cols, alpha.
 *
 * @example
 * ```ts
 * const k = denseGradKernel({ activation: "relu" });
 * ```
 */
export const denseGradKernel: (spec: DenseGradSpec) => DeclaredKernel = family(
  "dense_grad",
  (spec: DenseGradSpec): DeclaredKernel => {
    const lanes = 4;
    return declare({
      key: `dense_grad/${spec.activation}`,
      inputs: { G: "f32", Y: "f32" },
      outputs: { dZ: "f32", partial: "f32" },
      uniforms: { n: "u32", cols: "u32", alpha: "f32" },
      entry: {
        workgroupSize: [DENSE_GRAD_COLS, lanes, 1],
        builtins: ["workgroup_id", "local_invocation_id"],
      },
      helpers: /* wgsl */ `
${activationWgsl(spec.activation)}
var<workgroup> part: array<f32, ${DENSE_GRAD_COLS * lanes}>;`,
      main: /* wgsl */ `
  let col = wid.x * ${DENSE_GRAD_COLS}u + lid.x;
  let r0 = wid.y * ${DENSE_GRAD_ROWS}u;
  var acc = 0.0;
  if (col < u.cols) {
    for (var t = lid.y; t < ${DENSE_GRAD_ROWS}u; t += ${lanes}u) {
      let r = r0 + t;
      if (r >= u.n) { break; }
      let i = r * u.cols + col;
      let g = G[i] * act_grad(Y[i], u.alpha);
      dZ[i] = g;
      acc += g;
    }
  }
  let slot = lid.y * ${DENSE_GRAD_COLS}u + lid.x;
  part[slot] = acc;
  workgroupBarrier();
  if (lid.y < 2u) { part[slot] += part[slot + ${2 * DENSE_GRAD_COLS}u]; }
  workgroupBarrier();
  if (lid.y == 0u && col < u.cols) {
    partial[wid.y * u.cols + col] = part[lid.x] + part[lid.x + ${DENSE_GRAD_COLS}u];
  }`,
    });
  },
);
