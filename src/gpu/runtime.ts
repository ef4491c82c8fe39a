/**
 * The runtime: owns the device, the queue, the current command encoder, the
 * buffer pool, the pipeline and bind-group caches, and readback.
 *
 * Ops never submit. They call {@link Runtime.dispatch}, which records into one
 * compute pass of one command encoder; the runtime submits in batches (every
 * `maxBatch` dispatches, before a readback, or on {@link Runtime.flush}). Small
 * per-dispatch parameters (sizes, learning rates) go into a uniform ring that
 * is uploaded once per submit and bound with dynamic offsets, so a training
 * step allocates nothing and rebinds cached bind groups.
 *
 * GPU validation errors are caught with error scopes around pipeline and
 * bind-group creation (where they name one op) and around each submit (where
 * they name the ops of that batch); they are re-thrown at the next sync point
 * ({@link Runtime.read} or {@link Runtime.sync}) because scopes resolve
 * asynchronously and the training loop must not wait on the GPU.
 *
 * @module
 */
import { type AdapterInfo, type DeviceOptions, requestGpu } from "./device.ts";
import { Recording, StepCompiler } from "./capture.ts";
import { BufferPool } from "./pool.ts";
import {
  type Budgets,
  foldGrid,
  loopBudget,
  loopCapNote,
  measureLoopCap,
  MIN_LOOP_CAP,
} from "./budget.ts";

/** How a kernel uses one storage binding. */
export type Access = "read" | "write";

/**
 * A compiled-once kernel description. Shader families in `shaders/` build these
 * from a small spec; `key` names the family and specialisation and keys the
 * pipeline cache.
 */
export interface Kernel {
  /** Unique per (family, specialisation), e.g. `matmul/tn/64x64/relu`. */
  key: string;
  /** WGSL source; storage bindings at @group(0) @binding(0..n-1), uniforms (if any) at binding n. */
  code: string;
  /** Access of each storage binding, in binding order. */
  bindings: Access[];
  /** Whether the kernel reads a uniform block `U` at binding `bindings.length`. */
  uniforms: boolean;
}

/** A storage binding: a whole buffer, or its first `size` bytes. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; size: number };

/** One recorded dispatch. */
export interface Dispatch {
  /** Op name for error messages, e.g. `matmul` or `dense(units=10)`. */
  op: string;
  kernel: Kernel;
  buffers: Binding[];
  /** Uniform block contents (at most {@link UNIFORM_SLOT} bytes). */
  uniforms?: ArrayBufferView;
  /**
   * For a step captured to be replayed ({@link Runtime.capture}): repacks
   * the uniforms at each replay, for values that change from step to step
   * (an optimizer's step count). Without it the bytes are frozen.
   */
  refresh?: () => ArrayBufferView;
  /**
   * Workgroup counts; a plain number is folded into x·y·z under the
   * workgroups-per-dimension budget (kernels read it back with `LINEAR_ID`).
   */
  workgroups: number | [number, number?, number?];
}

/** Time after which {@link Runtime.throttle} adds its next completion marker. */
export const MARKER_MS = 4;
/** Calls after which {@link Runtime.throttle} adds its next completion marker. */
export const MARKER_STEPS = 16;

/** Largest uniform block a kernel may declare. */
export const UNIFORM_SLOT = 256;

/** Thrown for GPU validation errors, naming the op (or batch of ops) that caused them. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** Thrown for work pending or issued after the device was lost. */
export class DeviceLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceLostError";
  }
}

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

/** The WebGPU runtime. One per process; see {@link init}. */
export class Runtime {
  readonly device: GPUDevice;
  readonly info: AdapterInfo;
  readonly limits: GPUSupportedLimits;
  readonly pool: BufferPool;
  /** Dispatches recorded before an automatic submit. */
  maxBatch = 512;
  /** Dispatches recorded since the runtime started (for tests and profiling). */
  dispatchCount = 0;
  /** Buffer copies recorded since the runtime started (each ends the compute pass). */
  copyCount = 0;
  /** Submits since the runtime started. */
  submitCount = 0;

  #pipelines = new Map<
    string,
    { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; code: string }
  >();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #ids = new WeakMap<GPUBuffer, number>();
  #nextId = 1;
  #lastUse = new WeakMap<GPUBuffer, number>();

  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #serial = 1;
  #recorded = 0;
  #batchOps = new Set<string>();

  #ring: GPUBuffer;
  /** The dynamic offset handed to setBindGroup (see #encode). */
  readonly #offset = new Uint32Array(1);
  #ringData: Uint8Array<ArrayBuffer>;
  #ringUsed = 0;
  #ringGeneration = 0;
  #align: number;

  /** The capture in progress ({@link Runtime.capture}), or null. */
  #rec: Recording | null = null;
  /** Recordings kept for replay, watched for freed externals. */
  #kept = new Set<Recording>();

  #errors: Error[] = [];
  /** Compile-error reports still being formatted (see {@link Runtime.pipeline}). */
  #compiling: Promise<void>[] = [];
  #lost: DeviceLostError | null = null;
  #pendingReads = new Set<(e: Error) => void>();
  #inflight: Promise<void>[] = [];

  constructor(device: GPUDevice, info: AdapterInfo) {
    this.device = device;
    this.info = info;
    this.limits = device.limits;
    this.pool = new BufferPool(device);
    this.pool.onDestroy = (b) => this.#forget(b);
    this.#align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.#ringData = new Uint8Array(64 * 1024);
    this.#ring = this.#makeRing(this.#ringData.byteLength);
    device.lost.then((info) => {
      this.#lost = new DeviceLostError(
        `latent: the GPU device was lost (${info.reason || "unknown"}): ${info.message}. ` +
          `Pending work failed; call init() again to get a new device.`,
      );
      for (const reject of this.#pendingReads) reject(this.#lost);
      this.#pendingReads.clear();
    });
    device.addEventListener?.("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.#errors.push(new GpuError(`latent: uncaptured GPU error: ${e.message}`));
    });
  }

  /**
   * Creates a runtime on a new device, measuring the driver's loop cap
   * (src/gpu/budget.ts). A cap below {@link MIN_LOOP_CAP} is refused here:
   * latent could not keep its kernels under it, and would return wrong numbers.
   */
  static async create(options: DeviceOptions = {}): Promise<Runtime> {
    const { device, info } = await requestGpu(options);
    const cap = await measureLoopCap(device);
    if (cap !== null && cap < MIN_LOOP_CAP) {
      device.destroy();
      throw new GpuError(
        `latent: ${info.name}: the driver stops shader loops after ${cap} iterations; ` +
          `latent needs at least ${MIN_LOOP_CAP} (on Mesa lavapipe, use Mesa 25 or newer)`,
      );
    }
    info.loopCap = cap;
    const note = loopCapNote(cap);
    if (note) info.notes = [...(info.notes ?? []), note];
    return new Runtime(device, info);
  }

  /**
   * The budgets every launch plans under: the device's workgroups per
   * dimension and the loop iterations its driver runs per invocation
   * (Infinity where no cap was measured); {@link withBudgets} lowers them.
   */
  get budgets(): Budgets {
    // Read on every launch: the device's own budgets are built once.
    return forcedBudgets ?? (this.#budgets ??= Object.freeze({
      workgroupsPerDim: this.limits.maxComputeWorkgroupsPerDimension,
      loopIterations: loopBudget(this.info.loopCap ?? null),
    }));
  }

  #budgets: Budgets | null = null;

  /** True once the device is lost. */
  get lost(): boolean {
    return this.#lost !== null;
  }

  #checkAlive(): void {
    if (this.#lost) throw this.#lost;
  }

  #makeRing(bytes: number): GPUBuffer {
    return this.device.createBuffer({
      size: bytes + UNIFORM_SLOT,
      usage: 0x40 | 0x8, // UNIFORM | COPY_DST
      label: "latent uniform ring",
    });
  }

  #id(buffer: GPUBuffer): number {
    let id = this.#ids.get(buffer);
    if (id === undefined) this.#ids.set(buffer, id = this.#nextId++);
    return id;
  }

  #forget(buffer: GPUBuffer): void {
    const id = this.#ids.get(buffer);
    if (id === undefined) return;
    const tag = `#${id}:`;
    for (const key of this.#bindGroups.keys()) {
      if (key.includes(tag)) this.#bindGroups.delete(key);
    }
  }

  // ---------------------------------------------------------------- buffers

  /** A pooled storage buffer of at least `bytes` bytes. */
  allocate(bytes: number, label?: string): GPUBuffer {
    this.#checkAlive();
    const max = this.limits.maxBufferSize;
    if (bytes > max) {
      throw new RangeError(
        `latent: cannot allocate ${bytes} bytes: the adapter's maxBufferSize is ${max}`,
      );
    }
    return this.pool.acquire(bytes, STORAGE, label);
  }

  /** Returns a buffer to the pool. Safe while recorded work still uses it: reuse is stream-ordered. */
  release(buffer: GPUBuffer): void {
    for (const r of this.#kept) {
      if (r.invalid === null && r.externals.has(buffer)) {
        r.invalid = `a buffer it uses (${buffer.label || buffer.size + " bytes"}) was freed`;
      }
    }
    this.pool.release(buffer);
  }

  /**
   * Uploads data into a buffer. If recorded-but-unsubmitted work touches the
   * buffer, that work is submitted first: `queue.writeBuffer` runs before any
   * later submit, so writing now would overtake it.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.#checkAlive();
    this.#rec?.refuse("it uploads host data into a buffer");
    // Nothing to write (an empty tensor): Deno 2.9.6 panics on a 0-byte writeBuffer.
    if (data.byteLength === 0) return;
    if (this.#recorded > 0 && this.#lastUse.get(buffer) === this.#serial) this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes.
    const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
      const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      p.set(bytes);
      return p;
    })();
    this.device.queue.writeBuffer(buffer, byteOffset, padded as Uint8Array<ArrayBuffer>);
  }

  // -------------------------------------------------------------- pipelines

  #layout(kernel: Kernel): GPUBindGroupLayout {
    const sig = kernel.bindings.join(",") + (kernel.uniforms ? "+u" : "");
    let layout = this.#layouts.get(sig);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((a, i) => ({
        binding: i,
        visibility: 0x4, // COMPUTE
        buffer: { type: a === "read" ? "read-only-storage" : "storage" },
      }));
      if (kernel.uniforms) {
        entries.push({
          binding: kernel.bindings.length,
          visibility: 0x4,
          buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: 0 },
        });
      }
      layout = this.device.createBindGroupLayout({ entries, label: sig });
      this.#layouts.set(sig, layout);
    }
    return layout;
  }

  /** The cached pipeline for a kernel, compiling it on first use. */
  pipeline(
    kernel: Kernel,
    op: string,
  ): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let entry = this.#pipelines.get(kernel.key);
    // Two kernels under one key would silently share the first one's pipeline.
    if (entry && entry.code !== kernel.code) {
      throw new Error(
        `latent: ${op}: kernel key ${kernel.key} already names a kernel with different WGSL; ` +
          `keys must identify the family and every specialisation`,
      );
    }
    if (!entry) {
      const layout = this.#layout(kernel);
      this.device.pushErrorScope("validation");
      const module = this.device.createShaderModule({ code: kernel.code, label: kernel.key });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: "main" },
        label: kernel.key,
      });
      // A compile error is reported with the kernel, line, column and source
      // lines (the driver's own message may carry none of them); sync and
      // read wait for this report before they throw.
      const what = `${op}: compiling kernel ${kernel.key}`;
      this.#compiling.push(
        this.device.popErrorScope().then(async (e) => {
          if (!e) return;
          const info = await module.getCompilationInfo?.().catch(() => null);
          const where = info ? formatCompilation(kernel.key, kernel.code, info.messages) : "";
          // First in line: the invalid pipeline is what fails the batches that use it.
          this.#errors.unshift(
            new GpuError(`latent: GPU validation error in ${what}: ${where || e.message}`),
          );
        }, () => {}),
      );
      entry = { pipeline, layout, code: kernel.code };
      this.#pipelines.set(kernel.key, entry);
    }
    return entry;
  }

  #capture(what: string): void {
    this.device.popErrorScope().then((e) => {
      if (e) {
        this.#errors.push(new GpuError(`latent: GPU validation error in ${what}: ${e.message}`));
      }
    }, () => {});
  }

  // -------------------------------------------------------------- recording

  #slot(bytes: number): number {
    return Math.ceil(bytes / this.#align) * this.#align;
  }

  /** Records one dispatch into the current pass. Never waits on the GPU. */
  dispatch(d: Dispatch): void {
    this.#checkAlive();
    const { kernel } = d;
    if (d.buffers.length !== kernel.bindings.length) {
      throw new Error(
        `latent: ${d.op}: kernel ${kernel.key} expects ${kernel.bindings.length} buffers, got ${d.buffers.length}`,
      );
    }
    const wg = this.#grid(d);
    const { pipeline, layout } = this.pipeline(kernel, d.op);

    const offset = kernel.uniforms ? this.#uniformSlot(d.op, d.uniforms) : null;

    for (const b of d.buffers) this.#lastUse.set("buffer" in b ? b.buffer : b, this.#serial);
    const group = this.#group(d.op, kernel, layout, d.buffers);
    if (this.#rec) {
      this.#rec.entries.push({
        kind: "dispatch",
        op: d.op,
        kernel,
        pipeline,
        layout,
        buffers: d.buffers,
        group,
        generation: this.#ringGeneration,
        uniforms: d.uniforms
          ? new Uint8Array(d.uniforms.buffer, d.uniforms.byteOffset, d.uniforms.byteLength).slice()
          : null,
        refresh: d.refresh ?? null,
        workgroups: wg,
      });
    }

    this.#encode(d.op, pipeline, group, offset, wg);
  }

  /** Records one dispatch into the current pass (eager or replayed). */
  #encode(
    op: string,
    pipeline: GPUComputePipeline,
    group: GPUBindGroup,
    offset: number | null,
    wg: readonly [number, number, number],
  ): void {
    const pass = this.#currentPass();
    pass.setPipeline(pipeline);
    if (offset !== null) {
      // The typed-array form: Deno's WebGPU converts an array literal of
      // offsets on every call (~1 µs per dispatch on a 2-vCPU host, a third
      // of a compiled step's recording); the offset is read during the call.
      this.#offset[0] = offset;
      pass.setBindGroup(0, group, this.#offset, 0, 1);
    } else pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    this.#batchOps.add(op);
    this.#recorded++;
    this.dispatchCount++;
    if (this.#recorded >= this.maxBatch) this.flush();
  }

  /** The cached bind group of `buffers` (plus the uniform ring) for a kernel. */
  #group(
    op: string,
    kernel: Kernel,
    layout: GPUBindGroupLayout,
    buffers: readonly Binding[],
  ): GPUBindGroup {
    let key = kernel.key + "|" + this.#ringGeneration;
    for (const b of buffers) {
      const buffer = "buffer" in b ? b.buffer : b;
      const size = "buffer" in b ? b.size : buffer.size;
      key += `|#${this.#id(buffer)}:${size}`;
    }
    let group = this.#bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({
        binding: i,
        resource: "buffer" in b ? { buffer: b.buffer, size: alignSize(b.size) } : { buffer: b },
      }));
      if (kernel.uniforms) {
        entries.push({
          binding: kernel.bindings.length,
          resource: { buffer: this.#ring, size: UNIFORM_SLOT },
        });
      }
      this.device.pushErrorScope("validation");
      group = this.device.createBindGroup({ layout, entries, label: op });
      this.#capture(`${op} (binding buffers for ${kernel.key})`);
      if (this.#bindGroups.size > 8192) this.#bindGroups.clear();
      this.#bindGroups.set(key, group);
    }
    return group;
  }

  /** Copies uniform bytes into the ring; returns their offset. */
  #uniformSlot(op: string, u: ArrayBufferView | undefined): number {
    if (!u || u.byteLength > UNIFORM_SLOT) {
      throw new Error(
        `latent: ${op}: uniform block of ${u?.byteLength ?? 0} bytes (1..${UNIFORM_SLOT})`,
      );
    }
    if (this.#ringUsed + UNIFORM_SLOT > this.#ringData.byteLength) {
      if (this.#recorded > 0) this.flush();
      if (this.#ringData.byteLength < UNIFORM_SLOT * 4096) this.#growRing();
    }
    const offset = this.#ringUsed;
    this.#ringData.set(new Uint8Array(u.buffer, u.byteOffset, u.byteLength), offset);
    this.#ringUsed += this.#slot(u.byteLength);
    return offset;
  }

  #grid(d: Dispatch): [number, number, number] {
    const max = this.budgets.workgroupsPerDim;
    if (typeof d.workgroups === "number") {
      const n = d.workgroups;
      const grid = Number.isInteger(n) && n >= 0 ? foldGrid(n, max) : null;
      if (!grid) {
        throw new RangeError(
          `latent: ${d.op}: ${n} workgroups do not fold into a grid of at most ${max} per dimension`,
        );
      }
      return grid;
    }
    const [x, y = 1, z = 1] = d.workgroups;
    for (const [n, v] of [["x", x], ["y", y], ["z", z]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > max) {
        throw new RangeError(
          `latent: ${d.op}: workgroup count ${n}=${v} outside 0..${max} (workgroups per dimension)`,
        );
      }
    }
    return [x, y, z];
  }

  #growRing(): void {
    const bytes = this.#ringData.byteLength * 2;
    this.#ringData = new Uint8Array(bytes);
    this.#ring.destroy();
    this.#ring = this.#makeRing(bytes);
    this.#ringGeneration++;
    this.#bindGroups.clear();
  }

  #currentEncoder(): GPUCommandEncoder {
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  #currentPass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = this.#currentEncoder().beginComputePass();
    return this.#pass;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /** Records a buffer-to-buffer copy (sizes and offsets multiples of 4). */
  copy(
    op: string,
    src: GPUBuffer,
    srcOffset: number,
    dst: GPUBuffer,
    dstOffset: number,
    size: number,
  ): void {
    this.#checkAlive();
    if (size === 0) return;
    this.#endPass();
    this.copyCount++;
    this.#currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, alignSize(size));
    this.#rec?.entries.push({ kind: "copy", op, src, srcOffset, dst, dstOffset, size });
    this.#lastUse.set(src, this.#serial);
    this.#lastUse.set(dst, this.#serial);
    this.#batchOps.add(op);
    this.#recorded++;
  }

  /** Submits everything recorded so far. Does not wait. */
  flush(): void {
    this.#checkAlive();
    if (!this.#encoder) return;
    this.#endPass();
    if (this.#ringUsed > 0) {
      this.device.queue.writeBuffer(this.#ring, 0, this.#ringData, 0, this.#ringUsed);
      this.#ringUsed = 0;
    }
    const ops = [...this.#batchOps].slice(0, 12).join(", ") +
      (this.#batchOps.size > 12 ? ", …" : "");
    this.device.pushErrorScope("validation");
    this.device.queue.submit([this.#encoder.finish()]);
    this.#capture(`a batch of ${this.#recorded} commands (ops: ${ops})`);
    this.#encoder = null;
    this.#recorded = 0;
    this.#batchOps.clear();
    this.#serial++;
    this.submitCount++;
  }

  // ------------------------------------------------------ capture and replay

  /**
   * Runs `fn` (which records GPU work as usual) and returns what it recorded
   * as a {@link Recording} (src/gpu/capture.ts). Captures do not nest. The
   * recording is not kept: call {@link keep} to replay it.
   */
  capture(fn: () => void): Recording {
    if (this.#rec) throw new Error("latent: capture: a capture is already in progress");
    const recording = this.#rec = new Recording();
    try {
      fn();
      return recording;
    } finally {
      this.#rec = null;
    }
  }

  /**
   * Records host code at this point of a capture, run again at the same
   * point of each replay (an optimizer advancing its step count before the
   * updates that read it). A no-op when not capturing.
   */
  hook(run: () => void): void {
    this.#rec?.entries.push({ kind: "hook", run });
  }

  /**
   * Keeps a recording for replay once its step has ended: the pooled
   * buffers it used that are free again (the step's temporaries) leave the
   * pool and belong to the recording; the others (buffers of tensors that
   * outlive the step) are its externals, and freeing one invalidates it.
   */
  keep(recording: Recording): void {
    if (recording.unreplayable) {
      throw new Error(`latent: keep: the recording cannot be replayed: ${recording.unreplayable}`);
    }
    for (const b of new Set(recording.touched())) {
      if (this.pool.claim(b)) recording.claimed.push(b);
      else recording.externals.add(b);
    }
    this.#kept.add(recording);
  }

  /** Gives a kept recording's temporaries back to the pool. Idempotent. */
  drop(recording: Recording): void {
    if (!this.#kept.delete(recording)) return;
    recording.invalid ??= "it was dropped";
    for (const b of recording.claimed.splice(0)) this.pool.release(b);
  }

  /**
   * Re-records a kept recording's commands: its hooks run, refreshed
   * uniforms are repacked, and every dispatch reuses its pipeline and bind
   * group. Never waits on the GPU. Throws if the recording was invalidated.
   */
  replay(recording: Recording): void {
    this.#checkAlive();
    if (!this.#kept.has(recording) || recording.invalid) {
      throw new Error(
        `latent: replay: the recording is no longer valid: ${recording.invalid ?? "never kept"}`,
      );
    }
    if (this.#rec) this.#rec.refuse("it replays another recording");
    for (const e of recording.entries) {
      if (e.kind === "hook") {
        e.run();
        continue;
      }
      if (e.kind === "copy") {
        this.copy(e.op, e.src, e.srcOffset, e.dst, e.dstOffset, e.size);
        continue;
      }
      const offset = e.kernel.uniforms
        ? this.#uniformSlot(e.op, e.refresh ? e.refresh() : e.uniforms!)
        : null;
      if (e.generation !== this.#ringGeneration) {
        // The uniform ring grew: its old buffer (in the group) is destroyed.
        e.group = this.#group(e.op, e.kernel, e.layout, e.buffers);
        e.generation = this.#ringGeneration;
      }
      this.#encode(e.op, e.pipeline, e.group, offset, e.workgroups);
    }
    // After the loop: a flush inside it moved the serial on.
    for (const b of recording.claimed) this.#lastUse.set(b, this.#serial);
    for (const b of recording.externals) this.#lastUse.set(b, this.#serial);
  }

  /** Waits for the compile-error reports of the pipelines created so far. */
  async #compiled(): Promise<void> {
    while (this.#compiling.length) await Promise.all(this.#compiling.splice(0));
  }

  /** Throws (once) the first GPU error captured so far. */
  #throwErrors(): void {
    if (this.#errors.length) {
      const e = this.#errors[0];
      this.#errors = [];
      throw e;
    }
  }

  /**
   * Submits pending work and waits until the GPU has finished it, then
   * re-throws any captured validation error.
   */
  async sync(): Promise<void> {
    this.flush();
    await this.#guard(this.device.queue.onSubmittedWorkDone());
    // Error scopes resolve after the work they cover; give them a turn.
    await new Promise((r) => setTimeout(r, 0));
    await this.#compiled();
    this.#throwErrors();
  }

  #guard<T>(p: Promise<T>): Promise<T> {
    this.#checkAlive();
    return new Promise<T>((resolve, reject) => {
      this.#pendingReads.add(reject);
      p.then(resolve, (e) => reject(this.#lost ?? e)).finally(() =>
        this.#pendingReads.delete(reject)
      );
    });
  }

  /**
   * Reads `size` bytes of `buffer` (from `offset`) back to the host: the one
   * place the host waits on the GPU.
   */
  async read(buffer: GPUBuffer, size: number, offset = 0): Promise<ArrayBuffer> {
    this.#checkAlive();
    this.#rec?.refuse("it reads a buffer back to the host");
    const bytes = alignSize(size);
    const staging = this.pool.acquire(bytes, READBACK, "latent readback");
    this.copy("readback", buffer, offset, staging, 0, bytes);
    this.flush();
    try {
      await this.#guard(staging.mapAsync(1, /* READ */ 0, bytes));
    } catch (e) {
      await new Promise((r) => setTimeout(r, 0));
      await this.#compiled();
      this.#throwErrors();
      throw e;
    }
    const out = staging.getMappedRange(0, bytes).slice(0, size);
    staging.unmap();
    this.pool.release(staging);
    await new Promise((r) => setTimeout(r, 0));
    await this.#compiled();
    this.#throwErrors();
    return out;
  }

  /**
   * Bounds how far recording runs ahead of the GPU. Call once per training
   * step: it submits, adds a completion marker once {@link MARKER_MS} ms or
   * {@link MARKER_STEPS} calls have passed since the last one, and waits
   * only for the marker `depth` markers back, so the GPU always has queued
   * work while the host's queue (and the driver's staging memory) stays
   * bounded: at most `depth` × {@link MARKER_STEPS} steps ahead. This is not
   * a per-step round trip: nothing is read back.
   *
   * Markers are spaced, not one per step, because a marker resolves late:
   * Deno's `onSubmittedWorkDone` settles on a ~10 ms poll even for an idle
   * queue (20 calls: 223 ms). One marker per step held fit to ~310 steps/s
   * whatever the step cost (a batch-1 step replays in ~0.1 ms; ~1000
   * steps/s with spaced markers, lavapipe); steps slower than the spacing
   * still get one marker each, as before.
   */
  async throttle(depth = 3): Promise<void> {
    this.flush();
    const now = performance.now();
    if (
      this.#inflight.length === 0 || now - this.#lastMarker >= MARKER_MS ||
      ++this.#sinceMarker >= MARKER_STEPS
    ) {
      this.#inflight.push(this.#guard(this.device.queue.onSubmittedWorkDone()));
      this.#lastMarker = now;
      this.#sinceMarker = 0;
    }
    while (this.#inflight.length > depth) await this.#inflight.shift();
  }

  #lastMarker = -Infinity;
  #sinceMarker = 0;

  /** Submits pending work and destroys pooled buffers that are free. */
  trim(): void {
    this.flush();
    this.pool.trim();
  }

  /** Releases the device. The runtime cannot be used afterwards. */
  destroy(): void {
    this.trim();
    this.#ring.destroy();
    this.device.destroy();
  }
}

/** Rounds a byte count up to a multiple of 4 (copy and binding granularity). */
export function alignSize(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/**
 * Initialises latent's WebGPU runtime (idempotent). Throws a
 * {@link WebGPUUnavailableError} saying what to install when WebGPU is missing.
 *
 * @example
 * ```ts
 * import * as lt from "latent";
 * const rt = await lt.init();
 * console.log(rt.info.name);
 * ```
 */
export function init(options: DeviceOptions = {}): Promise<Runtime> {
  if (current && !current.lost) return Promise.resolve(current);
  if (!pending) {
    pending = Runtime.create(options).then(
      (rt) => (current = rt),
    ).finally(() => (pending = null));
  }
  return pending;
}

let forcedBudgets: Budgets | null = null;

/**
 * Runs `fn` with lowered work budgets (src/gpu/budget.ts), so tests reach
 * the folded-grid, multi-pass and chunked paths on small shapes. Budgets
 * apply to what `fn` records; an async `fn` keeps them until it settles, so
 * nothing else may record meanwhile.
 *
 * @example
 * ```ts
 * const s = await withBudgets({ workgroupsPerDim: 4, loopIterations: 64 }, () =>
 *   lt.sum(x).data());
 * ```
 */
export function withBudgets<T>(budgets: Partial<Budgets>, fn: () => T): T {
  const prev = forcedBudgets;
  forcedBudgets = { ...(prev ?? runtime().budgets), ...budgets };
  return restoreAfter(fn, () => (forcedBudgets = prev));
}

/**
 * Runs `fn`, then `restore`: at once when `fn` returns or throws, or when
 * the promise it returns settles. The scoped overrides (`withBudgets`,
 * `withTuning`) set a module variable and use this to put it back.
 */
export function restoreAfter<T>(fn: () => T, restore: () => void): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    restore();
    throw e;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

/** One message of a shader's compilation (the fields of `GPUCompilationMessage` used here). */
export interface CompileMessage {
  type: string;
  message: string;
  lineNum: number;
  linePos: number;
}

/**
 * The errors of a shader's compilation as `kernel K, line L, column C:
 * message`, each followed by the source line before it, the line itself and
 * a caret under the column; "" when there are no errors (or no positions).
 *
 * @example
 * ```ts
 * formatCompilation("unary/relu", code, (await module.getCompilationInfo()).messages);
 * ```
 */
export function formatCompilation(
  key: string,
  code: string,
  messages: readonly CompileMessage[],
): string {
  const lines = code.split("\n");
  const out: string[] = [];
  for (const m of messages) {
    if (m.type !== "error" || !(m.lineNum > 0)) continue;
    const text = m.message.trim().split("\n")[0].replace(/^Shader '[^']*' /, "");
    out.push(`kernel ${key}, line ${m.lineNum}, column ${m.linePos}: ${text}`);
    const width = String(m.lineNum).length;
    for (let n = Math.max(1, m.lineNum - 1); n <= m.lineNum; n++) {
      out.push(`  ${String(n).padStart(width)} | ${lines[n - 1] ?? ""}`);
    }
    out.push(`  ${" ".repeat(width)} | ${" ".repeat(Math.max(0, m.linePos - 1))}^`);
  }
  return out.join("\n");
}

/** The initialised runtime; throws if {@link init} has not completed. */
export function runtime(): Runtime {
  if (!current) {
    throw new Error("latent: call `await init()` before creating tensors or running ops");
  }
  return current;
}

/**
 * A {@link StepCompiler} on the current runtime, for a training loop of
 * one's own: each `run(key, record)` records the step eagerly until two
 * captures of it agree, then replays the captured commands (fit compiles
 * its steps this way; src/gpu/capture.ts has the rules a step must keep).
 *
 * @example
 * ```ts
 * const compiled = lt.compileStep();
 * for (const s of ep) {
 *   lt.copyInto(rows, ep.indices, { from: s.offset, count: s.size });
 *   compiled.run(String(s.size), () => lt.tidy(() => {
 *     const xb = x.gather(rows, 0, s.size); // an autoencoder's batch
 *     lt.backward(lt.meanSquaredError(model.apply(xb), xb));
 *     opt.step(model.trainableWeights());
 *   }));
 *   await lt.runtime().throttle();
 * }
 * compiled.dispose();
 * ```
 */
export function compileStep(): StepCompiler {
  return new StepCompiler(runtime());
}

/** The initialised runtime, or null. */
export function maybeRuntime(): Runtime | null {
  return current;
}
