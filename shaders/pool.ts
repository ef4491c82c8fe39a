/**
 * 2-D max and average pooling over NHWC activations, forward and backward.
 *
 * Forward: one thread per output element (channels fastest, so neighbouring
 * threads read neighbouring channels); the window is clipped to the input,
 * which is TensorFlow's `same` rule: padded elements never win a max and are
 * not counted in an average. Ties in a max go to the first element in
 * row-major window order (strict `>`).
 *
 * Backward, written as a gather so no atomics are needed: one thread per
 * input element visits the windows that contain it (at most
 * ceil(ph / sh)·ceil(pw / sw) of them) and adds their output gradient:
 * divided by the window's element count for an average; for a max, only if
 * the element is the window's first maximum, found again by scanning the
 * window (cheaper than storing an argmax tensor and keeping it alive for the
 * backward pass).
 *
 * Non-overlapping max pools (strides = pool size, Keras's default) have a
 * `tiled` backward instead: every input element lies in at most one window,
 * so one thread per output element scans its window once and writes the
 * whole window's gradient (the first maximum gets G, the rest 0). The
 * gather form re-scans a window for each of its elements: ph·pw scans per
 * window, measured 8× slower on lavapipe for 2×2. Input rows and columns no
 * window covers (`valid` padding's remainder at the bottom/right) are
 * zeroed by the last window of their row or column.
 *
 * Index decompositions use the float-reciprocal `divmod` of the conv kernels:
 * CPU adapters scalarise integer division by a run-time value per lane. Max
 * pools with a compiled-in size (`size`, up to 3×3 from the op) scan their
 * window unrolled and branch-free (1.3–1.5× the loops on lavapipe for 2×2).
 *
 * Dispatch: ceil(n / WG) workgroups. Declared buffers: fwd X (read), OUT
 * (write); bwd X (read; max only), G (read), DX (write). Uniforms: n
 * (elements: written by fwd and the gather bwd; output elements for the
 * tiled bwd), then the {@link PoolGeometry} in its field order, upper-cased
 * (H, W, C, HO, WO, PH, PW, SH, SW, PT, PL).
 *
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";
import { DIVMOD } from "./conv2d.ts";

/** Geometry of one pooling (uniforms, after the element count). */
export interface PoolGeometry {
  h: number;
  w: number;
  c: number;
  ho: number;
  wo: number;
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

/** Specialisation of the pooling family. */
export interface PoolSpec {
  mode: "max" | "avg";
  dir: "fwd" | "bwd";
  /** bwd, max only: the per-window form for strides equal to the pool size. */
  tiled?: boolean;
  /**
   * max only: the pool size [ph, pw] compiled in, for unrolled, branch-free
   * window scans (small windows; without it the window is walked in loops).
   */
  size?: [number, number];
}

/**
 * WGSL of an unrolled scan of window `r` (clipped) of channel c in image n,
 * for a compiled-in ph×pw pool: every element read at a clamped address, so
 * a clipped window re-reads its last row / column, which changes neither
 * the maximum nor (with strict >) which element is the first maximum.
 * Defines `best` and, with `at`, the first maximum's flat pixel index.
 */
function unrolledScan(ph: number, pw: number, at: boolean): string {
  const lines = [
    "  let ly = r.y - r.x - 1;",
    "  let lx = r.w - r.z - 1;",
    "  let base = ((n * u.H + r.x) * u.W + r.z) * u.C + c;",
    "  var best = X[base];",
  ];
  if (at) lines.push("  var at = r.x * u.W + r.z;");
  for (let dy = 0; dy < ph; dy++) {
    for (let dx = 0; dx < pw; dx++) {
      if (dy === 0 && dx === 0) continue;
      const yy = dy === 0 ? "0" : `min(${dy}, ly)`, xx = dx === 0 ? "0" : `min(${dx}, lx)`;
      lines.push(`  let v${dy}_${dx} = X[base + (${yy} * u.W + ${xx}) * u.C];`);
      lines.push(
        at
          ? `  at = select(at, (r.x + ${yy}) * u.W + r.z + ${xx}, v${dy}_${dx} > best);
` +
            `  best = max(best, v${dy}_${dx});`
          : `  best = max(best, v${dy}_${dx});`,
      );
    }
  }
  return lines.join("\n");
}

/** The uniform fields: the element count, then the geometry ({@link PoolGeometry}'s order). */
const FIELDS = {
  n: "u32",
  H: "i32",
  W: "i32",
  C: "i32",
  HO: "i32",
  WO: "i32",
  PH: "i32",
  PW: "i32",
  SH: "i32",
  SW: "i32",
  PT: "i32",
  PL: "i32",
} as const;

/** WGSL: (n, y, x, c) of element i of an NHWC tensor with `rows`×`cols` pixels. */
const SPLIT = (rows: string, cols: string) => /* wgsl */ `
${DIVMOD}
fn split(i: u32) -> vec4i {
  let a = divmod(i, u32(u.C));
  let b = divmod(a.x, u32(${cols}));
  let d = divmod(b.x, u32(${rows}));
  return vec4i(i32(d.x), i32(d.y), i32(b.y), i32(a.y));
}`;

/** WGSL: window (oh, ow)'s clipped row/column ranges, as [y0, y1) and [x0, x1). */
const WINDOW = /* wgsl */ `
fn window(oh: i32, ow: i32) -> vec4i {
  let y = oh * u.SH - u.PT;
  let x = ow * u.SW - u.PL;
  return vec4i(max(y, 0), min(y + u.PH, u.H), max(x, 0), min(x + u.PW, u.W));
}
// The first maximum of window (oh, ow) in channel c of image n, as a flat pixel index y·W + x.
fn argmax(n: i32, oh: i32, ow: i32, c: i32) -> i32 {
  let r = window(oh, ow);
  var best = X[((n * u.H + r.x) * u.W + r.z) * u.C + c];
  var at = r.x * u.W + r.z;
  for (var y = r.x; y < r.y; y++) {
    for (var x = r.z; x < r.w; x++) {
      let v = X[((n * u.H + y) * u.W + x) * u.C + c];
      if (v > best) { best = v; at = y * u.W + x; }
    }
  }
  return at;
}`;

/** WGSL: the tiled backward's writes, walking the (extended) window in loops. */
const TILED_LOOPS = /* wgsl */ `
  let at = argmax(n, oh, ow, c);
  // The window's rows and columns, extended to the edge by the last window.
  var r = window(oh, ow);
  if (oh == u.HO - 1) { r.y = u.H; }
  if (ow == u.WO - 1) { r.w = u.W; }
  for (var y = r.x; y < r.y; y++) {
    for (var x = r.z; x < r.w; x++) {
      DX[((n * u.H + y) * u.W + x) * u.C + c] = select(0.0, g, y * u.W + x == at);
    }
  }`;

/**
 * WGSL: the tiled backward's writes for a compiled-in ph×pw pool: the
 * window unrolled (clamped addresses, as in the scan: a re-visited element
 * gets the same value again), then zeros for the rows / columns past the
 * last window (\`valid\` padding's remainder), in loops only the last windows run.
 */
function tiledUnrolled(ph: number, pw: number): string {
  const lines = ["  let r = window(oh, ow);", unrolledScan(ph, pw, true)];
  for (let dy = 0; dy < ph; dy++) {
    for (let dx = 0; dx < pw; dx++) {
      const yy = dy === 0 ? "0" : `min(${dy}, ly)`, xx = dx === 0 ? "0" : `min(${dx}, lx)`;
      lines.push(
        `  { let y = r.x + ${yy}; let x = r.z + ${xx};\n` +
          `    DX[((n * u.H + y) * u.W + x) * u.C + c] = select(0.0, g, y * u.W + x == at); }`,
      );
    }
  }
  lines.push(`  let xEnd = select(r.w, u.W, ow == u.WO - 1);
  if (oh == u.HO - 1) {
    for (var y = r.y; y < u.H; y++) {
      for (var x = r.z; x < xEnd; x++) { DX[((n * u.H + y) * u.W + x) * u.C + c] = 0.0; }
    }
  }
  if (ow == u.WO - 1) {
    for (var y = r.x; y < r.y; y++) {
      for (var x = r.w; x < u.W; x++) { DX[((n * u.H + y) * u.W + x) * u.C + c] = 0.0; }
    }
  }`);
  return lines.join("\n");
}

/**
 * The pooling kernel for a spec.
 *
 * @example
 * ```ts
 * const k = poolKernel({ mode: "max", dir: "fwd" });
 * ```
 */
export const poolKernel: (spec: PoolSpec) => DeclaredKernel = family(
  "pool2d",
  (spec: PoolSpec): DeclaredKernel => {
    const { mode, dir } = spec;
    const tiled = dir === "bwd" && mode === "max" && !!spec.tiled;
    const size = mode === "max" ? spec.size : undefined;
    const key = `pool2d/${mode}/${dir}${tiled ? "/tiled" : ""}${size ? `/${size.join("x")}` : ""}`;
    if (dir === "fwd") {
      const body = size
        ? `\n${unrolledScan(size[0], size[1], false)}\n  OUT[i] = best;`
        : mode === "max"
        ? `
  var best = X[((n * u.H + r.x) * u.W + r.z) * u.C + c];
  for (var y = r.x; y < r.y; y++) {
    for (var x = r.z; x < r.w; x++) { best = max(best, X[((n * u.H + y) * u.W + x) * u.C + c]); }
  }
  OUT[i] = best;`
        : `
  var s = 0.0;
  for (var y = r.x; y < r.y; y++) {
    for (var x = r.z; x < r.w; x++) { s += X[((n * u.H + y) * u.W + x) * u.C + c]; }
  }
  OUT[i] = s / f32((r.y - r.x) * (r.w - r.z));`;
      return declare({
        key,
        inputs: { X: "f32" },
        outputs: { OUT: "f32" },
        uniforms: FIELDS,
        entry: ENTRY_1D,
        helpers: /* wgsl */ `
${WINDOW.split("// The first")[0]}
${SPLIT("u.HO", "u.WO")}`,
        main: /* wgsl */ `
  if (i >= u.n) { return; }
  let q = split(i);
  let n = q.x;
  let c = q.w;
  let r = window(q.y, q.z);${body}`,
      });
    }
    if (tiled) {
      return declare({
        key,
        inputs: { X: "f32", G: "f32" },
        outputs: { DX: "f32" },
        uniforms: FIELDS,
        entry: ENTRY_1D,
        helpers: /* wgsl */ `
${WINDOW}
${SPLIT("u.HO", "u.WO")}`,
        main: /* wgsl */ `
  if (i >= u.n) { return; }
  let q = split(i);
  let n = q.x;
  let oh = q.y;
  let ow = q.z;
  let c = q.w;
  let g = G[i];
${size ? tiledUnrolled(size[0], size[1]) : TILED_LOOPS}`,
      });
    }
    const contribution = mode === "max"
      ? "if (argmax(n, oh, ow, c) == me) { s += G[o]; }"
      : "let r = window(oh, ow);\n      s += G[o] / f32((r.y - r.x) * (r.w - r.z));";
    return declare({
      key,
      // The max gather re-scans windows of X; the average needs only G.
      inputs: mode === "max" ? { X: "f32", G: "f32" } : { G: "f32" },
      outputs: { DX: "f32" },
      uniforms: FIELDS,
      entry: ENTRY_1D,
      helpers: /* wgsl */ `
${mode === "max" ? WINDOW : WINDOW.split("// The first")[0]}
// Windows containing row y: oh·SH − PT ≤ y < oh·SH − PT + PH.
fn first(y: i32, s: i32, p: i32, k: i32) -> i32 {
  let t = y + p - k + 1;
  return select(0, (t + s - 1) / s, t > 0);
}
${SPLIT("u.H", "u.W")}`,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
  let e = split(i);
  let n = e.x;
  let y = e.y;
  let x = e.z;
  let c = e.w;
  let me = y * u.W + x;
  var s = 0.0;
  let ohEnd = min((y + u.PT) / u.SH + 1, u.HO);
  let owEnd = min((x + u.PL) / u.SW + 1, u.WO);
  for (var oh = first(y, u.SH, u.PT, u.PH); oh < ohEnd; oh++) {
    for (var ow = first(x, u.SW, u.PL, u.PW); ow < owEnd; ow++) {
      let o = ((n * u.HO + oh) * u.WO + ow) * u.C + c;
      ${contribution}
    }
  }
  DX[i] = s;`,
    });
  },
);
