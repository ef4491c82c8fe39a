/**
 * The safetensors format (https://github.com/huggingface/safetensors), which
 * PyTorch, JAX and most frameworks read:
 *
 * ```
 * [8 bytes: N, u64 little-endian][N bytes: UTF-8 JSON header][data section]
 * ```
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`
 * (byte offsets into the data section) and may hold `"__metadata__"`, a map of
 * strings to strings. Tensor data is little-endian, row-major. The tensors
 * must cover the data section exactly: no overlaps, no gaps, nothing after.
 *
 * Browser-safe. Decoding treats the file as hostile: every field is checked
 * before any allocation that depends on it.
 *
 * @module
 */

/** Typed array holding each safetensors dtype. F16 and BF16 are kept as raw bits. */
export interface SafetensorsArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  U64: BigUint64Array;
  I32: Int32Array;
  U32: Uint32Array;
  I16: Int16Array;
  U16: Uint16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

/** A dtype name as written in safetensors headers. */
export type SafetensorsDtype = keyof SafetensorsArrays;

/** One tensor: dtype, shape and its data in the matching typed array. */
export type SafeTensor = {
  [D in SafetensorsDtype]: { dtype: D; shape: number[]; data: SafetensorsArrays[D] };
}[SafetensorsDtype];

/** A decoded file: tensors by name (in data order) and the string metadata. */
export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

type ArrayCtor = { new (length: number): SafetensorsArrays[SafetensorsDtype] };

const DTYPES: Record<SafetensorsDtype, { size: number; ctor: ArrayCtor }> = {
  F64: { size: 8, ctor: Float64Array },
  F32: { size: 4, ctor: Float32Array },
  F16: { size: 2, ctor: Uint16Array },
  BF16: { size: 2, ctor: Uint16Array },
  I64: { size: 8, ctor: BigInt64Array },
  U64: { size: 8, ctor: BigUint64Array },
  I32: { size: 4, ctor: Int32Array },
  U32: { size: 4, ctor: Uint32Array },
  I16: { size: 2, ctor: Int16Array },
  U16: { size: 2, ctor: Uint16Array },
  I8: { size: 1, ctor: Int8Array },
  U8: { size: 1, ctor: Uint8Array },
  BOOL: { size: 1, ctor: Uint8Array },
};

/** Largest header accepted, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA = "__metadata__";

// The data section is little-endian; typed arrays use the host's order.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkHost(fn: string): void {
  if (!LITTLE_ENDIAN) throw new Error(`${fn}: big-endian hosts are not supported`);
}

function isDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === "string" && Object.hasOwn(DTYPES, d);
}

function checkShape(fn: string, name: string, shape: unknown): number {
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new Error(
      `${fn}: tensor "${name}": expected shape to be an array of non-negative integers, ` +
        `got ${JSON.stringify(shape)}`,
    );
  }
  let count = 1;
  for (const d of shape as number[]) count *= d;
  if (!Number.isSafeInteger(count)) {
    throw new Error(`${fn}: tensor "${name}": shape [${shape}] has too many elements`);
  }
  return count;
}

/**
 * Serialises tensors and optional string metadata to safetensors bytes.
 * Tensors are laid out largest dtype first, then by name (the reference
 * implementation's order), so every tensor starts at a multiple of its element
 * size; the header is padded with spaces to a multiple of 8 bytes.
 *
 * @throws Error when a name is `__metadata__`, a dtype is unknown, the data's
 *   typed array does not match the dtype, or its length does not match the shape.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors({
 *   "encoder.0.weight": { dtype: "F32", shape: [784, 500], data: w },
 *   "encoder.0.bias": { dtype: "F32", shape: [500], data: b },
 * }, { format: "pt" });
 * await Deno.writeFile("model.safetensors", bytes);
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const fn = "encodeSafetensors";
  checkHost(fn);
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === METADATA) throw new Error(`${fn}: "${METADATA}" cannot name a tensor`);
    const t = tensors[name];
    if (!isDtype(t.dtype)) throw new Error(`${fn}: tensor "${name}": unknown dtype ${t.dtype}`);
    const { ctor } = DTYPES[t.dtype];
    if (!(t.data instanceof ctor)) {
      throw new Error(
        `${fn}: tensor "${name}": expected ${ctor.name} data for ${t.dtype}, ` +
          `got ${(t.data as object)?.constructor?.name}`,
      );
    }
    const count = checkShape(fn, name, t.shape);
    if (t.data.length !== count) {
      throw new Error(
        `${fn}: tensor "${name}": expected ${count} elements for shape [${t.shape}], ` +
          `got ${t.data.length}`,
      );
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`${fn}: metadata "${k}": expected a string value, got ${typeof v}`);
      }
    }
  }
  names.sort((a, b) => {
    const d = DTYPES[tensors[b].dtype].size - DTYPES[tensors[a].dtype].size;
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });

  // Null prototype: a tensor named "__proto__" must stay an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined && Object.keys(metadata).length > 0) header[METADATA] = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, Math.floor(json.length / 2 ** 32), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Keys of the top-level object of valid JSON text, duplicates included, in order. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < text.length && /\s/.test(text[k])) k++;
        if (text[k] === ":") keys.push(JSON.parse(text.slice(i, j + 1)));
      }
      i = j;
    }
  }
  return keys;
}

/**
 * Parses safetensors bytes. Refuses, with an error naming the problem and the
 * expected vs actual value: files shorter than 8 bytes, a header length beyond
 * the file or {@link MAX_HEADER_BYTES}, a header that is not UTF-8 JSON of an
 * object, duplicate names, unknown dtypes, bad shapes or offsets, a byte
 * length that does not match the shape, and overlapping, gapped or trailing
 * data. Tensor data is copied into fresh, aligned typed arrays (offsets in
 * the file need not be aligned).
 *
 * @example
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(await Deno.readFile("model.safetensors"));
 * const w = tensors["encoder.0.weight"];
 * if (w.dtype === "F32") console.log(w.shape, w.data[0]);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array | ArrayBuffer): SafetensorsFile {
  const fn = "decodeSafetensors";
  checkHost(fn);
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b.length < 8) {
    throw new Error(`${fn}: expected at least 8 bytes (the header length), got ${b.length}`);
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (n > MAX_HEADER_BYTES) {
    throw new Error(`${fn}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (n > b.length - 8) {
    throw new Error(
      `${fn}: header length ${n} is larger than the ${b.length - 8} bytes after the length field ` +
        `(truncated file?)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(8, 8 + n));
  } catch {
    throw new Error(`${fn}: header is not valid UTF-8`);
  }
  if (!text.startsWith("{")) {
    throw new Error(
      `${fn}: expected the header to start with '{', got ${JSON.stringify(text.slice(0, 20))}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new Error(`${fn}: header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new Error(`${fn}: expected the header to be a JSON object`);
  }
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new Error(`${fn}: duplicate header entry "${k}"`);
    seen.add(k);
  }

  const dataStart = 8 + n;
  const dataLength = b.length - dataStart;
  const entries = header as Record<string, unknown>;
  const metadata: Record<string, string> = Object.create(null);
  const rawMeta = entries[METADATA];
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== "object" || Array.isArray(rawMeta)) {
      throw new Error(`${fn}: expected "${METADATA}" to be an object of strings`);
    }
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== "string") {
        throw new Error(
          `${fn}: metadata "${k}": expected a string value, got ${JSON.stringify(v)}`,
        );
      }
      metadata[k] = v;
    }
  }

  type Info = {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    begin: number;
    end: number;
  };
  const infos: Info[] = [];
  for (const name of Object.keys(entries)) {
    if (name === METADATA) continue;
    const e = entries[name];
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      throw new Error(`${fn}: tensor "${name}": expected an object, got ${JSON.stringify(e)}`);
    }
    const { dtype, shape, data_offsets: offsets } = e as Record<string, unknown>;
    if (!isDtype(dtype)) {
      throw new Error(
        `${fn}: tensor "${name}": unknown dtype ${JSON.stringify(dtype)} ` +
          `(expected one of ${Object.keys(DTYPES).join(", ")})`,
      );
    }
    const count = checkShape(fn, name, shape);
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new Error(
        `${fn}: tensor "${name}": expected data_offsets [begin, end] of non-negative integers, ` +
          `got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as number[];
    if (begin > end) {
      throw new Error(`${fn}: tensor "${name}": data_offsets begin ${begin} > end ${end}`);
    }
    if (end > dataLength) {
      throw new Error(
        `${fn}: tensor "${name}": data_offsets end ${end} is beyond the ${dataLength}-byte data section`,
      );
    }
    const expected = count * DTYPES[dtype].size;
    if (end - begin !== expected) {
      throw new Error(
        `${fn}: tensor "${name}": expected ${expected} bytes for ${dtype} shape [${shape}], ` +
          `got ${end - begin} (data_offsets [${begin}, ${end}])`,
      );
    }
    infos.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // Sorted by offset, each tensor must start where the previous one ended.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const t of infos) {
    if (t.begin < covered) {
      throw new Error(
        `${fn}: tensor "${t.name}" at [${t.begin}, ${t.end}] overlaps the previous tensor, ` +
          `which ends at ${covered}`,
      );
    }
    if (t.begin > covered) {
      throw new Error(
        `${fn}: bytes [${covered}, ${t.begin}) of the data section belong to no tensor ` +
          `(gap before "${t.name}")`,
      );
    }
    covered = t.end;
  }
  if (covered !== dataLength) {
    throw new Error(
      `${fn}: expected the tensors to cover the ${dataLength}-byte data section, ` +
        `but they end at ${covered} (trailing bytes)`,
    );
  }

  const tensors: Record<string, SafeTensor> = Object.create(null);
  for (const t of infos) {
    const { size, ctor } = DTYPES[t.dtype];
    const data = new ctor((t.end - t.begin) / size);
    // Copy bytes: the source offset may not be a multiple of the element size.
    new Uint8Array(data.buffer).set(b.subarray(dataStart + t.begin, dataStart + t.end));
    tensors[t.name] = { dtype: t.dtype, shape: t.shape, data } as SafeTensor;
  }
  return { tensors, metadata };
}
