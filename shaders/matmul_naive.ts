/**
 * The textbook matmul: one thread per output element, each reading a full
 * row of A and column of B from global memory. Kept only as the benchmark's
 * baseline for the tiled family in `matmul.ts`.
 *
 * Layouts as in `matmul.ts` (row-major; A [M, K] or [K, M] when `transA`,
 * B [K, N] or [N, K] when `transB`). Dispatch: `[ceil(N / 16), ceil(M / 16)]`.
 * Declared buffers: A (read), B (read), C (write). Uniforms: M, N, K, pad (0).
 *
 * @module
 */
import { family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/** Specialisation of the naive family. */
export interface MatmulNaiveSpec {
  transA: boolean;
  transB: boolean;
}

/** Workgroup side (16×16 threads). */
export const NAIVE_WG = 16;

/**
 * The naive kernel.
 *
 * @example
 * ```ts
 * const k = matmulNaiveKernel({ transA: false, transB: true });
 * ```
 */
export const matmulNaiveKernel: (spec: MatmulNaiveSpec) => DeclaredKernel = family(
  "matmul_naive",
  (spec: MatmulNaiveSpec): DeclaredKernel => {
    const a = spec.transA ? "A[p * u.M + row]" : "A[row * u.K + p]";
    const b = spec.transB ? "B[col * u.K + p]" : "B[p * u.N + col]";
    return declare({
      key: `matmul_naive/${spec.transA ? "t" : "n"}${spec.transB ? "t" : "n"}`,
      inputs: { A: "f32", B: "f32" },
      outputs: { C: "f32" },
      uniforms: { M: "u32", N: "u32", K: "u32", pad: "u32" },
      entry: { workgroupSize: [NAIVE_WG, NAIVE_WG, 1], builtins: ["global_invocation_id"] },
      main: /* wgsl */ `
  let row = gid.y;
  let col = gid.x;
  if (row >= u.M || col >= u.N) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.K; p++) { acc = fma(${a}, ${b}, acc); }
  C[row * u.N + col] = acc;`,
    });
  },
);
