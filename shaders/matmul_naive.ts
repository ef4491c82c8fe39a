/**
 * The textbook matmul: one thread per output element, each reading a full
 * row of A and column of B from global memory. Kept only as the benchmark's
 * baseline for the tiled family in `matmul.ts`.
 *
 * Layouts as in `matmul.ts` (row-major; A [M, K] or [K, M] when `transA`,
 * B [K, N] or [N, K] when `transB`). Dispatch: `[ceil(N / 16), ceil(M / 16)]`.
 * Bindings: A (read), B (read), C (write), uniforms. Uniform: M, N, K.
 *
 * @module
 */
import { family, type Kernel, kernel } from "./common.ts";

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
export const matmulNaiveKernel: (spec: MatmulNaiveSpec) => Kernel = family(
  "matmul_naive",
  (spec: MatmulNaiveSpec): Kernel => {
    const a = spec.transA ? "A[p * u.M + row]" : "A[row * u.K + p]";
    const b = spec.transB ? "B[col * u.K + p]" : "B[p * u.N + col]";
    return kernel(
      `matmul_naive/${spec.transA ? "t" : "n"}${spec.transB ? "t" : "n"}`,
      /* wgsl */ `
struct U { M: u32, N: u32, K: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> u: U;

@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG}, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y;
  let col = gid.x;
  if (row >= u.M || col >= u.N) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.K; p++) { acc = fma(${a}, ${b}, acc); }
  C[row * u.N + col] = acc;
}`,
      ["read", "read", "write"],
    );
  },
);
