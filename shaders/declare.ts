/**
 * Kernel declarations: the one statement of the host ↔ shader contract.
 *
 * A declaration names a kernel's storage buffers (inputs, then outputs, each
 * with its WGSL element type), its uniform fields (in order, each with its
 * type) and its entry point (workgroup size and the builtins it reads). From
 * it {@link declare} generates the WGSL that used to be written by hand — the
 * `@binding` lines, the `struct U` block and the `@compute` header of
 * `fn main` — and a layout the host packs uniforms with *by name*:
 * `launchKernel` (src/ops/kernel_call.ts) refuses a missing or unknown buffer
 * or field, a tensor of the wrong dtype, or a value of the wrong type, naming
 * the kernel, before any GPU work. So the struct and its packing can no
 * longer drift apart by position, and every kernel's entry point has one
 * shape: builtins under fixed names (`wid`, `nwg`, `lid`, `gid`), so bodies
 * read alike, and the 1-D header in one place instead of pasted per family.
 *
 * ```ts
 * const k = declare({
 *   key: "scale/vec4",
 *   inputs: { X: "vec4f" },
 *   outputs: { Y: "vec4f" },
 *   uniforms: { n: "u32", s: "f32" },
 *   entry: ENTRY_1D,
 *   main: `
 *   if (i >= u.n) { return; }
 *   Y[i] = X[i] * u.s;`,
 * });
 * launchKernel("scale", k, { X: x, Y: y }, { n: x.size / 4, s: 2 }, Math.ceil(x.size / 4 / WG));
 * ```
 *
 * Uniform layout follows WGSL's rules for the types allowed here: 4-byte
 * scalars packed in order, `array<vec4u, n>` fields aligned to 16 bytes, the
 * struct padded to a multiple of 16.
 *
 * @module
 */
import type { Access, Kernel } from "../src/gpu/runtime.ts";

/** WGSL element type of a storage buffer (`atomic<u32>` only as an output). */
export type Elem =
  | "f32"
  | "vec2f"
  | "vec4f"
  | "i32"
  | "vec4i"
  | "u32"
  | "vec4u"
  | "atomic<u32>";

/**
 * WGSL type of a uniform field: a 4-byte scalar, or an `array<vec4u, n>`
 * written `vec4u[n]` (dimension lists, run maps; `dims` = `vec4u[2]`, the
 * 8 slots of `packDims`).
 */
export type Field = "u32" | "i32" | "f32" | "dims" | `vec4u[${number}]`;

/** What {@link declare} takes. */
export interface Declaration {
  /** Unique per (family, specialisation), e.g. `unary/relu/vec4`. */
  key: string;
  /** Storage buffers read, in binding order. */
  inputs: Readonly<Record<string, Elem>>;
  /** Storage buffers written (bound read_write), after the inputs. */
  outputs: Readonly<Record<string, Elem>>;
  /** Uniform fields in struct order; none: no uniform block. */
  uniforms?: Readonly<Record<string, Field>>;
  /**
   * The entry point: its header (workgroup size, builtins) and what every
   * kernel of its shape shares, e.g. `ENTRY_1D` (shaders/common.ts).
   */
  entry: Entry;
  /**
   * WGSL placed before the entry point: constants, workgroup variables and
   * helper functions. It may not hold an entry point of its own.
   */
  helpers?: string;
  /** The statements of `fn main`, without the braces; `declare` writes the header around them. */
  main: string;
}

/**
 * A builtin the entry point can read. Each has a fixed parameter name, so
 * bodies read alike: `workgroup_id` → `wid: vec3u`, `num_workgroups` →
 * `nwg: vec3u`, `local_invocation_index` → `lid: u32`,
 * `local_invocation_id` → `lid: vec3u` (so a kernel takes one of the two),
 * `global_invocation_id` → `gid: vec3u`.
 */
export type Builtin =
  | "workgroup_id"
  | "num_workgroups"
  | "local_invocation_index"
  | "local_invocation_id"
  | "global_invocation_id";

const BUILTINS: Readonly<Record<Builtin, string>> = {
  workgroup_id: "wid: vec3u",
  num_workgroups: "nwg: vec3u",
  local_invocation_index: "lid: u32",
  local_invocation_id: "lid: vec3u",
  global_invocation_id: "gid: vec3u",
};

/**
 * `@workgroup_size` of an entry point: x, [x, y] or [x, y, z], each a
 * positive integer or a WGSL constant expression (`"WG"`, a `const` of the
 * helpers).
 */
export type WorkgroupSize =
  | number
  | string
  | readonly [number | string, number | string]
  | readonly [number | string, number | string, number | string];

/**
 * The shape of an entry point. Its header is generated, not written: the
 * workgroup size and the builtins `main` reads, in parameter order. A shape
 * several families share (1-D elementwise kernels, row kernels) also
 * carries the module-scope WGSL it relies on and the statements `main`
 * starts with, so that each kernel of the shape states only what differs.
 */
export interface Entry {
  workgroupSize: WorkgroupSize;
  builtins: readonly Builtin[];
  /** Module-scope WGSL the shape needs, placed before the declaration's helpers. */
  helpers?: string;
  /** Statements `main` starts with, before the declaration's own. */
  prelude?: string;
}

/** A uniform field's place in the packed block. */
export interface FieldSlot {
  name: string;
  type: Field;
  /** Byte offset in the block. */
  offset: number;
  /** 4-byte words: 1 for scalars, 4·n for `vec4u[n]`. */
  words: number;
}

/** A declared kernel: a runtime {@link Kernel} plus the names and layout launches are checked against. */
export interface DeclaredKernel extends Kernel {
  inputs: readonly [string, Elem][];
  outputs: readonly [string, Elem][];
  /** Inputs then outputs: the binding order. */
  slots: readonly [string, Elem][];
  fields: readonly FieldSlot[];
  /** Bytes of the uniform block (a multiple of 16; 0 without uniforms). */
  uniformBytes: number;
}

function vec4Count(t: Field): number {
  if (t === "dims") return 2;
  const m = /^vec4u\[(\d+)\]$/.exec(t);
  return m ? Number(m[1]) : 0;
}

function wgslField(t: Field): string {
  const n = vec4Count(t);
  return n > 0 ? `array<vec4u, ${n}>` : t;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An entry point written by hand: `declare` generates the only one. */
const HAND_ENTRY = /@compute\b|\bfn\s+main\b/;

/**
 * `@compute @workgroup_size(…)` and the `fn main(…) {` line of `entry`.
 * Throws, naming kernel `key`, on an unknown or repeated builtin (or `lid`
 * asked for twice) and on a bad workgroup size.
 */
function entryHeader(key: string, entry: Entry): string {
  const params: string[] = [];
  const names = new Set<string>();
  for (const b of entry.builtins) {
    if (!Object.hasOwn(BUILTINS, b)) {
      throw new Error(
        `${key}: unknown builtin "${b}" (builtins: ${Object.keys(BUILTINS).join(", ")})`,
      );
    }
    const param = BUILTINS[b];
    const name = param.slice(0, param.indexOf(":"));
    if (names.has(name)) {
      throw new Error(`${key}: two builtins of the entry point are named "${name}" (${b} too)`);
    }
    names.add(name);
    params.push(`@builtin(${b}) ${param}`);
  }
  const size: readonly (number | string)[] = typeof entry.workgroupSize === "object"
    ? entry.workgroupSize
    : [entry.workgroupSize];
  if (
    size.length < 1 || size.length > 3 ||
    size.some((x) => typeof x === "number" ? !(Number.isInteger(x) && x > 0) : !x.trim())
  ) {
    throw new Error(`${key}: bad workgroup size ${JSON.stringify(entry.workgroupSize)}`);
  }
  return `@compute @workgroup_size(${size.join(", ")})\nfn main(${params.join(", ")}) {`;
}

/**
 * Generates a kernel's bindings, uniform struct and entry-point header from
 * its declaration and computes the uniform layout. Throws, naming the
 * kernel, on a malformed declaration (bad or repeated names, unknown types,
 * an unknown or repeated builtin, a bad workgroup size, an entry point
 * written by hand).
 */
export function declare(d: Declaration): DeclaredKernel {
  const inputs = Object.entries(d.inputs);
  const outputs = Object.entries(d.outputs);
  const seen = new Set<string>();
  for (const [name] of [...inputs, ...outputs, ...Object.entries(d.uniforms ?? {})]) {
    if (!IDENT.test(name) || seen.has(name) || name === "u") {
      throw new Error(`${d.key}: bad or repeated name "${name}" in the kernel declaration`);
    }
    seen.add(name);
  }
  const texts = {
    "entry helpers": d.entry.helpers,
    "entry prelude": d.entry.prelude,
    helpers: d.helpers,
    main: d.main,
  };
  for (const [part, text] of Object.entries(texts)) {
    if (text && HAND_ENTRY.test(text)) {
      throw new Error(
        `${d.key}: ${part} holds an entry point ("@compute" or "fn main"); declare writes` +
          ` the header from the entry (workgroup size, builtins): give only main's statements`,
      );
    }
  }
  const fields: FieldSlot[] = [];
  let at = 0;
  for (const [name, type] of Object.entries(d.uniforms ?? {})) {
    const n = vec4Count(type);
    if (n === 0 && type !== "u32" && type !== "i32" && type !== "f32") {
      throw new Error(`${d.key}: uniform field ${name} has unknown type ${type}`);
    }
    if (n > 0) at = Math.ceil(at / 16) * 16;
    fields.push({ name, type, offset: at, words: n > 0 ? 4 * n : 1 });
    at += n > 0 ? 16 * n : 4;
  }
  const uniformBytes = fields.length ? Math.max(16, Math.ceil(at / 16) * 16) : 0;
  const lines: string[] = [];
  if (fields.length) {
    lines.push(
      `struct U {\n${fields.map((f) => `  ${f.name}: ${wgslField(f.type)},`).join("\n")}\n}`,
    );
  }
  let b = 0;
  for (const [name, elem] of inputs) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read> ${name}: array<${elem}>;`);
  }
  for (const [name, elem] of outputs) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${name}: array<${elem}>;`);
  }
  if (fields.length) lines.push(`@group(0) @binding(${b}) var<uniform> u: U;`);
  for (const text of [d.entry.helpers, d.helpers]) if (text) lines.push(text);
  lines.push(entryHeader(d.key, d.entry));
  for (const text of [d.entry.prelude, d.main]) {
    if (text) lines.push(text.replace(/^\n+/, "").trimEnd());
  }
  lines.push("}");
  const bindings: Access[] = [
    ...inputs.map((): Access => "read"),
    ...outputs.map((): Access => "write"),
  ];
  return {
    key: d.key,
    code: lines.join("\n"),
    bindings,
    uniforms: fields.length > 0,
    inputs,
    outputs,
    slots: [...inputs, ...outputs],
    fields,
    uniformBytes,
  };
}

/** A uniform value: a number for scalars, up to 4·n numbers for `vec4u[n]` (the rest are 0). */
export type UniformValue = number | readonly number[];

/**
 * Packs named uniform values into a kernel's block. Throws, naming the
 * kernel, on a missing or unknown field, a non-integer or out-of-range
 * u32/i32, a non-number, or too many numbers for an array field.
 */
export function packUniforms(
  k: DeclaredKernel,
  values: Readonly<Record<string, UniformValue>>,
): Uint8Array {
  const view = new DataView(new ArrayBuffer(k.uniformBytes));
  // Launches pack on every dispatch: name every unknown field only when the
  // count says there is one.
  const names = Object.keys(values);
  if (names.length > k.fields.length) {
    for (const name of names) {
      if (!k.fields.some((f) => f.name === name)) {
        throw new Error(
          `${k.key}: no uniform field "${name}" (fields: ${
            k.fields.map((f) => f.name).join(", ")
          })`,
        );
      }
    }
  }
  // With no more names than fields and every field given, no name is unknown.
  for (const f of k.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`${k.key}: uniform field "${f.name}" is missing`);
    if (typeof v === "number" ? f.words !== 1 : f.words === 1 || v.length > f.words) {
      throw new Error(
        `${k.key}: uniform field "${f.name}" (${f.type}) cannot hold ${JSON.stringify(v)}`,
      );
    }
    if (typeof v === "number") put(k, view, f, f.offset, v);
    else for (let i = 0; i < v.length; i++) put(k, view, f, f.offset + 4 * i, v[i]);
  }
  return new Uint8Array(view.buffer);
}

/** Writes one number of field `f` at byte `at`, checked against the field's type. */
function put(k: DeclaredKernel, view: DataView, f: FieldSlot, at: number, x: number): void {
  if (f.type === "f32") {
    if (typeof x !== "number") throw new TypeError(`${k.key}: ${f.name} = ${x} is not a number`);
    view.setFloat32(at, x, true);
  } else if (f.type === "i32") {
    if (!Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31) {
      throw new RangeError(`${k.key}: ${f.name} = ${x} is not an i32`);
    }
    view.setInt32(at, x, true);
  } else {
    if (!Number.isInteger(x) || x < 0 || x >= 2 ** 32) {
      throw new RangeError(`${k.key}: ${f.name} = ${x} is not a u32`);
    }
    view.setUint32(at, x, true);
  }
}
