/**
 * Captured command sequences: what a training step recorded, kept so later
 * steps can be replayed without re-running the JavaScript that recorded it.
 *
 * An eager step runs the autograd graph, checks every op's shapes, looks up
 * kernels, packs uniforms and finds bind groups — host work that on a real
 * GPU bounds steps per second whatever the GPU's speed. A {@link Recording}
 * keeps the result of that work: per dispatch the pipeline, the bind group,
 * the uniform bytes and the grid; per copy its buffers and offsets. Replaying
 * it (`Runtime.replay`) re-issues exactly those commands, as CUDA graphs or
 * ONNX Runtime's graph capture do.
 *
 * What changes from step to step must be declared while capturing: a
 * dispatch may carry a `refresh` that repacks its uniforms at each replay (the
 * optimizer's step count and bias-corrected rate, a random op's next seed
 * from its stream), and a `hook` runs host code at its place in the sequence
 * (the optimizer's step counter, a noisy dataset's noise counter). Anything
 * else is frozen, so {@link compareRecordings} checks two captured steps
 * against each other before a recording is trusted: the same kernels, grids,
 * frozen uniforms and copies, over the same buffers up to a renaming of the
 * step's temporaries. A dispatch whose frozen uniforms differ (a host value
 * baked into a fill) makes the step not replayable, and says which op.
 *
 * A recording owns its temporaries: the pooled buffers the step allocated and
 * freed are taken off the pool's free lists (`BufferPool.claim`), so nothing
 * else can be handed them between replays. The buffers it reads or writes
 * that live on (parameters, optimizer state, accumulators) are its
 * externals; freeing one invalidates the recording (`Runtime.release`).
 *
 * @module
 */
import type { Binding, Kernel } from "./runtime.ts";

/** One captured command. */
export type Entry =
  | {
    kind: "dispatch";
    op: string;
    kernel: Kernel;
    pipeline: GPUComputePipeline;
    layout: GPUBindGroupLayout;
    buffers: Binding[];
    /** The bind group, valid for the uniform ring of `generation`. */
    group: GPUBindGroup;
    generation: number;
    /** Frozen uniform bytes (null: the kernel takes none). */
    uniforms: Uint8Array | null;
    /** Repacks the uniforms at each replay (their bytes are not compared). */
    refresh: (() => ArrayBufferView) | null;
    workgroups: [number, number, number];
  }
  | {
    kind: "copy";
    op: string;
    src: GPUBuffer;
    srcOffset: number;
    dst: GPUBuffer;
    dstOffset: number;
    size: number;
  }
  | { kind: "hook"; run: () => void };

/** A captured step; see the module docs. */
export class Recording {
  readonly entries: Entry[] = [];
  /** Why this sequence cannot be replayed (set while capturing), or null. */
  unreplayable: string | null = null;
  /** Buffers the step made and freed, owned by the recording once it is kept. */
  readonly claimed: GPUBuffer[] = [];
  /** Buffers the step used that outlive it. */
  readonly externals: Set<GPUBuffer> = new Set();
  /** Why a kept recording stopped being valid (a freed external), or null. */
  invalid: string | null = null;

  /** Dispatches (not copies or hooks) per replay. */
  get dispatches(): number {
    let n = 0;
    for (const e of this.entries) if (e.kind === "dispatch") n++;
    return n;
  }

  /** Marks the sequence not replayable; the first reason wins. */
  refuse(reason: string): void {
    this.unreplayable ??= reason;
  }

  /** The buffers each entry touches, in order (dispatch bindings, copy source and target). */
  *touched(): Generator<GPUBuffer> {
    for (const e of this.entries) {
      if (e.kind === "dispatch") {
        for (const b of e.buffers) yield "buffer" in b ? b.buffer : b;
      } else if (e.kind === "copy") {
        yield e.src;
        yield e.dst;
      }
    }
  }
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Why two captures of a step differ, or null when `b` replays what `a` did:
 * the same commands in the same order (kernels, grids, frozen uniform bytes,
 * copy offsets and sizes), over buffers that correspond one to one, with
 * every buffer in `keep` (the ones that outlive the step) mapped to itself.
 */
export function compareRecordings(
  a: Recording,
  b: Recording,
  keep: ReadonlySet<GPUBuffer>,
): string | null {
  if (a.entries.length !== b.entries.length) {
    return `the step recorded ${a.entries.length} commands, then ${b.entries.length}`;
  }
  const ab = new Map<GPUBuffer, GPUBuffer>(), ba = new Map<GPUBuffer, GPUBuffer>();
  const pair = (x: GPUBuffer, y: GPUBuffer, op: string): string | null => {
    const px = ab.get(x), py = ba.get(y);
    if (px === undefined && py === undefined) {
      if (x !== y && (keep.has(x) || keep.has(y))) {
        return `${op} used a buffer that outlives the step in one step and another in the next`;
      }
      ab.set(x, y);
      ba.set(y, x);
      return null;
    }
    return px === y && py === x ? null : `${op} bound its buffers differently in two steps`;
  };
  for (let i = 0; i < a.entries.length; i++) {
    const x = a.entries[i], y = b.entries[i];
    if (x.kind !== y.kind) return `command ${i} was a ${x.kind}, then a ${y.kind}`;
    if (x.kind === "hook") continue;
    if (x.kind === "copy" && y.kind === "copy") {
      if (
        x.srcOffset !== y.srcOffset || x.dstOffset !== y.dstOffset || x.size !== y.size
      ) {
        return `${x.op} copies a different range each step (offsets ${x.srcOffset} → ${y.srcOffset})`;
      }
      const why = pair(x.src, y.src, x.op) ?? pair(x.dst, y.dst, x.op);
      if (why) return why;
      continue;
    }
    if (x.kind !== "dispatch" || y.kind !== "dispatch") continue;
    if (x.kernel.key !== y.kernel.key) {
      return `command ${i} ran ${x.kernel.key}, then ${y.kernel.key}`;
    }
    if (x.workgroups.join() !== y.workgroups.join()) {
      return `${x.op} (${x.kernel.key}) ran a different grid each step`;
    }
    if ((x.refresh === null) !== (y.refresh === null)) {
      return `${x.op} refreshed its uniforms in one step only`;
    }
    if (x.refresh === null && !bytesEqual(x.uniforms, y.uniforms)) {
      return `${x.op} (${x.kernel.key}) changes its uniforms from step to step ` +
        `(a seed or offset no replay could repeat)`;
    }
    for (let j = 0; j < x.buffers.length; j++) {
      // A whole buffer or a binding's range: both carry the bound size.
      if (x.buffers[j].size !== y.buffers[j].size) {
        return `${x.op} bound a different range of buffer ${j} each step`;
      }
      const xb = x.buffers[j], yb = y.buffers[j];
      const why = pair("buffer" in xb ? xb.buffer : xb, "buffer" in yb ? yb.buffer : yb, x.op);
      if (why) return why;
    }
  }
  return null;
}

/** The runtime calls a {@link StepCompiler} makes (src/gpu/runtime.ts). */
export interface CaptureRuntime {
  capture(fn: () => void): Recording;
  keep(recording: Recording): void;
  drop(recording: Recording): void;
  replay(recording: Recording): void;
}

/** How a {@link StepCompiler} ran its steps. */
export interface CompileReport {
  /** Steps replayed from a recording. */
  replayed: number;
  /** Steps run eagerly (warm-up, the two captures, steps of other shapes). */
  eager: number;
  /** Why the step runs eagerly for good, or null while it compiles. */
  fallback: string | null;
  /** Dispatches per replayed step (of the last recording kept), or null. */
  dispatches: number | null;
}

/** A step's state under one key (its batch size). */
interface Plan {
  /** Whether the uncaptured first run is done. */
  warm: boolean;
  first: Recording | null;
  kept: Recording | null;
  /** Invalidations since this key last replayed {@link STABLE} steps. */
  strikes: number;
  sinceKept: number;
}

/** Replays after which an invalidation no longer counts against a plan. */
const STABLE = 8;
/** Invalidations in a row (each before {@link STABLE} replays) that end compiling. */
const MAX_STRIKES = 3;

/**
 * Runs a training step eagerly, captures it twice, and once the two
 * captures agree ({@link compareRecordings}) replays the second one for
 * every later step of the same key (a batch size: a shorter last batch has
 * its own plan). The first run is eager and uncaptured, since it makes lazy
 * state (an optimizer's moments) that later steps only reuse.
 *
 * The step must do all its GPU work inside `record`, allocate nothing that
 * outlives it except into tensors that already exist, and read nothing
 * back. When a capture cannot be replayed (an upload, a readback, uniforms
 * that change without a refresh, commands that differ between two steps)
 * the compiler falls back to eager steps for good and keeps the reason in
 * {@link report}. A kept recording invalidated by a freed external (a
 * target distribution replaced) is re-captured; {@link MAX_STRIKES} such
 * invalidations in a row end compiling too.
 */
export class StepCompiler {
  #rt: CaptureRuntime;
  #plans = new Map<string, Plan>();
  #report: CompileReport = { replayed: 0, eager: 0, fallback: null, dispatches: null };

  constructor(rt: CaptureRuntime) {
    this.#rt = rt;
  }

  /** How the steps ran so far. */
  get report(): Readonly<CompileReport> {
    return this.#report;
  }

  /** Runs one step under `key`: replayed when a recording of it is kept, else `record`. */
  run(key: string, record: () => void): void {
    const r = this.#report;
    if (r.fallback !== null) {
      r.eager++;
      record();
      return;
    }
    let plan = this.#plans.get(key);
    if (!plan) {
      this.#plans.set(
        key,
        plan = { warm: false, first: null, kept: null, strikes: 0, sinceKept: 0 },
      );
    }
    if (plan.kept && plan.kept.invalid) {
      const why = plan.kept.invalid;
      this.#rt.drop(plan.kept);
      plan.kept = null;
      // An invalidation after a stable run of replays starts the count again.
      plan.strikes = plan.sinceKept < STABLE ? plan.strikes + 1 : 0;
      if (plan.strikes >= MAX_STRIKES) {
        this.#stop(`its recording was invalidated ${MAX_STRIKES} times in a row (${why})`);
        return this.run(key, record);
      }
    }
    if (plan.kept) {
      this.#rt.replay(plan.kept);
      plan.sinceKept++;
      r.replayed++;
      return;
    }
    r.eager++;
    if (!plan.warm) {
      plan.warm = true;
      record();
      return;
    }
    const recording = this.#rt.capture(record);
    if (recording.unreplayable) return this.#stop(recording.unreplayable);
    if (!plan.first) {
      plan.first = recording;
      return;
    }
    this.#rt.keep(recording);
    const why = compareRecordings(plan.first, recording, recording.externals);
    plan.first = null;
    if (why) {
      this.#rt.drop(recording);
      return this.#stop(why);
    }
    plan.kept = recording;
    plan.sinceKept = 0;
    r.dispatches = recording.dispatches;
  }

  #stop(reason: string): void {
    this.#report.fallback = reason;
    this.dispose();
  }

  /** Gives every kept recording's buffers back to the pool. */
  dispose(): void {
    for (const p of this.#plans.values()) if (p.kept) this.#rt.drop(p.kept);
    this.#plans.clear();
  }
}
