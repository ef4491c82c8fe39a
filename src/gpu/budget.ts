/**
 * How much work one dispatch may ask of the device, and the one place that
 * turns "n items of work" into a grid under it.
 *
 * Two budgets bound every kernel launch:
 *
 * - **Workgroups per grid dimension** (`maxComputeWorkgroupsPerDimension`,
 *   65 535 on every adapter seen). A 1-D launch of n workgroups is folded
 *   into x·y·z by {@link foldGrid}; the kernels recover the linear id with
 *   `LINEAR_ID` (shaders/common.ts). Launches with semantic 2-D/3-D grids
 *   (tiles × rows × batch) split themselves under the budget or throw a
 *   clear error before any GPU work.
 * - **Loop iterations per invocation.** Mesa 22.3's llvmpipe (Debian 12's
 *   lavapipe) stops every shader loop silently after 65 535 iterations,
 *   counted across all loops of one invocation: a reduction over 5M elements
 *   then returns a partial sum, with no error. {@link measureLoopCap} finds
 *   such a cap once at `init`; where one exists, the planners keep every
 *   kernel's longest loop under half of it (the other half is headroom for
 *   the kernel's short loops: index arithmetic, tree steps, tile loads) by
 *   splitting long axes into chunks: reductions take more passes, matmul
 *   splits K, row kernels (softmax, cross-entropy) fall back to multi-pass
 *   reductions, convolution gradients and k-means sums accumulate in chunks.
 *   Where no cap is found (Mesa ≥ 25, GPUs) the budget is unbounded and no
 *   plan changes, so nothing is slower there.
 *
 * Tests lower both budgets with {@link withBudgets} (e.g. 4 workgroups per
 * dimension, 64 loop iterations) so every folded, multi-pass and chunked path
 * runs on small shapes.
 *
 * @module
 */
import { declare } from "../../shaders/declare.ts";

/** The per-dispatch work budgets. */
export interface Budgets {
  /** Most workgroups along one grid dimension. */
  workgroupsPerDim: number;
  /** Most loop iterations one invocation may run in its longest loop (Infinity: no cap). */
  loopIterations: number;
}

/** Iterations the loop-cap probe asks for; a driver that runs them all is taken to have no cap. */
export const LOOP_PROBE = 1 << 20;

/**
 * The smallest loop cap latent can honour: below it, the fixed loops of its
 * kernels (tile loads, conv windows, tree steps) would not fit.
 */
export const MIN_LOOP_CAP = 4096;

/** The loop budget for a measured cap: half of it, or Infinity when there is none. */
export function loopBudget(cap: number | null): number {
  return cap === null ? Infinity : Math.floor(cap / 2);
}

/** The one-line note adapter info carries about a driver's loop cap (null when there is none). */
export function loopCapNote(cap: number | null): string | null {
  return cap === null ? null : `the driver stops shader loops after ${cap} iterations ` +
    `(Mesa < 25's llvmpipe does; Mesa >= 25 does not): latent keeps every loop under ` +
    `${loopBudget(cap)}, splitting long reductions, products and sums into more passes`;
}

/**
 * Counts, in one invocation, to {@link LOOP_PROBE} with a bound read from
 * memory (so it cannot be folded away) and reads back how far it got. Returns
 * the count when it fell short (the driver's cap), else null. Costs about a
 * millisecond on lavapipe.
 */
export async function measureLoopCap(device: GPUDevice): Promise<number | null> {
  // Declared like every kernel (io = [bound, count]), but run here, before the runtime exists.
  const { code } = declare({
    key: "loop_probe",
    inputs: {},
    outputs: { io: "u32" },
    entry: { workgroupSize: 1, builtins: [] },
    main: /* wgsl */ `
  var count = 0u;
  for (var i = 0u; i < io[0]; i++) { count += 1u; }
  io[1] = count;`,
  });
  const module = device.createShaderModule({ code, label: "latent loop-cap probe" });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
    label: "latent loop-cap probe",
  });
  const io = device.createBuffer({ size: 8, usage: 0x80 | 0x4 | 0x8, label: "loop probe" });
  const read = device.createBuffer({ size: 8, usage: 0x1 | 0x8, label: "loop probe readback" });
  try {
    device.queue.writeBuffer(io, 0, new Uint32Array([LOOP_PROBE, 0]));
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: io } }],
      }),
    );
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(io, 0, read, 0, 8);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(1);
    const count = new Uint32Array(read.getMappedRange().slice(0))[1];
    read.unmap();
    return count >= LOOP_PROBE ? null : count;
  } finally {
    io.destroy();
    read.destroy();
  }
}

/**
 * Folds a 1-D launch of `n` workgroups into a grid with at most `perDim`
 * along each dimension (x fastest), or null when even `perDim`³ is too few.
 * The kernel sees `((z · ny + y) · nx + x)` as the linear workgroup id and
 * must ignore ids ≥ n (the fold may round up).
 */
export function foldGrid(n: number, perDim: number): [number, number, number] | null {
  if (n <= perDim) return [n, 1, 1];
  if (n <= perDim * perDim) {
    const y = Math.ceil(n / perDim);
    return [Math.ceil(n / y), y, 1];
  }
  const z = Math.ceil(n / (perDim * perDim));
  if (z > perDim) return null;
  const rest = Math.ceil(n / z);
  const y = Math.ceil(rest / perDim);
  return [Math.ceil(rest / y), y, z];
}

/**
 * Splits `len` items, of which one loop iteration handles `perIteration`,
 * into the fewest equal chunks whose loops stay within `budget` iterations.
 * Returns the chunk length (a multiple of `align`) and the chunk count.
 */
export function chunkLoop(
  len: number,
  perIteration: number,
  budget: number,
  align = 1,
): { chunk: number; chunks: number } {
  const most = Math.floor(budget * perIteration / align) * align;
  if (!(most >= align)) {
    throw new RangeError(
      `latent: a loop budget of ${budget} iterations cannot hold one step of ${perIteration}`,
    );
  }
  if (len <= most) return { chunk: Math.max(len, 0), chunks: 1 };
  const chunks0 = Math.ceil(len / most);
  const chunk = Math.ceil(len / chunks0 / align) * align;
  return { chunk, chunks: Math.ceil(len / chunk) };
}
